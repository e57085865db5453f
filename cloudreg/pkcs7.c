/* Certs-only PKCS#7 (RFC 7030 4.1.3: a degenerate SignedData with no
 * signers). Written by hand rather than through gnutls_pkcs7_export:
 * libtasn1 sorts the SET OF certificates for DER, and EST clients take the
 * first certificate as the issued one, so the order must be ours. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>

#include "cloudreg/est.h"

static voucher_err put_len(struct brski_buf *b, size_t len)
{
	uint8_t l[5];
	size_t n = 0;

	if (len < 0x80) {
		l[n++] = (uint8_t)len;
	} else if (len < 0x100) {
		l[n++] = 0x81;
		l[n++] = (uint8_t)len;
	} else if (len < 0x10000) {
		l[n++] = 0x82;
		l[n++] = (uint8_t)(len >> 8);
		l[n++] = (uint8_t)len;
	} else if (len < 0x1000000) {
		l[n++] = 0x83;
		l[n++] = (uint8_t)(len >> 16);
		l[n++] = (uint8_t)(len >> 8);
		l[n++] = (uint8_t)len;
	} else {
		return VOUCHER_E_TOO_LARGE;
	}
	return brski_buf_put(b, l, n);
}

static size_t len_len(size_t len)
{
	return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 4;
}

voucher_err creg_pkcs7_certs_only(const uint8_t *const *certs, const size_t *lens, size_t n,
                                  struct brski_buf *out)
{
	/* OID 1.2.840.113549.1.7.2 signedData, 1.2.840.113549.1.7.1 data */
	static const uint8_t oid_signed[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                                     0xf7, 0x0d, 0x01, 0x07, 0x02};
	static const uint8_t sd_head[] = {
	        0x02, 0x01, 0x01, /* version 1 */
	        0x31, 0x00,       /* digestAlgorithms {} */
	        0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	        0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}; /* encapContentInfo */
	static const uint8_t signer_infos[] = {0x31, 0x00};
	size_t certs_len = 0, sd_len, explicit_len, ci_len;
	voucher_err e;

	if (n == 0)
		return VOUCHER_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (lens[i] == 0 || lens[i] > 0x100000)
			return VOUCHER_EINVAL;
		certs_len += lens[i];
	}
	sd_len = sizeof(sd_head) + 1 + len_len(certs_len) + certs_len + sizeof(signer_infos);
	explicit_len = 1 + len_len(sd_len) + sd_len;
	ci_len = sizeof(oid_signed) + 1 + len_len(explicit_len) + explicit_len;
	if ((e = brski_buf_putc(out, 0x30)) != VOUCHER_OK || (e = put_len(out, ci_len)) ||
	    (e = brski_buf_put(out, oid_signed, sizeof(oid_signed))) ||
	    (e = brski_buf_putc(out, 0xa0)) || (e = put_len(out, explicit_len)) ||
	    (e = brski_buf_putc(out, 0x30)) || (e = put_len(out, sd_len)) ||
	    (e = brski_buf_put(out, sd_head, sizeof(sd_head))) || (e = brski_buf_putc(out, 0xa0)) ||
	    (e = put_len(out, certs_len)))
		return e;
	for (size_t i = 0; i < n; i++)
		if ((e = brski_buf_put(out, certs[i], lens[i])) != VOUCHER_OK)
			return e;
	return brski_buf_put(out, signer_infos, sizeof(signer_infos));
}

voucher_err creg_pkcs7_parse(const uint8_t *der, size_t len, uint8_t **certs, size_t *lens,
                             size_t max, size_t *n, char *err, size_t errlen)
{
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	voucher_err e = VOUCHER_OK;
	int g, count;

	*n = 0;
	if (gnutls_pkcs7_init(&p7) < 0)
		return VOUCHER_ENOMEM;
	if ((g = gnutls_pkcs7_import(p7, &d, GNUTLS_X509_FMT_DER)) < 0) {
		snprintf(err, errlen, "not a PKCS#7 SignedData (%s)", gnutls_strerror(g));
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	count = gnutls_pkcs7_get_crt_count(p7);
	if (count <= 0 || (size_t)count > max) {
		snprintf(err, errlen, "the PKCS#7 holds %d certificates (1..%zu expected)", count,
		         max);
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	for (int i = 0; i < count; i++) {
		gnutls_datum_t c = {0};
		if ((g = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &c)) < 0) {
			snprintf(err, errlen, "certificate %d of the PKCS#7: %s", i,
			         gnutls_strerror(g));
			e = VOUCHER_E_MALFORMED;
			goto out;
		}
		certs[*n] = malloc(c.size);
		if (!certs[*n]) {
			gnutls_free(c.data);
			e = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(certs[*n], c.data, c.size);
		lens[*n] = c.size;
		(*n)++;
		gnutls_free(c.data);
	}
out:
	if (e != VOUCHER_OK) {
		for (size_t i = 0; i < *n; i++)
			free(certs[i]);
		*n = 0;
	}
	gnutls_pkcs7_deinit(p7);
	return e;
}
