/* brski_buf and brski_str: bounds, ownership, parsing. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"

static void test_buf_ceiling(void **state)
{
	(void)state;
	struct brski_buf b;
	brski_buf_init(&b, 8);
	assert_int_equal(brski_buf_puts(&b, "12345678"), VOUCHER_OK);
	assert_int_equal(b.len, 8);
	/* One byte past the ceiling fails and leaves the contents alone. */
	assert_int_equal(brski_buf_putc(&b, '9'), VOUCHER_E_TOO_LARGE);
	assert_int_equal(b.len, 8);
	assert_string_equal(brski_buf_str(&b), "12345678");
	brski_buf_free(&b);
	brski_buf_free(&b); /* idempotent */
	brski_buf_free(NULL);
}

static void test_buf_printf_take(void **state)
{
	(void)state;
	struct brski_buf b;
	brski_buf_init(&b, 1024);
	for (int i = 0; i < 100; i++)
		assert_int_equal(brski_buf_printf(&b, "%d,", i % 10), VOUCHER_OK);
	assert_int_equal(b.len, 200);
	size_t len;
	uint8_t *p = brski_buf_take(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 200);
	assert_int_equal(memcmp(p, "0,1,2,", 6), 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
	brski_buf_init(&b, 4);
	assert_int_equal(brski_buf_printf(&b, "%s", "too long"), VOUCHER_E_TOO_LARGE);
	assert_null(brski_buf_take(&b, NULL));
}

static void test_str_number(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t max;
		voucher_err want;
		uint64_t value;
	} cases[] = {
	        {"0", 10, VOUCHER_OK, 0},
	        {"10", 10, VOUCHER_OK, 10},
	        {"11", 10, VOUCHER_ERANGE, 0},
	        {"18446744073709551615", UINT64_MAX, VOUCHER_OK, UINT64_MAX},
	        {"18446744073709551616", UINT64_MAX, VOUCHER_ERANGE, 0},
	        {"5", 3, VOUCHER_ERANGE, 0},
	        {"", 10, VOUCHER_E_MALFORMED, 0},
	        {"-1", 10, VOUCHER_E_MALFORMED, 0},
	        {" 1", 10, VOUCHER_E_MALFORMED, 0},
	        {"1 ", 10, VOUCHER_E_TRAILING_DATA, 0},
	        {"7x", 10, VOUCHER_E_TRAILING_DATA, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 99;
		voucher_err r = brski_str_to_u64(cases[i].in, &v, cases[i].max);
		assert_int_equal(r, cases[i].want);
		assert_int_equal(v, cases[i].value);
	}
}

static void test_compat(void **state)
{
	(void)state;
	assert_int_equal(timingsafe_bcmp("abcd", "abcd", 4), 0);
	assert_int_not_equal(timingsafe_bcmp("abcd", "abce", 4), 0);
	char *p = malloc(16);
	assert_non_null(p);
	memset(p, 'x', 16);
	freezero(p, 16);
	freezero(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_buf_ceiling),
	        cmocka_unit_test(test_buf_printf_take),
	        cmocka_unit_test(test_str_number),
	        cmocka_unit_test(test_compat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
