/* Unit tests of libmasa's pure parts: the response media type, the audit
 * log response with its abridging rule, base64. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "masa/masa.h"

static void test_accept(void **state)
{
	static const struct {
		const char *accept;
		enum voucher_envelope want;
		voucher_err err;
		enum voucher_envelope out;
	} cases[] = {
	        {NULL, VOUCHER_ENV_CMS, VOUCHER_OK, VOUCHER_ENV_CMS},
	        {"", VOUCHER_ENV_COSE, VOUCHER_OK, VOUCHER_ENV_COSE},
	        {"*/*", VOUCHER_ENV_JWS, VOUCHER_OK, VOUCHER_ENV_JWS},
	        {"application/*;q=0.5", VOUCHER_ENV_JWS, VOUCHER_OK, VOUCHER_ENV_JWS},
	        {"application/voucher-cms+json", VOUCHER_ENV_CMS, VOUCHER_OK, VOUCHER_ENV_CMS},
	        {"text/plain, application/voucher+cose;q=1", VOUCHER_ENV_COSE, VOUCHER_OK,
	         VOUCHER_ENV_COSE},
	        {"application/voucher-cose+cbor", VOUCHER_ENV_COSE, VOUCHER_OK, VOUCHER_ENV_COSE},
	        {"APPLICATION/VOUCHER-JWS+JSON", VOUCHER_ENV_JWS, VOUCHER_OK, VOUCHER_ENV_JWS},
	        /* a known type the pledge does not process: 406 */
	        {"application/voucher+cose", VOUCHER_ENV_CMS, VOUCHER_E_NOT_ACCEPTABLE,
	         VOUCHER_ENV_NONE},
	        /* nothing known: 415 */
	        {"text/html", VOUCHER_ENV_CMS, VOUCHER_E_CONTENT_TYPE, VOUCHER_ENV_NONE},
	        {"application/json, text/plain", VOUCHER_ENV_NONE, VOUCHER_E_CONTENT_TYPE,
	         VOUCHER_ENV_NONE},
	        {" , ,", VOUCHER_ENV_NONE, VOUCHER_E_CONTENT_TYPE, VOUCHER_ENV_NONE},
	        /* q=0 excludes a type (RFC 9110 12.4.2); other weights do not */
	        {"application/voucher-cms+json;q=0", VOUCHER_ENV_CMS, VOUCHER_E_CONTENT_TYPE,
	         VOUCHER_ENV_NONE},
	        {"application/voucher-cms+json; q=0.000, application/voucher+cose", VOUCHER_ENV_CMS,
	         VOUCHER_E_NOT_ACCEPTABLE, VOUCHER_ENV_NONE},
	        {"*/*;q=0.0, application/voucher-jws+json;q=0.01", VOUCHER_ENV_JWS, VOUCHER_OK,
	         VOUCHER_ENV_JWS},
	        {"application/voucher-cms+json;q=0.5", VOUCHER_ENV_CMS, VOUCHER_OK,
	         VOUCHER_ENV_CMS},
	        /* the pre-check: anything known will do */
	        {"application/voucher-jws+json", VOUCHER_ENV_NONE, VOUCHER_OK, VOUCHER_ENV_JWS},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum voucher_envelope out = VOUCHER_ENV_CMS;
		voucher_err r = masa_accept(cases[i].accept, cases[i].want, &out);
		if (r != cases[i].err || out != cases[i].out)
			fail_msg("case %zu (%s): got %d/%d, want %d/%d", i,
			         cases[i].accept ? cases[i].accept : "NULL", r, out, cases[i].err,
			         cases[i].out);
	}
}

static void test_b64(void **state)
{
	static const struct {
		const char *raw, *b64;
	} cases[] = {
	        {"", ""},
	        {"f", "Zg=="},
	        {"fo", "Zm8="},
	        {"foo", "Zm9v"},
	        {"foob", "Zm9vYg=="},
	        {"fooba", "Zm9vYmE="},
	        {"foobar", "Zm9vYmFy"},
	};
	static const char *const bad[] = {
	        "", "Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zm9"};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = masa_b64((const uint8_t *)cases[i].raw, strlen(cases[i].raw));
		assert_non_null(e);
		assert_string_equal(e, cases[i].b64);
		free(e);
		if (cases[i].b64[0]) {
			uint8_t *d = NULL;
			size_t n = 0;
			assert_int_equal(masa_unb64(cases[i].b64, &d, &n), VOUCHER_OK);
			assert_int_equal(n, strlen(cases[i].raw));
			assert_memory_equal(d, cases[i].raw, n);
			free(d);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *d = (uint8_t *)1;
		size_t n = 1;
		if (masa_unb64(bad[i], &d, &n) != VOUCHER_E_BAD_BASE64)
			fail_msg("'%s' decoded", bad[i]);
		assert_null(d);
		assert_int_equal(n, 0);
	}
}

static void test_auditlog(void **state)
{
	uint8_t n1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, n2[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	/* oldest first: domain A nonced x3, A nonceless x2, B nonced x1 */
	struct store_audit ev[] = {
	        {.domain_id = "QQ==",
	         .nonce = n1,
	         .nonce_len = 8,
	         .assertion = "proximity",
	         .logged = 1000},
	        {.domain_id = "QQ==", .nonce = NULL, .assertion = "verified", .logged = 1001},
	        {.domain_id = "Qg==",
	         .nonce = n2,
	         .nonce_len = 8,
	         .assertion = "logged",
	         .logged = 1002},
	        {.domain_id = "QQ==",
	         .nonce = n2,
	         .nonce_len = 8,
	         .assertion = "proximity",
	         .logged = 1003},
	        {.domain_id = "QQ==", .nonce = NULL, .assertion = "verified", .logged = 1004},
	        {.domain_id = "QQ==",
	         .nonce = n1,
	         .nonce_len = 8,
	         .assertion = "proximity",
	         .logged = 1005},
	};
	char *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *root, *events, *e;
	(void)state;

	assert_int_equal(masa_auditlog_json(ev, 6, &text, &len), VOUCHER_OK);
	assert_int_equal(len, strlen(text));
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
	events = json_object_get(root, "events");
	assert_int_equal(json_array_size(events), 3);
	/* kept, in order: B nonced (1002), A nonceless (1004), A nonced (1005) */
	e = json_array_get(events, 0);
	assert_string_equal(json_string_value(json_object_get(e, "domainID")), "Qg==");
	assert_int_equal(json_integer_value(json_object_get(e, "truncated")), 0);
	assert_string_equal(json_string_value(json_object_get(e, "nonce")), "CQkJCQkJCQk=");
	assert_string_equal(json_string_value(json_object_get(e, "date")), "1970-01-01T00:16:42Z");
	e = json_array_get(events, 1);
	assert_true(json_is_null(json_object_get(e, "nonce")));
	assert_string_equal(json_string_value(json_object_get(e, "assertion")), "verified");
	assert_int_equal(json_integer_value(json_object_get(e, "truncated")), 1);
	e = json_array_get(events, 2);
	assert_string_equal(json_string_value(json_object_get(e, "nonce")), "AQIDBAUGBwg=");
	assert_int_equal(json_integer_value(json_object_get(e, "truncated")), 2);
	e = json_object_get(root, "truncation");
	assert_int_equal(json_integer_value(json_object_get(e, "nonced duplicates")), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "nonceless duplicates")), 1);
	json_decref(root);
	free(text);

	/* no events: a valid, empty log */
	assert_int_equal(masa_auditlog_json(NULL, 0, &text, &len), VOUCHER_OK);
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "events")), 0);
	json_decref(root);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_b64),
	        cmocka_unit_test(test_auditlog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
