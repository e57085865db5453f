/* Every error code has its own message (like curl's test1477). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <voucher/error.h>

static void test_every_code_has_a_unique_message(void **state)
{
	(void)state;
	const char *unknown = voucher_strerror(-99999);
	assert_string_equal(unknown, "unknown error");
	assert_string_equal(voucher_strerror(VOUCHER_OK), "success");
	const char *seen[200];
	size_t n = 0;
	/* Domain codes are dense from -1000 down; the first gap ends them. */
	for (voucher_err e = -1000; e > -1200; e--) {
		const char *m = voucher_strerror(e);
		if (strcmp(m, unknown) == 0)
			break;
		for (size_t i = 0; i < n; i++)
			assert_string_not_equal(seen[i], m);
		seen[n++] = m;
	}
	assert_true(n >= 32);
	/* Nothing beyond the first gap either: codes stay dense. */
	for (voucher_err e = -1000 - (voucher_err)n; e > -1200; e--)
		assert_string_equal(voucher_strerror(e), unknown);
	assert_string_equal(voucher_strerror(VOUCHER_ENOMEM), strerror(ENOMEM));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_code_has_a_unique_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
