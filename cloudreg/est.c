/* The /.well-known/est/ routes (RFC 7030, RFC 8951): cacerts, csrattrs,
 * simpleenroll, simplereenroll, serverkeygen (when configured); fullcmc 501.
 *
 * Who may enroll: a TLS client certificate that validates to a configured
 * manufacturer CA (an IDevID; optionally only the serials of [est]
 * allowed_serials) or, for re-enrollment, an LDevID: a certificate this
 * server issued (found in the store by its hash, whichever CA issued it,
 * and naming its device through that record) or one of our issuing CA;
 * HTTP Basic ([est] basic_user) when no certificate is presented. In the
 * cloud role only devices in enroll-here mode of an owner that allows it
 * are served; everyone else gets 404 (cloud-20 section 2.2). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/x509.h>

#include "cloudreg/creg.h"
#include "cloudreg/est.h"
#include "common/compat.h"
#include "common/str.h"
#include "service/config.h"
#include "service/log.h"
#include "service/ratelimit.h"
#include "service/tlsconf.h"

#define EST_PREFIX "/.well-known/est/"

enum who { WHO_NONE = 0, WHO_IDEVID, WHO_LDEVID, WHO_BASIC };

struct ident {
	enum who who;
	char *serial;
	char *owner;
	char reason[300]; /* why a presented certificate was not accepted */
};

static void ident_clear(struct ident *id)
{
	free(id->serial);
	free(id->owner);
	memset(id, 0, sizeof(*id));
}

static voucher_err text(struct svc_resp *resp, unsigned status, const char *msg)
{
	svc_resp_free(resp);
	svc_resp_init(resp);
	return svc_resp_text(resp, status, "%s", msg);
}

static bool serial_allowed(const struct creg_est *est, const char *serial)
{
	if (!est->allowed)
		return true;
	for (size_t i = 0; i < est->n_allowed; i++)
		if (strcmp(est->allowed[i], serial) == 0)
			return true;
	return false;
}

/* HTTP Basic against [est] basic_user and the password file's hash. */
static bool basic_ok(const struct creg_est *est, const char *auth)
{
	struct brski_buf dec;
	uint8_t h[32];
	const char *colon;
	bool ok = false;
	size_t ul;

	if (!est->basic_user || !auth || strncasecmp(auth, "Basic ", 6) != 0)
		return false;
	brski_buf_init(&dec, 1024);
	if (creg_b64_decode_body((const uint8_t *)auth + 6, strlen(auth + 6), &dec) == VOUCHER_OK &&
	    (colon = memchr(dec.data, ':', dec.len)) != NULL) {
		ul = (size_t)(colon - (const char *)dec.data);
		size_t pl = dec.len - ul - 1;
		bool user = ul == strlen(est->basic_user) &&
		            timingsafe_bcmp(dec.data, est->basic_user, ul) == 0;
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, colon + 1, pl, h) == 0)
			ok = (timingsafe_bcmp(h, est->basic_sha256, 32) == 0) & user;
	}
	if (dec.data)
		explicit_bzero(dec.data, dec.len);
	brski_buf_free(&dec);
	return ok;
}

/* In the cloud role: the device's record must say enroll-here, and its
 * owner must allow it. */
static bool enroll_here(struct creg_app *app, const struct svc_req *req, const char *serial,
                        char **owner)
{
	struct store_device dev = {0};
	struct store_owner own = {0};
	char serr[STORE_ERRLEN], *issuer = NULL;
	uint8_t *iss = NULL;
	size_t iss_len = 0;
	bool here = false;

	if (voucher_x509_idevid_issuer(req->peer_chain[0].data, req->peer_chain[0].len, &iss,
	                               &iss_len) == VOUCHER_OK &&
	    (issuer = creg_b64(iss, iss_len)) != NULL &&
	    store_device_get(app->store, serial, issuer, &dev, serr, sizeof(serr)) == VOUCHER_OK &&
	    dev.owner && dev.mode == STORE_MODE_ENROLL_HERE &&
	    store_owner_get(app->store, dev.owner, &own, serr, sizeof(serr)) == VOUCHER_OK &&
	    own.enroll_here) {
		here = true;
		*owner = brski_strdup(own.name);
	}
	free(iss);
	free(issuer);
	store_device_clear(&dev);
	store_owner_clear(&own);
	return here;
}

static void identify(struct creg_app *app, const struct creg_est *est, const struct svc_req *req,
                     struct ident *id)
{
	char r1[200] = "", r2[200] = "";

	memset(id, 0, sizeof(*id));
	if (req->peer_chain_len) {
		enum who w = WHO_NONE;
		char serr[STORE_ERRLEN + 64] = "";
		voucher_err lr = VOUCHER_E_NOT_FOUND;
		if (est->idevid &&
		    svc_trust_verify(est->idevid, req->peer_chain, req->peer_chain_len, r1,
		                     sizeof(r1)) == VOUCHER_OK)
			w = WHO_IDEVID;
		/* An LDevID: the device is the one the registrar issued this
		 * very certificate to (its record in the store; an ACME CA's
		 * certificate carries no serialNumber), whichever CA issued it;
		 * else a certificate of the configured re-enrollment CA with a
		 * subject serialNumber. */
		if (w == WHO_NONE) {
			lr = creg_ldevid_lookup(app->store, req->peer_chain[0].data,
			                        req->peer_chain[0].len, &id->serial, serr,
			                        sizeof(serr));
			if (lr == VOUCHER_OK)
				w = WHO_LDEVID;
			else if (lr != VOUCHER_E_NOT_FOUND)
				log_err_r(lr, "est: %s (request %s)", serr, req->request_id);
		}
		if (w == WHO_NONE && est->ldevid &&
		    svc_trust_verify(est->ldevid, req->peer_chain, req->peer_chain_len, r2,
		                     sizeof(r2)) == VOUCHER_OK)
			w = WHO_LDEVID;
		if (w == WHO_NONE) {
			snprintf(id->reason, sizeof(id->reason),
			         "the client certificate is neither an IDevID of a known "
			         "manufacturer (%s) nor a certificate this EST server issued or "
			         "its CA issued (%s)",
			         r1, lr == VOUCHER_E_NOT_FOUND ? r2 : "database unavailable");
			return;
		}
		if (!id->serial &&
		    voucher_x509_serial_number(req->peer_chain[0].data, req->peer_chain[0].len,
		                               &id->serial) != VOUCHER_OK) {
			snprintf(id->reason, sizeof(id->reason),
			         "the client certificate has no subject serialNumber");
			return;
		}
		if (w == WHO_IDEVID && !est->cloud && !serial_allowed(est, id->serial)) {
			snprintf(id->reason, sizeof(id->reason),
			         "device '%.64s' is not in this EST server's allow-list",
			         id->serial);
			free(id->serial);
			id->serial = NULL;
			return;
		}
		/* An LDevID of our own CA proves an earlier enrollment here. */
		if (w == WHO_IDEVID && est->cloud &&
		    !enroll_here(app, req, id->serial, &id->owner)) {
			free(id->serial);
			id->serial = NULL;
			id->who = WHO_NONE;
			snprintf(id->reason, sizeof(id->reason), "not enroll-here");
			return;
		}
		id->who = w;
		return;
	}
	if (!est->cloud && basic_ok(est, svc_req_header(req, "Authorization")))
		id->who = WHO_BASIC;
}

/* 401 / 403 / (cloud) 404 for a request without an acceptable identity. */
static voucher_err refuse_ident(const struct creg_est *est, const struct svc_req *req,
                                const struct ident *id, struct svc_resp *resp)
{
	char msg[400];

	if (est->cloud) {
		text(resp, 404,
		     "this cloud registrar is not an EST server for this device (cloud-20 section "
		     "2.2)");
		return VOUCHER_E_NOT_FOUND;
	}
	if (req->peer_chain_len) {
		snprintf(msg, sizeof(msg), "%s", id->reason);
		log_info("est: refused %s: %s (request %s)",
		         req->peer_subject ? req->peer_subject : "", msg, req->request_id);
		text(resp, 403, msg);
		return VOUCHER_E_FORBIDDEN;
	}
	text(resp, 401,
	     est->basic_user ? "authenticate with a TLS client certificate or HTTP Basic"
	                     : "authenticate with a TLS client certificate (IDevID or LDevID)");
	if (est->basic_user)
		svc_resp_header(resp, "WWW-Authenticate", "Basic realm=\"est\"");
	return VOUCHER_E_UNAUTHENTICATED;
}

static voucher_err send_b64(struct svc_resp *resp, const char *ctype, const uint8_t *der,
                            size_t len)
{
	struct brski_buf b;
	voucher_err e;

	brski_buf_init(&b, 4 * 1024 * 1024);
	if ((e = creg_b64_encode_body(der, len, &b)) == VOUCHER_OK) {
		svc_resp_free(resp);
		svc_resp_init(resp);
		e = svc_resp_set(resp, 200, ctype, b.data, b.len);
	}
	brski_buf_free(&b);
	return e;
}

/* At most as many as a client parses (brski pledge: 8). */
#define CREG_EST_MAX_CACERTS CREG_EST_MAX_CHAIN

/* RFC 7030 4.1.3: the certificates a client needs to build a chain from
 * a certificate this EST server had issued to a trust anchor. The fixed
 * ones (the local CA's, or [registrar] domain_ca), then what the backend
 * adds at this moment (the ACME CA's latest issuers and [acme] ca_roots),
 * each certificate once. */
static voucher_err do_cacerts(const struct creg_est *est, struct svc_resp *resp)
{
	const uint8_t *certs[CREG_EST_MAX_CACERTS];
	size_t lens[CREG_EST_MAX_CACERTS], n = 0;
	struct creg_ca_result extra;
	struct brski_buf p7;
	voucher_err e = VOUCHER_OK;

	creg_ca_result_init(&extra);
	for (size_t i = 0; i < est->n_cacerts && n < CREG_EST_MAX_CACERTS; i++, n++) {
		certs[n] = est->cacerts[i];
		lens[n] = est->cacerts_len[i];
	}
	if (est->ca && est->ca->ops->issuers &&
	    (e = est->ca->ops->issuers(est->ca->backend, &extra)) != VOUCHER_OK) {
		creg_ca_result_clear(&extra);
		return text(resp, 500, "failed to collect the CA certificates"), e;
	}
	for (size_t i = 0; i < extra.n_chain && n < CREG_EST_MAX_CACERTS; i++) {
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = lens[k] == extra.chain_len[i] &&
			      memcmp(certs[k], extra.chain[i], lens[k]) == 0;
		if (!dup) {
			certs[n] = extra.chain[i];
			lens[n++] = extra.chain_len[i];
		}
	}
	if (!n) {
		creg_ca_result_clear(&extra);
		return text(resp, 503, "no CA certificates are known yet; retry later"),
		       VOUCHER_EAGAIN;
	}
	brski_buf_init(&p7, 1024 * 1024);
	e = creg_pkcs7_certs_only(certs, lens, n, &p7);
	if (e == VOUCHER_OK)
		e = send_b64(resp, CREG_EST_PKCS7_TYPE, p7.data, p7.len);
	brski_buf_free(&p7);
	creg_ca_result_clear(&extra);
	return e;
}

static voucher_err do_csrattrs(const struct creg_est *est, const struct ident *id,
                               struct svc_resp *resp)
{
	struct brski_buf der;
	char san[CREG_DNS_MAX + 1], err[200] = "";
	bool with_san = false;
	voucher_err e;

	/* The SAN template needs to know who asks. */
	if (est->subdomain && id->serial)
		with_san = creg_csr_san_for(id->serial, est->subdomain, san, sizeof(san)) ==
		           VOUCHER_OK;
	brski_buf_init(&der, 64 * 1024);
	e = creg_csrattrs_encode((const char *const *)est->oids, est->n_oids, est->require_pop,
	                         with_san ? san : NULL, &der, err, sizeof(err));
	if (e == VOUCHER_OK)
		e = send_b64(resp, "application/csrattrs", der.data, der.len);
	brski_buf_free(&der);
	return e;
}

/* SAN dNSNames of a certificate, for the re-enroll comparison. */
static bool same_names(const uint8_t *der, size_t len, const struct creg_csr *csr, char *why,
                       size_t whylen)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len}, dn = {0};
	char buf[CREG_DNS_MAX + 1];
	size_t n = 0;
	bool ok = false;

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
		goto out;
	if (strcmp((const char *)dn.data, csr->subject) != 0) {
		snprintf(why, whylen, "re-enrollment must keep the subject '%.120s'",
		         (const char *)dn.data);
		goto out;
	}
	for (unsigned i = 0;; i++) {
		size_t sz = sizeof(buf) - 1;
		unsigned crit;
		int g = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &sz, &crit);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g != GNUTLS_SAN_DNSNAME)
			continue;
		buf[sz] = '\0';
		bool found = false;
		for (size_t j = 0; j < csr->n_dns; j++)
			found |= strcasecmp(csr->dns[j], buf) == 0;
		if (!found) {
			snprintf(why, whylen, "re-enrollment must keep the subjectAltName %s", buf);
			goto out;
		}
		n++;
	}
	if (n != csr->n_dns) {
		snprintf(why, whylen, "re-enrollment must keep the subjectAltName set");
		goto out;
	}
	ok = true;
out:
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return ok;
}

static voucher_err do_keygen(const struct creg_est *est, const struct svc_req *req,
                             const struct creg_csr *csr, const uint8_t *der, size_t der_len,
                             const char *serial, const char *owner, struct svc_resp *resp);

static voucher_err do_enroll(const struct creg_est *est, const struct svc_req *req,
                             const struct ident *id, int mode, struct svc_resp *resp)
{
	bool re = mode == 1;
	const char *ct = svc_req_header(req, "Content-Type");
	struct brski_buf der;
	struct creg_csr csr = {0};
	struct creg_enroll_answer ans;
	char err[400] = "", msg[600];
	const char *serial = id->serial;
	voucher_err e;

	creg_enroll_answer_init(&ans);
	brski_buf_init(&der, CREG_CSR_MAX);
	if (!ct || !brski_str_startswith(ct, "application/pkcs10") ||
	    (ct[18] != '\0' && ct[18] != ';' && ct[18] != ' ')) {
		snprintf(msg, sizeof(msg), "Content-Type '%.100s' is not application/pkcs10",
		         ct ? ct : "");
		e = text(resp, 415, msg);
		goto out;
	}
	if (creg_b64_decode_body(req->body, req->body_len, &der) != VOUCHER_OK) {
		e = text(resp, 400, "the body is not base64 of a PKCS#10 request (RFC 8951)");
		goto out;
	}
	if ((e = creg_csr_parse(der.data, der.len, &csr, err, sizeof(err))) != VOUCHER_OK) {
		snprintf(msg, sizeof(msg), "bad CSR: %s", err);
		text(resp, e == VOUCHER_ENOMEM ? 500 : 400, msg);
		goto out;
	}
	if (id->who == WHO_BASIC) {
		if (!csr.subject_serial) {
			e = text(resp, 400,
			         "with HTTP Basic the CSR's subject must carry the device's "
			         "serialNumber");
			goto out;
		}
		if (!serial_allowed(est, csr.subject_serial)) {
			e = text(resp, 403, "this serialNumber is not in the allow-list");
			goto out;
		}
		serial = csr.subject_serial;
	}
	/* RFC 7030 3.5: proof that the CSR was made for this TLS session. */
	if (csr.challenge) {
		if (!req->cb_data || req->cb_type == SVC_CB_NONE) {
			e = text(resp, 403,
			         "the CSR carries a challengePassword but this connection has no "
			         "channel binding");
			goto out;
		}
		if (!creg_csr_pop_matches(&csr, req->cb_data, req->cb_len)) {
			log_info("est: proof of possession failed for %s (request %s)", serial,
			         req->request_id);
			e = text(resp, 403,
			         req->cb_type == SVC_CB_TLS_EXPORTER
			                 ? "proof of possession failed: the challengePassword is "
			                   "not this session's tls-exporter (RFC 9266)"
			                 : "proof of possession failed: the challengePassword is "
			                   "not this session's tls-unique");
			goto out;
		}
	} else if (est->require_pop) {
		e = text(resp, 403,
		         "this EST server requires proof of possession: put base64 of the TLS "
		         "channel binding in the CSR's challengePassword (RFC 7030 3.5)");
		goto out;
	}
	if (re) {
		if (id->who != WHO_LDEVID) {
			e = text(resp, 403,
			         "simplereenroll needs the certificate being renewed as TLS client "
			         "certificate");
			goto out;
		}
		if (!same_names(req->peer_chain[0].data, req->peer_chain[0].len, &csr, err,
		                sizeof(err))) {
			e = text(resp, 400, err);
			goto out;
		}
	} else if (est->subdomain) {
		char want[CREG_DNS_MAX + 1];
		if (creg_csr_san_for(serial, est->subdomain, want, sizeof(want)) != VOUCHER_OK) {
			e = text(resp, 400, "the serial number cannot be a DNS label");
			goto out;
		}
		for (size_t i = 0; i < csr.n_dns; i++)
			if (strcasecmp(csr.dns[i], want) != 0) {
				snprintf(msg, sizeof(msg),
				         "the CSR asks for subjectAltName %.200s; csrattrs offers "
				         "only "
				         "%s",
				         csr.dns[i], want);
				e = text(resp, 403, msg);
				goto out;
			}
		if (csr.other_san) {
			e = text(resp, 403,
			         "the CSR asks for subjectAltName entries other than dNSName");
			goto out;
		}
	}
	if (mode == 2) {
		e = do_keygen(est, req, &csr, der.data, der.len, serial, id->owner, resp);
		goto out;
	}
	e = creg_enroll_request(est->enroll, der.data, der.len, csr.sha256, serial, id->owner, re,
	                        &ans);
	if (ans.status == 200) {
		log_info("est: %s for %s: certificate %s (request %s)",
		         re ? "simplereenroll" : "simpleenroll", serial,
		         ans.cached ? "from the cache" : "issued", req->request_id);
		e = send_b64(resp, CREG_EST_PKCS7_TYPE, ans.pkcs7.data, ans.pkcs7.len);
	} else if (ans.status == 202) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", ans.retry_after);
		snprintf(msg, sizeof(msg),
		         "enrollment job %lld is in progress; send the same request again after "
		         "%u s",
		         (long long)ans.job_id, ans.retry_after);
		text(resp, 202, msg);
		e = svc_resp_header(resp, "Retry-After", ra);
	} else {
		text(resp, ans.status ? ans.status : 500, ans.message[0] ? ans.message : "failed");
		if (ans.status == 503 || ans.status == 429) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%u", ans.retry_after ? ans.retry_after : 1);
			svc_resp_header(resp, "Retry-After", ra);
		}
		e = VOUCHER_OK;
	}
out:
	creg_csr_clear(&csr);
	creg_enroll_answer_free(&ans);
	brski_buf_free(&der);
	return e;
}

/* RFC 7030 4.4: a key made here for the requester, with a certificate for
 * the subject and SAN of its CSR. Not a job: the private key is never
 * stored, so this answers only when the CA issues at once. */
#define KEYGEN_BOUNDARY "estServerKeyGenBoundary"

static voucher_err keygen_csr(const struct creg_csr *csr, const uint8_t *der, size_t der_len,
                              gnutls_x509_privkey_t key, gnutls_datum_t *out)
{
	gnutls_x509_crq_t in = NULL, crq = NULL;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)der_len};
	char oid[128], val[512];
	voucher_err e = VOUCHER_E_CRYPTO;

	if (gnutls_x509_crq_init(&in) < 0 || gnutls_x509_crq_init(&crq) < 0 ||
	    gnutls_x509_crq_import(in, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0)
		goto out;
	/* The subject, attribute by attribute (repeated OIDs in order). */
	for (unsigned i = 0; i < 32; i++) {
		size_t osz = sizeof(oid), vsz = sizeof(val);
		unsigned nth = 0;
		int g = gnutls_x509_crq_get_dn_oid(in, i, oid, &osz);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g < 0)
			goto out;
		for (unsigned j = 0; j < i; j++) {
			char prev[128];
			size_t psz = sizeof(prev);
			if (gnutls_x509_crq_get_dn_oid(in, j, prev, &psz) == 0 &&
			    strcmp(prev, oid) == 0)
				nth++;
		}
		if (gnutls_x509_crq_get_dn_by_oid(in, oid, nth, 0, val, &vsz) < 0 ||
		    gnutls_x509_crq_set_dn_by_oid(crq, oid, 0, val, (unsigned)vsz) < 0)
			goto out;
	}
	for (size_t i = 0; i < csr->n_dns; i++)
		if (gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, csr->dns[i],
		                                         (unsigned)strlen(csr->dns[i]),
		                                         GNUTLS_FSAN_APPEND) < 0)
			goto out;
	if (gnutls_x509_crq_set_key(crq, key) < 0 ||
	    gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, out) < 0)
		goto out;
	e = VOUCHER_OK;
out:
	if (in)
		gnutls_x509_crq_deinit(in);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return e;
}

static voucher_err keygen_part(struct brski_buf *b, const char *ctype, const uint8_t *der,
                               size_t len)
{
	voucher_err e;

	if ((e = brski_buf_printf(b,
	                          "--" KEYGEN_BOUNDARY "\r\nContent-Type: %s\r\n"
	                          "Content-Transfer-Encoding: base64\r\n\r\n",
	                          ctype)) != VOUCHER_OK)
		return e;
	return creg_b64_encode_body(der, len, b);
}

static voucher_err do_keygen(const struct creg_est *est, const struct svc_req *req,
                             const struct creg_csr *csr, const uint8_t *der, size_t der_len,
                             const char *serial, const char *owner, struct svc_resp *resp)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t newcsr = {0}, p8 = {0};
	struct creg_ca_request rq = {0};
	struct creg_ca_result res;
	struct brski_buf p7, body;
	char err[320] = "", msg[400];
	voucher_err e;

	creg_ca_result_init(&res);
	brski_buf_init(&p7, 1024 * 1024);
	brski_buf_init(&body, 4 * 1024 * 1024);
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    (e = keygen_csr(csr, der, der_len, key, &newcsr)) != VOUCHER_OK) {
		e = text(resp, 500, "failed to make a key and its request");
		goto out;
	}
	{
		unsigned wait = 0;
		if (svc_ratelimit_take(serial, &wait) != VOUCHER_OK) {
			snprintf(msg, sizeof(msg), "%u", wait ? wait : 1);
			text(resp, 429, "this device has asked for too many certificates");
			e = svc_resp_header(resp, "Retry-After", msg);
			goto out;
		}
	}
	rq.csr = newcsr.data;
	rq.csr_len = newcsr.size;
	rq.serial = serial;
	rq.owner = owner;
	rq.subdomain = est->subdomain;
	rq.attempt = 1;
	if ((e = est->ca->ops->issue(est->ca->backend, &rq, &res, err, sizeof(err))) !=
	    VOUCHER_OK) {
		log_err_r(e, "est: serverkeygen for %s: %s", serial, err);
		text(resp, 503, "the CA failed; retry later");
		e = svc_resp_header(resp, "Retry-After", "5");
		goto out;
	}
	if (res.status == CREG_CA_RETRY) {
		text(resp, 503,
		     "the CA did not issue at once, and serverkeygen keeps no private keys "
		     "between requests: send the request again later");
		snprintf(msg, sizeof(msg), "%u", res.retry_after ? res.retry_after : 1);
		e = svc_resp_header(resp, "Retry-After", msg);
		goto out;
	}
	if (res.status != CREG_CA_ISSUED || res.n_chain == 0) {
		snprintf(msg, sizeof(msg), "enrollment refused: %s", res.message);
		e = text(resp, 403, msg);
		goto out;
	}
	if ((e = creg_pkcs7_certs_only((const uint8_t *const *)res.chain, res.chain_len,
	                               res.n_chain, &p7)) != VOUCHER_OK ||
	    gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN,
	                                      &p8) < 0) {
		e = text(resp, 500, "failed to encode the answer");
		goto out;
	}
	if ((e = keygen_part(&body, "application/pkcs8", p8.data, p8.size)) != VOUCHER_OK ||
	    (e = keygen_part(&body, CREG_EST_PKCS7_TYPE, p7.data, p7.len)) != VOUCHER_OK ||
	    (e = brski_buf_puts(&body, "--" KEYGEN_BOUNDARY "--\r\n")) != VOUCHER_OK)
		goto out;
	svc_resp_free(resp);
	svc_resp_init(resp);
	e = svc_resp_set(resp, 200, "multipart/mixed; boundary=" KEYGEN_BOUNDARY, body.data,
	                 body.len);
	log_info("est: serverkeygen for %s: key made and certificate issued by the %s CA "
	         "(request %s)",
	         serial, est->ca->ops->name, req->request_id);
out:
	if (p8.data) {
		gnutls_memset(p8.data, 0, p8.size);
		gnutls_free(p8.data);
	}
	if (body.data)
		explicit_bzero(body.data, body.len);
	gnutls_free(newcsr.data);
	if (key)
		gnutls_x509_privkey_deinit(key);
	creg_ca_result_clear(&res);
	brski_buf_free(&p7);
	brski_buf_free(&body);
	return e;
}

struct creg_est *creg_est_get(struct creg_app *app)
{
	struct creg_est *est;

	pthread_mutex_lock(&app->lock);
	if ((est = app->est) != NULL)
		est->refs++;
	pthread_mutex_unlock(&app->lock);
	return est;
}

void creg_est_put(struct creg_app *app, struct creg_est *est)
{
	bool last;

	if (!est)
		return;
	pthread_mutex_lock(&app->lock);
	last = --est->refs == 0;
	pthread_mutex_unlock(&app->lock);
	if (last)
		creg_est_free(est);
}

void creg_est_swap(struct creg_app *app, struct creg_est *est)
{
	struct creg_est *old;

	pthread_mutex_lock(&app->lock);
	old = app->est;
	app->est = est;
	pthread_mutex_unlock(&app->lock);
	creg_est_put(app, old);
}

static voucher_err est_handle(const struct creg_est *est, const struct svc_req *req,
                              struct svc_resp *resp);

voucher_err creg_est_handle(const struct svc_req *req, struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	struct creg_est *est = creg_est_get(app);
	voucher_err e = est_handle(est, req, resp);

	creg_est_put(app, est);
	return e;
}

static voucher_err est_handle(const struct creg_est *est, const struct svc_req *req,
                              struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	const char *op = req->path + strlen(EST_PREFIX), *slash;
	struct ident id;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	voucher_err e;

	if (!brski_str_startswith(req->path, EST_PREFIX))
		return text(resp, 404, "not an EST path"), VOUCHER_E_NOT_FOUND;
	/* RFC 7030 3.2.2: an optional label before the operation. */
	if ((slash = strchr(op, '/')) != NULL && strchr(slash + 1, '/') == NULL && slash != op)
		op = slash + 1;
	if (!est) {
		text(resp, 501, "EST is not configured on this cloudregd ([ca] is missing)");
		return VOUCHER_ENOTSUP;
	}
	struct {
		const char *name;
		bool get;
	} ops[] = {{"cacerts", true},         {"csrattrs", true},      {"simpleenroll", false},
	           {"simplereenroll", false}, {"serverkeygen", false}, {"fullcmc", false}};
	size_t i;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		text(resp, 404, "unknown EST operation");
		return VOUCHER_E_NOT_FOUND;
	}
	if (ops[i].get != get) {
		text(resp, 405, ops[i].get ? "use GET" : "use POST");
		svc_resp_header(resp, "Allow", ops[i].get ? "GET, HEAD" : "POST");
		return VOUCHER_OK;
	}
	identify(app, est, req, &id);
	/* The cloud registrar serves enroll-here devices only, cacerts too. */
	if (est->cloud && id.who == WHO_NONE) {
		e = refuse_ident(est, req, &id, resp);
		goto out;
	}
	switch (i) {
	case 0:
		e = do_cacerts(est, resp);
		break;
	case 1:
		if (req->peer_chain_len && id.who == WHO_NONE) {
			e = refuse_ident(est, req, &id, resp);
			break;
		}
		e = do_csrattrs(est, &id, resp);
		break;
	case 2:
	case 3:
		if (id.who == WHO_NONE) {
			e = refuse_ident(est, req, &id, resp);
			break;
		}
		e = do_enroll(est, req, &id, i == 3, resp);
		break;
	case 4:
		if (!est->serverkeygen) {
			text(resp, 501,
			     "serverkeygen is off here ([est] serverkeygen): pledges generate "
			     "their own keys");
			e = VOUCHER_OK;
			break;
		}
		if (id.who == WHO_NONE) {
			e = refuse_ident(est, req, &id, resp);
			break;
		}
		e = do_enroll(est, req, &id, 2, resp);
		break;
	default:
		text(resp, 501, "fullcmc is not implemented (RFC 7030 4.3 makes it optional)");
		e = VOUCHER_OK;
		break;
	}
out:
	ident_clear(&id);
	return e;
}

/* ---- configuration ----------------------------------------------------------------- */

static voucher_err load_trust(const char *path, struct svc_trust **out, char *err, size_t errlen)
{
	voucher_err e;

	if (!path)
		return VOUCHER_OK;
	if ((e = svc_trust_new(out)) != VOUCHER_OK)
		return e;
	return svc_trust_add_file(*out, path, err, errlen);
}

static voucher_err load_lines(const char *path, char ***out, size_t *n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (!f) {
		snprintf(err, errlen, "cannot read %s", path);
		return VOUCHER_E_CONFIG;
	}
	*out = calloc(1, sizeof(char *));
	*n = 0;
	while (*out && fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\r\n");
		char **grown;
		line[l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (!(grown = realloc(*out, (*n + 2) * sizeof(char *)))) {
			fclose(f);
			return VOUCHER_ENOMEM;
		}
		*out = grown;
		if (!((*out)[*n] = brski_strdup(line))) {
			fclose(f);
			return VOUCHER_ENOMEM;
		}
		(*n)++;
	}
	fclose(f);
	return *out ? VOUCHER_OK : VOUCHER_ENOMEM;
}

voucher_err creg_est_new(const struct svc_config *cfg, struct store *store,
                         struct svc_metrics *metrics, int metrics_slot, struct creg_est **out,
                         char *err, size_t errlen)
{
	struct creg_est *est = calloc(1, sizeof(*est));
	struct creg_enroll_opts eo = {0};
	const uint8_t *const *certs = NULL;
	const size_t *lens = NULL;
	const char *s, *reenroll;
	size_t n = 0;
	voucher_err e;

	if (!est)
		return VOUCHER_ENOMEM;
	est->refs = 1;
	s = svc_config_str(cfg, "daemon", "role");
	est->cloud = s && strcmp(s, "cloud") == 0;
	est->require_pop = svc_config_bool(cfg, "est", "require_pop");
	est->serverkeygen = svc_config_bool(cfg, "est", "serverkeygen");
	if ((s = svc_config_str(cfg, "ca", "subdomain")) && !(est->subdomain = brski_strdup(s))) {
		e = VOUCHER_ENOMEM;
		goto fail;
	}
	if ((s = svc_config_str(cfg, "est", "csrattrs_oids")) != NULL) {
		char tmp[1024], *save = NULL;
		snprintf(tmp, sizeof(tmp), "%s", s);
		for (char *t = strtok_r(tmp, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			if (est->n_oids == CREG_EST_MAX_OIDS) {
				snprintf(err, errlen, "[est] csrattrs_oids: at most %d OIDs",
				         CREG_EST_MAX_OIDS);
				e = VOUCHER_E_CONFIG;
				goto fail;
			}
			if (!(est->oids[est->n_oids++] = brski_strdup(t))) {
				e = VOUCHER_ENOMEM;
				goto fail;
			}
		}
	}
	if ((s = svc_config_str(cfg, "est", "allowed_serials")) &&
	    (e = load_lines(s, &est->allowed, &est->n_allowed, err, errlen)) != VOUCHER_OK)
		goto fail;
	if ((s = svc_config_str(cfg, "est", "basic_user")) != NULL) {
		char **pw = NULL;
		size_t npw = 0;
		const char *file = svc_config_str(cfg, "est", "basic_password_file");
		if (!file) {
			snprintf(err, errlen, "[est] basic_user needs basic_password_file");
			e = VOUCHER_E_CONFIG;
			goto fail;
		}
		if ((e = load_lines(file, &pw, &npw, err, errlen)) == VOUCHER_OK && npw == 0) {
			snprintf(err, errlen, "[est] basic_password_file %s holds no password",
			         file);
			e = VOUCHER_E_CONFIG;
		}
		if (e == VOUCHER_OK && gnutls_hash_fast(GNUTLS_DIG_SHA256, pw[0], strlen(pw[0]),
		                                        est->basic_sha256) < 0)
			e = VOUCHER_E_CRYPTO;
		for (size_t i = 0; pw && i < npw; i++) {
			explicit_bzero(pw[i], strlen(pw[i]));
			free(pw[i]);
		}
		free(pw);
		if (e != VOUCHER_OK)
			goto fail;
		if (!(est->basic_user = brski_strdup(s))) {
			e = VOUCHER_ENOMEM;
			goto fail;
		}
	}
	if ((e = load_trust(svc_config_str(cfg, "registrar", "manufacturer_ca"), &est->idevid, err,
	                    errlen)) != VOUCHER_OK)
		goto fail;
	reenroll = svc_config_str(cfg, "est", "reenroll_ca");
	if (!reenroll)
		reenroll = svc_config_str(cfg, "ca", "cert");
	if (!reenroll)
		reenroll = svc_config_str(cfg, "registrar", "domain_ca");
	if ((e = load_trust(reenroll, &est->ldevid, err, errlen)) != VOUCHER_OK)
		goto fail;
	if ((e = creg_ca_open(cfg, store, &est->ca, err, errlen)) != VOUCHER_OK)
		goto fail;
	if (est->ca->ops->cacerts)
		est->ca->ops->cacerts(est->ca->backend, &certs, &lens, &n);
	if (n == 0 && (s = svc_config_str(cfg, "registrar", "domain_ca")) != NULL) {
		struct voucher_x509_chain *ch = NULL;
		if (voucher_x509_chain_load_file(s, &ch) == VOUCHER_OK) {
			est->cacerts = calloc(ch->len ? ch->len : 1, sizeof(uint8_t *));
			est->cacerts_len = calloc(ch->len ? ch->len : 1, sizeof(size_t));
			for (size_t i = 0; est->cacerts && est->cacerts_len && i < ch->len; i++) {
				est->cacerts[i] = ch->der[i];
				est->cacerts_len[i] = ch->der_len[i];
				ch->der[i] = NULL;
				est->n_cacerts++;
			}
			voucher_x509_chain_free(ch);
		}
	} else if (n) {
		est->cacerts = calloc(n, sizeof(uint8_t *));
		est->cacerts_len = calloc(n, sizeof(size_t));
		if (!est->cacerts || !est->cacerts_len) {
			e = VOUCHER_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			if (!(est->cacerts[i] = malloc(lens[i]))) {
				e = VOUCHER_ENOMEM;
				goto fail;
			}
			memcpy(est->cacerts[i], certs[i], lens[i]);
			est->cacerts_len[i] = lens[i];
			est->n_cacerts++;
		}
	}
	eo.workers = (unsigned)svc_config_int(cfg, "est", "workers");
	eo.lease = (unsigned)svc_config_int(cfg, "est", "job_lease");
	eo.first_wait_ms = (unsigned)svc_config_int(cfg, "est", "first_wait_ms");
	eo.retry_after = (unsigned)svc_config_int(cfg, "est", "retry_after");
	eo.poll_ms = 500;
	eo.subdomain = est->subdomain;
	eo.metrics_slot = metrics_slot;
	if ((e = creg_enroll_new(store, est->ca, &eo, metrics, &est->enroll, err, errlen)) !=
	    VOUCHER_OK)
		goto fail;
	*out = est;
	return VOUCHER_OK;
fail:
	if (!err[0])
		snprintf(err, errlen, "EST setup failed (%s)", voucher_strerror(e));
	creg_est_free(est);
	return e;
}

void creg_est_free(struct creg_est *est)
{
	if (!est)
		return;
	creg_enroll_free(est->enroll);
	creg_ca_close(est->ca);
	svc_trust_unref(est->idevid);
	svc_trust_unref(est->ldevid);
	for (size_t i = 0; i < est->n_cacerts; i++)
		free(est->cacerts[i]);
	free(est->cacerts);
	free(est->cacerts_len);
	for (size_t i = 0; i < est->n_allowed; i++)
		free(est->allowed[i]);
	free(est->allowed);
	free(est->basic_user);
	free(est->subdomain);
	for (size_t i = 0; i < est->n_oids; i++)
		free(est->oids[i]);
	free(est);
}
