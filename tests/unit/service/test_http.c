/* The HTTPS listener on loopback, driven by libcurl (GnuTLS): routing,
 * body limits, client-certificate policy and verification, channel
 * binding as both ends see it, swapping credentials and trust anchors,
 * handshake-failure metrics, quiesce. Certificates are made at run time. */
#include <config.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "service/http.h"
#include "service/log.h"
#include "testcert.h"

static char dir[512];
static struct testcert ca1, ca2, srv1, srv2, cli1, cli2, cli3;

struct client_view {
	unsigned char cb[64];
	size_t cb_len;
	int tls_version;
	char server_serial[32];
};

struct result {
	long status;
	struct brski_buf body;
	struct brski_buf headers;
	struct client_view view;
	CURLcode curl;
};

struct call {
	const char *method;
	const char *path;
	size_t body_len; /* bytes of 'a' to send */
	bool chunked;
	const struct testcert *cert;
	long tls; /* CURL_SSLVERSION_* with max, 0 = default */
	uint16_t port;
	const char *content_type; /* NULL: application/test */
};

static void hex(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < n && i * 2 + 2 < outlen; i++)
		snprintf(out + i * 2, 3, "%02x", p[i]);
}

/* ---- server side ---------------------------------------------------- */

static voucher_err h_info(const struct svc_req *req, struct svc_resp *resp)
{
	char cb[140];

	hex(req->cb_data ? req->cb_data : (const uint8_t *)"", req->cb_len, cb, sizeof(cb));
	return svc_resp_text(resp, 200, "peer=%d tls=%04x cbtype=%d cb=%s chain=%zu subject=%s",
	                     (int)req->peer_status, req->tls_version, (int)req->cb_type, cb,
	                     req->peer_chain_len, req->peer_subject ? req->peer_subject : "-");
}

static voucher_err h_echo(const struct svc_req *req, struct svc_resp *resp)
{
	const char *ct = svc_req_header(req, "content-type");

	if (!ct || strcmp(ct, "application/test") != 0)
		return VOUCHER_E_CONTENT_TYPE;
	return svc_resp_set(resp, 200, "application/test", req->body, req->body_len);
}

/* A request that is still in progress when the listener drains. */
static voucher_err h_slow(const struct svc_req *req, struct svc_resp *resp)
{
	struct timespec t = {0, 400 * 1000 * 1000};

	nanosleep(&t, NULL);
	return svc_resp_text(resp, 200, "slow");
}

static const struct svc_route routes[] = {
        {"GET", "/info", 0, h_info},
        {"POST", "/echo", SVC_ROUTE_BODY, h_echo},
        {"GET", "/slow", 0, h_slow},
};

/* Accept exactly cli2's leaf, as an application verifier would accept a
 * registrar whose owner's CA is in the store. */
static voucher_err verify_cli2(void *ctx, const struct svc_der *chain, size_t n, char *reason,
                               size_t reason_len)
{
	gnutls_datum_t der = {NULL, 0};
	voucher_err r = VOUCHER_E_UNTRUSTED;

	(void)ctx;
	if (gnutls_x509_crt_export2(cli2.crt, GNUTLS_X509_FMT_DER, &der) >= 0 && n >= 1 &&
	    chain[0].len == der.size && memcmp(chain[0].data, der.data, der.size) == 0)
		r = VOUCHER_OK;
	else
		snprintf(reason, reason_len, "not the one certificate the verifier knows");
	gnutls_free(der.data);
	return r;
}

static struct svc_metrics *metrics;
static struct svc_http *lst_request, *lst_require;
static struct svc_creds *creds1, *creds2;
static struct svc_trust *trust1;

static int setup(void **state)
{
	char err[512] = "";
	struct svc_http_opts o = {0};

	(void)state;
	svc_log_set_level(SVC_LOG_ERROR);
	if (testcert_tmpdir(dir, sizeof(dir)) != 0 ||
	    testcert_make(&ca1, NULL, dir, "ca1", "CA one", true, 1) != 0 ||
	    testcert_make(&ca2, NULL, dir, "ca2", "CA two", true, 2) != 0 ||
	    testcert_make(&srv1, &ca1, dir, "srv1", "server one", false, 0x1010) != 0 ||
	    testcert_make(&srv2, &ca1, dir, "srv2", "server two", false, 0x2020) != 0 ||
	    testcert_make(&cli1, &ca1, dir, "cli1", "client one", false, 0x31) != 0 ||
	    testcert_make(&cli2, &ca2, dir, "cli2", "client two", false, 0x32) != 0 ||
	    testcert_make(&cli3, &ca2, dir, "cli3", "client three", false, 0x33) != 0)
		return -1;
	if (svc_creds_load(srv1.cert_path, srv1.key_path, &creds1, err, sizeof(err)) !=
	            VOUCHER_OK ||
	    svc_creds_load(srv2.cert_path, srv2.key_path, &creds2, err, sizeof(err)) !=
	            VOUCHER_OK ||
	    svc_trust_new(&trust1) != VOUCHER_OK ||
	    svc_trust_add_file(trust1, ca1.cert_path, err, sizeof(err)) != VOUCHER_OK ||
	    svc_metrics_new(&metrics) != VOUCHER_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	o.name = "request";
	o.host = "127.0.0.1";
	o.client_cert = SVC_CLIENT_CERT_REQUEST;
	o.max_body = 1024;
	o.threads = 2;
	o.routes = routes;
	o.n_routes = sizeof(routes) / sizeof(routes[0]);
	o.creds = creds1;
	o.trust = trust1;
	o.metrics = metrics;
	if (svc_http_start(&o, &lst_request, err, sizeof(err)) != VOUCHER_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	o.name = "require";
	o.client_cert = SVC_CLIENT_CERT_REQUIRE;
	o.trust = NULL;
	o.verifier = verify_cli2;
	if (svc_http_start(&o, &lst_require, err, sizeof(err)) != VOUCHER_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	svc_http_stop(lst_request);
	svc_http_stop(lst_require);
	svc_creds_unref(creds1);
	svc_creds_unref(creds2);
	svc_trust_unref(trust1);
	svc_metrics_free(metrics);
	testcert_free(&ca1);
	testcert_free(&ca2);
	testcert_free(&srv1);
	testcert_free(&srv2);
	testcert_free(&cli1);
	testcert_free(&cli2);
	testcert_free(&cli3);
	testcert_rmdir(dir);
	curl_global_cleanup();
	return 0;
}

/* ---- client side ------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct brski_buf *b = ud;
	return brski_buf_put(b, p, size * n) == VOUCHER_OK ? size * n : 0;
}

struct upload {
	size_t left;
};

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = size * n < u->left ? size * n : u->left;

	memset(p, 'a', k);
	u->left -= k;
	return k;
}

/* Runs after the handshake, before the request: the client's view of the
 * session (STYLE.md note 5). */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
	CURL *c = ud;
	struct result *res = NULL;
	const struct curl_tlssessioninfo *ti = NULL;

	curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&res);
	if (curl_easy_getinfo(c, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
	    ti->backend != CURLSSLBACKEND_GNUTLS || !ti->internals)
		return CURL_PREREQFUNC_OK;
	gnutls_session_t s = ti->internals;
	gnutls_datum_t cb = {NULL, 0};
	bool v13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;
	res->view.tls_version = v13 ? 0x0304 : 0x0303;
	if (gnutls_session_channel_binding(s, v13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE,
	                                   &cb) >= 0 &&
	    cb.size <= sizeof(res->view.cb)) {
		memcpy(res->view.cb, cb.data, cb.size);
		res->view.cb_len = cb.size;
	}
	gnutls_free(cb.data);
	unsigned n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;
	if (peers && n && gnutls_x509_crt_init(&crt) >= 0) {
		unsigned char ser[20];
		size_t sl = sizeof(ser);
		if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_crt_get_serial(crt, ser, &sl) >= 0)
			hex(ser, sl, res->view.server_serial, sizeof(res->view.server_serial));
		gnutls_x509_crt_deinit(crt);
	}
	return CURL_PREREQFUNC_OK;
}

static void perform(const struct call *call, struct result *res)
{
	CURL *c = curl_easy_init();
	char url[256];
	struct curl_slist *hdrs = NULL;
	struct upload up = {call->body_len};

	memset(res, 0, sizeof(*res));
	brski_buf_init(&res->body, 1 << 20);
	brski_buf_init(&res->headers, 1 << 16);
	assert_non_null(c);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", (unsigned)call->port, call->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca1.cert_path);
	curl_easy_setopt(c, CURLOPT_PRIVATE, res);
	curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(c, CURLOPT_PREREQDATA, c);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &res->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (call->tls)
		curl_easy_setopt(c, CURLOPT_SSLVERSION, call->tls);
	if (call->cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, call->cert->cert_path);
		curl_easy_setopt(c, CURLOPT_SSLKEY, call->cert->key_path);
	}
	char ctype[128];
	snprintf(ctype, sizeof(ctype), "Content-Type: %s",
	         call->content_type ? call->content_type : "application/test");
	hdrs = curl_slist_append(hdrs, ctype);
	/* Small bodies go at once; large ones with curl's Expect: 100-continue,
	 * so a 413 decided from the headers arrives before the body is sent
	 * (the server answers early and closes, it does not read 10 MiB). */
	if (call->body_len < 64 * 1024)
		hdrs = curl_slist_append(hdrs, "Expect:");
	if (call->chunked)
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(call->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		if (!call->chunked)
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)call->body_len);
	} else if (strcmp(call->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
	}
	res->curl = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void result_free(struct result *res)
{
	brski_buf_free(&res->body);
	brski_buf_free(&res->headers);
}

#define TLS12 (CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)
#define TLS13 (CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3)

static void expect_status(const struct call *call, long status, const char *body_has)
{
	struct result res;

	perform(call, &res);
	if (res.curl != CURLE_OK)
		fail_msg("%s %s: %s", call->method, call->path, curl_easy_strerror(res.curl));
	if (res.status != status || (body_has && !strstr(brski_buf_str(&res.body), body_has)))
		fail_msg("%s %s: %ld '%s', want %ld with '%s'", call->method, call->path,
		         res.status, brski_buf_str(&res.body), status, body_has ? body_has : "");
	result_free(&res);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_channel_binding_and_versions(void **state)
{
	const long versions[] = {TLS12, TLS13};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct call call = {
		        "GET", "/info", 0, false, NULL, versions[i], svc_http_port(lst_request),
		        NULL};
		struct result res;
		char want[300], cbhex[140];

		perform(&call, &res);
		assert_int_equal(res.curl, CURLE_OK);
		assert_int_equal(res.status, 200);
		/* Both ends derive the same binding: tls-unique (12 bytes) under
		 * 1.2, tls-exporter (32 bytes) under 1.3. */
		assert_int_equal(res.view.cb_len, i == 0 ? 12 : 32);
		hex(res.view.cb, res.view.cb_len, cbhex, sizeof(cbhex));
		snprintf(want, sizeof(want), "peer=0 tls=%04x cbtype=%d cb=%s chain=0 subject=-\n",
		         res.view.tls_version, i == 0 ? SVC_CB_TLS_UNIQUE : SVC_CB_TLS_EXPORTER,
		         cbhex);
		assert_int_equal(res.view.tls_version, i == 0 ? 0x0303 : 0x0304);
		assert_string_equal(brski_buf_str(&res.body), want);
		/* every answer carries the request id of its log line */
		assert_non_null(strstr(brski_buf_str(&res.headers), "X-Request-Id: "));
		result_free(&res);
	}
}

static void test_routing(void **state)
{
	struct call call = {"GET", "/nothing", 0, false, NULL, 0, svc_http_port(lst_request), NULL};
	struct result res;

	(void)state;
	expect_status(&call, 404, "no such resource: /nothing");
	call.method = "DELETE";
	call.path = "/echo";
	perform(&call, &res);
	assert_int_equal(res.status, 405);
	assert_non_null(strstr(brski_buf_str(&res.headers), "Allow: POST"));
	result_free(&res);
}

static void test_body_limits(void **state)
{
	struct call call = {"POST", "/echo", 1024, false, NULL, 0, svc_http_port(lst_request),
	                    NULL};
	struct result res;

	(void)state;
	perform(&call, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.len, 1024);
	result_free(&res);
	/* Content-Length over the limit: refused before the body is read. */
	call.body_len = 1025;
	expect_status(&call, 413, "1025 bytes is over the limit of 1024");
	call.body_len = 10 * 1024 * 1024;
	expect_status(&call, 413, "over the limit");
	/* Chunked: counted while it arrives. */
	call.chunked = true;
	call.body_len = 900;
	perform(&call, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.len, 900);
	result_free(&res);
	call.body_len = 5000;
	expect_status(&call, 413, "over the limit of 1024 bytes");
	/* A handler's error comes out through svc_http_status. */
	call.chunked = false;
	call.body_len = 10;
	call.content_type = "application/json";
	expect_status(&call, 415, voucher_strerror(VOUCHER_E_CONTENT_TYPE));
}

static void test_client_cert_request(void **state)
{
	struct call call = {"GET", "/info", 0, false, NULL, 0, svc_http_port(lst_request), NULL};
	const long versions[] = {TLS12, TLS13};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		call.tls = versions[i];
		call.cert = NULL;
		expect_status(&call, 200, "peer=0 ");
		call.cert = &cli1;
		expect_status(&call, 200, "peer=1 ");
		expect_status(&call, 200, "chain=2 subject=CN=client one");
		call.cert = &cli2; /* another CA: handed over, marked untrusted */
		expect_status(&call, 200, "peer=2 ");
	}
}

static void test_client_cert_require(void **state)
{
	struct call call = {"GET", "/info", 0, false, NULL, 0, svc_http_port(lst_require), NULL};
	const long versions[] = {TLS12, TLS13};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		call.tls = versions[i];
		call.cert = NULL;
		expect_status(&call, 401, "client certificate is required");
		/* No anchors: cli1 is unknown here; the handshake completes
		 * and the answer says why. */
		call.cert = &cli1;
		expect_status(&call, 403, "not the one certificate the verifier knows");
		/* The application verifier accepts cli2 but not cli3. */
		call.cert = &cli2;
		expect_status(&call, 200, "peer=1 ");
		call.cert = &cli3;
		expect_status(&call, 403, "not accepted");
		/* Unknown paths stay hidden from unauthenticated peers. */
		call.path = "/nothing";
		call.cert = NULL;
		expect_status(&call, 401, NULL);
		call.path = "/info";
	}
	/* A verifier swapped out at run time no longer accepts cli2. */
	call.cert = &cli2;
	svc_http_set_verifier(lst_require, NULL, NULL);
	expect_status(&call, 403, "no trust anchors");
	svc_http_set_verifier(lst_require, verify_cli2, NULL);
	expect_status(&call, 200, "peer=1 ");
	/* Anchors swapped in at run time apply to the next request. */
	svc_http_set_trust(lst_require, trust1);
	call.cert = &cli1;
	expect_status(&call, 200, "peer=1 ");
	svc_http_set_trust(lst_require, NULL);
	expect_status(&call, 403, NULL);
}

static void test_swap_credentials(void **state)
{
	struct call call = {"GET", "/info", 0, false, NULL, TLS13, svc_http_port(lst_request),
	                    NULL};
	struct result res;

	(void)state;
	perform(&call, &res);
	assert_string_equal(res.view.server_serial, "1010");
	result_free(&res);
	svc_http_set_creds(lst_request, creds2);
	for (size_t i = 0; i < 2; i++) {
		call.tls = i ? TLS13 : TLS12;
		perform(&call, &res);
		assert_int_equal(res.status, 200);
		assert_string_equal(res.view.server_serial, "2020");
		result_free(&res);
	}
	svc_http_set_creds(lst_request, creds1);
	perform(&call, &res);
	assert_string_equal(res.view.server_serial, "1010");
	result_free(&res);
}

static void test_metrics_and_handshake_failures(void **state)
{
	struct call call = {"GET",
	                    "/info",
	                    0,
	                    false,
	                    NULL,
	                    CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1,
	                    svc_http_port(lst_request),
	                    NULL};
	struct result res;
	uint64_t before = svc_metrics_get(metrics, SVC_METRIC_TLS_HANDSHAKE_FAILURES);
	struct timespec tick = {0, 10 * 1000 * 1000};

	(void)state;
	/* Every handshake so far completed (untrusted client certificates
	 * included): none is a failure. */
	assert_int_equal(before, 0);
	perform(&call, &res);
	assert_int_not_equal(res.curl, CURLE_OK); /* TLS 1.1 is refused */
	result_free(&res);
	/* The count happens when the server closes the connection. */
	for (int i = 0;
	     i < 200 && svc_metrics_get(metrics, SVC_METRIC_TLS_HANDSHAKE_FAILURES) == before; i++)
		nanosleep(&tick, NULL);
	assert_true(svc_metrics_get(metrics, SVC_METRIC_TLS_HANDSHAKE_FAILURES) > before);

	struct brski_buf out;
	brski_buf_init(&out, 1 << 20);
	assert_int_equal(svc_metrics_render(metrics, &out), VOUCHER_OK);
	assert_non_null(strstr(brski_buf_str(&out),
	                       "brski_http_requests_total{listener=\"request\",method=\"-\","
	                       "route=\"unmatched\",code=\"413\"} 2\n"));
	/* A chunked body over the limit is found while reading: by then the
	 * route is known. */
	assert_non_null(strstr(brski_buf_str(&out),
	                       "brski_http_requests_total{listener=\"request\",method=\"POST\","
	                       "route=\"/echo\",code=\"413\"} 1\n"));
	assert_non_null(strstr(brski_buf_str(&out),
	                       "brski_http_requests_total{listener=\"require\",method=\"-\","
	                       "route=\"unmatched\",code=\"401\"} 4\n"));
	brski_buf_free(&out);
}

static void *slow_thread(void *arg)
{
	static const struct call call = {"GET", "/slow", 0, false, NULL, 0, 0, NULL};
	struct result *res = arg;
	struct call c = call;

	c.port = svc_http_port(lst_request);
	perform(&c, res);
	return NULL;
}

static void test_quiesce(void **state)
{
	struct call call = {"GET", "/info", 0, false, NULL, 0, svc_http_port(lst_request), NULL};
	struct timespec tick = {0, 5 * 1000 * 1000};
	struct result slow, res;
	pthread_t th;
	int i;

	(void)state;
	assert_int_equal(svc_http_inflight(lst_request), 0);
	assert_int_equal(pthread_create(&th, NULL, slow_thread, &slow), 0);
	for (i = 0; i < 400 && svc_http_inflight(lst_request) == 0; i++)
		nanosleep(&tick, NULL);
	if (svc_http_inflight(lst_request) != 1) {
		pthread_join(th, NULL);
		fail_msg("slow request not seen in flight: curl %d status %ld '%s'", slow.curl,
		         slow.status, brski_buf_str(&slow.body));
	}
	/* Drain: no new connections, the request in progress finishes and is
	 * told to close its connection. */
	svc_http_quiesce(lst_request);
	svc_http_quiesce(lst_request); /* idempotent */
	perform(&call, &res);
	assert_int_equal(res.curl, CURLE_COULDNT_CONNECT);
	result_free(&res);
	pthread_join(th, NULL);
	assert_int_equal(slow.curl, CURLE_OK);
	assert_int_equal(slow.status, 200);
	assert_string_equal(brski_buf_str(&slow.body), "slow\n");
	assert_non_null(strstr(brski_buf_str(&slow.headers), "Connection: close"));
	result_free(&slow);
	for (i = 0; i < 400 && svc_http_inflight(lst_request) != 0; i++)
		nanosleep(&tick, NULL);
	assert_int_equal(svc_http_inflight(lst_request), 0);
}

static void test_tls_material(void **state)
{
	struct svc_creds *c = NULL;
	struct svc_trust *t = NULL;
	char err[512] = "";
	gnutls_datum_t leaf1 = {NULL, 0}, leaf2 = {NULL, 0};
	char bogus_path[600];

	(void)state;
	/* A key that is not the leaf's is refused with a reason. */
	assert_int_equal(svc_creds_load(srv1.cert_path, srv2.key_path, &c, err, sizeof(err)),
	                 VOUCHER_E_KEY);
	assert_null(c);
	assert_non_null(strstr(err, "does not belong"));
	assert_int_equal(svc_creds_load("/nonexistent.crt", srv1.key_path, &c, err, sizeof(err)),
	                 VOUCHER_EIO);
	assert_non_null(strstr(err, "/nonexistent.crt"));
	testcert_write(dir, "bogus.pem",
	               "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", bogus_path,
	               sizeof(bogus_path));
	assert_int_equal(svc_creds_load(bogus_path, srv1.key_path, &c, err, sizeof(err)),
	                 VOUCHER_E_CERT);
	assert_int_equal(svc_creds_load(srv1.cert_path, srv1.cert_path, &c, err, sizeof(err)),
	                 VOUCHER_E_KEY);
	assert_int_equal(svc_creds_load(srv1.cert_path, srv1.key_path, &c, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(svc_creds_serial(c), "1010");
	svc_creds_unref(c);
	svc_creds_unref(NULL);

	/* Verification against a set of anchors. */
	assert_int_equal(gnutls_x509_crt_export2(cli1.crt, GNUTLS_X509_FMT_DER, &leaf1), 0);
	assert_int_equal(gnutls_x509_crt_export2(cli2.crt, GNUTLS_X509_FMT_DER, &leaf2), 0);
	struct svc_der chain1[1] = {{leaf1.data, leaf1.size}};
	struct svc_der chain2[1] = {{leaf2.data, leaf2.size}};
	struct svc_der junk[1] = {{(const uint8_t *)"\x30\x03\x02\x01\x01", 5}};
	struct svc_der many[BRSKI_MAX_CERT_CHAIN + 1];
	for (size_t i = 0; i < BRSKI_MAX_CERT_CHAIN + 1; i++)
		many[i] = chain1[0];
	assert_int_equal(svc_trust_verify(trust1, chain1, 1, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(svc_trust_verify(trust1, chain2, 1, err, sizeof(err)),
	                 VOUCHER_E_UNTRUSTED);
	assert_non_null(strstr(err, "issuer is unknown"));
	assert_int_equal(svc_trust_verify(trust1, junk, 1, err, sizeof(err)), VOUCHER_E_CERT);
	assert_int_equal(svc_trust_verify(trust1, many, BRSKI_MAX_CERT_CHAIN + 1, err, sizeof(err)),
	                 VOUCHER_E_TOO_LARGE);
	assert_int_equal(svc_trust_verify(trust1, chain1, 0, err, sizeof(err)),
	                 VOUCHER_E_UNAUTHENTICATED);
	assert_int_equal(svc_trust_verify(NULL, chain1, 1, err, sizeof(err)), VOUCHER_E_UNTRUSTED);
	assert_non_null(strstr(err, "no trust anchors"));
	assert_int_equal(svc_trust_new(&t), VOUCHER_OK);
	assert_int_equal(svc_trust_add_file(t, bogus_path, err, sizeof(err)), VOUCHER_E_CERT);
	assert_int_equal(svc_trust_add_file(t, ca2.cert_path, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(svc_trust_count(t), 1);
	assert_int_equal(svc_trust_verify(t, chain2, 1, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(svc_trust_verify(t, chain1, 1, err, sizeof(err)), VOUCHER_E_UNTRUSTED);
	svc_trust_unref(t);
	gnutls_free(leaf1.data);
	gnutls_free(leaf2.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tls_material),
	        cmocka_unit_test(test_channel_binding_and_versions),
	        cmocka_unit_test(test_routing),
	        cmocka_unit_test(test_body_limits),
	        cmocka_unit_test(test_client_cert_request),
	        cmocka_unit_test(test_client_cert_require),
	        cmocka_unit_test(test_swap_credentials),
	        cmocka_unit_test(test_metrics_and_handshake_failures),
	        cmocka_unit_test(test_quiesce),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
