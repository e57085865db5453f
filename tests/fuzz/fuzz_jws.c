/*
 * Fuzz target: the JWS general JSON serialization envelope (jansson with
 * duplicate rejection, strict base64url/base64, header checks, signature
 * and chain with no trust list) and decoding without verifying. Invariant,
 * which aborts when broken: what verifies also decodes, to the same payload
 * and the same signature count.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct voucher_verified *v = NULL, *d = NULL;

	voucher_err ve = voucher_verify(VOUCHER_ENV_JWS, data, size, NULL, &v);
	voucher_err de = voucher_envelope_decode_unverified(VOUCHER_ENV_JWS, data, size, &d);
	if (ve == VOUCHER_OK) {
		if (de != VOUCHER_OK || v->payload_len != d->payload_len ||
		    (v->payload_len > 0 && memcmp(v->payload, d->payload, v->payload_len) != 0) ||
		    v->jws_signatures != d->jws_signatures || v->jws_signatures == 0)
			abort();
	}
	voucher_verified_free(v);
	voucher_verified_free(d);
	return 0;
}
