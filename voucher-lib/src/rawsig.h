/*
 * rawsig.h: the fixed-size signatures COSE and JOSE use (RFC 9053 / RFC
 * 7518 section 3.4: ECDSA as r||s; RFC 8032 Ed25519), on top of the DER
 * ECDSA that GnuTLS speaks. Internal to libvoucher; shared by cose.c and
 * jws.c so both apply the same key-type rules.
 */
#ifndef VL_RAWSIG_H
#define VL_RAWSIG_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include <voucher/error.h>
#include <voucher/sign.h>

enum vl_raw_alg {
	VL_RAW_ES256 = 1, /* ECDSA P-256 with SHA-256; COSE -7, JOSE "ES256" */
	VL_RAW_EDDSA = 2, /* Ed25519; COSE -8, JOSE "EdDSA" */
};

#define VL_RAW_SIG_LEN 64 /* both algorithms */

/* The algorithm the signer's key gives: P-256 -> ES256, Ed25519 -> EdDSA;
 * VOUCHER_E_UNSUPPORTED_ALG for any other key (P-384, RSA). */
voucher_err vl_raw_alg_of(const struct voucher_signer *s, enum vl_raw_alg *alg);

/* Sign data with s under vl_raw_alg_of(s); raw receives VL_RAW_SIG_LEN
 * bytes. */
voucher_err vl_raw_sign(const struct voucher_signer *s, const uint8_t *data, size_t len,
                        uint8_t raw[VL_RAW_SIG_LEN]);

/* Verify the raw signature sig over data with the key of the DER
 * certificate cert (borrowed). The key must be the type alg names (P-256
 * for ES256, RFC 9053 section 2.1; Ed25519 for EdDSA), else
 * VOUCHER_E_UNSUPPORTED_ALG; a wrong signature length is
 * VOUCHER_E_MALFORMED, a signature that does not verify
 * VOUCHER_E_SIG_INVALID. */
voucher_err vl_raw_verify(enum vl_raw_alg alg, const gnutls_datum_t *cert, const uint8_t *data,
                          size_t len, const uint8_t *sig, size_t sig_len);

#endif
