/*
 * Fuzz target: voucher_artifact_from_cbor (iterative scanner, libcbor,
 * SID resolution, libyang validation). What parses must re-encode, and our
 * encoding must parse to the same JSON: a failure there aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/voucher.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned modes[] = {0, VOUCHER_F_LENIENT, VOUCHER_F_LEGACY};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum voucher_format fmt;
	enum voucher_kind kind;
	(void)voucher_artifact_detect(data, size, &fmt, &kind);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct voucher_artifact *a = NULL, *b = NULL;
		if (voucher_artifact_from_cbor(data, size, VOUCHER_KIND_UNKNOWN, modes[i], &a,
		                               NULL) != VOUCHER_OK)
			continue;
		unsigned pflags = modes[i] & VOUCHER_F_LEGACY;
		uint8_t *c = NULL, *j1 = NULL, *j2 = NULL;
		size_t cn = 0, n1 = 0, n2 = 0;
		if (voucher_artifact_to_cbor(a, pflags, &c, &cn, NULL) != VOUCHER_OK ||
		    voucher_artifact_from_cbor(c, cn, voucher_artifact_kind(a), pflags, &b, NULL) !=
		            VOUCHER_OK ||
		    voucher_artifact_to_json(a, pflags, &j1, &n1, NULL) != VOUCHER_OK ||
		    voucher_artifact_to_json(b, pflags, &j2, &n2, NULL) != VOUCHER_OK || n1 != n2 ||
		    memcmp(j1, j2, n1) != 0)
			abort();
		free(c);
		free(j1);
		free(j2);
		voucher_artifact_free(a);
		voucher_artifact_free(b);
	}
	return 0;
}
