/* Strict base64 and base64url; see b64.h for the rules and why. */
#include "config.h"

#include <string.h>

#include "b64.h"

enum { VL_B64_CHUNK = 1024 }; /* a multiple of 4 */

static const char alpha_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alpha_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Drop what a failed call appended so the caller's buffer is unchanged. */
static void truncate_to(struct brski_buf *b, size_t len)
{
	if (b->data != NULL && b->len > len) {
		memset(b->data + len, 0, b->len - len);
		b->len = len;
	}
}

voucher_err vl_b64_encode(struct brski_buf *out, const uint8_t *in, size_t len,
                          enum vl_b64_variant v)
{
	const char *a = v == VL_B64_URL ? alpha_url : alpha_std;
	size_t start = out->len;
	voucher_err r = VOUCHER_OK;
	size_t i = 0;
	char q[4];
	/* Whole quanta go through a chunk on the stack: one brski_buf_put
	 * per chunk, not per quantum (certificates and CMS are kilobytes). */
	char chunk[VL_B64_CHUNK];
	size_t c = 0;

	for (; len - i >= 3; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		chunk[c] = a[w >> 18];
		chunk[c + 1] = a[(w >> 12) & 63];
		chunk[c + 2] = a[(w >> 6) & 63];
		chunk[c + 3] = a[w & 63];
		c += 4;
		if (c == sizeof(chunk)) {
			if ((r = brski_buf_put(out, chunk, c)) != VOUCHER_OK)
				goto out;
			c = 0;
		}
	}
	if (c > 0 && (r = brski_buf_put(out, chunk, c)) != VOUCHER_OK)
		goto out;
	if (len - i > 0) {
		uint32_t w = (uint32_t)in[i] << 16;
		if (len - i == 2)
			w |= (uint32_t)in[i + 1] << 8;
		q[0] = a[w >> 18];
		q[1] = a[(w >> 12) & 63];
		q[2] = len - i == 2 ? a[(w >> 6) & 63] : '=';
		q[3] = '=';
		size_t n = 4;
		if (v == VL_B64_URL)
			n = len - i == 2 ? 3 : 2;
		r = brski_buf_put(out, q, n);
	}
out:
	if (r != VOUCHER_OK)
		truncate_to(out, start);
	return r;
}

static int sextet(char c, enum vl_b64_variant v)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (v == VL_B64_STD) {
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
	} else {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	}
	return -1;
}

voucher_err vl_b64_decode(struct brski_buf *out, const char *in, size_t len, enum vl_b64_variant v)
{
	size_t start = out->len;
	voucher_err r = VOUCHER_E_BAD_BASE64;
	size_t data_len = len;

	if (v == VL_B64_STD) {
		if (len % 4 != 0)
			goto out;
		/* At most two '=' and only at the very end. */
		if (len > 0 && in[len - 1] == '=')
			data_len--;
		if (len > 1 && in[len - 2] == '=')
			data_len--;
	}
	/* A single character left over carries fewer than 8 bits. */
	if (data_len % 4 == 1)
		goto out;

	uint32_t w = 0;
	size_t n = 0;
	/* Whole quanta go through a chunk on the stack (see the encoder). */
	uint8_t chunk[VL_B64_CHUNK / 4 * 3];
	size_t c = 0;
	for (size_t i = 0; i < data_len; i++) {
		int s = sextet(in[i], v);
		if (s < 0)
			goto out;
		w = w << 6 | (uint32_t)s;
		if (++n == 4) {
			chunk[c] = (uint8_t)(w >> 16);
			chunk[c + 1] = (uint8_t)(w >> 8);
			chunk[c + 2] = (uint8_t)w;
			c += 3;
			if (c == sizeof(chunk)) {
				voucher_err pr = brski_buf_put(out, chunk, c);
				if (pr != VOUCHER_OK) {
					r = pr;
					goto out;
				}
				c = 0;
			}
			w = 0;
			n = 0;
		}
	}
	if (c > 0) {
		voucher_err pr = brski_buf_put(out, chunk, c);
		if (pr != VOUCHER_OK) {
			r = pr;
			goto out;
		}
	}
	if (n == 2) {
		/* 12 bits: one byte, the low 4 bits must be zero. */
		if ((w & 0xf) != 0)
			goto out;
		uint8_t b = (uint8_t)(w >> 4);
		if ((r = brski_buf_put(out, &b, 1)) != VOUCHER_OK)
			goto out;
	} else if (n == 3) {
		/* 18 bits: two bytes, the low 2 bits must be zero. */
		if ((w & 0x3) != 0)
			goto out;
		uint8_t b[2] = {(uint8_t)(w >> 10), (uint8_t)(w >> 2)};
		if ((r = brski_buf_put(out, b, 2)) != VOUCHER_OK)
			goto out;
	}
	r = VOUCHER_OK;
out:
	if (r != VOUCHER_OK)
		truncate_to(out, start);
	return r;
}
