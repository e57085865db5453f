/*
 * Fuzz target: what cloudregd reads from an ACME server (cloudreg/acme.h's
 * exposed parsers). The first input byte picks the parser, the rest is the
 * server's bytes:
 *   0  a problem document (acme_problem_parse, then acme_problem_format)
 *   1  a PEM certificate chain (acme_pem_chain_to_pkcs7, then the PKCS#7
 *      read back with acme_pkcs7_certs: same number of certificates)
 *   2  a certs-only PKCS#7 (acme_pkcs7_certs)
 *   3  base64url (acme_b64url_decode; what decodes re-encodes identically
 *      once padding is dropped)
 *   4  a Replay-Nonce header value (acme_nonce_put / acme_nonce_take)
 * Directory, order and authorization objects are read by static functions
 * of acme.c (order_from_json, authz_from_json, fetch_directory) that only
 * run behind an HTTPS exchange; they are not reachable without a server.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cloudreg/acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pem_chain(const uint8_t *p, size_t n)
{
	struct brski_buf out;
	uint8_t *certs[ACME_MAX_CHAIN + 1];
	size_t lens[ACME_MAX_CHAIN + 1], nc = 0;
	char err[256];

	brski_buf_init(&out, ACME_MAX_RESPONSE);
	if (acme_pem_chain_to_pkcs7(p, n, &out, err, sizeof(err)) == VOUCHER_OK) {
		if (acme_pkcs7_certs(out.data, out.len, certs, lens, ACME_MAX_CHAIN + 1, &nc, err,
		                     sizeof(err)) != VOUCHER_OK ||
		    nc == 0 || nc > ACME_MAX_CHAIN) {
			fprintf(stderr, "PEM chain converted, but not read back: %s (%zu certs)\n",
			        err, nc);
			abort();
		}
		for (size_t i = 0; i < nc; i++)
			free(certs[i]);
	}
	brski_buf_free(&out);
}

static void pkcs7(const uint8_t *p, size_t n)
{
	uint8_t *certs[ACME_MAX_CHAIN];
	size_t lens[ACME_MAX_CHAIN], nc = 0;
	char err[256];

	if (acme_pkcs7_certs(p, n, certs, lens, ACME_MAX_CHAIN, &nc, err, sizeof(err)) ==
	    VOUCHER_OK) {
		if (nc > ACME_MAX_CHAIN)
			abort();
		for (size_t i = 0; i < nc; i++) {
			if (lens[i] == 0 || lens[i] > n)
				abort();
			free(certs[i]);
		}
	}
}

static void b64url(const uint8_t *p, size_t n)
{
	struct brski_buf dec, enc;

	brski_buf_init(&dec, ACME_MAX_RESPONSE);
	brski_buf_init(&enc, ACME_MAX_RESPONSE);
	if (acme_b64url_decode((const char *)p, n, &dec) == VOUCHER_OK) {
		size_t m = n;
		while (m > 0 && p[m - 1] == '=')
			m--;
		if (acme_b64url(dec.data, dec.len, &enc) != VOUCHER_OK || enc.len != m ||
		    (m && memcmp(enc.data, p, m) != 0))
			abort();
	}
	brski_buf_free(&dec);
	brski_buf_free(&enc);
}

static void nonce(const uint8_t *p, size_t n)
{
	struct acme_nonces pool;
	char out[ACME_NONCE_MAX + 1];

	memset(&pool, 0, sizeof(pool));
	if (acme_nonce_put(&pool, (const char *)p, n)) {
		if (!acme_nonce_take(&pool, out, sizeof(out)) || strlen(out) != n ||
		    memcmp(out, p, n) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acme_problem prob;
	char text[1024];

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		memset(&prob, 0, sizeof(prob));
		if (acme_problem_parse(data + 1, size - 1, 403, &prob) == VOUCHER_OK) {
			if (memchr(prob.type, '\0', sizeof(prob.type)) == NULL ||
			    memchr(prob.detail, '\0', sizeof(prob.detail)) == NULL)
				abort();
			acme_problem_format(&prob, text, sizeof(text));
			if (memchr(text, '\0', sizeof(text)) == NULL)
				abort();
		}
		break;
	case 1:
		pem_chain(data + 1, size - 1);
		break;
	case 2:
		pkcs7(data + 1, size - 1);
		break;
	case 3:
		b64url(data + 1, size - 1);
		break;
	default:
		nonce(data + 1, size - 1);
		break;
	}
	return 0;
}
