/*
 * envelope.h: the seams between the signed-envelope back ends (cms.c,
 * cose.c, jws.c) and what they share (signer.c, trust.c, x509.c,
 * envelope.c). Internal to libvoucher: nothing here is exported.
 *
 * Rules every back end follows:
 * - sign the caller's payload bytes verbatim, never a re-serialisation;
 * - verify over the exact bytes received and hand back the payload as it
 *   was signed; reject trailing bytes; bound every size before allocating;
 * - check the signature with the signer certificate first (a bad signature
 *   is VOUCHER_E_SIG_INVALID whatever the chain), then call
 *   vl_chain_verify() once to build, check and record the chain.
 */
#ifndef VL_ENVELOPE_H
#define VL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include <voucher/error.h>
#include <voucher/sign.h>

/* ---- per-envelope back ends (dispatched from voucher_sign/_verify) ---- */

/* Sign payload verbatim. *out is malloc'd (caller frees) and set only on
 * success. s and payload are borrowed. */
voucher_err vl_cms_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                        uint8_t **out, size_t *out_len);
voucher_err vl_cose_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                         uint8_t **out, size_t *out_len);
voucher_err vl_jws_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                        uint8_t **out, size_t *out_len);

/* Verify in (exact bytes received; len already checked non-zero and within
 * VL_MAX_ENVELOPE by the dispatcher). trust may be NULL (see sign.h). On
 * success *out is a new voucher_verified (free with voucher_verified_free);
 * on failure *out is left NULL. */
voucher_err vl_cms_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                          struct voucher_verified **out);
voucher_err vl_cose_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                           struct voucher_verified **out);
voucher_err vl_jws_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                          struct voucher_verified **out);

/* Largest signed envelope any back end accepts: the larger of the voucher
 * and voucher-request bounds in common/buf.h. */
#define VL_MAX_ENVELOPE (64 * 1024)
/* Largest single certificate accepted from an envelope. */
#define VL_MAX_CERT (16 * 1024)

/* The checks every envelope entry point makes before it dispatches: out
 * set and cleared, the input present and within VL_MAX_ENVELOPE. */
static inline voucher_err vl_envelope_input_check(const uint8_t *in, size_t len,
                                                  struct voucher_verified **out)
{
	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if (in == NULL || len == 0)
		return VOUCHER_E_MALFORMED;
	if (len > VL_MAX_ENVELOPE)
		return VOUCHER_E_TOO_LARGE;
	return VOUCHER_OK;
}

/* ---- voucher_verified helpers ------------------------------------------ */

/* A new, empty result for env (payload NULL, no chain). */
voucher_err vl_verified_new(enum voucher_envelope env, struct voucher_verified **out);
/* Copy payload into v (replacing what was there). A zero-length payload
 * gets a 1-byte allocation so v->payload is never NULL on success. */
voucher_err vl_verified_set_payload(struct voucher_verified *v, const uint8_t *p, size_t len);

/* ---- signer access (signer.c) -------------------------------------------
 * All pointers returned are borrowed from s and live as long as s. */

gnutls_privkey_t vl_signer_privkey(const struct voucher_signer *s);
/* Key type: GNUTLS_PK_ECDSA, GNUTLS_PK_EDDSA_ED25519 or GNUTLS_PK_RSA.
 * For ECDSA *curve is GNUTLS_ECC_CURVE_SECP256R1 or _SECP384R1 (else
 * GNUTLS_ECC_CURVE_INVALID). curve may be NULL. */
gnutls_pk_algorithm_t vl_signer_pk(const struct voucher_signer *s, gnutls_ecc_curve_t *curve);
/* Certificates of the chain file, leaf (the signer) first; at least 1. */
size_t vl_signer_chain_len(const struct voucher_signer *s);
const gnutls_datum_t *vl_signer_chain_der(const struct voucher_signer *s, size_t i);
gnutls_x509_crt_t vl_signer_chain_crt(const struct voucher_signer *s, size_t i);

/* The GnuTLS signature algorithm the signer uses with digest dig:
 * ECDSA -> GNUTLS_SIGN_ECDSA_SHA256/384 (any curve), RSA -> PKCS#1 v1.5
 * (GNUTLS_SIGN_RSA_SHA256/384), Ed25519 -> GNUTLS_SIGN_EDDSA_ED25519
 * (dig ignored). GNUTLS_SIGN_UNKNOWN if unsupported. */
gnutls_sign_algorithm_t vl_signer_sign_algorithm(const struct voucher_signer *s,
                                                 gnutls_digest_algorithm_t dig);

/* Sign data with the signer's key (gnutls_privkey_sign_data2 with
 * vl_signer_sign_algorithm(s, dig)). ECDSA signatures come back as DER
 * (Ecdsa-Sig-Value); convert with vl_ecdsa_der_to_raw for COSE/JWS.
 * sig->data is allocated by GnuTLS: release with gnutls_free(). Thread-safe
 * (a PKCS#11 key is used under the signer's lock). */
voucher_err vl_signer_sign(const struct voucher_signer *s, gnutls_digest_algorithm_t dig,
                           const uint8_t *data, size_t len, gnutls_datum_t *sig);

/* ---- ECDSA signature formats --------------------------------------------
 * coord_len is the curve's field size in bytes: 32 (P-256), 48 (P-384). */

/* DER Ecdsa-Sig-Value -> r||s, each left-padded to coord_len. raw must hold
 * 2 * coord_len bytes. VOUCHER_E_MALFORMED if der does not parse or r/s is
 * larger than coord_len. */
voucher_err vl_ecdsa_der_to_raw(const gnutls_datum_t *der, size_t coord_len, uint8_t *raw);
/* r||s (raw_len = 2 * coord_len, even, non-zero) -> DER. der->data is
 * allocated by GnuTLS: release with gnutls_free(). */
voucher_err vl_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, gnutls_datum_t *der);
/* Field size in bytes for a curve, 0 if not P-256/P-384/P-521. */
size_t vl_ecdsa_coord_len(gnutls_ecc_curve_t curve);

/* ---- verification helpers (x509.c / trust.c) ---------------------------- */

/* Import one DER certificate (bounded by VL_MAX_CERT). */
voucher_err vl_crt_from_der(const uint8_t *der, size_t len, gnutls_x509_crt_t *out);
/* Put what the voucher_x509_* helpers read from the certificate der into
 * their memo (x509.c), from crt, the same certificate parsed already: a
 * chain check hands over the signer it parsed, so the serial number and
 * idevid-issuer read right after cost no second parse. */
void vl_x509_facts_prime(const uint8_t *der, size_t len, gnutls_x509_crt_t crt);
/* Public key of a certificate. Release with gnutls_pubkey_deinit. */
voucher_err vl_crt_pubkey(gnutls_x509_crt_t crt, gnutls_pubkey_t *out);
/* Verify sig over data with pub using algo (gnutls_pubkey_verify_data2).
 * ECDSA sig must be DER. VOUCHER_E_SIG_INVALID when it does not verify,
 * VOUCHER_E_UNSUPPORTED_ALG when algo does not fit the key or is not on
 * our allow-list (ECDSA P-256/P-384/P-521 with SHA-256/384/512, Ed25519,
 * RSA PKCS#1 v1.5 and PSS >= 2048 bits with SHA-256/384/512). */
voucher_err vl_verify_data(gnutls_pubkey_t pub, gnutls_sign_algorithm_t algo, const uint8_t *data,
                           size_t len, const uint8_t *sig, size_t sig_len);

/* The shared chain check, called by every back end after the signature
 * verified with signer_der.
 *
 * signer_der: the signer certificate (DER). certs/ncerts: every other
 * certificate the envelope carried (DER, any order; may include the signer
 * again, which is ignored; more than BRSKI_MAX_CERT_CHAIN in all is
 * VOUCHER_E_TOO_LARGE). Builds the path signer -> issuer -> ... through the
 * carried certificates.
 *
 * trust != NULL: the path must end at (or be issued by) one of its anchors
 * (VOUCHER_E_UNTRUSTED) and every certificate must be within its validity
 * now (VOUCHER_E_EXPIRED); successful validations may be served from the
 * trust list's cache. trust == NULL: the farthest certificate of the path
 * is a temporary anchor (RFC 8995 section 5.5); the path's signatures, CA
 * constraints and validity times are still checked.
 *
 * On success fills v->chain / chain_der_len / chain_len with copies: the
 * signer first, then its issuers in path order, then carried certificates
 * that are not on the path (in the order carried). On failure v's chain is
 * left empty. */
voucher_err vl_chain_verify(const struct voucher_trust *trust, const gnutls_datum_t *signer_der,
                            const gnutls_datum_t *certs, size_t ncerts, struct voucher_verified *v);

/* Read a whole file of at most max bytes (VOUCHER_E_TOO_LARGE past it,
 * VOUCHER_E_MALFORMED when empty, negated errno when it cannot be read).
 * *out is malloc'd with a NUL after the data; free it with freezero when it
 * may hold a key. */
voucher_err vl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);

/* Map a GnuTLS error code from a call in a back end to a voucher_err
 * (GNUTLS_E_MEMORY_ERROR -> VOUCHER_ENOMEM, parse errors -> fallback). */
voucher_err vl_gnutls_err(int gnutls_rc, voucher_err fallback);

#endif
