/* Route table, response helpers, the error-to-status table and metrics,
 * without sockets: every svc_req here is built by hand. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/metrics.h"
#include "service/route.h"

static int calls;

static voucher_err h_ok(const struct svc_req *req, struct svc_resp *resp)
{
	calls++;
	return svc_resp_set(resp, 200, "application/octet-stream", req->body, req->body_len);
}

static voucher_err h_fail(const struct svc_req *req, struct svc_resp *resp)
{
	calls++;
	return VOUCHER_E_SIG_INVALID;
}

static voucher_err h_silent(const struct svc_req *req, struct svc_resp *resp)
{
	calls++;
	return VOUCHER_OK;
}

static voucher_err h_store(const struct svc_req *req, struct svc_resp *resp)
{
	calls++;
	return VOUCHER_E_STORE;
}

static const struct svc_route routes[] = {
        {"POST", "/.well-known/brski/requestvoucher", SVC_ROUTE_BODY, h_ok},
        {"GET", "/.well-known/brski/requestvoucher", 0, h_silent},
        {"GET", "/fail", 0, h_fail},
        {"GET", "/store", 0, h_store},
        {"GET", "/admin/v1/", SVC_ROUTE_PREFIX, h_ok},
        {"DELETE", "/admin/v1/", SVC_ROUTE_PREFIX, h_ok},
        {"POST", "/needcert", SVC_ROUTE_CLIENT_CERT, h_ok},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static struct svc_req mkreq(const char *method, const char *path)
{
	struct svc_req r = {0};

	r.method = method;
	r.path = path;
	r.request_id = "test";
	return r;
}

static void test_find(void **state)
{
	char allow[64];
	unsigned status = 0;

	(void)state;
	assert_int_equal(svc_route_find(routes, N_ROUTES, "POST",
	                                "/.well-known/brski/requestvoucher", &status, allow,
	                                sizeof(allow)),
	                 0);
	assert_int_equal(svc_route_find(routes, N_ROUTES, "GET", "/admin/v1/owners/x", &status,
	                                allow, sizeof(allow)),
	                 4);
	/* The prefix is a prefix of paths, not of anything that starts alike. */
	assert_int_equal(
	        svc_route_find(routes, N_ROUTES, "GET", "/admin/v1", &status, allow, sizeof(allow)),
	        -1);
	assert_int_equal(status, 404);
	assert_int_equal(svc_route_find(routes, N_ROUTES, "PUT",
	                                "/.well-known/brski/requestvoucher", &status, allow,
	                                sizeof(allow)),
	                 -1);
	assert_int_equal(status, 405);
	assert_string_equal(allow, "POST, GET");
	assert_int_equal(svc_route_find(routes, N_ROUTES, "POST", "/admin/v1/x", &status, allow,
	                                sizeof(allow)),
	                 -1);
	assert_int_equal(status, 405);
	assert_string_equal(allow, "GET, DELETE");
	/* Case matters in methods and paths. */
	assert_int_equal(
	        svc_route_find(routes, N_ROUTES, "get", "/fail", &status, allow, sizeof(allow)),
	        -1);
	assert_int_equal(
	        svc_route_find(routes, N_ROUTES, "GET", "/FAIL", &status, allow, sizeof(allow)),
	        -1);
	assert_int_equal(status, 404);
}

static void test_dispatch(void **state)
{
	struct svc_resp resp;
	struct svc_req req;
	const uint8_t body[] = "voucher-request";

	(void)state;
	calls = 0;
	svc_resp_init(&resp);
	req = mkreq("POST", "/.well-known/brski/requestvoucher");
	req.body = body;
	req.body_len = sizeof(body) - 1;
	assert_int_equal(svc_route_dispatch(routes, N_ROUTES, false, &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, sizeof(body) - 1);
	assert_memory_equal(resp.body.data, body, sizeof(body) - 1);
	assert_int_equal(calls, 1);
	svc_resp_free(&resp);

	/* 404 and 405 never reach a handler; 405 carries Allow. */
	req = mkreq("GET", "/nope");
	assert_int_equal(svc_route_dispatch(routes, N_ROUTES, false, &req, &resp), -1);
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(brski_buf_str(&resp.body), "/nope"));
	svc_resp_free(&resp);
	req = mkreq("PATCH", "/fail");
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 405);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Allow");
	assert_string_equal(resp.headers[0].value, "GET");
	svc_resp_free(&resp);
	assert_int_equal(calls, 1);

	/* An error from the handler becomes its status with a reason. */
	req = mkreq("GET", "/fail");
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 403);
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	assert_non_null(strstr(brski_buf_str(&resp.body), voucher_strerror(VOUCHER_E_SIG_INVALID)));
	svc_resp_free(&resp);
	req = mkreq("GET", "/store");
	assert_int_equal(svc_route_call(&routes[3], &req, &resp), VOUCHER_E_STORE);
	assert_int_equal(resp.status, 503);
	svc_resp_free(&resp);
	/* A handler that says OK but answers nothing is a 500, not a 200. */
	req = mkreq("GET", "/.well-known/brski/requestvoucher");
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 500);
	svc_resp_free(&resp);
}

static void test_client_cert_policy(void **state)
{
	struct svc_resp resp;
	struct svc_req req;
	const uint8_t der[] = {0x30, 0x00};
	struct svc_der chain[1] = {{der, sizeof(der)}};

	(void)state;
	svc_resp_init(&resp);
	calls = 0;
	/* Listener policy require: checked before routing. */
	req = mkreq("GET", "/nope");
	assert_int_equal(svc_route_dispatch(routes, N_ROUTES, true, &req, &resp), -1);
	assert_int_equal(resp.status, 401);
	assert_non_null(strstr(brski_buf_str(&resp.body), "certificate is required"));
	svc_resp_free(&resp);
	req.peer_chain = chain;
	req.peer_chain_len = 1;
	req.peer_status = SVC_PEER_UNTRUSTED;
	req.peer_reason = "the certificate issuer is unknown";
	svc_route_dispatch(routes, N_ROUTES, true, &req, &resp);
	assert_int_equal(resp.status, 403);
	assert_non_null(strstr(brski_buf_str(&resp.body), "issuer is unknown"));
	svc_resp_free(&resp);
	req.peer_status = SVC_PEER_TRUSTED;
	svc_route_dispatch(routes, N_ROUTES, true, &req, &resp);
	assert_int_equal(resp.status, 404);
	svc_resp_free(&resp);
	assert_int_equal(calls, 0);

	/* Route flag on a request-mode listener. */
	req = mkreq("POST", "/needcert");
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 401);
	svc_resp_free(&resp);
	req.peer_chain = chain;
	req.peer_chain_len = 1;
	req.peer_status = SVC_PEER_UNTRUSTED;
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 403);
	svc_resp_free(&resp);
	assert_int_equal(calls, 0);
	req.peer_status = SVC_PEER_TRUSTED;
	svc_route_dispatch(routes, N_ROUTES, false, &req, &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(calls, 1);
	svc_resp_free(&resp);
}

static void test_status_table(void **state)
{
	static const struct {
		voucher_err err;
		unsigned status;
	} cases[] = {
	        {VOUCHER_OK, 200},
	        {VOUCHER_E_MALFORMED, 400},
	        {VOUCHER_E_TRAILING_DATA, 400},
	        {VOUCHER_E_SCHEMA, 400},
	        {VOUCHER_E_UNAUTHENTICATED, 401},
	        {VOUCHER_E_SIG_INVALID, 403},
	        {VOUCHER_E_UNTRUSTED, 403},
	        {VOUCHER_E_FORBIDDEN, 403},
	        {VOUCHER_E_NOT_REGISTRAR, 403},
	        {VOUCHER_E_NOT_FOUND, 404},
	        {VOUCHER_E_CONFLICT, 409},
	        {VOUCHER_E_TOO_LARGE, 413},
	        {VOUCHER_E_CONTENT_TYPE, 415},
	        {VOUCHER_ENOMEM, 500},
	        {VOUCHER_E_CRYPTO, 500},
	        {VOUCHER_ENOTSUP, 501},
	        {VOUCHER_E_NETWORK, 502},
	        {VOUCHER_E_PEER, 502},
	        {VOUCHER_E_STORE, 503},
	        {VOUCHER_ETIMEDOUT, 504},
	        {-99999, 500},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (svc_http_status(cases[i].err) != cases[i].status)
			fail_msg("svc_http_status(%d) = %u, want %u", cases[i].err,
			         svc_http_status(cases[i].err), cases[i].status);
	}
	/* Every code in the error space maps to an error status. */
	for (voucher_err e = -1; e >= -1100; e--)
		assert_true(svc_http_status(e) >= 400);
	assert_string_equal(svc_http_reason(413), "Content Too Large");
	assert_string_equal(svc_http_reason(299), "");
}

static void test_resp_and_headers(void **state)
{
	struct svc_resp resp;
	const struct svc_kv hdrs[] = {{"Content-Type", "application/json"}, {"accept", "a/b"}};
	const struct svc_kv query[] = {{"serial", "123"}, {"flag", NULL}};
	struct svc_req req = mkreq("GET", "/");

	(void)state;
	svc_resp_init(&resp);
	assert_int_equal(svc_resp_header(&resp, "Location", "https://x/\r\nSet-Cookie: a"),
	                 VOUCHER_EINVAL);
	assert_int_equal(svc_resp_header(&resp, "Bad: name", "x"), VOUCHER_EINVAL);
	for (int i = 0; i < SVC_RESP_MAX_HEADERS; i++)
		assert_int_equal(svc_resp_header(&resp, "X-A", "b"), VOUCHER_OK);
	assert_int_equal(svc_resp_header(&resp, "X-A", "b"), VOUCHER_E_TOO_LARGE);
	assert_int_equal(svc_resp_text(&resp, 401, "retry in %d s", 60), VOUCHER_OK);
	assert_string_equal(brski_buf_str(&resp.body), "retry in 60 s\n");
	assert_int_equal(svc_resp_error(&resp, VOUCHER_E_NOT_FOUND, "device %s", "p-1"),
	                 VOUCHER_OK);
	assert_int_equal(resp.status, 404);
	assert_true(strncmp(brski_buf_str(&resp.body), "device p-1: ", 12) == 0);
	svc_resp_free(&resp);
	svc_resp_free(NULL);
	assert_int_equal(resp.n_headers, 0);

	req.headers = hdrs;
	req.n_headers = 2;
	req.query = query;
	req.n_query = 2;
	assert_string_equal(svc_req_header(&req, "content-type"), "application/json");
	assert_string_equal(svc_req_header(&req, "ACCEPT"), "a/b");
	assert_null(svc_req_header(&req, "Authorization"));
	assert_string_equal(svc_req_query(&req, "serial"), "123");
	assert_string_equal(svc_req_query(&req, "flag"), "");
	assert_null(svc_req_query(&req, "Serial"));
}

static void test_metrics(void **state)
{
	struct svc_metrics *m = NULL;
	struct brski_buf out;
	int a, b;

	(void)state;
	assert_int_equal(svc_metrics_new(&m), VOUCHER_OK);
	a = svc_metrics_route(m, "brski", "POST", "/.well-known/brski/requestvoucher");
	b = svc_metrics_route(m, "admin", "GET", "/path\"with\\quote");
	assert_true(a >= 0 && b > a);
	svc_metrics_request(m, a, 200, 300);
	svc_metrics_request(m, a, 200, 2000000);
	svc_metrics_request(m, a, 403, 50);
	svc_metrics_request(m, -1, 200, 1);  /* ignored */
	svc_metrics_request(m, 999, 200, 1); /* ignored */
	svc_metrics_inc(m, SVC_METRIC_STORE_ERRORS);
	svc_metrics_inc(m, SVC_METRIC_TLS_HANDSHAKE_FAILURES);
	svc_metrics_inc(m, SVC_METRIC_TLS_HANDSHAKE_FAILURES);
	assert_int_equal(svc_metrics_get_requests(m, a, 200), 2);
	assert_int_equal(svc_metrics_get_requests(m, a, 403), 1);
	assert_int_equal(svc_metrics_get(m, SVC_METRIC_TLS_HANDSHAKE_FAILURES), 2);

	brski_buf_init(&out, 1 << 20);
	assert_int_equal(svc_metrics_render(m, &out), VOUCHER_OK);
	const char *t = brski_buf_str(&out);
	assert_non_null(strstr(t, "brski_http_requests_total{listener=\"brski\",method=\"POST\","
	                          "route=\"/.well-known/brski/requestvoucher\",code=\"200\"} 2\n"));
	assert_non_null(strstr(t, "code=\"403\"} 1\n"));
	/* Cumulative buckets: 300us and 50us are under 0.5 ms, 2 s under 2.5 s. */
	assert_non_null(
	        strstr(t, "route=\"/.well-known/brski/requestvoucher\",le=\"0.000500\"} 2\n"));
	assert_non_null(
	        strstr(t, "route=\"/.well-known/brski/requestvoucher\",le=\"1.000000\"} 2\n"));
	assert_non_null(
	        strstr(t, "route=\"/.well-known/brski/requestvoucher\",le=\"2.500000\"} 3\n"));
	assert_non_null(strstr(t, "route=\"/.well-known/brski/requestvoucher\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(t, "_sum{listener=\"brski\",method=\"POST\","
	                          "route=\"/.well-known/brski/requestvoucher\"} 2.000350\n"));
	assert_non_null(strstr(t, "route=\"/path\\\"with\\\\quote\""));
	assert_non_null(strstr(t, "\nbrski_store_errors_total 1\n"));
	assert_non_null(strstr(t, "\nbrski_tls_handshake_failures_total 2\n"));
	/* Series without requests print no per-status line. */
	assert_null(strstr(
	        t, "listener=\"admin\",method=\"GET\",route=\"/path\\\"with\\\\quote\",code="));
	brski_buf_free(&out);
	svc_metrics_free(m);
	svc_metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_find),
	        cmocka_unit_test(test_dispatch),
	        cmocka_unit_test(test_client_cert_policy),
	        cmocka_unit_test(test_status_table),
	        cmocka_unit_test(test_resp_and_headers),
	        cmocka_unit_test(test_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
