/*
 * b64.h: strict base64 (RFC 4648 section 4, padded) and base64url
 * (section 5, unpadded, as JOSE uses it). Internal to libvoucher.
 *
 * Decoding is strict so that one encoded text maps to one byte string:
 * no whitespace, no characters outside the alphabet, padding exactly where
 * the variant requires it (and nowhere for base64url), and the unused low
 * bits of the last character must be zero. Without the last rule, flipping
 * those bits in a signature would give a different text that verifies.
 */
#ifndef VL_B64_H
#define VL_B64_H

#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

#include "common/buf.h"

enum vl_b64_variant {
	VL_B64_STD = 0, /* + / with = padding */
	VL_B64_URL = 1, /* - _ without padding */
};

/* Append the encoding of in[0..len) to out. VOUCHER_E_TOO_LARGE over out's
 * ceiling (out unchanged). */
voucher_err vl_b64_encode(struct brski_buf *out, const uint8_t *in, size_t len,
                          enum vl_b64_variant v);
/* Append the decoding of the text in[0..len) to out. VOUCHER_E_BAD_BASE64
 * on any deviation from the rules above (out unchanged). */
voucher_err vl_b64_decode(struct brski_buf *out, const char *in, size_t len, enum vl_b64_variant v);

#endif
