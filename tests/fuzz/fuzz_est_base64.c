/*
 * Fuzz target: EST base64 bodies (creg_b64_decode_body, RFC 8951: any
 * whitespace skipped, padding required). Invariants, which abort when
 * broken: what decodes re-encodes (creg_b64_encode_body) and decodes again
 * to the same bytes, and the decoded length is at most 3/4 of the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brski_buf dec, enc, again;

	brski_buf_init(&dec, CREG_CSR_MAX);
	brski_buf_init(&enc, 2 * CREG_CSR_MAX);
	brski_buf_init(&again, CREG_CSR_MAX);
	if (creg_b64_decode_body(data, size, &dec) == VOUCHER_OK) {
		if (dec.len > size / 4 * 3)
			abort();
		if (creg_b64_encode_body(dec.data, dec.len, &enc) != VOUCHER_OK ||
		    creg_b64_decode_body(enc.data, enc.len, &again) != VOUCHER_OK ||
		    again.len != dec.len || (dec.len && memcmp(again.data, dec.data, dec.len) != 0))
			abort();
	}
	brski_buf_free(&dec);
	brski_buf_free(&enc);
	brski_buf_free(&again);
	return 0;
}
