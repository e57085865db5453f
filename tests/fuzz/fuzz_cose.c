/*
 * Fuzz target: the COSE_Sign1 envelope (cose.c's CBOR cursor, header
 * checks, signature and chain with no trust list), decoding without
 * verifying, and stripping the unprotected certificates. Invariants, which
 * abort when broken: what verifies also decodes to the same payload; what
 * strips still decodes, to the same payload and with no certificate left
 * in the unprotected header; stripping twice changes nothing more.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_payload(const struct voucher_verified *a, const struct voucher_verified *b)
{
	if (a->payload_len != b->payload_len ||
	    (a->payload_len > 0 && memcmp(a->payload, b->payload, a->payload_len) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voucher_verified *v = NULL, *d = NULL, *sd = NULL;
	uint8_t *s1 = NULL, *s2 = NULL;
	size_t n1 = 0, n2 = 0;

	voucher_err ve = voucher_verify(VOUCHER_ENV_COSE, data, size, NULL, &v);
	voucher_err de = voucher_envelope_decode_unverified(VOUCHER_ENV_COSE, data, size, &d);
	if (ve == VOUCHER_OK) {
		if (de != VOUCHER_OK)
			abort();
		same_payload(v, d);
	}
	if (voucher_cose_strip_unprotected_certs(data, size, &s1, &n1) == VOUCHER_OK) {
		if (de != VOUCHER_OK || n1 > size)
			abort();
		if (voucher_envelope_decode_unverified(VOUCHER_ENV_COSE, s1, n1, &sd) != VOUCHER_OK)
			abort();
		same_payload(d, sd);
		if (voucher_cose_strip_unprotected_certs(s1, n1, &s2, &n2) != VOUCHER_OK ||
		    n2 != n1 || memcmp(s1, s2, n1) != 0)
			abort();
	}
	free(s1);
	free(s2);
	voucher_verified_free(v);
	voucher_verified_free(d);
	voucher_verified_free(sd);
	return 0;
}
