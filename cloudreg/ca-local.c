/* The local CA backend ([ca] backend = local): signs the pledge's CSR at
 * once with a configured CA key (PEM file or PKCS#11 URI) under the
 * profile of [ca]: validity_days, eku, san_policy with subdomain. */
#include <config.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cloudreg/ca.h"
#include "cloudreg/est.h"
#include "common/str.h"
#include "service/config.h"
#include "service/log.h"
#include "service/tlsconf.h"

enum san_policy { SAN_SUBDOMAIN, SAN_CSR, SAN_NONE };

struct ca_local {
	struct svc_creds *creds; /* CA chain and key */
	gnutls_x509_crt_t ca_crt;
	gnutls_privkey_t key; /* borrowed from creds */
	const uint8_t *certs[CREG_CA_MAX_CHAIN];
	size_t lens[CREG_CA_MAX_CHAIN];
	size_t n_certs;
	unsigned validity_days;
	char *subdomain;
	enum san_policy san;
	char ekus[4][32];
	size_t n_ekus;
	pthread_mutex_t sign_lock; /* a PKCS#11 session signs one thing at a time */
};

static void ca_local_destroy(void *backend)
{
	struct ca_local *c = backend;

	if (!c)
		return;
	if (c->ca_crt)
		gnutls_x509_crt_deinit(c->ca_crt);
	svc_creds_unref(c->creds);
	free(c->subdomain);
	pthread_mutex_destroy(&c->sign_lock);
	free(c);
}

static voucher_err parse_ekus(struct ca_local *c, const char *list, char *err, size_t errlen)
{
	char tmp[256], *save = NULL;

	snprintf(tmp, sizeof(tmp), "%s", list);
	for (char *t = strtok_r(tmp, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		const char *oid = strcmp(t, "clientAuth") == 0   ? GNUTLS_KP_TLS_WWW_CLIENT
		                  : strcmp(t, "serverAuth") == 0 ? GNUTLS_KP_TLS_WWW_SERVER
		                  : strcmp(t, "cmcRA") == 0      ? "1.3.6.1.5.5.7.3.28"
		                                                 : NULL;
		if (!oid || c->n_ekus == 4) {
			snprintf(err, errlen,
			         "[ca] eku: '%s' is not clientAuth, serverAuth or cmcRA", t);
			return VOUCHER_E_CONFIG;
		}
		snprintf(c->ekus[c->n_ekus++], sizeof(c->ekus[0]), "%s", oid);
	}
	return VOUCHER_OK;
}

static voucher_err ca_local_create(const struct svc_config *cfg, struct store *store,
                                   void **backend, char *err, size_t errlen)
{
	const char *cert = svc_config_str(cfg, "ca", "cert");
	const char *key = svc_config_str(cfg, "ca", "key");
	const char *sub = svc_config_str(cfg, "ca", "subdomain");
	const char *pol = svc_config_str(cfg, "ca", "san_policy");
	struct ca_local *c;
	gnutls_pcert_st *pc = NULL;
	unsigned n = 0;
	voucher_err e;

	(void)store;
	if (!cert || !key) {
		snprintf(err, errlen, "[ca] backend local needs cert and key");
		return VOUCHER_E_CONFIG;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return VOUCHER_ENOMEM;
	pthread_mutex_init(&c->sign_lock, NULL);
	c->validity_days = (unsigned)svc_config_int(cfg, "ca", "validity_days");
	if (sub && !(c->subdomain = brski_strdup(sub))) {
		e = VOUCHER_ENOMEM;
		goto fail;
	}
	if (!pol || strcmp(pol, "auto") == 0)
		c->san = sub ? SAN_SUBDOMAIN : SAN_NONE;
	else
		c->san = strcmp(pol, "subdomain") == 0 ? SAN_SUBDOMAIN
		         : strcmp(pol, "csr") == 0     ? SAN_CSR
		                                       : SAN_NONE;
	if (c->san == SAN_SUBDOMAIN && !sub) {
		snprintf(err, errlen, "[ca] san_policy = subdomain needs [ca] subdomain");
		e = VOUCHER_E_CONFIG;
		goto fail;
	}
	if ((e = parse_ekus(c, svc_config_str(cfg, "ca", "eku"), err, errlen)) != VOUCHER_OK)
		goto fail;
	if ((e = svc_creds_load(cert, key, &c->creds, err, errlen)) != VOUCHER_OK)
		goto fail;
	svc_creds_get(c->creds, &pc, &n, &c->key);
	for (unsigned i = 0; i < n && i < CREG_CA_MAX_CHAIN; i++) {
		c->certs[i] = pc[i].cert.data;
		c->lens[i] = pc[i].cert.size;
		c->n_certs++;
	}
	if (gnutls_x509_crt_init(&c->ca_crt) < 0 ||
	    gnutls_x509_crt_import(c->ca_crt, &pc[0].cert, GNUTLS_X509_FMT_DER) < 0) {
		snprintf(err, errlen, "[ca] cert %s does not parse", cert);
		e = VOUCHER_E_CERT;
		goto fail;
	}
	{
		unsigned ca = 0;
		if (gnutls_x509_crt_get_basic_constraints(c->ca_crt, NULL, &ca, NULL) < 0 || !ca) {
			snprintf(err, errlen, "[ca] cert %s is not a CA certificate", cert);
			e = VOUCHER_E_CERT;
			goto fail;
		}
	}
	*backend = c;
	return VOUCHER_OK;
fail:
	ca_local_destroy(c);
	return e;
}

static void ca_local_cacerts(void *backend, const uint8_t *const **certs, const size_t **lens,
                             size_t *n)
{
	struct ca_local *c = backend;

	*certs = c->certs;
	*lens = c->lens;
	*n = c->n_certs;
}

static voucher_err refuse(struct creg_ca_result *res, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static voucher_err refuse(struct creg_ca_result *res, const char *fmt, ...)
{
	va_list ap;

	res->status = CREG_CA_FAILED;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return VOUCHER_OK;
}

/* The SANs the profile gives the certificate. */
static voucher_err san_policy(const struct ca_local *c, const struct creg_ca_request *req,
                              gnutls_x509_crq_t crq, gnutls_x509_crt_t crt,
                              struct creg_ca_result *res, bool *refused)
{
	char want[CREG_DNS_MAX + 1], got[CREG_DNS_MAX + 1];
	size_t sz;
	unsigned type, crit;
	int g;

	*refused = false;
	if (c->san == SAN_NONE)
		return VOUCHER_OK;
	if (c->san == SAN_SUBDOMAIN) {
		if (creg_csr_san_for(req->serial, c->subdomain, want, sizeof(want)) != VOUCHER_OK) {
			*refused = true;
			return refuse(res, "serial '%.64s' cannot be a DNS label", req->serial);
		}
		for (unsigned i = 0;; i++) {
			sz = sizeof(got) - 1;
			g = gnutls_x509_crq_get_subject_alt_name(crq, i, got, &sz, &type, &crit);
			if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
				break;
			got[g < 0 ? 0 : sz] = '\0';
			if (g < 0 || type != GNUTLS_SAN_DNSNAME || strcasecmp(got, want) != 0) {
				*refused = true;
				return refuse(res,
				              "the CSR asks for a subjectAltName other than %s "
				              "(the profile allows only <serial>.<subdomain>)",
				              want);
			}
		}
		g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, want,
		                                         (unsigned)strlen(want), GNUTLS_FSAN_SET);
		return g < 0 ? VOUCHER_E_CRYPTO : VOUCHER_OK;
	}
	/* SAN_CSR: whatever dNSNames the CSR holds. */
	for (unsigned i = 0;; i++) {
		sz = sizeof(got) - 1;
		g = gnutls_x509_crq_get_subject_alt_name(crq, i, got, &sz, &type, &crit);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g < 0)
			return VOUCHER_E_MALFORMED;
		if (type != GNUTLS_SAN_DNSNAME)
			continue;
		if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, got, (unsigned)sz,
		                                         GNUTLS_FSAN_APPEND) < 0)
			return VOUCHER_E_CRYPTO;
	}
	return VOUCHER_OK;
}

static voucher_err ca_local_issue(void *backend, const struct creg_ca_request *req,
                                  struct creg_ca_result *res, char *err, size_t errlen)
{
	struct ca_local *c = backend;
	gnutls_x509_crq_t crq = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)req->csr, (unsigned)req->csr_len}, out = {0};
	uint8_t serial[16], id[64];
	size_t id_len = sizeof(id);
	time_t now = time(NULL), until, ca_until;
	char sval[CREG_SERIAL_MAX + 1];
	size_t sz = sizeof(sval);
	bool refused = false;
	voucher_err e = VOUCHER_E_CRYPTO;
	int g;

	creg_ca_result_init(res);
	if (errlen)
		err[0] = '\0';
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_x509_crt_init(&crt) < 0) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crq_verify(crq, 0) < 0) {
		e = refuse(res, "the CSR does not parse or its signature does not verify");
		goto out;
	}
	/* The subject is the pledge's; a serialNumber in it must be its own. */
	if (gnutls_x509_crq_get_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, 0, sval, &sz) == 0 &&
	    strcmp(sval, req->serial) != 0) {
		e = refuse(res, "the CSR's subject serialNumber is not the device's (%.64s)",
		           req->serial);
		goto out;
	}
	if ((g = gnutls_x509_crt_set_crq(crt, crq)) < 0 ||
	    (g = gnutls_x509_crt_set_version(crt, 3)) < 0) {
		snprintf(err, errlen, "local CA: %s", gnutls_strerror(g));
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01; /* of full length */
	until = now + (time_t)c->validity_days * 86400;
	ca_until = gnutls_x509_crt_get_expiration_time(c->ca_crt);
	if (ca_until != (time_t)-1 && until > ca_until)
		until = ca_until; /* never outlive the issuer */
	if (gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 300) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, until) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
	                                               GNUTLS_KEY_KEY_ENCIPHERMENT) < 0)
		goto out;
	for (size_t i = 0; i < c->n_ekus; i++)
		if (gnutls_x509_crt_set_key_purpose_oid(crt, c->ekus[i], 0) < 0)
			goto out;
	if ((e = san_policy(c, req, crq, crt, res, &refused)) != VOUCHER_OK || refused)
		goto out;
	e = VOUCHER_E_CRYPTO;
	if (gnutls_x509_crt_get_key_id(crt, 0, id, &id_len) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, id, 20 < id_len ? 20 : id_len) < 0)
		goto out;
	id_len = sizeof(id);
	if (gnutls_x509_crt_get_subject_key_id(c->ca_crt, id, &id_len, NULL) >= 0 &&
	    gnutls_x509_crt_set_authority_key_id(crt, id, id_len) < 0)
		goto out;
	pthread_mutex_lock(&c->sign_lock);
	g = gnutls_x509_crt_privkey_sign(crt, c->ca_crt, c->key, GNUTLS_DIG_SHA256, 0);
	pthread_mutex_unlock(&c->sign_lock);
	if (g < 0) {
		snprintf(err, errlen, "local CA: signing failed (%s)", gnutls_strerror(g));
		goto out;
	}
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out) < 0)
		goto out;
	if ((e = creg_ca_result_add(res, out.data, out.size)) != VOUCHER_OK)
		goto out;
	for (size_t i = 0; i < c->n_certs && e == VOUCHER_OK; i++)
		e = creg_ca_result_add(res, c->certs[i], c->lens[i]);
	if (e != VOUCHER_OK)
		goto out;
	res->status = CREG_CA_ISSUED;
	res->not_after = (int64_t)until;
	e = VOUCHER_OK;
out:
	if (e != VOUCHER_OK && !err[0])
		snprintf(err, errlen, "local CA: %s", voucher_strerror(e));
	if (e != VOUCHER_OK)
		creg_ca_result_clear(res);
	gnutls_free(out.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return e;
}

const struct creg_ca_ops creg_ca_local_ops = {
        .name = "local",
        .create = ca_local_create,
        .issue = ca_local_issue,
        .cacerts = ca_local_cacerts,
        .destroy = ca_local_destroy,
};
