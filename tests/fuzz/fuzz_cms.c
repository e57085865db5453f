/*
 * Fuzz target: CMS SignedData verification (the DER nesting walk, the
 * libtasn1 decode, signed attributes, signer lookup, signature and the
 * carried chain with no trust list), and the X.509 helpers on whatever
 * certificate the input is or carries. Invariants, which abort when
 * broken: a verified result has a payload, a chain starting with the
 * signer, and every chain certificate loads as one DER certificate.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void helpers(const uint8_t *der, size_t len)
{
	char *s = NULL;
	uint8_t *b = NULL, h[32];
	size_t n = 0;

	if (voucher_x509_serial_number(der, len, &s) == VOUCHER_OK && (s == NULL || strlen(s) > 64))
		abort();
	free(s);
	s = NULL;
	if (voucher_x509_masa_url(der, len, &s) == VOUCHER_OK && s == NULL)
		abort();
	free(s);
	if (voucher_x509_idevid_issuer(der, len, &b, &n) == VOUCHER_OK && (n < 2 || b[0] != 0x04))
		abort();
	free(b);
	b = NULL;
	if (voucher_x509_ski(der, len, &b, &n) == VOUCHER_OK && n == 0)
		abort();
	free(b);
	(void)voucher_x509_spki_sha256(der, len, h);
	(void)voucher_x509_check_cmcra(der, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voucher_verified *v = NULL;
	struct voucher_x509_chain *c = NULL;

	if (voucher_verify(VOUCHER_ENV_CMS, data, size, NULL, &v) == VOUCHER_OK) {
		if (v->payload == NULL || v->chain_len == 0 || v->env != VOUCHER_ENV_CMS)
			abort();
		for (size_t i = 0; i < v->chain_len; i++) {
			if (voucher_x509_chain_load_mem(v->chain[i], v->chain_der_len[i], &c) !=
			            VOUCHER_OK ||
			    c->len != 1)
				abort();
			voucher_x509_chain_free(c);
			c = NULL;
			helpers(v->chain[i], v->chain_der_len[i]);
		}
		voucher_verified_free(v);
	} else if (v != NULL) {
		abort();
	}
	if (voucher_x509_chain_load_mem(data, size, &c) == VOUCHER_OK) {
		for (size_t i = 0; i < c->len; i++)
			helpers(c->der[i], c->der_len[i]);
		voucher_x509_chain_free(c);
	}
	return 0;
}
