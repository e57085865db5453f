/* Token buckets (service/ratelimit.c) on a clock the test moves by hand:
 * burst, refill, Retry-After, separate keys, a full table, no limit, and
 * the process-wide limiters configured from [limits]. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/config.h"
#include "service/ratelimit.h"
#include "service/route.h"
#include "testcert.h"

static bool take(struct svc_ratelimit *rl, const char *key, uint64_t ms, unsigned *ra)
{
	return svc_ratelimit_take_at(rl, key, strlen(key), ms, ra);
}

static void test_burst_and_refill(void **state)
{
	struct svc_ratelimit *rl;
	unsigned ra = 0;

	(void)state;
	/* 2 per second, burst 3 */
	assert_int_equal(svc_ratelimit_new(2, 1, 3, 1024, &rl), VOUCHER_OK);
	for (int i = 0; i < 3; i++)
		assert_true(take(rl, "a", 1000, &ra));
	assert_false(take(rl, "a", 1000, &ra));
	assert_int_equal(ra, 1); /* 500 ms rounds up to 1 s */
	/* another key is not affected */
	assert_true(take(rl, "b", 1000, &ra));
	/* half a second later one token is back, and only one */
	assert_true(take(rl, "a", 1500, &ra));
	assert_false(take(rl, "a", 1500, &ra));
	/* long quiet: back to the burst, not beyond */
	for (int i = 0; i < 3; i++)
		assert_true(take(rl, "a", 1000000, &ra));
	assert_false(take(rl, "a", 1000000, &ra));
	svc_ratelimit_free(rl);
}

static void test_slow_rate_retry_after(void **state)
{
	struct svc_ratelimit *rl;
	unsigned ra = 0;

	(void)state;
	/* 1 per hour, burst 1: the next token is an hour away */
	assert_int_equal(svc_ratelimit_new(1, 3600, 1, 1024, &rl), VOUCHER_OK);
	assert_true(take(rl, "serial-1", 0, &ra));
	assert_false(take(rl, "serial-1", 0, &ra));
	assert_int_equal(ra, 3600);
	/* many small steps add up (no token lost to rounding) */
	for (uint64_t t = 60000; t < 3600000; t += 60000)
		assert_false(take(rl, "serial-1", t, &ra));
	assert_true(ra >= 60 && ra <= 64); /* a minute, and rounding */
	assert_true(take(rl, "serial-1", 3600000, &ra));
	svc_ratelimit_free(rl);
}

static void test_extremes(void **state)
{
	struct svc_ratelimit *rl;
	unsigned ra = 0;

	(void)state;
	/* the largest configurable rate and burst over the longest period,
	 * after a very long quiet time: full, not wrapped around */
	assert_int_equal(svc_ratelimit_new(1000000, 3600, 1000000, 1024, &rl), VOUCHER_OK);
	assert_true(take(rl, "k", 0, &ra));
	for (int i = 0; i < 1000; i++)
		assert_true(take(rl, "k", UINT64_MAX / 2, &ra));
	svc_ratelimit_free(rl);
}

static void test_unlimited_and_invalid(void **state)
{
	struct svc_ratelimit *rl;

	(void)state;
	assert_int_equal(svc_ratelimit_new(0, 1, 1, 1024, &rl), VOUCHER_OK);
	for (int i = 0; i < 10000; i++)
		assert_true(take(rl, "x", 0, NULL));
	svc_ratelimit_free(rl);
	assert_true(svc_ratelimit_take_at(NULL, "x", 1, 0, NULL));
	assert_int_equal(svc_ratelimit_new(1, 0, 1, 1024, &rl), VOUCHER_EINVAL);
	assert_int_equal(svc_ratelimit_new(1, 1, 0, 1024, &rl), VOUCHER_EINVAL);
	assert_int_equal(svc_ratelimit_new(1, 1, 1, 0, &rl), VOUCHER_EINVAL);
	svc_ratelimit_free(NULL);
}

static void test_full_table(void **state)
{
	struct svc_ratelimit *rl;
	char key[32];

	(void)state;
	/* far more keys than buckets: every new key still gets its burst
	 * (a reused bucket is refilled), nothing crashes or blocks */
	assert_int_equal(svc_ratelimit_new(1, 60, 1, 16, &rl), VOUCHER_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_true(take(rl, key, (uint64_t)i, NULL));
	}
	/* the most recent key keeps its bucket */
	assert_false(take(rl, key, 5000, NULL));
	svc_ratelimit_free(rl);
}

static void test_configured(void **state)
{
	char dir[512], path[512], text[4096];
	struct testcert ca;
	struct brski_buf errors;
	struct svc_config *cfg = NULL;
	char err[256];
	unsigned ra = 0;
	const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};

	(void)state;
	assert_int_equal(testcert_tmpdir(dir, sizeof(dir)), 0);
	/* masad's required files: any certificate and key will do here */
	assert_int_equal(testcert_make(&ca, NULL, dir, "ca", "CA", true, 1), 0);
	snprintf(text, sizeof(text),
	         "[daemon]\nrole = masa\ndatabase = %s/s.db\n[masa]\nsign_cert = %s\n"
	         "sign_key = %s\nmanufacturer_ca = %s\n[limits]\naddress_rate = 1\n"
	         "address_burst = 2\ncert_rate = 1\ncert_burst = 1\nserial_rate = 1\n"
	         "serial_burst = 1\n",
	         dir, ca.cert_path, ca.key_path, ca.cert_path);
	assert_int_equal(testcert_write(dir, "c.conf", text, path, sizeof(path)), 0);
	brski_buf_init(&errors, 65536);
	if (svc_config_load(path, NULL, &cfg, &errors) != VOUCHER_OK)
		fail_msg("%s", brski_buf_str(&errors));
	assert_int_equal(svc_ratelimit_configure(cfg, err, sizeof(err)), VOUCHER_OK);

	/* per address, ports ignored, listeners apart */
	assert_true(
	        svc_ratelimit_request("brski", "127.0.0.9:1000", NULL, 0, &ra, err, sizeof(err)));
	assert_true(
	        svc_ratelimit_request("brski", "127.0.0.9:1001", NULL, 0, &ra, err, sizeof(err)));
	assert_false(
	        svc_ratelimit_request("brski", "127.0.0.9:1002", NULL, 0, &ra, err, sizeof(err)));
	assert_non_null(strstr(err, "127.0.0.9"));
	assert_true(ra >= 1);
	assert_true(
	        svc_ratelimit_request("admin", "127.0.0.9:1003", NULL, 0, &ra, err, sizeof(err)));
	/* per certificate, from another address */
	assert_true(
	        svc_ratelimit_request("est", "[::1]:5", cert, sizeof(cert), &ra, err, sizeof(err)));
	assert_false(
	        svc_ratelimit_request("est", "[::2]:5", cert, sizeof(cert), &ra, err, sizeof(err)));
	assert_non_null(strstr(err, "certificate"));
	/* per serial */
	assert_int_equal(svc_ratelimit_take("pledge-1", &ra), VOUCHER_OK);
	assert_int_equal(svc_ratelimit_take("pledge-1", &ra), VOUCHER_E_RATE_LIMITED);
	assert_int_equal(ra, 3600);
	assert_int_equal(svc_ratelimit_take("pledge-2", &ra), VOUCHER_OK);
	assert_int_equal(svc_http_status(VOUCHER_E_RATE_LIMITED), 429);

	svc_ratelimit_shutdown();
	/* nothing configured: no limit */
	assert_int_equal(svc_ratelimit_take("pledge-1", &ra), VOUCHER_OK);
	svc_config_free(cfg);
	brski_buf_free(&errors);
	testcert_free(&ca);
	testcert_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_burst_and_refill),
	        cmocka_unit_test(test_slow_rate_retry_after),
	        cmocka_unit_test(test_extremes),
	        cmocka_unit_test(test_unlimited_and_invalid),
	        cmocka_unit_test(test_full_table),
	        cmocka_unit_test(test_configured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
