/*
 * Fuzz target: voucher_artifact_from_json (bounded jansson pre-parse, then
 * libyang validation) under each parser mode. Whatever parses must print,
 * and what we print must parse again: a failure there aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <voucher/voucher.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned modes[] = {0, VOUCHER_F_LENIENT, VOUCHER_F_LEGACY,
                                 VOUCHER_F_LEGACY | VOUCHER_F_LENIENT};

static void reprint(const struct voucher_artifact *a, unsigned flags)
{
	/* the lenient created-on is a parse-time allowance only */
	unsigned pflags = flags & VOUCHER_F_LEGACY;
	if ((flags & VOUCHER_F_LENIENT_NO_CREATED_ON) &&
	    !voucher_artifact_has(a, VOUCHER_LEAF_CREATED_ON))
		pflags = 0;
	uint8_t *j = NULL, *c = NULL;
	size_t jn = 0, cn = 0;
	struct voucher_artifact *b = NULL;
	if (voucher_artifact_to_json(a, pflags, &j, &jn, NULL) != VOUCHER_OK)
		abort();
	if (voucher_artifact_from_json(j, jn, voucher_artifact_kind(a), pflags, &b, NULL) !=
	    VOUCHER_OK)
		abort();
	voucher_artifact_free(b);
	if (voucher_artifact_to_cbor(a, pflags, &c, &cn, NULL) != VOUCHER_OK)
		abort();
	free(j);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum voucher_format fmt;
	enum voucher_kind kind;
	(void)voucher_artifact_detect(data, size, &fmt, &kind);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct voucher_artifact *a = NULL;
		struct voucher_error_info e;
		if (voucher_artifact_from_json(data, size, VOUCHER_KIND_UNKNOWN, modes[i], &a,
		                               &e) == VOUCHER_OK)
			reprint(a, modes[i]);
		voucher_artifact_free(a);
	}
	return 0;
}
