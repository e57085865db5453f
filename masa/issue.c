/* The voucher: what it pins and says (policy), how it is built and signed,
 * which media type answers, and the audit-log response. */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "common/str.h"
#include "masa/masa.h"

voucher_err masa_voucher_sign(const struct masa_keys *k, const struct masa_voucher_fields *v,
                              enum voucher_envelope env, uint8_t **out, size_t *out_len, char *err,
                              size_t errlen)
{
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei = {0};
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	voucher_err r;

	*out = NULL;
	*out_len = 0;
	if ((r = voucher_artifact_new(VOUCHER_KIND_VOUCHER, &a)) != VOUCHER_OK)
		goto out;
	if ((r = voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, v->serial)) !=
	            VOUCHER_OK ||
	    (r = voucher_artifact_set_assertion(a, v->assertion)) != VOUCHER_OK ||
	    (r = voucher_artifact_set_time(a, VOUCHER_LEAF_CREATED_ON, v->created_on)) !=
	            VOUCHER_OK ||
	    (r = voucher_artifact_set_binary(a, VOUCHER_LEAF_PINNED_DOMAIN_CERT,
	                                     v->pinned_domain_cert, v->pinned_domain_cert_len)) !=
	            VOUCHER_OK)
		goto out;
	if (v->nonce && (r = voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, v->nonce,
	                                                 v->nonce_len)) != VOUCHER_OK)
		goto out;
	if (v->idevid_issuer &&
	    (r = voucher_artifact_set_binary(a, VOUCHER_LEAF_IDEVID_ISSUER, v->idevid_issuer,
	                                     v->idevid_issuer_len)) != VOUCHER_OK)
		goto out;
	if (v->expires_on && (r = voucher_artifact_set_time(a, VOUCHER_LEAF_EXPIRES_ON,
	                                                    v->expires_on)) != VOUCHER_OK)
		goto out;
	if (v->est_domain && (r = voucher_artifact_set_string(a, VOUCHER_LEAF_EST_DOMAIN,
	                                                      v->est_domain)) != VOUCHER_OK)
		goto out;
	if (v->additional_configuration_url &&
	    (r = voucher_artifact_set_string(a, VOUCHER_LEAF_ADDITIONAL_CONFIGURATION_URL,
	                                     v->additional_configuration_url)) != VOUCHER_OK)
		goto out;
	/* COSE carries CBOR; CMS and JWS carry JSON. Printing validates. */
	if (env == VOUCHER_ENV_COSE)
		r = voucher_artifact_to_cbor(a, 0, &payload, &payload_len, &ei);
	else
		r = voucher_artifact_to_json(a, 0, &payload, &payload_len, &ei);
	if (r != VOUCHER_OK)
		goto out;
	r = voucher_sign(env, k->signer, payload, payload_len, out, out_len);
out:
	if (r != VOUCHER_OK)
		snprintf(err, errlen, "failed to build the voucher (%s)",
		         ei.message[0] ? ei.message : voucher_strerror(r));
	free(payload);
	voucher_artifact_free(a);
	return r;
}

/* The last few PEM bundles first_cert read, by the SHA-256 of the PEM
 * text, and their first certificate: the owner's domain CA is the same
 * PEM on every voucher of that owner, and decoding and parsing the whole
 * bundle was 2 % of masad's CPU per voucher (perf). The answer depends on
 * the text alone; a changed PEM is a different key. */
#define PEM_MEMO_SLOTS 16
static struct {
	uint8_t key[32];
	uint8_t *der;
	size_t len;
} pem_memo[PEM_MEMO_SLOTS];
static pthread_mutex_t pem_memo_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t pem_memo_hits, pem_memo_misses; /* guarded by pem_memo_mu */

void masa_pem_cache_stats(uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&pem_memo_mu);
	*hits = pem_memo_hits;
	*misses = pem_memo_misses;
	pthread_mutex_unlock(&pem_memo_mu);
}

/* The first certificate of a PEM bundle, as DER (malloc'd). */
static voucher_err first_cert(const char *pem, uint8_t **out, size_t *len)
{
	struct voucher_x509_chain *c = NULL;
	uint8_t key[32];
	int keyed;
	voucher_err r;

	*out = NULL;
	keyed = gnutls_hash_fast(GNUTLS_DIG_SHA256, pem, strlen(pem), key) == 0;
	if (keyed) {
		unsigned slot = key[0] % PEM_MEMO_SLOTS;
		pthread_mutex_lock(&pem_memo_mu);
		if (pem_memo[slot].der && memcmp(pem_memo[slot].key, key, 32) == 0 &&
		    (*out = malloc(pem_memo[slot].len)) != NULL) {
			memcpy(*out, pem_memo[slot].der, pem_memo[slot].len);
			*len = pem_memo[slot].len;
		}
		if (*out)
			pem_memo_hits++;
		else
			pem_memo_misses++;
		pthread_mutex_unlock(&pem_memo_mu);
		if (*out)
			return VOUCHER_OK;
	}
	r = voucher_x509_chain_load_mem((const uint8_t *)pem, strlen(pem), &c);
	if (r != VOUCHER_OK)
		return r;
	*out = malloc(c->der_len[0]);
	if (*out) {
		memcpy(*out, c->der[0], c->der_len[0]);
		*len = c->der_len[0];
	}
	voucher_x509_chain_free(c);
	if (!*out)
		return VOUCHER_ENOMEM;
	uint8_t *keep = keyed ? malloc(*len) : NULL;
	if (keep) {
		unsigned slot = key[0] % PEM_MEMO_SLOTS;
		memcpy(keep, *out, *len);
		pthread_mutex_lock(&pem_memo_mu);
		free(pem_memo[slot].der);
		memcpy(pem_memo[slot].key, key, 32);
		pem_memo[slot].der = keep;
		pem_memo[slot].len = *len;
		pthread_mutex_unlock(&pem_memo_mu);
	}
	return VOUCHER_OK;
}

static time_t cert_not_after(const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	time_t t = 0;

	if (gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0)
		t = gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return t == (time_t)-1 ? 0 : t;
}

voucher_err masa_voucher_policy(const struct masa_keys *k, const struct masa_rvr *r,
                                struct masa_voucher_fields *v, uint8_t **pin_owned,
                                struct masa_fail *f)
{
	const struct store_owner *o = &r->owner;
	voucher_err e;

	*pin_owned = NULL;
	memset(v, 0, sizeof(*v));
	v->serial = r->serial;
	v->nonce = r->nonce;
	v->nonce_len = r->nonce_len;
	v->assertion = r->assertion;
	v->created_on = time(NULL);
	/* Serials are unique unless the record is keyed by its issuer too. */
	if (r->device.idevid_issuer && r->idevid_issuer) {
		v->idevid_issuer = r->idevid_issuer;
		v->idevid_issuer_len = r->idevid_issuer_len;
	}
	if (!r->nonce) {
		time_t until = v->created_on + (time_t)k->nonceless_lifetime;
		time_t reg = r->verified ? cert_not_after(r->verified->chain[0],
		                                          r->verified->chain_der_len[0])
		                         : 0;
		v->expires_on = reg && reg < until ? reg : until;
	}

	if (!r->via_cloud) {
		/* The owner's own registrar: pin per [masa] pinning. */
		/* (through the admin API there is no registrar certificate) */
		if (k->pin_registrar && r->verified) {
			v->pinned_domain_cert = r->verified->chain[0];
			v->pinned_domain_cert_len = r->verified->chain_der_len[0];
			return VOUCHER_OK;
		}
		e = first_cert(o->domain_ca_pem, pin_owned, &v->pinned_domain_cert_len);
		if (e != VOUCHER_OK)
			return masa_fail_set(f, e, "pinning",
			                     "the domain CA of owner '%.64s' is unusable", o->name);
		v->pinned_domain_cert = *pin_owned;
		return VOUCHER_OK;
	}

	switch (r->device.mode) {
	case STORE_MODE_EST_DOMAIN:
		if (!o->est_pin_pem || !o->est_url)
			return masa_fail_set(
			        f, VOUCHER_E_FORBIDDEN, "mode",
			        "device '%.64s' is in est-domain mode but owner '%.64s' has "
			        "no %s; set it with PATCH /admin/v1/owners/%.64s",
			        r->serial, o->name, o->est_url ? "est_pin" : "est_url", o->name);
		e = first_cert(o->est_pin_pem, pin_owned, &v->pinned_domain_cert_len);
		if (e != VOUCHER_OK)
			return masa_fail_set(f, e, "mode",
			                     "the est_pin of owner '%.64s' is unusable", o->name);
		v->pinned_domain_cert = *pin_owned;
		v->est_domain = o->est_url;
		v->additional_configuration_url = r->device.additional_configuration_url;
		return VOUCHER_OK;
	case STORE_MODE_ENROLL_HERE:
		if (!k->enroll_here_ca || !k->enroll_here_est_url)
			return masa_fail_set(
			        f, VOUCHER_E_FORBIDDEN, "mode",
			        "device '%.64s' is in enroll-here mode but this MASA has no "
			        "[masa] %s",
			        r->serial,
			        k->enroll_here_ca ? "enroll_here_est_url" : "enroll_here_ca");
		v->pinned_domain_cert = k->enroll_here_ca;
		v->pinned_domain_cert_len = k->enroll_here_ca_len;
		v->est_domain = k->enroll_here_est_url;
		v->additional_configuration_url = r->device.additional_configuration_url;
		return VOUCHER_OK;
	case STORE_MODE_REDIRECT:
	default:
		return masa_fail_set(f, VOUCHER_E_FORBIDDEN, "mode",
		                     "device '%.64s' is in redirect mode: the voucher is for its "
		                     "owner's registrar, not the cloud registrar",
		                     r->serial);
	}
}

/* ---- Accept -------------------------------------------------------------- */

voucher_err masa_accept(const char *accept, enum voucher_envelope want, enum voucher_envelope *out)
{
	enum voucher_envelope first = VOUCHER_ENV_NONE;
	bool wildcard = false, listed = false;
	const char *p = accept;

	*out = VOUCHER_ENV_NONE;
	if (!accept || !*accept)
		wildcard = true;
	while (p && *p) {
		char type[128];
		size_t n = 0;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
			if (n + 1 < sizeof(type))
				type[n++] = *p;
			p++;
		}
		type[n] = '\0';
		/* Parameters: a weight of zero (RFC 9110 12.4.2) excludes the
		 * type; other weights do not change the choice, which follows
		 * what the pledge processes. */
		bool refused = false;
		while (*p && *p != ',') {
			if (*p == ';') {
				const char *q = p + 1;
				while (*q == ' ' || *q == '\t')
					q++;
				if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=' && q[2] == '0') {
					const char *z = q + 3;
					if (*z == '.')
						z++;
					while (*z == '0')
						z++;
					refused = !*z || *z == ',' || *z == ';' || *z == ' ' ||
					          *z == '\t';
				}
			}
			p++;
		}
		if (n == 0 || refused)
			continue;
		if (strcmp(type, "*/*") == 0 || brski_str_caseeq(type, "application/*")) {
			wildcard = true;
			continue;
		}
		enum voucher_envelope e = voucher_envelope_from_media_type(type);
		if (e == VOUCHER_ENV_NONE)
			continue;
		if (first == VOUCHER_ENV_NONE)
			first = e;
		if (e == want)
			listed = true;
	}
	if (first == VOUCHER_ENV_NONE && !wildcard)
		return VOUCHER_E_CONTENT_TYPE;
	if (want == VOUCHER_ENV_NONE) {
		*out = first != VOUCHER_ENV_NONE ? first : VOUCHER_ENV_CMS;
		return VOUCHER_OK;
	}
	if (listed || wildcard) {
		*out = want;
		return VOUCHER_OK;
	}
	return VOUCHER_E_NOT_ACCEPTABLE;
}

/* ---- audit log ------------------------------------------------------------ */

voucher_err masa_auditlog_json(const struct store_audit *ev, size_t n, char **out, size_t *len)
{
	json_t *root = NULL, *events = NULL;
	size_t *dropped = NULL;
	bool *keep = NULL;
	uint64_t nonced_dups = 0, nonceless_dups = 0;
	voucher_err r = VOUCHER_ENOMEM;

	*out = NULL;
	*len = 0;
	keep = calloc(n ? n : 1, sizeof(*keep));
	dropped = calloc(n ? n : 1, sizeof(*dropped));
	if (!keep || !dropped)
		goto out;
	/* Newest first: an event survives unless a newer one has the same
	 * domainID and the same nonced-ness (RFC 8995 section 5.8.2). */
	for (size_t i = n; i-- > 0;) {
		size_t j;
		for (j = i + 1; j < n; j++)
			if (keep[j] &&
			    strcmp(ev[j].domain_id ? ev[j].domain_id : "",
			           ev[i].domain_id ? ev[i].domain_id : "") == 0 &&
			    (ev[j].nonce != NULL) == (ev[i].nonce != NULL))
				break;
		if (j == n) {
			keep[i] = true;
		} else {
			dropped[j]++;
			if (ev[i].nonce)
				nonced_dups++;
			else
				nonceless_dups++;
		}
	}
	events = json_array();
	if (!events)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char date[32], *nonce = NULL;
		json_t *e;
		if (!keep[i])
			continue;
		if (voucher_time_format((time_t)ev[i].logged, date, sizeof(date)) != VOUCHER_OK)
			date[0] = '\0';
		if (ev[i].nonce && !(nonce = masa_b64(ev[i].nonce, ev[i].nonce_len)))
			goto out;
		e = json_pack("{s:s, s:s, s:o, s:s, s:I}", "date", date, "domainID",
		              ev[i].domain_id ? ev[i].domain_id : "", "nonce",
		              nonce ? json_string(nonce) : json_null(), "assertion",
		              ev[i].assertion ? ev[i].assertion : "logged", "truncated",
		              (json_int_t)dropped[i]);
		free(nonce);
		if (!e || json_array_append_new(events, e) != 0)
			goto out;
	}
	root = json_pack("{s:i, s:O, s:{s:I, s:I}}", "version", 1, "events", events, "truncation",
	                 "nonced duplicates", (json_int_t)nonced_dups, "nonceless duplicates",
	                 (json_int_t)nonceless_dups);
	if (!root)
		goto out;
	*out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!*out)
		goto out;
	*len = strlen(*out);
	r = VOUCHER_OK;
out:
	json_decref(root);
	json_decref(events);
	free(keep);
	free(dropped);
	return r;
}
