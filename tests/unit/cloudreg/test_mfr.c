/* Unit tests of cloudregd's MASA routing: the [registrar] manufacturers
 * file (cloudreg/mfr.c: every refusal names file and line, the choice of
 * manufacturer by the pledge's chain) and the MASA calls that outlive their
 * 202 (cloudreg/pending.c) against a server that accepts TCP connections
 * and never answers. The end-to-end runs are test-cloudreg-masa.sh. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cloudreg/creg.h"
#include "tests/unit/voucher-lib/testpki.h"

struct fx {
	char *dir;
	struct tp_cert ca_a, ca_b, ca_c, leaf_a, leaf_b, leaf_c;
	char *a, *b, *c, *bundle; /* PEM files: CA A, CA B, CA C, A + B */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tp_opts ca = {.ca = 1}, leaf = {.serial_number = "p-1"};
	const struct tp_cert *ab[2];

	if (!f)
		return -1;
	f->dir = tp_tmpdir();
	tp_make(&f->ca_a, GNUTLS_PK_ECDSA, 256, "vendor A IDevID CA", NULL, &ca);
	tp_make(&f->ca_b, GNUTLS_PK_ECDSA, 256, "vendor B IDevID CA", NULL, &ca);
	/* C has A's name: only a signature check tells them apart. */
	tp_make(&f->ca_c, GNUTLS_PK_ECDSA, 256, "vendor A IDevID CA", NULL, &ca);
	tp_make(&f->leaf_a, GNUTLS_PK_ECDSA, 256, "p-1", &f->ca_a, &leaf);
	tp_make(&f->leaf_b, GNUTLS_PK_ECDSA, 256, "p-1", &f->ca_b, &leaf);
	tp_make(&f->leaf_c, GNUTLS_PK_ECDSA, 256, "p-1", &f->ca_c, &leaf);
	ab[0] = &f->ca_a;
	ab[1] = &f->ca_b;
	f->a = tp_write_chain(f->dir, "a.pem", ab, 1);
	f->b = tp_write_chain(f->dir, "b.pem", ab + 1, 1);
	{
		const struct tp_cert *c1[1] = {&f->ca_c};
		f->c = tp_write_chain(f->dir, "c.pem", c1, 1);
	}
	f->bundle = tp_write_chain(f->dir, "bundle.pem", ab, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tp_free(&f->ca_a);
	tp_free(&f->ca_b);
	tp_free(&f->ca_c);
	tp_free(&f->leaf_a);
	tp_free(&f->leaf_b);
	tp_free(&f->leaf_c);
	free(f->a);
	free(f->b);
	free(f->c);
	free(f->bundle);
	tp_rmdir(f->dir);
	free(f);
	return 0;
}

static char *write_file(const struct fx *f, const char *name, const char *text)
{
	size_t n = strlen(f->dir) + strlen(name) + 2;
	char *path = malloc(n);
	FILE *fp;

	assert_non_null(path);
	snprintf(path, n, "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void test_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "<path>" */
	} cases[] = {
	        {"ca = a.pem\n", ":1: 'ca' outside a [manufacturer] section"},
	        {"[a]\nca = a.pem\ncolour = red\n", ":3: unknown key 'colour' in [a]"},
	        {"[a]\nca = a.pem\nca = b.pem\n", ":3: 'ca' is set twice in [a]"},
	        {"[a]\nca = a.pem\n[b]\nca = b.pem\n[a]\nmasa_url = https://m.example\n",
	         ":6: manufacturer [a] is already defined at line 1"},
	        {"[a]\nca =\n", ":2: 'ca' in [a] is empty"},
	        {"[a]\nca = a.pem\nmasa_url = http://m.example\n",
	         ":3: masa_url 'http://m.example' in [a] is not an https:// URL"},
	        {"[a]\nmasa_url = https://m.example\n", ":1: manufacturer [a] has no 'ca'"},
	        {"; nothing\n", ": no [manufacturer] section"},
	        {"[a]\nthis is not ini\n", ":2: syntax error"},
	        {"[a]\nca = missing.pem\n", "failed to load ca"},
	        {"[a]\nca = a.pem\nmasa_trust = missing.pem\n", "failed to load masa_trust"},
	        {"[c]\nca = c.pem\n", "manufacturer [c] ca "},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_file(f, "m.conf", cases[i].text), err[600] = "";
		struct creg_mfrs *ms = (struct creg_mfrs *)1;
		voucher_err e = creg_mfrs_load(path, f->bundle, &ms, err, sizeof(err));
		if (e == VOUCHER_OK || !strstr(err, cases[i].want))
			fail_msg("case %zu: %d '%s', want '%s'", i, e, err, cases[i].want);
		assert_null(ms);
		/* Line-numbered messages start with the file's path. */
		if (cases[i].want[0] == ':')
			assert_true(strncmp(err, path, strlen(path)) == 0);
		free(path);
	}
	{
		char err[600] = "";
		struct creg_mfrs *ms = NULL;
		assert_int_equal(
		        creg_mfrs_load("/nonexistent/m.conf", f->bundle, &ms, err, sizeof(err)),
		        VOUCHER_E_CONFIG);
		assert_non_null(strstr(err, "cannot open"));
	}
}

static void test_select(void **state)
{
	struct fx *f = *state;
	char *path = write_file(f, "m.conf",
	                        "; two manufacturers\n"
	                        "[vendor-a]\n"
	                        "ca = a.pem\n"
	                        "masa_url = https://masa-a.example:8443\n"
	                        "\n"
	                        "[vendor-b]\n"
	                        "ca = b.pem\n"
	                        "masa_trust = b.pem\n");
	struct creg_mfrs *ms = NULL;
	const struct creg_mfr *m;
	char err[600] = "", want[1024];
	uint8_t *chain[2];
	size_t len[2];

	assert_int_equal(creg_mfrs_load(path, f->bundle, &ms, err, sizeof(err)), VOUCHER_OK);
	assert_non_null(ms);

	chain[0] = f->leaf_a.der.data;
	len[0] = f->leaf_a.der.size;
	m = creg_mfrs_select(ms, chain, len, 1);
	assert_non_null(m);
	assert_string_equal(creg_mfr_name(m), "vendor-a");
	assert_string_equal(creg_mfr_masa_url(m), "https://masa-a.example:8443");
	assert_null(creg_mfr_masa_trust(m));

	chain[0] = f->leaf_b.der.data;
	len[0] = f->leaf_b.der.size;
	/* The pledge may carry its CA too. */
	chain[1] = f->ca_b.der.data;
	len[1] = f->ca_b.der.size;
	m = creg_mfrs_select(ms, chain, len, 2);
	assert_non_null(m);
	assert_string_equal(creg_mfr_name(m), "vendor-b");
	assert_null(creg_mfr_masa_url(m));
	/* Relative paths are relative to the file. */
	snprintf(want, sizeof(want), "%s/b.pem", f->dir);
	assert_string_equal(creg_mfr_masa_trust(m), want);

	/* Same issuer name as A, another key: no manufacturer. */
	chain[0] = f->leaf_c.der.data;
	len[0] = f->leaf_c.der.size;
	assert_null(creg_mfrs_select(ms, chain, len, 1));
	/* Garbage and nothing. */
	chain[0] = (uint8_t *)"junk";
	len[0] = 4;
	assert_null(creg_mfrs_select(ms, chain, len, 1));
	assert_null(creg_mfrs_select(ms, chain, len, 0));
	assert_null(creg_mfrs_select(NULL, chain, len, 1));
	assert_null(creg_mfr_name(NULL));
	creg_mfrs_free(ms);
	creg_mfrs_free(NULL);
	free(path);
}

/* A server that completes TCP handshakes (the kernel does) and never reads
 * or answers: a MASA that is slow forever. */
static int silent_server(uint16_t *port)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_pending(void **state)
{
	struct creg_keys *k = calloc(1, sizeof(*k));
	struct creg_app *app = NULL;
	struct creg_pending *c1 = NULL, *c2 = NULL, *got = NULL;
	uint8_t h1[32], h2[32], h3[32], *rvr;
	uint16_t port;
	char url[128];
	uint64_t t0;
	int s = silent_server(&port);
	struct fx *f = *state;
	const struct tp_cert *leaf[1] = {&f->leaf_a};

	assert_non_null(k);
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	memset(h3, 3, sizeof(h3));
	k->refs = 1;
	/* Usable files: libcurl loads them before its TLS handshake, which
	 * the silent server never answers. */
	k->client_cert = tp_write_chain(f->dir, "client.pem", leaf, 1);
	k->client_key = tp_write_key(f->dir, "client.key", &f->leaf_a);
	k->masa_trust = strdup(f->a);
	k->masa_timeout = 1;
	k->masa_pending = 60;
	k->masa_pending_max = 2;
	k->max_inflight = 2;
	k->retry_after = 1;
	assert_int_equal(creg_app_new(NULL, NULL, k, &app), VOUCHER_OK);
	assert_int_equal(creg_pend_new(app, &app->pend), VOUCHER_OK);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/.well-known/brski/requestvoucher",
	         (unsigned)port);

	assert_int_equal(creg_pend_find(app, h1, "p-1", &got), VOUCHER_E_NOT_FOUND);
	assert_null(got);
	assert_non_null(rvr = malloc(4));
	memcpy(rvr, "rvr1", 4);
	assert_int_equal(creg_pend_start(app, k, h1, "p-1", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &c1),
	                 VOUCHER_OK);
	assert_null(rvr); /* taken */
	/* The MASA is slow: not answered within the pledge's wait. */
	t0 = now_ms();
	assert_false(creg_pend_wait(app, c1, 1));
	assert_true(now_ms() - t0 >= 900);
	/* The retry (same body, same pledge) finds the same call. */
	assert_int_equal(creg_pend_find(app, h1, "p-1", &got), VOUCHER_OK);
	assert_ptr_equal(got, c1);
	creg_pend_put(app, got);
	/* The same body from another certificate is not that call. */
	assert_int_equal(creg_pend_find(app, h1, "p-2", &got), VOUCHER_E_NOT_FOUND);

	/* Another serial: a second call; then both slots are busy. */
	assert_non_null(rvr = malloc(4));
	assert_int_equal(creg_pend_start(app, k, h2, "p-2", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &c2),
	                 VOUCHER_OK);
	assert_non_null(rvr = malloc(4));
	assert_int_equal(creg_pend_start(app, k, h3, "p-3", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &got),
	                 VOUCHER_EAGAIN);
	assert_null(got);
	free(rvr);

	/* p-1 with another nonce (another body) replaces its pending call:
	 * the old body is no longer found. Both slots are still busy (the
	 * replaced call runs to its end), so the new one must wait. */
	assert_non_null(rvr = malloc(4));
	assert_int_equal(creg_pend_start(app, k, h3, "p-1", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &got),
	                 VOUCHER_EAGAIN);
	free(rvr);
	assert_int_equal(creg_pend_find(app, h1, "p-1", &got), VOUCHER_E_NOT_FOUND);

	/* Stopping cancels the calls in libcurl at once (not after
	 * masa_pending); the references we hold stay valid until put. */
	t0 = now_ms();
	creg_pend_put(app, c1);
	creg_pend_put(app, c2);
	creg_pend_free(app->pend);
	app->pend = NULL;
	assert_true(now_ms() - t0 < 10000);
	creg_app_free(app);
	close(s);
}

/* A MASA that refuses the connection: the call ends, the answer goes to the
 * request that waits, and the call leaves the table. */
static void test_pending_answered(void **state)
{
	struct creg_keys *k = calloc(1, sizeof(*k));
	struct creg_app *app = NULL;
	struct creg_pending *c = NULL, *got = NULL;
	const struct creg_masa_result *res = NULL;
	const char *asked = NULL;
	uint8_t h[32], *rvr;
	uint16_t port;
	char url[128];
	int s = silent_server(&port);

	(void)state;
	/* A closed port: bind, learn it, close it. */
	close(s);
	assert_non_null(k);
	memset(h, 7, sizeof(h));
	k->refs = 1;
	k->client_cert = strdup("/nonexistent/registrar.pem");
	k->client_key = strdup("/nonexistent/registrar.key");
	k->masa_trust = strdup("/nonexistent/masa-trust.pem");
	k->masa_timeout = 10;
	k->masa_pending = 60;
	k->masa_pending_max = 8;
	k->max_inflight = 1;
	assert_int_equal(creg_app_new(NULL, NULL, k, &app), VOUCHER_OK);
	assert_int_equal(creg_pend_new(app, &app->pend), VOUCHER_OK);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/.well-known/brski/requestvoucher",
	         (unsigned)port);
	assert_non_null(rvr = malloc(4));
	assert_int_equal(creg_pend_start(app, k, h, "p-1", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &c),
	                 VOUCHER_OK);
	assert_true(creg_pend_wait(app, c, 10));
	assert_int_equal(creg_pend_outcome(c, &res, &asked), VOUCHER_E_NETWORK);
	assert_int_equal(res->outcome, CREG_MASA_UNREACHABLE);
	assert_string_equal(asked, url);
	/* Fetched: the same body again is a new call. */
	assert_int_equal(creg_pend_find(app, h, "p-1", &got), VOUCHER_E_NOT_FOUND);
	creg_pend_put(app, c);
	/* The worker is idle again: the next call reuses it. */
	assert_non_null(rvr = malloc(4));
	assert_int_equal(creg_pend_start(app, k, h, "p-1", url, k->masa_trust,
	                                 "application/voucher-cms+json", "*/*", &rvr, 4, &c),
	                 VOUCHER_OK);
	assert_true(creg_pend_wait(app, c, 10));
	creg_pend_put(app, c);
	creg_pend_free(app->pend);
	app->pend = NULL;
	creg_app_free(app);
}

/* Many request threads on few pledges at once, against a MASA that
 * refuses connections: joins, replacements, answers and puts race; run
 * under the sanitizers this finds reference-count mistakes. */
struct stress {
	struct creg_app *app;
	struct creg_keys *k;
	const char *url;
	unsigned seed;
	unsigned answered, refused;
};

static void *stress_thread(void *arg)
{
	struct stress *st = arg;
	static const char *const serials[] = {"p-1", "p-2", "p-3"};

	for (int i = 0; i < 150; i++) {
		struct creg_pending *c = NULL;
		uint8_t h[32], *rvr;
		unsigned r = (unsigned)rand_r(&st->seed);
		const char *serial = serials[r % 3];

		memset(h, (int)((r / 3) % 2), sizeof(h));
		h[0] = (uint8_t)(r % 3);
		if (creg_pend_find(st->app, h, serial, &c) != VOUCHER_OK) {
			if (!(rvr = malloc(4)))
				return NULL;
			if (creg_pend_start(st->app, st->k, h, serial, st->url, st->k->masa_trust,
			                    "application/voucher-cms+json", "*/*", &rvr, 4,
			                    &c) != VOUCHER_OK) {
				free(rvr);
				st->refused++;
				continue;
			}
		}
		if (creg_pend_wait(st->app, c, 5))
			st->answered++;
		creg_pend_put(st->app, c);
	}
	return NULL;
}

static void test_pending_stress(void **state)
{
	struct creg_keys *k = calloc(1, sizeof(*k));
	struct creg_app *app = NULL;
	struct stress st[6];
	pthread_t th[6];
	unsigned answered = 0;
	uint16_t port;
	char url[128];
	int s = silent_server(&port);

	(void)state;
	close(s);
	assert_non_null(k);
	k->refs = 1;
	k->client_cert = strdup("/nonexistent/registrar.pem");
	k->client_key = strdup("/nonexistent/registrar.key");
	k->masa_trust = strdup("/nonexistent/masa-trust.pem");
	k->masa_timeout = 5;
	k->masa_pending = 1;
	k->masa_pending_max = 4;
	k->max_inflight = 3;
	assert_int_equal(creg_app_new(NULL, NULL, k, &app), VOUCHER_OK);
	assert_int_equal(creg_pend_new(app, &app->pend), VOUCHER_OK);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/.well-known/brski/requestvoucher",
	         (unsigned)port);
	for (unsigned i = 0; i < 6; i++) {
		st[i] = (struct stress){app, k, url, i + 1, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &st[i]), 0);
	}
	for (unsigned i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		answered += st[i].answered;
	}
	/* Each call ends at once (connection refused): most waits see it. */
	assert_true(answered > 0);
	creg_pend_free(app->pend);
	app->pend = NULL;
	creg_app_free(app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_select),
	        cmocka_unit_test(test_pending),        cmocka_unit_test(test_pending_answered),
	        cmocka_unit_test(test_pending_stress),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
