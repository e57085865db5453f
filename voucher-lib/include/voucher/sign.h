/*
 * Signed envelopes for vouchers and voucher-requests: CMS SignedData
 * (application/voucher-cms+json), COSE_Sign1 (application/voucher+cose) and
 * JWS general JSON serialization (application/voucher-jws+json).
 *
 * Signing signs the caller's bytes verbatim; verification works on the exact
 * bytes received and hands back the payload bytes as they were signed. The
 * envelope layer knows nothing of the YANG model: callers validate the
 * payload with the voucher_artifact API (voucher.h) before signing it and
 * after verifying it.
 */
#ifndef VOUCHER_SIGN_H
#define VOUCHER_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>
#include <voucher/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum voucher_envelope {
	VOUCHER_ENV_NONE = 0,
	VOUCHER_ENV_CMS = 1,  /* application/voucher-cms+json */
	VOUCHER_ENV_COSE = 2, /* application/voucher+cose (and voucher-cose+cbor) */
	VOUCHER_ENV_JWS = 3,  /* application/voucher-jws+json */
};

/* Media type <-> envelope. from_media_type ignores parameters and case and
 * accepts the old application/voucher-cose+cbor; returns VOUCHER_ENV_NONE for
 * anything else. to_media_type returns the current registered name. */
VOUCHER_API enum voucher_envelope voucher_envelope_from_media_type(const char *media_type);
VOUCHER_API const char *voucher_envelope_media_type(enum voucher_envelope env);
/* Guess the envelope from the bytes: DER SEQUENCE (CMS), CBOR tag 18 or a
 * 4-element array (COSE), a JSON object with "payload" and "signatures" (JWS). */
VOUCHER_API enum voucher_envelope voucher_envelope_detect(const uint8_t *in, size_t len);

/* ---- trust anchors ---------------------------------------------------- */

/* A set of trust anchor certificates. Built once, then read-only and
 * thread-safe for verification; it may cache chain validations. */
struct voucher_trust;
VOUCHER_API voucher_err voucher_trust_new(struct voucher_trust **out);
VOUCHER_API void voucher_trust_free(struct voucher_trust *t);
/* Add every certificate of a PEM bundle, or one DER certificate. */
VOUCHER_API voucher_err voucher_trust_add_pem(struct voucher_trust *t, const uint8_t *pem,
                                              size_t len);
VOUCHER_API voucher_err voucher_trust_add_der(struct voucher_trust *t, const uint8_t *der,
                                              size_t len);
VOUCHER_API voucher_err voucher_trust_add_file(struct voucher_trust *t, const char *path);
VOUCHER_API size_t voucher_trust_count(const struct voucher_trust *t);

/* ---- signers ----------------------------------------------------------- */

/* A private key (file, PEM or DER, or a PKCS#11 URI) with its certificate
 * chain (PEM file, leaf first). Read-only after loading; thread-safe. */
struct voucher_signer;
VOUCHER_API voucher_err voucher_signer_load(struct voucher_signer **out, const char *key,
                                            const char *cert_chain);
VOUCHER_API void voucher_signer_free(struct voucher_signer *s);

/* ---- sign and verify -------------------------------------------------- */

/* Sign payload as-is in the given envelope. *out is malloc'd, caller frees.
 * CMS: SignedData v3, signed attributes, eContentType
 * id-ct-animaJSONVoucher, the signer chain in certificates.
 * COSE: COSE_Sign1 (tag 18), ES256 or EdDSA by key type, chain in x5bag.
 * JWS: general JSON serialization, ES256, chain in x5c. */
VOUCHER_API voucher_err voucher_sign(enum voucher_envelope env, const struct voucher_signer *s,
                                     const uint8_t *payload, size_t payload_len, uint8_t **out,
                                     size_t *out_len);

/* The outcome of a verification. Owns copies of everything it points to. */
struct voucher_verified {
	enum voucher_envelope env;
	uint8_t *payload; /* exactly the bytes that were signed */
	size_t payload_len;
	/* Certificates carried by the envelope (DER), the signer first. */
	size_t chain_len;
	uint8_t **chain;
	size_t *chain_der_len;
	/* CMS only: 1 when eContentType was id-data rather than
	 * id-ct-animaJSONVoucher (deployed peers emit it). */
	int cms_id_data;
	/* JWS only: how many signatures the message carries. Only the first
	 * (the original signer's; BRSKI-PRM registrars append theirs after
	 * it) is verified and described here. */
	size_t jws_signatures;
};
VOUCHER_API void voucher_verified_free(struct voucher_verified *v);

/* Verify in (the exact bytes received). The signature must verify with the
 * signer certificate carried in the envelope; with trust != NULL the signer
 * must also chain, through the certificates carried, to one of its anchors
 * and be within its validity (VOUCHER_E_UNTRUSTED, VOUCHER_E_EXPIRED). With
 * trust == NULL only the signature and the internal consistency of the
 * carried chain are checked (RFC 8995 section 5.5: the unknown domain CA is a
 * temporary trust anchor); the caller then decides who the signer is. */
VOUCHER_API voucher_err voucher_verify(enum voucher_envelope env, const uint8_t *in, size_t len,
                                       const struct voucher_trust *trust,
                                       struct voucher_verified **out);

/* ---- COSE helpers -------------------------------------------------------- */

/* Remove the x5bag (32) and x5chain (33) entries from the unprotected
 * header of a COSE_Sign1 (cBRSKI: a registrar strips the MASA's chain before
 * forwarding the voucher to the pledge). The tag, the protected header, the
 * payload, the signature and every other unprotected entry are copied byte
 * for byte, so the signature still verifies for whoever knows the signer.
 * Nothing is verified. in is borrowed; *out is malloc'd (caller frees) and
 * set only on success. Returns VOUCHER_OK, VOUCHER_EINVAL (NULL argument),
 * VOUCHER_ENOMEM, or the parse errors voucher_verify would return for the
 * same bytes (VOUCHER_E_MALFORMED, _TRAILING_DATA, _TOO_LARGE, _DUPLICATE,
 * _UNKNOWN_CRITICAL, ...). Thread-safe. */
VOUCHER_API voucher_err voucher_cose_strip_unprotected_certs(const uint8_t *in, size_t len,
                                                             uint8_t **out, size_t *out_len);

/* Verify a COSE_Sign1 as voucher_verify does, with certificates supplied by
 * the caller besides those the message carries: a pledge whose voucher had
 * its x5bag stripped by the registrar knows the MASA's signing certificate;
 * a registrar checking a pledge's request uses the pledge's (D)TLS client
 * certificate chain (cBRSKI: pledges should not send x5bag). With x5chain
 * present its first certificate is the signer; otherwise the signer is the
 * first of the carried x5bag and then extra whose key verifies. extra[i]
 * (extra_len[i] bytes of DER, at most 16 KiB each, at most 8) are
 * borrowed. Errors as voucher_verify, plus VOUCHER_EINVAL for a NULL or
 * empty extra entry and VOUCHER_E_TOO_LARGE past the bounds. Thread-safe. */
VOUCHER_API voucher_err voucher_cose_verify_with_certs(const uint8_t *in, size_t len,
                                                       const uint8_t *const *extra,
                                                       const size_t *extra_len, size_t nextra,
                                                       const struct voucher_trust *trust,
                                                       struct voucher_verified **out);

/* Decode an envelope WITHOUT verifying it: syntax checks only, no signature
 * and no chain check. For display and debugging (`brski voucher show`);
 * never act on what it returns. Fills the same struct as voucher_verify:
 * the payload, and the certificates as carried, in the order carried (COSE:
 * x5chain then x5bag; JWS: the first signature's x5c), jws_signatures for
 * JWS. COSE and JWS only: VOUCHER_ENOTSUP for CMS. Errors otherwise as
 * voucher_verify's parse errors. *out is new on success (free with
 * voucher_verified_free), NULL on failure. Thread-safe. */
VOUCHER_API voucher_err voucher_envelope_decode_unverified(enum voucher_envelope env,
                                                           const uint8_t *in, size_t len,
                                                           struct voucher_verified **out);

#ifdef __cplusplus
}
#endif

#endif
