/* cloudreg/reqlog.c: the disposition names, and the wrapper runs the
 * original handler of the route and leaves its answer as it was. (The rows
 * themselves: tests/unit/service/test_store.c, test-hostile.sh.) */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cloudreg/creg.h"

static void test_disposition(void **state)
{
	static const struct {
		voucher_err r;
		unsigned status;
		const char *want;
	} cases[] = {
	        {VOUCHER_OK, 200, "accepted"},
	        {VOUCHER_OK, 201, "accepted"},
	        {VOUCHER_OK, 202, "pending"},
	        {VOUCHER_OK, 307, "redirected"},
	        /* a refusal names the check, whatever the handler returned */
	        {VOUCHER_E_CONTENT_TYPE, 415, "media-type"},
	        {VOUCHER_E_MALFORMED, 400, "malformed"},
	        {VOUCHER_E_DUPLICATE, 400, "malformed"},
	        {VOUCHER_E_TOO_DEEP, 400, "malformed"},
	        {VOUCHER_E_EXPIRED, 403, "expired"},
	        {VOUCHER_E_UNTRUSTED, 403, "untrusted"},
	        {VOUCHER_E_SIG_INVALID, 403, "signature"},
	        {VOUCHER_E_FORBIDDEN, 403, "forbidden"},
	        {VOUCHER_E_UNAUTHENTICATED, 401, "unauthenticated"},
	        {VOUCHER_E_NOT_FOUND, 404, "not-found"},
	        {VOUCHER_E_RATE_LIMITED, 429, "rate-limited"},
	        {VOUCHER_EAGAIN, 503, "overload"},
	        {VOUCHER_E_STORE, 503, "store"},
	        {VOUCHER_E_PEER, 403, "upstream"},
	        {VOUCHER_E_NETWORK, 502, "upstream"},
	        {VOUCHER_ENOTSUP, 501, "not-supported"},
	        {VOUCHER_ENOMEM, 500, "internal"},
	        /* an error answered by the handler itself: the status says */
	        {VOUCHER_OK, 400, "malformed"},
	        {VOUCHER_OK, 404, "not-found"},
	        {VOUCHER_OK, 413, "too-large"},
	        {VOUCHER_OK, 415, "media-type"},
	        {VOUCHER_OK, 429, "rate-limited"},
	        {VOUCHER_OK, 418, "refused"},
	        {VOUCHER_OK, 500, "internal"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = creg_reqlog_disposition(cases[i].r, cases[i].status);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%d, %u): %s, want %s", i, (int)cases[i].r,
			         cases[i].status, got, cases[i].want);
	}
}

/* The wrapped tables: same methods, paths and flags, every handler the
 * wrapper. */
static void test_routes(void **state)
{
	struct svc_route *r = NULL;

	(void)state;
	assert_int_equal(creg_reqlog_routes(creg_brski_routes, creg_n_brski_routes, &r),
	                 VOUCHER_OK);
	for (size_t i = 0; i < creg_n_brski_routes; i++) {
		assert_string_equal(r[i].method, creg_brski_routes[i].method);
		assert_string_equal(r[i].path, creg_brski_routes[i].path);
		assert_int_equal(r[i].flags, creg_brski_routes[i].flags);
		assert_ptr_equal(r[i].handler, creg_reqlog_handle);
	}
	free(r);
}

/* Without a daemon (no store) the wrapper only runs the handler: a
 * voucher_status without Content-Type is the handler's 415, a path no route
 * has is 404. */
static void test_handle(void **state)
{
	struct svc_req req = {0};
	struct svc_resp resp;

	(void)state;
	req.method = "POST";
	req.path = "/.well-known/brski/voucher_status";
	req.request_id = "t1";
	svc_resp_init(&resp);
	assert_int_equal(creg_reqlog_handle(&req, &resp), VOUCHER_E_CONTENT_TYPE);
	assert_int_equal(resp.status, 415);
	assert_non_null(strstr((const char *)resp.body.data, "is not application/json"));
	svc_resp_free(&resp);

	req.path = "/.well-known/brski/nothing-here";
	assert_int_equal(creg_reqlog_handle(&req, &resp), VOUCHER_OK);
	assert_int_equal(resp.status, 404);
	svc_resp_free(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_disposition),
	        cmocka_unit_test(test_routes),
	        cmocka_unit_test(test_handle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
