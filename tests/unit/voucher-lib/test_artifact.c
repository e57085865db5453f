/* voucher_artifact object: accessors, leaf table, timestamps. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <voucher/voucher.h>

static void test_new_free(void **state)
{
	(void)state;
	struct voucher_artifact *a = NULL;
	voucher_artifact_free(NULL);
	assert_int_equal(voucher_artifact_new(VOUCHER_KIND_UNKNOWN, &a), VOUCHER_EINVAL);
	assert_null(a);
	assert_int_equal(voucher_artifact_new(VOUCHER_KIND_REQUEST, &a), VOUCHER_OK);
	assert_int_equal(voucher_artifact_kind(a), VOUCHER_KIND_REQUEST);
	const uint8_t *p;
	size_t n;
	assert_int_equal(voucher_artifact_raw(a, &p, &n, NULL), VOUCHER_ENOENT);
	voucher_artifact_free(a);
}

static void test_leaf_table(void **state)
{
	(void)state;
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++) {
		const char *name = voucher_leaf_name((enum voucher_leaf)l);
		assert_non_null(name);
		assert_int_equal(voucher_leaf_from_name(name), l);
		assert_true(voucher_leaf_in_kind((enum voucher_leaf)l, VOUCHER_KIND_REQUEST));
		assert_int_equal(voucher_leaf_in_kind((enum voucher_leaf)l, VOUCHER_KIND_VOUCHER),
		                 l <= VOUCHER_LEAF_EXTENSIONS);
		assert_true(voucher_leaf_type((enum voucher_leaf)l) != 0);
	}
	assert_null(voucher_leaf_name(VOUCHER_LEAF_COUNT));
	assert_int_equal(voucher_leaf_from_name("bogus"), VOUCHER_LEAF_COUNT);
	assert_string_equal(voucher_assertion_name(VOUCHER_ASSERTION_AGENT_PROXIMITY),
	                    "agent-proximity");
	assert_null(voucher_assertion_name((enum voucher_assertion)4));
}

static void test_accessors(void **state)
{
	(void)state;
	struct voucher_artifact *a = NULL, *c = NULL;
	const char *s = NULL;
	const uint8_t *p = NULL;
	size_t n = 0;
	bool b = false;
	enum voucher_assertion as;
	static const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	assert_int_equal(voucher_artifact_new(VOUCHER_KIND_VOUCHER, &a), VOUCHER_OK);
	/* unset */
	assert_int_equal(voucher_artifact_get_string(a, VOUCHER_LEAF_SERIAL_NUMBER, &s),
	                 VOUCHER_ENOENT);
	assert_int_equal(voucher_artifact_get_assertion(a, &as), VOUCHER_ENOENT);
	assert_false(voucher_artifact_has(a, VOUCHER_LEAF_NONCE));
	/* wrong type for the leaf */
	assert_int_equal(voucher_artifact_set_string(a, VOUCHER_LEAF_NONCE, "x"), VOUCHER_EINVAL);
	assert_int_equal(voucher_artifact_set_binary(a, VOUCHER_LEAF_SERIAL_NUMBER, nonce, 8),
	                 VOUCHER_EINVAL);
	assert_int_equal(voucher_artifact_set_bool(a, VOUCHER_LEAF_NONCE, true), VOUCHER_EINVAL);
	assert_int_equal(voucher_artifact_set_datetime(a, VOUCHER_LEAF_EST_DOMAIN, "x"),
	                 VOUCHER_EINVAL);
	/* leaf of the other kind */
	assert_int_equal(
	        voucher_artifact_set_binary(a, VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT, nonce, 8),
	        VOUCHER_EINVAL);
	assert_int_equal(voucher_artifact_set_assertion(a, (enum voucher_assertion)9),
	                 VOUCHER_EINVAL);

	assert_int_equal(voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, "JADA1"),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, 8), VOUCHER_OK);
	assert_int_equal(
	        voucher_artifact_set_bool(a, VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS, false),
	        VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_PROXIMITY),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_time(a, VOUCHER_LEAF_CREATED_ON, 1475868702),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_add_extension(a, "example-ext"), VOUCHER_OK);
	assert_int_equal(voucher_artifact_add_extension(a, "example-ext"), VOUCHER_EEXIST);
	assert_int_equal(voucher_artifact_add_extension(a, ""), VOUCHER_EINVAL);

	assert_int_equal(voucher_artifact_dup(a, &c), VOUCHER_OK);
	voucher_artifact_free(a);
	assert_int_equal(voucher_artifact_get_string(c, VOUCHER_LEAF_SERIAL_NUMBER, &s),
	                 VOUCHER_OK);
	assert_string_equal(s, "JADA1");
	assert_int_equal(voucher_artifact_get_binary(c, VOUCHER_LEAF_NONCE, &p, &n), VOUCHER_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(p, nonce, 8);
	assert_int_equal(
	        voucher_artifact_get_bool(c, VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS, &b),
	        VOUCHER_OK);
	assert_false(b);
	assert_int_equal(voucher_artifact_get_assertion(c, &as), VOUCHER_OK);
	assert_int_equal(as, VOUCHER_ASSERTION_PROXIMITY);
	assert_int_equal(voucher_artifact_get_datetime(c, VOUCHER_LEAF_CREATED_ON, &s), VOUCHER_OK);
	assert_string_equal(s, "2016-10-07T19:31:42Z");
	time_t t = 0;
	assert_int_equal(voucher_artifact_get_time(c, VOUCHER_LEAF_CREATED_ON, &t), VOUCHER_OK);
	assert_int_equal(t, 1475868702);
	assert_int_equal(voucher_artifact_extension_count(c), 1);
	assert_string_equal(voucher_artifact_extension(c, 0), "example-ext");
	assert_null(voucher_artifact_extension(c, 1));

	assert_int_equal(voucher_artifact_clear(c, VOUCHER_LEAF_NONCE), VOUCHER_OK);
	assert_false(voucher_artifact_has(c, VOUCHER_LEAF_NONCE));
	assert_int_equal(voucher_artifact_clear(c, VOUCHER_LEAF_EXTENSIONS), VOUCHER_OK);
	assert_int_equal(voucher_artifact_extension_count(c), 0);
	/* an empty binary is a set leaf with no bytes */
	assert_int_equal(
	        voucher_artifact_set_binary(c, VOUCHER_LEAF_MANUFACTURER_PROPRIETARY, NULL, 0),
	        VOUCHER_OK);
	assert_int_equal(
	        voucher_artifact_get_binary(c, VOUCHER_LEAF_MANUFACTURER_PROPRIETARY, &p, &n),
	        VOUCHER_OK);
	assert_int_equal(n, 0);
	voucher_artifact_free(c);
}

static const struct {
	const char *text;
	voucher_err code;
	time_t t;
} times[] = {
        {"2016-10-07T19:31:42Z", VOUCHER_OK, 1475868702},
        {"2016-10-07T19:31:42+00:00", VOUCHER_OK, 1475868702},
        {"2016-10-07T21:31:42.598+02:00", VOUCHER_OK, 1475868702},
        {"2016-10-07T17:08:18.598-04:00", VOUCHER_OK, 1475874498},
        {"1970-01-01T00:00:00Z", VOUCHER_OK, 0},
        {"2024-02-29T00:00:00Z", VOUCHER_OK, 1709164800},
        {"2023-02-29T00:00:00Z", VOUCHER_E_MALFORMED, 0},
        {"2016-13-07T19:31:42Z", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07 19:31:42Z", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07T19:31:42", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07T19:31:42.Z", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07T24:00:00Z", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07T19:31:42+0200", VOUCHER_E_MALFORMED, 0},
        {"2016-10-07T19:31:42Zjunk", VOUCHER_E_MALFORMED, 0},
        {"16-10-07T19:31:42Z", VOUCHER_E_MALFORMED, 0},
        {"", VOUCHER_E_MALFORMED, 0},
};

static void test_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		time_t t = 0;
		voucher_err r = voucher_time_parse(times[i].text, &t);
		if (r != times[i].code)
			fail_msg("%s: got %d, want %d", times[i].text, r, times[i].code);
		if (r == VOUCHER_OK && t != times[i].t)
			fail_msg("%s: got %lld, want %lld", times[i].text, (long long)t,
			         (long long)times[i].t);
	}
	char buf[32];
	assert_int_equal(voucher_time_format(1475868702, buf, sizeof(buf)), VOUCHER_OK);
	assert_string_equal(buf, "2016-10-07T19:31:42Z");
	assert_int_equal(voucher_time_format(0, buf, 20), VOUCHER_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_new_free),
	        cmocka_unit_test(test_leaf_table),
	        cmocka_unit_test(test_accessors),
	        cmocka_unit_test(test_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
