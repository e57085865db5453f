/* The checks on a registrar voucher-request (FACTS 1.7), in order, then
 * ownership and revocation. Each failure names its check: that name is the
 * disposition in the request log and starts the plain-text answer. */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/buf.h"
#include "common/compat.h"
#include "masa/masa.h"

void masa_rvr_clear(struct masa_rvr *r)
{
	if (!r)
		return;
	voucher_verified_free(r->verified);
	voucher_artifact_free(r->rvr);
	voucher_verified_free(r->pvr_verified);
	voucher_artifact_free(r->pvr);
	free(r->serial);
	free(r->idevid_issuer);
	store_device_clear(&r->device);
	store_owner_clear(&r->owner);
	memset(r, 0, sizeof(*r));
}

static voucher_err sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) == 0 ? VOUCHER_OK
	                                                                : VOUCHER_E_CRYPTO;
}

/* Parse and validate a payload as a voucher-request; errors are 400. */
static voucher_err parse_request(const struct voucher_verified *v, const char *what,
                                 struct voucher_artifact **out, struct masa_fail *f)
{
	struct voucher_error_info ei = {0};
	voucher_err r;

	r = voucher_artifact_parse(v->payload, v->payload_len, VOUCHER_KIND_REQUEST, 0, out, &ei);
	if (r != VOUCHER_OK) {
		/* a voucher where a request belongs is malformed input here */
		return masa_fail_set(f, r == VOUCHER_E_WRONG_KIND ? VOUCHER_E_MALFORMED : r,
		                     "malformed", "the %s is not a valid voucher-request: %s", what,
		                     ei.message[0] ? ei.message : voucher_strerror(r));
	}
	return VOUCHER_OK;
}

/* Whether the SPKI hash occurs in the registrar's chain. */
static bool spki_in_chain(const struct voucher_verified *v, const uint8_t want[32])
{
	for (size_t i = 0; i < v->chain_len; i++) {
		uint8_t h[32];
		if (voucher_x509_spki_sha256(v->chain[i], v->chain_der_len[i], h) == VOUCHER_OK &&
		    timingsafe_bcmp(h, want, 32) == 0)
			return true;
	}
	return false;
}

/* The pledge's proximity claim against the registrar's chain. Sets the
 * assertion: proximity when the claim holds, logged when there is none. */
static voucher_err check_proximity(struct masa_rvr *r, struct masa_fail *f)
{
	const uint8_t *p;
	size_t n;
	uint8_t h[32];
	voucher_err e;

	if (voucher_artifact_get_binary(r->pvr, VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT, &p, &n) ==
	    VOUCHER_OK) {
		if ((e = voucher_x509_spki_sha256(p, n, h)) != VOUCHER_OK)
			return masa_fail_set(
			        f, VOUCHER_E_CERT, "proximity",
			        "the pledge's proximity-registrar-cert does not parse (%s)",
			        voucher_strerror(e));
	} else if (voucher_artifact_get_binary(r->pvr, VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK, &p,
	                                       &n) == VOUCHER_OK) {
		if ((e = sha256(p, n, h)) != VOUCHER_OK)
			return masa_fail_set(f, e, "proximity", "failed to hash the registrar key");
	} else if (voucher_artifact_get_binary(r->pvr, VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK_SHA256,
	                                       &p, &n) == VOUCHER_OK) {
		if (n != 32)
			return masa_fail_set(f, VOUCHER_E_MALFORMED, "proximity",
			                     "proximity-registrar-pubk-sha256 is %zu bytes, not 32",
			                     n);
		memcpy(h, p, 32);
	} else {
		r->assertion = VOUCHER_ASSERTION_LOGGED;
		return VOUCHER_OK;
	}
	if (!spki_in_chain(r->verified, h))
		return masa_fail_set(
		        f, VOUCHER_E_PIN_MISMATCH, "proximity",
		        "the registrar the pledge saw (proximity-registrar-cert) is not in "
		        "the chain that signed the registrar voucher-request");
	r->assertion = VOUCHER_ASSERTION_PROXIMITY;
	return VOUCHER_OK;
}

/* The pledge's request inside the registrar's (FACTS 1.7 step 6 and 7). */
static voucher_err check_pledge(const struct masa_keys *k, struct masa_rvr *r, const uint8_t *pvr,
                                size_t pvr_len, struct masa_fail *f)
{
	const char *rvr_serial = NULL, *pvr_serial = NULL;
	const uint8_t *rn = NULL, *pn = NULL, *iss = NULL;
	size_t rn_len = 0, pn_len = 0, iss_len = 0;
	voucher_err e;

	r->pledge_env = voucher_envelope_detect(pvr, pvr_len);
	if (r->pledge_env == VOUCHER_ENV_NONE)
		return masa_fail_set(
		        f, VOUCHER_E_MALFORMED, "malformed",
		        "prior-signed-voucher-request is not a CMS, COSE or JWS object");
	e = voucher_verify(r->pledge_env, pvr, pvr_len, k->manufacturer, &r->pvr_verified);
	if (e == VOUCHER_E_SIG_INVALID || e == VOUCHER_E_UNTRUSTED || e == VOUCHER_E_EXPIRED)
		return masa_fail_set(
		        f, e, "pledge-signature",
		        "the pledge voucher-request does not verify with an IDevID of a "
		        "configured manufacturer CA (%s)",
		        voucher_strerror(e));
	if (e != VOUCHER_OK)
		return masa_fail_set(f, e, "malformed", "prior-signed-voucher-request: %s",
		                     voucher_strerror(e));
	if ((e = parse_request(r->pvr_verified, "pledge voucher-request", &r->pvr, f)) !=
	    VOUCHER_OK)
		return e;

	/* The serial number the MASA trusts is the IDevID's. */
	e = voucher_x509_serial_number(r->pvr_verified->chain[0], r->pvr_verified->chain_der_len[0],
	                               &r->serial);
	if (e != VOUCHER_OK)
		return masa_fail_set(f, VOUCHER_E_SERIAL_MISMATCH, "serial-number",
		                     "the IDevID has no usable serialNumber (%s)",
		                     voucher_strerror(e));
	voucher_artifact_get_string(r->rvr, VOUCHER_LEAF_SERIAL_NUMBER, &rvr_serial);
	if (!rvr_serial || strcmp(rvr_serial, r->serial) != 0)
		return masa_fail_set(
		        f, VOUCHER_E_SERIAL_MISMATCH, "serial-number",
		        "the registrar asks for serial-number '%.64s' but the IDevID is "
		        "'%.64s'",
		        rvr_serial ? rvr_serial : "", r->serial);
	if (voucher_artifact_get_string(r->pvr, VOUCHER_LEAF_SERIAL_NUMBER, &pvr_serial) ==
	            VOUCHER_OK &&
	    strcmp(pvr_serial, r->serial) != 0)
		return masa_fail_set(
		        f, VOUCHER_E_SERIAL_MISMATCH, "serial-number",
		        "the pledge voucher-request says serial-number '%.64s' but the "
		        "IDevID is '%.64s'",
		        pvr_serial, r->serial);

	e = voucher_x509_idevid_issuer(r->pvr_verified->chain[0], r->pvr_verified->chain_der_len[0],
	                               &r->idevid_issuer, &r->idevid_issuer_len);
	if (e != VOUCHER_OK)
		return masa_fail_set(f, e, "idevid-issuer",
		                     "failed to read the IDevID's issuer (%s)",
		                     voucher_strerror(e));
	/* RFC 8995 registrars may leave it out; when present it must match. */
	if (voucher_artifact_get_binary(r->rvr, VOUCHER_LEAF_IDEVID_ISSUER, &iss, &iss_len) ==
	            VOUCHER_OK &&
	    (iss_len != r->idevid_issuer_len ||
	     timingsafe_bcmp(iss, r->idevid_issuer, iss_len) != 0))
		return masa_fail_set(f, VOUCHER_E_FORBIDDEN, "idevid-issuer",
		                     "idevid-issuer in the registrar voucher-request is not the "
		                     "IDevID's authority key identifier");

	if ((e = check_proximity(r, f)) != VOUCHER_OK)
		return e;

	voucher_artifact_get_binary(r->rvr, VOUCHER_LEAF_NONCE, &rn, &rn_len);
	voucher_artifact_get_binary(r->pvr, VOUCHER_LEAF_NONCE, &pn, &pn_len);
	if ((pn || rn) && (!pn || !rn || pn_len != rn_len || timingsafe_bcmp(pn, rn, pn_len) != 0))
		return masa_fail_set(f, VOUCHER_E_NONCE_MISMATCH, "nonce",
		                     "the nonces of the registrar and the pledge voucher-requests "
		                     "differ");
	r->nonce = pn;
	r->nonce_len = pn_len;
	return VOUCHER_OK;
}

/* A request without the pledge's: only for a registrar that proved itself
 * with its TLS client certificate (the admin API issues nonceless
 * vouchers from the device record instead, masa/admin.c). */
static voucher_err check_nonceless(const struct masa_input *in, unsigned flags, struct masa_rvr *r,
                                   struct masa_fail *f)
{
	const char *serial = NULL;
	const uint8_t *iss = NULL;
	size_t iss_len = 0;

	if (voucher_artifact_has(r->rvr, VOUCHER_LEAF_NONCE))
		return masa_fail_set(
		        f, VOUCHER_E_MISSING, "malformed",
		        "a nonce without prior-signed-voucher-request cannot be checked");
	voucher_artifact_get_string(r->rvr, VOUCHER_LEAF_SERIAL_NUMBER, &serial);
	if (!serial || !(r->serial = strdup(serial)))
		return masa_fail_set(f, VOUCHER_ENOMEM, "malformed", "out of memory");
	if (voucher_artifact_get_binary(r->rvr, VOUCHER_LEAF_IDEVID_ISSUER, &iss, &iss_len) ==
	            VOUCHER_OK &&
	    iss_len > 0) {
		if (!(r->idevid_issuer = malloc(iss_len)))
			return masa_fail_set(f, VOUCHER_ENOMEM, "malformed", "out of memory");
		memcpy(r->idevid_issuer, iss, iss_len);
		r->idevid_issuer_len = iss_len;
	}
	r->assertion = VOUCHER_ASSERTION_VERIFIED;
	r->pledge_env = VOUCHER_ENV_NONE;
	if (flags & MASA_CHECK_AUDIT)
		return VOUCHER_OK;
	if (!in->peer_cert)
		return masa_fail_set(f, VOUCHER_E_UNAUTHENTICATED, "nonceless",
		                     "a nonceless voucher-request needs the registrar's TLS client "
		                     "certificate");
	if (!r->tls_authenticated)
		return masa_fail_set(
		        f, VOUCHER_E_FORBIDDEN, "nonceless",
		        "the TLS client certificate is not the certificate that signed "
		        "the nonceless voucher-request");
	return VOUCHER_OK;
}

static bool is_cloud_registrar(const struct masa_keys *k, const struct voucher_verified *v)
{
	if (!k->cloud_regs)
		return false;
	for (size_t i = 0; i < k->cloud_regs->len; i++)
		if (k->cloud_regs->der_len[i] == v->chain_der_len[0] &&
		    memcmp(k->cloud_regs->der[i], v->chain[0], v->chain_der_len[0]) == 0)
			return true;
	return false;
}

/* Whether owner's domain CA validates the registrar that signed in. */
/* Whether the owner's domain CA validates the chain the registrar signed
 * with (the signature itself was verified already: only the path is
 * checked here, so the request is not parsed and verified twice). *why is
 * VOUCHER_OK, VOUCHER_E_EXPIRED or VOUCHER_E_UNTRUSTED. */
/* Successful owner validations, remembered by the SHA-256 of the owner's
 * domain CA (PEM, as stored) and of the carried chain (DER), until the
 * earliest notAfter among them: a registrar sends the same chain with
 * every request, and the full validation (a trust list built from PEM,
 * certificate imports, a signature verification) cost about a tenth of
 * masad's CPU per voucher (perf, brski bench masa). A changed domain CA
 * or chain is a different key; failures are never remembered; revocation
 * is checked separately on every request (check_revocation). Bounded:
 * one entry per slot, the newest wins. */
#define OWNER_CACHE_SLOTS 64
static struct {
	uint8_t key[32];
	time_t until;
	int used;
} owner_cache[OWNER_CACHE_SLOTS];
static pthread_mutex_t owner_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t owner_cache_hits, owner_cache_misses; /* guarded by owner_cache_mu */

void masa_owner_cache_stats(uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&owner_cache_mu);
	*hits = owner_cache_hits;
	*misses = owner_cache_misses;
	pthread_mutex_unlock(&owner_cache_mu);
}

static int owner_cache_key(const struct store_owner *o, const struct voucher_verified *v,
                           uint8_t key[32])
{
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	gnutls_hash(h, o->domain_ca_pem, strlen(o->domain_ca_pem) + 1);
	for (size_t i = 0; i < v->chain_len; i++) {
		uint8_t len[4] = {
		        (uint8_t)(v->chain_der_len[i] >> 24), (uint8_t)(v->chain_der_len[i] >> 16),
		        (uint8_t)(v->chain_der_len[i] >> 8), (uint8_t)v->chain_der_len[i]};
		gnutls_hash(h, len, sizeof(len));
		gnutls_hash(h, v->chain[i], v->chain_der_len[i]);
	}
	gnutls_hash_deinit(h, key);
	return 0;
}

static int owner_cache_hit(const uint8_t key[32])
{
	unsigned slot = key[0] % OWNER_CACHE_SLOTS;
	int hit;
	pthread_mutex_lock(&owner_cache_mu);
	hit = owner_cache[slot].used && memcmp(owner_cache[slot].key, key, 32) == 0 &&
	      time(NULL) < owner_cache[slot].until;
	if (hit)
		owner_cache_hits++;
	else
		owner_cache_misses++;
	pthread_mutex_unlock(&owner_cache_mu);
	return hit;
}

/* Remember a validation that passed, until the earliest notAfter of the
 * chain and of the domain CA certificates. */
static void owner_cache_put(const uint8_t key[32], const struct store_owner *o,
                            gnutls_x509_crt_t *crts, unsigned n)
{
	gnutls_x509_crt_t *cas = NULL;
	unsigned ncas = 0, slot = key[0] % OWNER_CACHE_SLOTS;
	gnutls_datum_t ca = {(unsigned char *)o->domain_ca_pem, (unsigned)strlen(o->domain_ca_pem)};
	time_t until = (time_t)-1;

	if (gnutls_x509_crt_list_import2(&cas, &ncas, &ca, GNUTLS_X509_FMT_PEM, 0) < 0)
		return;
	for (unsigned i = 0; i < ncas + n; i++) {
		time_t t = gnutls_x509_crt_get_expiration_time(i < ncas ? cas[i] : crts[i - ncas]);
		if (t != (time_t)-1 && (until == (time_t)-1 || t < until))
			until = t;
	}
	for (unsigned i = 0; i < ncas; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
	if (until == (time_t)-1)
		return;
	pthread_mutex_lock(&owner_cache_mu);
	memcpy(owner_cache[slot].key, key, 32);
	owner_cache[slot].until = until;
	owner_cache[slot].used = 1;
	pthread_mutex_unlock(&owner_cache_mu);
}

static voucher_err owner_validates(const struct store_owner *o, const struct voucher_verified *v,
                                   voucher_err *why)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t crts[BRSKI_MAX_CERT_CHAIN];
	gnutls_datum_t ca;
	unsigned n = 0, status = 0;
	voucher_err r = VOUCHER_OK;

	uint8_t key[32];
	int keyed;

	*why = VOUCHER_E_UNTRUSTED;
	if (!o->domain_ca_pem)
		return VOUCHER_E_NOT_FOUND;
	keyed = owner_cache_key(o, v, key) == 0;
	if (keyed && owner_cache_hit(key)) {
		*why = VOUCHER_OK;
		return VOUCHER_OK;
	}
	ca.data = (unsigned char *)o->domain_ca_pem;
	ca.size = (unsigned)strlen(o->domain_ca_pem);
	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return VOUCHER_ENOMEM;
	if (gnutls_x509_trust_list_add_trust_mem(tl, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0) {
		r = VOUCHER_E_CERT; /* checked when written: the row is damaged */
		goto out;
	}
	for (size_t i = 0; i < v->chain_len && n < BRSKI_MAX_CERT_CHAIN; i++) {
		gnutls_datum_t d = {v->chain[i], (unsigned)v->chain_der_len[i]};
		if (gnutls_x509_crt_init(&crts[n]) < 0) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
		if (gnutls_x509_crt_import(crts[n], &d, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[n]);
			goto out; /* voucher_verify parsed it: never here */
		}
		n++;
	}
	/* The signer comes first; GnuTLS sorts the rest of the carried list. */
	if (n > 0 &&
	    gnutls_x509_trust_list_verify_crt2(tl, crts, n, NULL, 0, 0, &status, NULL) == 0)
		*why = status == 0                      ? VOUCHER_OK
		       : (status & GNUTLS_CERT_EXPIRED) ? VOUCHER_E_EXPIRED
		                                        : VOUCHER_E_UNTRUSTED;
	if (*why == VOUCHER_OK && keyed)
		owner_cache_put(key, o, crts, n);
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_x509_trust_list_deinit(tl, 1);
	return r;
}

/* A configured cloud registrar is trusted by its exact certificate, which
 * must still be within its validity. */
static voucher_err cert_current(const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	time_t now = time(NULL);
	voucher_err r = VOUCHER_E_CERT;

	if (gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0)
		r = gnutls_x509_crt_get_activation_time(crt) <= now &&
		                    now <= gnutls_x509_crt_get_expiration_time(crt)
		            ? VOUCHER_OK
		            : VOUCHER_E_EXPIRED;
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* Deny list and CRLs of the owner, against every certificate the
 * registrar presented. */
static voucher_err check_revocation(struct store *s, const struct masa_rvr *r, struct masa_fail *f)
{
	const struct voucher_verified *v = r->verified;
	char err[STORE_ERRLEN];
	struct store_page page = {0};
	voucher_err e;

	for (size_t i = 0; i < v->chain_len; i++) {
		uint8_t h[32];
		bool denied = false;
		if ((e = sha256(v->chain[i], v->chain_der_len[i], h)) != VOUCHER_OK)
			return masa_fail_set(f, e, "revoked", "failed to hash a certificate");
		e = store_owner_denied(s, r->owner.name, h, &denied, err, sizeof(err));
		if (e != VOUCHER_OK)
			return masa_fail_set(f, e, "store", "%s", err);
		if (denied)
			return masa_fail_set(f, VOUCHER_E_REVOKED, "revoked",
			                     "owner '%.64s' has denied the registrar certificate%s",
			                     r->owner.name, i ? " chain" : "");
	}
	do {
		struct store_crl *crls = NULL;
		size_t n = 0;
		e = store_owner_crl_list(s, r->owner.name, &page, &crls, &n, err, sizeof(err));
		if (e != VOUCHER_OK)
			return masa_fail_set(f, e, "store", "%s", err);
		for (size_t c = 0; c < n && e == VOUCHER_OK; c++) {
			gnutls_x509_crl_t crl = NULL;
			gnutls_datum_t d = {crls[c].der, (unsigned)crls[c].der_len};
			if (gnutls_x509_crl_init(&crl) < 0 ||
			    gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER) < 0) {
				gnutls_x509_crl_deinit(crl);
				continue; /* checked when uploaded; never fatal here */
			}
			for (size_t i = 0; i < v->chain_len && e == VOUCHER_OK; i++) {
				gnutls_x509_crt_t crt = NULL;
				gnutls_datum_t cd = {v->chain[i], (unsigned)v->chain_der_len[i]};
				if (gnutls_x509_crt_init(&crt) == 0 &&
				    gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_DER) == 0 &&
				    gnutls_x509_crt_check_revocation(crt, &crl, 1) == 1)
					e = masa_fail_set(
					        f, VOUCHER_E_REVOKED, "revoked",
					        "a CRL of owner '%.64s' revokes the registrar "
					        "certificate%s",
					        r->owner.name, i ? " chain" : "");
				gnutls_x509_crt_deinit(crt);
			}
			gnutls_x509_crl_deinit(crl);
		}
		store_crl_list_free(crls, n);
		if (e != VOUCHER_OK)
			return e;
	} while (page.next != 0 && (page.after = page.next, true));
	return VOUCHER_OK;
}

/* requestauditlog: a past owner (named in an audit event) whose domain CA
 * validates the registrar may read the log too. */
static voucher_err check_past_owner(struct store *s, struct masa_rvr *r, bool *ok)
{
	char err[STORE_ERRLEN];
	struct store_page page = {0};
	voucher_err e;

	*ok = false;
	do {
		struct store_audit *ev = NULL;
		size_t n = 0;
		e = store_audit_list(s, r->serial, &page, &ev, &n, err, sizeof(err));
		if (e != VOUCHER_OK)
			return e;
		for (size_t i = 0; i < n && !*ok; i++) {
			struct store_owner o = {0};
			voucher_err why;
			if (!ev[i].owner ||
			    (r->owner.name && strcmp(ev[i].owner, r->owner.name) == 0))
				continue;
			if (store_owner_get(s, ev[i].owner, &o, err, sizeof(err)) == VOUCHER_OK &&
			    owner_validates(&o, r->verified, &why) == VOUCHER_OK &&
			    why == VOUCHER_OK) {
				store_owner_clear(&r->owner);
				r->owner = o;
				*ok = true;
			} else {
				store_owner_clear(&o);
			}
		}
		store_audit_list_free(ev, n);
	} while (!*ok && page.next != 0 && (page.after = page.next, true));
	return VOUCHER_OK;
}

static voucher_err check_ownership(struct store *s, unsigned flags, struct masa_rvr *r,
                                   struct masa_fail *f)
{
	bool audit = flags & MASA_CHECK_AUDIT;
	char err[STORE_ERRLEN], *issuer = NULL;
	voucher_err e, why = VOUCHER_E_NOT_FOUND;

	if (r->idevid_issuer && !(issuer = masa_b64(r->idevid_issuer, r->idevid_issuer_len)))
		return masa_fail_set(f, VOUCHER_ENOMEM, "store", "out of memory");
	e = store_device_get(s, r->serial, issuer, &r->device, err, sizeof(err));
	free(issuer);
	if (e == VOUCHER_E_NOT_FOUND)
		return masa_fail_set(f, e, "unknown-device",
		                     "device '%.64s' is unknown to this MASA", r->serial);
	if (e != VOUCHER_OK)
		return masa_fail_set(f, e, "store", "%s", err);

	if (r->device.owner) {
		e = store_owner_get(s, r->device.owner, &r->owner, err, sizeof(err));
		if (e != VOUCHER_OK)
			return masa_fail_set(f, e, "store", "%s", err);
		if (r->via_cloud)
			why = cert_current(r->verified->chain[0], r->verified->chain_der_len[0]);
		else if ((e = owner_validates(&r->owner, r->verified, &why)) != VOUCHER_OK)
			return masa_fail_set(f, VOUCHER_E_CONFIG, "ownership",
			                     "the domain CA of owner '%.64s' is unusable (%s)",
			                     r->owner.name, voucher_strerror(e));
	}
	if (why != VOUCHER_OK && audit) {
		bool ok = false;
		if ((e = check_past_owner(s, r, &ok)) != VOUCHER_OK)
			return masa_fail_set(f, e, "store", "failed to read the audit log");
		if (!ok)
			return masa_fail_set(f, VOUCHER_E_NOT_FOUND, "ownership",
			                     "the registrar has never owned device '%.64s'",
			                     r->serial);
		why = VOUCHER_OK;
	}
	if (!r->device.owner && !audit)
		return masa_fail_set(f, VOUCHER_E_FORBIDDEN, "ownership",
		                     "device '%.64s' is not assigned to an owner", r->serial);
	if (why == VOUCHER_E_EXPIRED)
		return masa_fail_set(f, why, "ownership",
		                     "the registrar certificate (or its chain) has expired");
	if (why != VOUCHER_OK)
		return masa_fail_set(
		        f, VOUCHER_E_FORBIDDEN, "ownership",
		        "the registrar is not validated by the domain CA of the owner of "
		        "device '%.64s' (%s)",
		        r->serial, voucher_strerror(why));
	return check_revocation(s, r, f);
}

voucher_err masa_check(const struct masa_keys *k, struct store *s, const struct masa_input *in,
                       unsigned flags, struct masa_rvr *out, struct masa_fail *f)
{
	const uint8_t *pvr = NULL;
	size_t pvr_len = 0;
	voucher_err e;

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	out->env = in->env;

	/* 2, 3: the signature, with the chain the request carries (the
	 * domain CA is a temporary trust anchor for now). */
	e = voucher_verify(in->env, in->body, in->body_len, NULL, &out->verified);
	if (e == VOUCHER_E_SIG_INVALID)
		return masa_fail_set(f, e, "signature",
		                     "the registrar voucher-request signature does not verify with "
		                     "the certificate it carries");
	/* The envelope is checked against the validity of the chain it
	 * carries: an expired (or not yet valid) signer is its own check,
	 * not a parse failure. */
	if (e == VOUCHER_E_EXPIRED)
		return masa_fail_set(
		        f, e, "signer-expired",
		        "the certificate that signed the registrar voucher-request (or "
		        "its chain) is outside its validity period (%s)",
		        voucher_strerror(e));
	if (e != VOUCHER_OK)
		return masa_fail_set(f, e, "malformed",
		                     "the registrar voucher-request does not parse as %s (%s)",
		                     voucher_envelope_media_type(in->env), voucher_strerror(e));
	if (out->verified->chain_len == 0)
		return masa_fail_set(f, VOUCHER_E_MISSING, "malformed",
		                     "the registrar voucher-request carries no certificate");
	if ((e = sha256(out->verified->chain[0], out->verified->chain_der_len[0],
	                out->signer_sha256)) != VOUCHER_OK)
		return masa_fail_set(f, e, "signature", "failed to hash the signer certificate");
	out->tls_authenticated =
	        in->peer_cert && in->peer_cert_len == out->verified->chain_der_len[0] &&
	        memcmp(in->peer_cert, out->verified->chain[0], in->peer_cert_len) == 0;
	if ((e = parse_request(out->verified, "registrar voucher-request", &out->rvr, f)) !=
	    VOUCHER_OK)
		return e;

	/* 4: the signer is a registrar. */
	e = voucher_x509_check_cmcra(out->verified->chain[0], out->verified->chain_der_len[0]);
	if (e != VOUCHER_OK)
		return masa_fail_set(
		        f, e == VOUCHER_E_CERT ? e : VOUCHER_E_NOT_REGISTRAR, "registrar-eku",
		        "the signer certificate lacks id-kp-cmcRA (1.3.6.1.5.5.7.3.28)");
	out->via_cloud = is_cloud_registrar(k, out->verified);

	/* 5-7: the pledge's request, or the nonceless rules. */
	if (voucher_artifact_get_binary(out->rvr, VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST, &pvr,
	                                &pvr_len) == VOUCHER_OK &&
	    pvr_len > 0)
		e = check_pledge(k, out, pvr, pvr_len, f);
	else
		e = check_nonceless(in, flags, out, f);
	if (e != VOUCHER_OK)
		return e;

	/* 8, 9: the device record and its owner. */
	return check_ownership(s, flags, out, f);
}
