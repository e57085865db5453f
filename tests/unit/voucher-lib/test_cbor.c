/*
 * CBOR codec: exact encoding of a known voucher, decoding with SIDs, names,
 * tagged absolute SIDs and a mix, and a table of malformed inputs with the
 * error and member expected.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <voucher/voucher.h>

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v = 0;
		for (int i = 0; i < 2; i++) {
			char c = h[i];
			v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		}
		assert_true(n < max);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* {2451: {1: 2, 2: "2022-12-06T20:23:30.708Z", 3: false,
 *         7: h'57eed786ad404907', 8: h'010203', 11: "JADA123456789"}}
 * (the shape of the cBRSKI example voucher, FACTS 3) */
static const char example_hex[] =
        "a1190993a60102027818323032322d31322d30365432303a32333a33302e3730385a03f4074857eed786ad"
        "40490708430102030b6d4a414441313233343536373839";

/* Detection of CBOR is the first call a tool may make: it must load the SID
 * tables itself (it runs first in this program, before anything else
 * initialises the library). */
static void test_detect_first(void **state)
{
	(void)state;
	uint8_t in[256];
	size_t n = unhex(example_hex, in, sizeof(in));
	enum voucher_format f = VOUCHER_FORMAT_UNKNOWN;
	enum voucher_kind k = VOUCHER_KIND_UNKNOWN;
	assert_int_equal(voucher_artifact_detect(in, n, &f, &k), VOUCHER_OK);
	assert_int_equal(f, VOUCHER_FORMAT_CBOR);
	assert_int_equal(k, VOUCHER_KIND_VOUCHER);
}

static void test_encode_known(void **state)
{
	(void)state;
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	static const uint8_t nonce[] = {0x57, 0xee, 0xd7, 0x86, 0xad, 0x40, 0x49, 0x07};
	static const uint8_t cert[] = {1, 2, 3};
	uint8_t want[256];
	size_t wn = unhex(example_hex, want, sizeof(want));
	assert_int_equal(voucher_artifact_new(VOUCHER_KIND_VOUCHER, &a), VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_PROXIMITY),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_datetime(a, VOUCHER_LEAF_CREATED_ON,
	                                               "2022-12-06T20:23:30.708Z"),
	                 VOUCHER_OK);
	assert_int_equal(
	        voucher_artifact_set_bool(a, VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS, false),
	        VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, sizeof(nonce)),
	                 VOUCHER_OK);
	assert_int_equal(
	        voucher_artifact_set_binary(a, VOUCHER_LEAF_PINNED_DOMAIN_CERT, cert, sizeof(cert)),
	        VOUCHER_OK);
	assert_int_equal(
	        voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, "JADA123456789"),
	        VOUCHER_OK);
	uint8_t *out = NULL;
	size_t n = 0;
	assert_int_equal(voucher_artifact_to_cbor(a, 0, &out, &n, &e), VOUCHER_OK);
	assert_int_equal(n, wn);
	assert_memory_equal(out, want, wn);
	free(out);
	voucher_artifact_free(a);
}

struct cbor_case {
	const char *hex;
	enum voucher_kind expect;
	unsigned flags;
	voucher_err code;
	const char *member;
};

static const struct cbor_case cases[] = {
        /* accepted: SIDs, names, qualified names, tag 47, mixed */
        {"a1190993a10b6178", 0, 0, VOUCHER_OK, ""},
        {"a174696574662d766f75636865723a766f7563686572a2696173736572"
         "74696f6e026d73657269616c2d6e756d6265726178",
         0, 0, VOUCHER_OK,
         ""}, /* {"ietf-voucher:voucher": {"assertion": 2, "serial-number": "x"}} */
        {"a1190993a10b6278", 0, 0, VOUCHER_E_MALFORMED, ""}, /* text runs past the end */
        {"a1190993a369617373657274696f6e020b6178d82f19099a480102030405060708", 0, 0, VOUCHER_OK,
         ""}, /* {2451: {"assertion": 2, 11: "x", 47(2458): h'0102030405060708'}} */
        {"a1190993a1781a696574662d766f75636865723a73657269616c2d6e756d6265726178", 0, 0, VOUCHER_OK,
         ""}, /* "ietf-voucher:serial-number" */
        {"a11909c5a20d61780a43010203", VOUCHER_KIND_REQUEST, 0, VOUCHER_OK, ""},
        {"a1190993a10b6178", VOUCHER_KIND_REQUEST, VOUCHER_F_LENIENT_VOUCHER_ROOT, VOUCHER_OK, ""},
        /* duplicates, trailing bytes, framing */
        {"a1190993a20b61610b6162", 0, 0, VOUCHER_E_DUPLICATE, "serial-number"},
        {"a1190993a20b61616d73657269616c2d6e756d6265726162", 0, 0, VOUCHER_E_DUPLICATE,
         "serial-number"},
        {"a1190993a10b617800", 0, 0, VOUCHER_E_TRAILING_DATA, ""},
        {"a1190993bf0b6178ff", 0, 0, VOUCHER_E_MALFORMED, ""},   /* indefinite map */
        {"a1190993a10b7f6178ff", 0, 0, VOUCHER_E_MALFORMED, ""}, /* indefinite text */
        {"a1190993a10b61", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"a1190993a10b1c", 0, 0, VOUCHER_E_MALFORMED, ""}, /* reserved additional info */
        {"a1190993a20b61780f818181818181818181818181818181818100", 0, 0, VOUCHER_E_TOO_DEEP, ""},
        {"a1190993bb7fffffffffffffff", 0, 0, VOUCHER_E_MALFORMED, ""}, /* huge count */
        {"a2190993a10b61781909c5a10d6178", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"81a1190993a10b6178", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"", 0, 0, VOUCHER_E_MALFORMED, ""},
        /* keys */
        {"a1190993a20b61781863f5", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "SID delta 99"},
        {"a1190993a20b6178206178", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "(key of CBOR type 1)"},
        {"a1190993a20b6178d82f1909c5f5", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "SID 2501"},
        {"a119270fa10b6178", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "SID 9999"},
        {"a1190993a20b61781043010203", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "SID delta 16"},
        {"a1190993a20b6178781870726f78696d6974792d7265676973747261722d6365727443010203", 0, 0,
         VOUCHER_E_UNKNOWN_MEMBER, "proximity-registrar-cert"},
        {"a1190993a20b61787818696574662d6f746865723a73657269616c2d6e756d6265726161", 0, 0,
         VOUCHER_E_UNKNOWN_MEMBER, "ietf-other:serial-number"},
        /* values */
        {"a1190993a10b4178", 0, 0, VOUCHER_E_BAD_TYPE, "serial-number"},
        {"a1190993a20b617807686161616161616161", 0, 0, VOUCHER_E_BAD_TYPE, "nonce"},
        {"a1190993a20b61780744aabbccdd", 0, 0, VOUCHER_E_SCHEMA, "nonce"},
        {"a1190993a20b61780109", 0, 0, VOUCHER_E_SCHEMA, "assertion"},
        {"a1190993a20b617801666c6f67676564", 0, 0, VOUCHER_E_BAD_TYPE, "assertion"},
        {"a1190993a20b61780301", 0, 0, VOUCHER_E_BAD_TYPE, "domain-cert-revocation-checks"},
        {"a1190993a20b6178026479657374", 0, 0, VOUCHER_E_SCHEMA, "created-on"},
        {"a1190993a20b61780f6178", 0, 0, VOUCHER_E_BAD_TYPE, "extensions"},
        {"a1190993a20b61780f8261616161", 0, 0, VOUCHER_E_DUPLICATE, "extensions"},
        {"a1190993a20b61780f81f5", 0, 0, VOUCHER_E_BAD_TYPE, "extensions"},
        {"a1190993a10b62c328", 0, 0, VOUCHER_E_MALFORMED, ""}, /* bad UTF-8: libcbor refuses it */
        {"a1190993a10b63610062", 0, 0, VOUCHER_E_BAD_TYPE, "serial-number"}, /* NUL */
        {"a1190993a10743010203", 0, 0, VOUCHER_E_SCHEMA, "nonce"},
        {"a1190993a107480102030405060708", 0, 0, VOUCHER_E_MISSING, "serial-number"},
        {"a119099381", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"a119099380", 0, 0, VOUCHER_E_BAD_TYPE, "ietf-voucher:voucher"},
        /* kinds and legacy */
        {"a1190993a10b6178", VOUCHER_KIND_REQUEST, 0, VOUCHER_E_WRONG_KIND, "ietf-voucher:voucher"},
        {"a11909c5a10d6178", VOUCHER_KIND_VOUCHER, 0, VOUCHER_E_WRONG_KIND,
         "ietf-voucher-request:voucher"},
        {"a1190993a10b6178", 0, VOUCHER_F_LEGACY, VOUCHER_E_MISSING, "created-on"},
        {"a1190993a20b61780d6161", 0, VOUCHER_F_LEGACY, VOUCHER_E_UNKNOWN_MEMBER, "SID delta 13"},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cbor_case *c = &cases[i];
		uint8_t in[256];
		size_t n = unhex(c->hex, in, sizeof(in));
		struct voucher_artifact *a = NULL;
		struct voucher_error_info e;
		voucher_err r = voucher_artifact_from_cbor(in, n, c->expect, c->flags, &a, &e);
		if (r != c->code || (r != VOUCHER_OK && strcmp(e.member, c->member) != 0))
			fail_msg("case %zu (%s)\n  got %d member \"%s\" (%s)\n  want %d member "
			         "\"%s\"",
			         i, c->hex, r, e.member, e.message, c->code, c->member);
		if (r == VOUCHER_OK) {
			assert_non_null(a);
			if (c->expect != VOUCHER_KIND_UNKNOWN)
				assert_int_equal(voucher_artifact_kind(a), c->expect);
			const char *s = NULL;
			assert_int_equal(
			        voucher_artifact_get_string(a, VOUCHER_LEAF_SERIAL_NUMBER, &s),
			        VOUCHER_OK);
			assert_string_equal(s, "x");
		} else {
			assert_null(a);
			assert_int_equal(e.code, r);
		}
		voucher_artifact_free(a);
	}
}

/* Mixed keys decode to the same object as plain SIDs; we re-encode SIDs. */
static void test_mixed_keys(void **state)
{
	(void)state;
	uint8_t in[128], *out = NULL;
	size_t n = unhex("a1190993a369617373657274696f6e020b6178d82f19099a480102030405060708", in,
	                 sizeof(in));
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	assert_int_equal(voucher_artifact_from_cbor(in, n, 0, 0, &a, &e), VOUCHER_OK);
	size_t on = 0;
	assert_int_equal(voucher_artifact_to_cbor(a, 0, &out, &on, &e), VOUCHER_OK);
	uint8_t want[64];
	size_t wn = unhex("a1190993a30102074801020304050607080b6178", want, sizeof(want));
	assert_int_equal(on, wn);
	assert_memory_equal(out, want, wn);
	free(out);
	voucher_artifact_free(a);
}

static void test_extensions_sids(void **state)
{
	(void)state;
	/* {2451: {11: "x", 15: [2470, "example"]}} */
	uint8_t in[64], *out = NULL;
	size_t n = unhex("a1190993a20b61780f821909a6676578616d706c65", in, sizeof(in));
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	assert_int_equal(voucher_artifact_from_cbor(in, n, 0, 0, &a, &e), VOUCHER_OK);
	assert_int_equal(voucher_artifact_extension_count(a), 2);
	assert_string_equal(voucher_artifact_extension(a, 0), "2470");
	assert_string_equal(voucher_artifact_extension(a, 1), "example");
	size_t on;
	assert_int_equal(voucher_artifact_to_json(a, 0, &out, &on, &e), VOUCHER_OK);
	assert_string_equal((char *)out, "{\"ietf-voucher:voucher\":{\"serial-number\":\"x\","
	                                 "\"extensions\":[\"2470\",\"example\"]}}");
	free(out);
	assert_int_equal(voucher_artifact_to_cbor(a, 0, &out, &on, &e), VOUCHER_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, in, n);
	free(out);
	voucher_artifact_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_detect_first),    cmocka_unit_test(test_encode_known),
	        cmocka_unit_test(test_cases),           cmocka_unit_test(test_mixed_keys),
	        cmocka_unit_test(test_extensions_sids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
