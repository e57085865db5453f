/* Unit tests of cloudreg/libcreg.la: telemetry bodies (FACTS 1.10), the
 * redirect Location and MASA endpoint URLs, base64, and the MASA client's
 * retries, outcome and metrics against a closed port. The pledge-request
 * checks and the real MASA round trips are in test-cloudreg.sh. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cloudreg/creg.h"
#include "service/metrics.h"

static void test_telemetry(void **state)
{
	static const struct {
		const char *body;
		voucher_err want;
		int64_t version;
		bool status;
		const char *reason;
	} cases[] = {
	        {"{\"version\":1,\"status\":true}", VOUCHER_OK, 1, true, NULL},
	        {"{\"version\":1,\"status\":false,\"reason\":\"no pin\"}", VOUCHER_OK, 1, false,
	         "no pin"},
	        {"{\"version\":1,\"status\":false,\"reason\":\"x\",\"reason-context\":{\"a\":[1]}}",
	         VOUCHER_OK, 1, false, "x"},
	        {"{\"version\":2,\"status\":true}", VOUCHER_OK, 2, true, NULL},
	        {"{\"version\":1}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"status\":true}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":\"1\",\"status\":true}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":1,\"status\":1}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":-1,\"status\":true}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":1,\"status\":true,\"extra\":0}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":1,\"status\":true,\"reason\":5}", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"{\"version\":1,\"status\":true,\"reason-context\":\"s\"}", VOUCHER_E_SCHEMA, 0,
	         false, NULL},
	        {"{\"version\":1,\"version\":1,\"status\":true}", VOUCHER_E_MALFORMED, 0, false,
	         NULL},
	        {"{\"version\":1,\"status\":true} x", VOUCHER_E_MALFORMED, 0, false, NULL},
	        {"[1]", VOUCHER_E_SCHEMA, 0, false, NULL},
	        {"", VOUCHER_E_MALFORMED, 0, false, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = -7;
		bool st = !cases[i].status;
		char *reason = NULL, err[256] = "";
		voucher_err e =
		        creg_telemetry_parse((const uint8_t *)cases[i].body, strlen(cases[i].body),
		                             &v, &st, &reason, err, sizeof(err));
		if (e != cases[i].want)
			fail_msg("case %zu '%s': %d (%s), want %d", i, cases[i].body, e, err,
			         cases[i].want);
		if (e == VOUCHER_OK) {
			assert_int_equal(v, cases[i].version);
			assert_int_equal(st, cases[i].status);
			if (cases[i].reason)
				assert_string_equal(reason, cases[i].reason);
			else
				assert_null(reason);
		} else {
			assert_null(reason);
			assert_true(err[0] != '\0');
		}
		free(reason);
	}
}

static void test_redirect_location(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"https://owner.example", "https://owner.example/.well-known/brski/requestvoucher"},
	        {"https://owner.example/",
	         "https://owner.example/.well-known/brski/requestvoucher"},
	        {"https://127.0.0.1:8443",
	         "https://127.0.0.1:8443/.well-known/brski/requestvoucher"},
	        {"https://[::1]:8443", "https://[::1]:8443/.well-known/brski/requestvoucher"},
	        {"https://o.example/custom/rv", "https://o.example/custom/rv"},
	        {"http://owner.example", NULL},
	        {"https://", NULL},
	        {"https:///x", NULL},
	        {"https://a b", NULL},
	        {"https://a\r\nX: y", NULL},
	        {"owner.example", NULL},
	        {NULL, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		voucher_err e = creg_redirect_location(cases[i].in, &out);
		if (cases[i].want) {
			assert_int_equal(e, VOUCHER_OK);
			assert_string_equal(out, cases[i].want);
		} else {
			if (e != VOUCHER_EINVAL)
				fail_msg("case %zu '%s' accepted", i, cases[i].in);
			assert_null(out);
		}
		free(out);
	}
}

static void test_masa_endpoint(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"https://m.example:9443/.well-known/brski",
	         "https://m.example:9443/.well-known/brski/requestvoucher"},
	        {"https://m.example/.well-known/brski/",
	         "https://m.example/.well-known/brski/requestvoucher"},
	        {"https://m.example/.well-known/brski/requestvoucher",
	         "https://m.example/.well-known/brski/requestvoucher"},
	        {"https://m.example", "https://m.example/.well-known/brski/requestvoucher"},
	        {"https://m.example/", "https://m.example/.well-known/brski/requestvoucher"},
	        {"https://m.example/v2", "https://m.example/v2/requestvoucher"},
	        {"http://m.example", NULL},
	        {"", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		voucher_err e = creg_masa_endpoint(cases[i].in, &out);
		if (cases[i].want) {
			assert_int_equal(e, VOUCHER_OK);
			assert_string_equal(out, cases[i].want);
		} else {
			assert_int_equal(e, VOUCHER_EINVAL);
			assert_null(out);
		}
		free(out);
	}
}

static void test_b64(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"", ""},
	        {"f", "Zg=="},
	        {"fo", "Zm8="},
	        {"foo", "Zm9v"},
	        {"foob", "Zm9vYg=="},
	        {"fooba", "Zm9vYmE="},
	        {"foobar", "Zm9vYmFy"},
	};
	const uint8_t bin[] = {0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0xfb, 0xff};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = creg_b64((const uint8_t *)cases[i].in, strlen(cases[i].in));
		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	s = creg_b64(bin, sizeof(bin));
	assert_string_equal(s, "BBgwFoAU+/8=");
	free(s);
}

/* A port nobody listens on: bind, read the port, close. */
static unsigned short closed_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_masa_unreachable(void **state)
{
	struct svc_metrics *m = NULL;
	struct creg_keys *k = calloc(1, sizeof(*k));
	struct creg_app *app = NULL;
	struct creg_masa_result res;
	char url[128];
	voucher_err e;

	(void)state;
	assert_non_null(k);
	k->refs = 1;
	/* Never read: the connection is refused before TLS starts. */
	k->client_cert = strdup("/nonexistent/registrar.pem");
	k->client_key = strdup("/nonexistent/registrar.key");
	k->masa_trust = strdup("/nonexistent/masa-trust.pem");
	k->masa_timeout = 5;
	k->masa_retries = 2;
	k->retry_after = 60;
	k->max_inflight = 4;
	assert_int_equal(svc_metrics_new(&m), VOUCHER_OK);
	assert_int_equal(creg_app_new(NULL, m, k, &app), VOUCHER_OK);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/.well-known/brski/requestvoucher",
	         (unsigned)closed_port());

	creg_masa_result_init(&res);
	e = creg_masa_post(app, k, url, "application/voucher-cms+json",
	                   "application/voucher-cms+json", (const uint8_t *)"x", 1, &res);
	assert_int_equal(e, VOUCHER_E_NETWORK);
	assert_int_equal(res.outcome, CREG_MASA_UNREACHABLE);
	/* The first try and masa_retries more. */
	assert_int_equal(res.attempts, 3);
	assert_true(res.error[0] != '\0');
	assert_int_equal(svc_metrics_get_requests(m, app->masa_slot[CREG_MASA_UNREACHABLE], 502),
	                 1);
	assert_int_equal(svc_metrics_get(m, SVC_METRIC_UPSTREAM_ERRORS), 1);
	creg_masa_result_free(&res);

	/* Without retries: one attempt; the handle of this thread is reused. */
	k->masa_retries = 0;
	creg_masa_result_init(&res);
	e = creg_masa_post(app, k, url, "application/voucher-cms+json", "*/*", (const uint8_t *)"x",
	                   1, &res);
	assert_int_equal(e, VOUCHER_E_NETWORK);
	assert_int_equal(res.attempts, 1);
	assert_int_equal(svc_metrics_get_requests(m, app->masa_slot[CREG_MASA_UNREACHABLE], 502),
	                 2);
	creg_masa_result_free(&res);

	creg_app_free(app);
	svc_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_telemetry),        cmocka_unit_test(test_redirect_location),
	        cmocka_unit_test(test_masa_endpoint),    cmocka_unit_test(test_b64),
	        cmocka_unit_test(test_masa_unreachable),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
