/* cloudregd's keys and the application context (creg.h). */
#include <config.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/x509.h>

#include "cloudreg/creg.h"
#include "common/str.h"
#include "service/admin.h"
#include "service/config.h"
#include "service/keys.h"
#include "service/log.h"
#include "service/metrics.h"

void creg_keys_free(struct creg_keys *k)
{
	if (!k)
		return;
	voucher_signer_free(k->signer);
	voucher_trust_free(k->manufacturer);
	free(k->tls_cert);
	free(k->client_cert);
	free(k->client_key);
	free(k->masa_trust);
	free(k->masa_url);
	creg_mfrs_free(k->mfrs);
	free(k);
}

static char *dup_opt(const char *s)
{
	return s ? brski_strdup(s) : NULL;
}

voucher_err creg_keys_load(const struct svc_config *cfg, struct creg_keys **out, char *err,
                           size_t errlen)
{
	struct creg_keys *k = calloc(1, sizeof(*k));
	struct voucher_x509_chain *chain = NULL;
	const char *cert = svc_config_str(cfg, "registrar", "cert");
	const char *key = svc_config_str(cfg, "registrar", "key");
	const char *mca = svc_config_str(cfg, "registrar", "manufacturer_ca");
	const char *tls = svc_config_str(cfg, "brski", "cert");
	const char *role = svc_config_str(cfg, "daemon", "role");
	voucher_err r;

	if (!k)
		return VOUCHER_ENOMEM;
	k->refs = 1;
	k->cloud = role && strcmp(role, "cloud") == 0;
	if (!cert || !key || !mca || !svc_config_str(cfg, "registrar", "masa_trust")) {
		snprintf(err, errlen,
		         "[registrar] cert, key, manufacturer_ca and masa_trust are "
		         "required");
		r = VOUCHER_E_CONFIG;
		goto fail;
	}
	if ((r = svc_keys_load_signer(&k->signer, key, cert, "the registrar key", err, errlen)) !=
	    VOUCHER_OK)
		goto fail;
	/* The MASA checks for id-kp-cmcRA; refusing to start says why now
	 * rather than in every pledge's 502. */
	if ((r = voucher_x509_chain_load_file(cert, &chain)) != VOUCHER_OK ||
	    (r = voucher_x509_check_cmcra(chain->der[0], chain->der_len[0])) != VOUCHER_OK) {
		snprintf(err, errlen, "[registrar] cert %s: %s (it must carry id-kp-cmcRA)", cert,
		         voucher_strerror(r));
		goto fail;
	}
	voucher_x509_chain_free(chain);
	chain = NULL;
	if ((r = svc_keys_load_trust(&k->manufacturer, mca, "[registrar] manufacturer_ca", err,
	                             errlen)) != VOUCHER_OK)
		goto fail;
	/* Pledges put the certificate the [brski] listener serves in
	 * proximity-registrar-cert. */
	if (!tls) {
		snprintf(err, errlen, "[brski] cert is required");
		r = VOUCHER_E_CONFIG;
		goto fail;
	}
	if ((r = voucher_x509_chain_load_file(tls, &chain)) != VOUCHER_OK) {
		snprintf(err, errlen, "failed to load [brski] cert %s (%s)", tls,
		         voucher_strerror(r));
		goto fail;
	}
	k->tls_cert = chain->der[0];
	k->tls_cert_len = chain->der_len[0];
	chain->der[0] = NULL;
	k->client_cert = dup_opt(cert);
	k->client_key = dup_opt(key);
	k->masa_trust = dup_opt(svc_config_str(cfg, "registrar", "masa_trust"));
	k->masa_url = dup_opt(svc_config_str(cfg, "registrar", "masa_url"));
	k->masa_timeout = (unsigned)svc_config_int(cfg, "registrar", "masa_timeout");
	k->masa_retries = (unsigned)svc_config_int(cfg, "registrar", "masa_retries");
	k->retry_after = (unsigned)svc_config_int(cfg, "registrar", "retry_after");
	k->max_inflight = (unsigned)svc_config_int(cfg, "registrar", "masa_max_inflight");
	k->masa_pending = (unsigned)svc_config_int(cfg, "registrar", "masa_pending");
	k->masa_pending_max = (unsigned)svc_config_int(cfg, "registrar", "masa_pending_max");
	/* Which MASA, and its TLS anchors, per manufacturer (cloudreg/mfr.c). */
	if (svc_config_str(cfg, "registrar", "manufacturers") &&
	    (r = creg_mfrs_load(svc_config_str(cfg, "registrar", "manufacturers"), mca, &k->mfrs,
	                        err, errlen)) != VOUCHER_OK)
		goto fail;
	if (!k->client_cert || !k->client_key || !k->masa_trust ||
	    (svc_config_str(cfg, "registrar", "masa_url") && !k->masa_url)) {
		r = VOUCHER_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	voucher_x509_chain_free(chain);
	*out = k;
	return VOUCHER_OK;
fail:
	voucher_x509_chain_free(chain);
	creg_keys_free(k);
	return r;
}

static void curl_handle_free(void *p)
{
	curl_easy_cleanup(p);
}

static const char *const outcome_route[CREG_MASA__COUNT] = {
        [CREG_MASA_ANSWERED] = "requestvoucher",
        [CREG_MASA_TLS] = "requestvoucher tls-failed",
        [CREG_MASA_UNREACHABLE] = "requestvoucher unreachable",
        [CREG_MASA_TIMEOUT] = "requestvoucher timeout",
        [CREG_MASA_OTHER] = "requestvoucher failed",
};

voucher_err creg_app_new(struct store *store, struct svc_metrics *metrics, struct creg_keys *keys,
                         struct creg_app **out)
{
	struct creg_app *app = calloc(1, sizeof(*app));

	if (!app)
		return VOUCHER_ENOMEM;
	if (pthread_key_create(&app->curl_key, curl_handle_free) != 0) {
		free(app);
		return VOUCHER_ENOMEM;
	}
	pthread_mutex_init(&app->lock, NULL);
	app->store = store;
	app->metrics = metrics;
	app->keys = keys;
	atomic_init(&app->masa_inflight, 0);
	for (int i = 0; i < CREG_MASA__COUNT; i++)
		app->masa_slot[i] = metrics ? svc_metrics_route(metrics, "masa-client", "POST",
		                                                outcome_route[i])
		                            : -1;
	*out = app;
	return VOUCHER_OK;
}

void creg_app_free(struct creg_app *app)
{
	CURL *h;

	if (!app)
		return;
	/* The request threads are gone (their handles went with them); the
	 * calling thread may hold one from a test. */
	if ((h = pthread_getspecific(app->curl_key)) != NULL) {
		curl_easy_cleanup(h);
		pthread_setspecific(app->curl_key, NULL);
	}
	pthread_key_delete(app->curl_key);
	creg_keys_free(app->keys);
	free(app->admin_table);
	pthread_mutex_destroy(&app->lock);
	free(app);
}

void creg_app_set_keys(struct creg_app *app, struct creg_keys *keys)
{
	struct creg_keys *old;

	pthread_mutex_lock(&app->lock);
	old = app->keys;
	app->keys = keys;
	if (old && --old->refs > 0)
		old = NULL;
	pthread_mutex_unlock(&app->lock);
	creg_keys_free(old);
}

struct creg_keys *creg_app_get_keys(struct creg_app *app)
{
	struct creg_keys *k;

	pthread_mutex_lock(&app->lock);
	k = app->keys;
	if (k)
		k->refs++;
	pthread_mutex_unlock(&app->lock);
	return k;
}

void creg_app_put_keys(struct creg_app *app, struct creg_keys *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&app->lock);
	if (--k->refs > 0)
		k = NULL;
	pthread_mutex_unlock(&app->lock);
	creg_keys_free(k);
}

voucher_err creg_ldevid_lookup(struct store *store, const uint8_t *der, size_t len, char **serial,
                               char *err, size_t errlen)
{
	struct store_cert c = {0};
	uint8_t h[STORE_SHA256_LEN];
	char serr[STORE_ERRLEN] = "";
	voucher_err r;

	*serial = NULL;
	if (!store || !der || len == 0)
		return VOUCHER_E_NOT_FOUND;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, h) < 0) {
		snprintf(err, errlen, "failed to hash the client certificate");
		return VOUCHER_E_CRYPTO;
	}
	r = store_cert_get_by_hash(store, h, &c, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND)
		return r;
	if (r != VOUCHER_OK) {
		snprintf(err, errlen, "failed to look up issued certificates (%s)", serr);
		return VOUCHER_E_STORE;
	}
	/* The record must be of exactly these bytes: the hash found it, the
	 * comparison makes a collision in the index irrelevant. */
	if (!c.der || c.der_len != len || memcmp(c.der, der, len) != 0 || !c.serial) {
		store_cert_clear(&c);
		return VOUCHER_E_NOT_FOUND;
	}
	*serial = c.serial;
	c.serial = NULL;
	store_cert_clear(&c);
	return VOUCHER_OK;
}

voucher_err creg_ldevid_verifier(void *ctx, const struct svc_der *chain, size_t n, char *reason,
                                 size_t reason_len)
{
	struct creg_app *app = ctx;
	char err[STORE_ERRLEN + 64] = "", *serial = NULL;
	voucher_err r;

	if (!app || !chain || n == 0)
		return VOUCHER_E_NOT_FOUND;
	r = creg_ldevid_lookup(app->store, chain[0].data, chain[0].len, &serial, err, sizeof(err));
	if (r == VOUCHER_OK) {
		free(serial);
		return VOUCHER_OK;
	}
	if (r == VOUCHER_E_NOT_FOUND)
		snprintf(reason, reason_len,
		         "not an IDevID of a configured manufacturer, not from [registrar] "
		         "domain_ca, and not a certificate this registrar issued");
	else {
		log_err_r(r, "est: %s", err);
		snprintf(reason, reason_len, "the registrar's database is unavailable");
	}
	return r;
}
