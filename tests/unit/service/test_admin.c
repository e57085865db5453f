/*
 * The admin API framework without sockets: requests are built by hand and
 * served by svc_admin_serve against svc_admin_table and a fresh store per
 * case: a SQLite file in a temp dir, or, when tests/integration/
 * test-admin.sh runs this program with BRSKI_TEST_PG_URI (maintenance
 * database) and BRSKI_TEST_PG_URI_BASE (URI without a database name), a new
 * database on its private PostgreSQL server.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>
#ifdef HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

#include "common/compat.h"
#include "service/admin.h"
#include "service/store.h"

/* ld --wrap=timingsafe_bcmp: every call from the framework comes here. */
int __real_timingsafe_bcmp(const void *a, const void *b, size_t n);
int __wrap_timingsafe_bcmp(const void *a, const void *b, size_t n);
static unsigned ct_calls;
int __wrap_timingsafe_bcmp(const void *a, const void *b, size_t n)
{
	ct_calls++;
	return __real_timingsafe_bcmp(a, b, n);
}

static char tmpdir[256];
static unsigned dbseq;
static const char *pg_base;  /* set: the PostgreSQL run */
static const char *pg_admin; /* its maintenance database */

struct fx {
	char db[300];
	struct store *s;
	char admin[SVC_ADMIN_MAX_TOKEN + 1]; /* bootstrap token text */
};

/* ---- helpers ------------------------------------------------------------ */

struct call {
	struct svc_resp resp;
	json_t *json; /* the parsed body, when it is JSON */
};

static void call_free(struct call *c)
{
	svc_resp_free(&c->resp);
	json_decref(c->json);
	memset(c, 0, sizeof(*c));
}

/* Serve one request. query is "a=b&c=d" or NULL; ctype NULL with a body
 * means application/json. */
static unsigned serve(struct fx *f, struct call *out, const char *method, const char *path,
                      const char *query, const char *token, const char *ctype, const char *body,
                      size_t body_len)
{
	struct svc_kv headers[4], q[16];
	char auth[SVC_ADMIN_MAX_TOKEN + 32], qbuf[1024];
	struct svc_req req = {0};
	size_t nh = 0, nq = 0;

	memset(out, 0, sizeof(*out));
	svc_resp_init(&out->resp);
	if (token) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		headers[nh++] = (struct svc_kv){"Authorization", auth};
	}
	if (body)
		headers[nh++] = (struct svc_kv){"Content-Type", ctype ? ctype : "application/json"};
	if (query) {
		char *save = NULL;
		snprintf(qbuf, sizeof(qbuf), "%s", query);
		for (char *kv = strtok_r(qbuf, "&", &save); kv && nq < 16;
		     kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (eq)
				*eq = '\0';
			q[nq++] = (struct svc_kv){kv, eq ? eq + 1 : ""};
		}
	}
	req.method = method;
	req.path = path;
	req.headers = headers;
	req.n_headers = nh;
	req.query = q;
	req.n_query = nq;
	req.body = (const uint8_t *)body;
	req.body_len = body ? (body_len ? body_len : strlen(body)) : 0;
	req.request_id = "test";
	svc_admin_serve(svc_admin_table, svc_admin_table_len, f->s, &req, &out->resp);
	if (out->resp.body.len)
		out->json =
		        json_loadb((const char *)out->resp.body.data, out->resp.body.len, 0, NULL);
	return out->resp.status;
}

static const char *resp_header(const struct call *c, const char *name)
{
	for (size_t i = 0; i < c->resp.n_headers; i++)
		if (strcasecmp(c->resp.headers[i].name, name) == 0)
			return c->resp.headers[i].value;
	return NULL;
}

/* A problem+json answer with this status and code, whose detail holds
 * each of the NULL-terminated strings. */
static void check_problem(const struct call *c, unsigned status, const char *code, ...)
{
	const char *s;
	va_list ap;

	assert_int_equal(c->resp.status, status);
	assert_string_equal(c->resp.content_type, SVC_ADMIN_PROBLEM_TYPE);
	assert_non_null(c->json);
	assert_string_equal(json_string_value(json_object_get(c->json, "type")), "about:blank");
	assert_int_equal(json_integer_value(json_object_get(c->json, "status")), status);
	assert_non_null(json_string_value(json_object_get(c->json, "title")));
	assert_string_equal(json_string_value(json_object_get(c->json, "code")), code);
	va_start(ap, code);
	while ((s = va_arg(ap, const char *)) != NULL) {
		const char *detail = json_string_value(json_object_get(c->json, "detail"));
		if (!detail || !strstr(detail, s))
			fail_msg("detail '%s' does not mention '%s'", detail ? detail : "", s);
	}
	va_end(ap);
}

/* Create a token through the API; its text goes to text, its id returned. */
static int64_t make_token(struct fx *f, const char *name, const char *scope, const char *owner,
                          char *text, size_t len)
{
	struct call c;
	char body[256];
	int64_t id;

	if (owner)
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"scope\":\"%s\",\"owner\":\"%s\"}",
		         name, scope, owner);
	else
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"scope\":\"%s\"}", name, scope);
	assert_int_equal(serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL, body, 0),
	                 201);
	assert_non_null(c.json);
	id = json_integer_value(json_object_get(c.json, "id"));
	assert_true(id > 0);
	if (text)
		snprintf(text, len, "%s", json_string_value(json_object_get(c.json, "token")));
	call_free(&c);
	return id;
}

/* Run one statement directly on the database, past the store. */
static void exec_pg(const char *uri, const char *sql)
{
#ifdef HAVE_POSTGRESQL
	PGconn *c = PQconnectdb(uri);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot reach the test server: %s", PQerrorMessage(c));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
#else
	(void)uri;
	fail_msg("PostgreSQL run of a build without PostgreSQL: %s", sql);
#endif
}

static void exec_sql(const struct fx *f, const char *sql)
{
	sqlite3 *db;

	if (pg_base) {
		exec_pg(f->db, sql);
		return;
	}
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[STORE_ERRLEN] = "", tokfile[320];
	FILE *fp;

	assert_non_null(f);
	++dbseq;
	if (pg_base) {
		char sql[128];

		snprintf(sql, sizeof(sql), "CREATE DATABASE admin%ld_%u", (long)getpid(), dbseq);
		exec_pg(pg_admin, sql);
		snprintf(f->db, sizeof(f->db), "%sadmin%ld_%u", pg_base, (long)getpid(), dbseq);
	} else {
		snprintf(f->db, sizeof(f->db), "%s/admin%u.db", tmpdir, dbseq);
	}
	if (store_open(f->db, &f->s, err, sizeof(err)) != VOUCHER_OK)
		fail_msg("store_open %s: %s", f->db, err);
	/* the same shape as brski pki init's admin-token file */
	snprintf(f->admin, sizeof(f->admin), "%064x", dbseq);
	snprintf(tokfile, sizeof(tokfile), "%s/token%u", tmpdir, dbseq);
	fp = fopen(tokfile, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", f->admin);
	fclose(fp);
	assert_int_equal(svc_admin_bootstrap(f->s, tokfile, err, sizeof(err)), VOUCHER_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	if (!pg_base)
		unlink(f->db);
	free(f);
	return 0;
}

/* ---- authentication and scopes -------------------------------------------- */

static void test_auth_missing(void **state)
{
	struct fx *f = *state;
	struct call c;

	serve(f, &c, "GET", "/admin/v1/tokens", NULL, NULL, NULL, NULL, 0);
	check_problem(&c, 401, "unauthenticated", "bearer token is required", (const char *)NULL);
	assert_string_equal(resp_header(&c, "WWW-Authenticate"), "Bearer realm=\"brski-admin\"");
	call_free(&c);
}

static void test_auth_bad(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	        "00112233", /* well-formed, unknown */
	        "abc def",  /* space inside */
	        "tok\"en",  /* not a b64token */
	        "=abc",     /* padding first */
	};
	struct call c;
	char longtok[SVC_ADMIN_MAX_TOKEN + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(f, &c, "GET", "/admin/v1/whoami", NULL, bad[i], NULL, NULL, 0);
		check_problem(&c, 401, "unauthenticated", (const char *)NULL);
		assert_non_null(strstr(resp_header(&c, "WWW-Authenticate"), "invalid_token"));
		call_free(&c);
	}
	memset(longtok, 'a', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	serve(f, &c, "GET", "/admin/v1/whoami", NULL, longtok, NULL, NULL, 0);
	check_problem(&c, 401, "unauthenticated", "malformed", (const char *)NULL);
	call_free(&c);
}

static void test_auth_scheme(void **state)
{
	struct fx *f = *state;
	struct svc_kv h = {"Authorization", "Basic YWRtaW46YWRtaW4="};
	struct svc_req req = {
	        .method = "GET", .path = "/admin/v1/whoami", .headers = &h, .n_headers = 1};
	struct call c = {0};

	svc_resp_init(&c.resp);
	svc_admin_serve(svc_admin_table, svc_admin_table_len, f->s, &req, &c.resp);
	c.json = json_loadb((const char *)c.resp.body.data, c.resp.body.len, 0, NULL);
	check_problem(&c, 401, "unauthenticated", "Bearer", (const char *)NULL);
	call_free(&c);
}

static void test_auth_ok_uses_constant_time(void **state)
{
	struct fx *f = *state;
	struct call c;
	unsigned before = ct_calls;

	assert_int_equal(serve(f, &c, "GET", "/admin/v1/whoami", NULL, f->admin, NULL, NULL, 0),
	                 200);
	assert_true(ct_calls > before);
	assert_string_equal(json_string_value(json_object_get(c.json, "name")), "bootstrap");
	assert_string_equal(json_string_value(json_object_get(c.json, "scope")), "admin");
	assert_null(json_object_get(c.json, "sha256"));
	call_free(&c);
}

static void test_auth_revoked(void **state)
{
	struct fx *f = *state;
	char tok[128], path[64];
	struct call c;
	int64_t id = make_token(f, "soon-revoked", "read", NULL, tok, sizeof(tok));

	assert_int_equal(serve(f, &c, "GET", "/admin/v1/whoami", NULL, tok, NULL, NULL, 0), 200);
	call_free(&c);
	snprintf(path, sizeof(path), "/admin/v1/tokens/%lld", (long long)id);
	assert_int_equal(serve(f, &c, "DELETE", path, NULL, f->admin, NULL, NULL, 0), 200);
	assert_true(json_integer_value(json_object_get(c.json, "revoked")) > 0);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/whoami", NULL, tok, NULL, NULL, 0);
	check_problem(&c, 401, "unauthenticated", "revoked", (const char *)NULL);
	call_free(&c);
	/* revoking twice is a conflict, an unknown id is 404 */
	serve(f, &c, "DELETE", path, NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 409, "conflict", "already revoked", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "DELETE", "/admin/v1/tokens/999999", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", "999999", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "DELETE", "/admin/v1/tokens/x1", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", "x1", (const char *)NULL);
	call_free(&c);
}

static void test_scope(void **state)
{
	struct fx *f = *state;
	char rtok[128], wtok[128];
	struct call c;

	make_token(f, "reader", "read", NULL, rtok, sizeof(rtok));
	make_token(f, "writer", "write", NULL, wtok, sizeof(wtok));
	/* a read token on a write (and admin) route */
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, rtok, NULL,
	      "{\"name\":\"x\",\"scope\":\"read\"}", 0);
	check_problem(&c, 403, "forbidden", "scope 'admin'", "'read'", (const char *)NULL);
	assert_non_null(strstr(resp_header(&c, "WWW-Authenticate"), "insufficient_scope"));
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/tokens", NULL, wtok, NULL, NULL, 0);
	check_problem(&c, 403, "forbidden", "'write'", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/audit", NULL, rtok, NULL, NULL, 0);
	check_problem(&c, 403, "forbidden", (const char *)NULL);
	call_free(&c);
	assert_int_equal(serve(f, &c, "GET", "/admin/v1/whoami", NULL, rtok, NULL, NULL, 0), 200);
	call_free(&c);
}

static void test_owner_scoped(void **state)
{
	struct fx *f = *state;
	struct store_owner o = {.name = "acme", .domain_ca_pem = "-----BEGIN CERTIFICATE-----"};
	char err[STORE_ERRLEN], otok[128];
	struct call c;

	assert_int_equal(store_owner_put(f->s, &o, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	make_token(f, "acme-admin", "admin", "acme", otok, sizeof(otok));
	assert_int_equal(serve(f, &c, "GET", "/admin/v1/whoami", NULL, otok, NULL, NULL, 0), 200);
	assert_string_equal(json_string_value(json_object_get(c.json, "owner")), "acme");
	call_free(&c);
	/* admin scope, but limited to an owner: not for routes that are not
	 * owner-aware */
	serve(f, &c, "GET", "/admin/v1/tokens", NULL, otok, NULL, NULL, 0);
	check_problem(&c, 403, "forbidden", "limited to owner 'acme'", (const char *)NULL);
	call_free(&c);
	/* an owner that does not exist */
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL,
	      "{\"name\":\"x\",\"scope\":\"read\",\"owner\":\"nobody\"}", 0);
	check_problem(&c, 400, "invalid", "'nobody'", (const char *)NULL);
	call_free(&c);
}

/* ---- JSON bodies ---------------------------------------------------------- */

static void test_json_problems(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body;
		unsigned status;
		const char *code;
		const char *detail;
	} cases[] = {
	        {"{\"name\":\"a\",\"name\":\"b\",\"scope\":\"read\"}", 400, "duplicate-member",
	         "duplicate"},
	        {"{\"name\":\"a\",\"scope\":\"read\",\"colour\":1,\"size\":2}", 400,
	         "unknown-member", "'colour'"},
	        {"{\"name\":\"a\",\"scope\":\"read\",\"colour\":1,\"size\":2}", 400,
	         "unknown-member", "'size'"},
	        {"{\"name\":7,\"scope\":\"read\"}", 400, "bad-type", "'name' must be a string"},
	        {"{\"name\":\"a\",\"scope\":[\"read\"]}", 400, "bad-type", "'scope'"},
	        {"{\"name\":\"a\",\"scope\":\"read\",\"owner\":false}", 400, "bad-type",
	         "'owner' must be a string or null"},
	        {"{\"scope\":\"read\"}", 400, "missing-member", "'name' is required"},
	        {"{\"name\":\"a\",\"scope\":\"root\"}", 400, "invalid", "'scope'"},
	        {"{\"name\":\"\",\"scope\":\"read\"}", 400, "invalid", "'name'"},
	        {"[1,2]", 400, "bad-type", "JSON object"},
	        {"{\"name\":\"a\",", 400, "malformed", "invalid JSON"},
	        {"{\"name\":\"a\",\"scope\":\"read\"} x", 400, "malformed", "invalid JSON"},
	        {"{\"name\":\"a\\u0000b\",\"scope\":\"read\"}", 400, "malformed", "invalid JSON"},
	};
	struct call c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL, cases[i].body, 0);
		check_problem(&c, cases[i].status, cases[i].code, cases[i].detail,
		              (const char *)NULL);
		call_free(&c);
	}
}

static void test_json_size_and_type(void **state)
{
	struct fx *f = *state;
	size_t big = SVC_ADMIN_MAX_BODY + 1;
	char *body = malloc(big + 1);
	struct call c;

	assert_non_null(body);
	memset(body, ' ', big);
	memcpy(body, "{\"name\":\"a\",\"scope\":\"read\"}", 27);
	body[big] = '\0';
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL, body, big);
	check_problem(&c, 413, "too-large", "limit of 65536 bytes", (const char *)NULL);
	call_free(&c);
	free(body);
	/* a string member over its own bound */
	char name[300];
	char json[400];
	memset(name, 'n', 200);
	name[200] = '\0';
	snprintf(json, sizeof(json), "{\"name\":\"%s\",\"scope\":\"read\"}", name);
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL, json, 0);
	check_problem(&c, 413, "too-large", "'name'", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, "text/plain",
	      "{\"name\":\"a\",\"scope\":\"read\"}", 0);
	check_problem(&c, 415, "unsupported-media-type", "application/json", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, "application/json-seq",
	      "{\"name\":\"a\",\"scope\":\"read\"}", 0);
	check_problem(&c, 415, "unsupported-media-type", (const char *)NULL);
	call_free(&c);
	assert_int_equal(serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin,
	                       "Application/JSON; charset=utf-8",
	                       "{\"name\":\"a\",\"scope\":\"read\"}", 0),
	                 201);
	call_free(&c);
	/* a body where none is taken */
	serve(f, &c, "DELETE", "/admin/v1/tokens/1", NULL, f->admin, NULL, "{}", 0);
	check_problem(&c, 415, "unsupported-media-type", "no request body", (const char *)NULL);
	call_free(&c);
}

/* ---- routing ---------------------------------------------------------------- */

static void test_routing(void **state)
{
	struct fx *f = *state;
	struct call c;

	serve(f, &c, "GET", "/admin/v1/nothing", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", "/admin/v1/nothing", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v2/tokens", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/tokens/1/more", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "PUT", "/admin/v1/tokens", NULL, f->admin, NULL, "{}", 0);
	check_problem(&c, 405, "method-not-allowed", (const char *)NULL);
	assert_string_equal(resp_header(&c, "Allow"), "GET, POST");
	call_free(&c);
	assert_int_equal(serve(f, &c, "OPTIONS", "/admin/v1/tokens/5", NULL, NULL, NULL, NULL, 0),
	                 204);
	assert_string_equal(resp_header(&c, "Allow"), "GET, DELETE");
	call_free(&c);
	/* request bytes quoted in a detail stay valid JSON */
	serve(f, &c, "GET", "/admin/v1/caf\xc3\xa9/\xff\xfe\x01/\xed\xa0\x80", NULL, f->admin, NULL,
	      NULL, 0);
	check_problem(&c, 404, "not-found", "/admin/v1/caf\xc3\xa9/?\?\?/?\?\?",
	              (const char *)NULL);
	call_free(&c);
	/* HEAD is served by the GET route */
	assert_int_equal(serve(f, &c, "HEAD", "/admin/v1/whoami", NULL, f->admin, NULL, NULL, 0),
	                 200);
	call_free(&c);
	serve(f, &c, "HEAD", "/admin/v1/tokens/1/more", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 404, "not-found", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/tokens", "colour=red", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "'colour'", (const char *)NULL);
	call_free(&c);
}

/* ---- pagination ------------------------------------------------------------- */

static void walk(struct fx *f, const char *path, const char *kind, unsigned limit,
                 const char *filter, int64_t *ids, size_t *n, size_t max)
{
	char query[512], cursor[128] = "";
	struct call c;
	unsigned pages = 0;

	*n = 0;
	for (;;) {
		snprintf(query, sizeof(query), "limit=%u%s%s%s%s", limit, filter ? "&" : "",
		         filter ? filter : "", cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(serve(f, &c, "GET", path, query, f->admin, NULL, NULL, 0), 200);
		json_t *items = json_object_get(c.json, "items");
		json_t *next = json_object_get(c.json, "next");
		size_t i;
		json_t *it;
		assert_true(json_array_size(items) <= limit);
		json_array_foreach(items, i, it)
		{
			assert_true(*n < max);
			ids[(*n)++] = json_integer_value(json_object_get(it, "id"));
		}
		if (!next) {
			assert_null(resp_header(&c, "Link"));
			call_free(&c);
			break;
		}
		assert_non_null(strstr(resp_header(&c, "Link"), "rel=\"next\""));
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		call_free(&c);
		assert_true(++pages < 1000);
	}
	(void)kind;
}

static void test_pagination_tokens(void **state)
{
	struct fx *f = *state;
	int64_t ids[64], made[32];
	size_t n = 0;
	char name[32];

	made[0] = 1; /* the bootstrap token */
	for (int i = 1; i < 26; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		made[i] = make_token(f, name, "read", NULL, NULL, 0);
	}
	for (unsigned limit = 1; limit <= 27; limit += 5) {
		walk(f, "/admin/v1/tokens", "tokens", limit, NULL, ids, &n, 64);
		assert_int_equal(n, 26);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(ids[i], made[i]);
	}
}

static void test_pagination_bad(void **state)
{
	struct fx *f = *state;
	char cur[96], q[160];
	struct call c;

	serve(f, &c, "GET", "/admin/v1/tokens", "limit=0", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "limit", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/tokens", "limit=1001", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "limit", (const char *)NULL);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/tokens", "cursor=@@@", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "cursor", (const char *)NULL);
	call_free(&c);
	/* a cursor of another list */
	svc_admin_cursor("audit", 3, cur, sizeof(cur));
	snprintf(q, sizeof(q), "cursor=%s", cur);
	serve(f, &c, "GET", "/admin/v1/tokens", q, f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "cursor", (const char *)NULL);
	call_free(&c);
}

/* ---- audit ------------------------------------------------------------------- */

static void test_audit_rows(void **state)
{
	struct fx *f = *state;
	char path[64];
	struct call c;
	int64_t id = make_token(f, "audited", "write", NULL, NULL, 0);

	/* a refused write leaves no row */
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL, "{\"name\":1}", 0);
	call_free(&c);
	snprintf(path, sizeof(path), "/admin/v1/tokens/%lld", (long long)id);
	assert_int_equal(serve(f, &c, "DELETE", path, NULL, f->admin, NULL, NULL, 0), 200);
	call_free(&c);
	assert_int_equal(serve(f, &c, "GET", "/admin/v1/audit", NULL, f->admin, NULL, NULL, 0),
	                 200);
	json_t *items = json_object_get(c.json, "items");
	assert_int_equal(json_array_size(items), 2);
	json_t *a0 = json_array_get(items, 0), *a1 = json_array_get(items, 1);
	assert_string_equal(json_string_value(json_object_get(a0, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(a0, "route")), "/admin/v1/tokens");
	assert_int_equal(json_integer_value(json_object_get(a0, "status")), 201);
	assert_int_equal(json_integer_value(json_object_get(a0, "token_id")), 1);
	assert_true(json_is_null(json_object_get(a0, "before")));
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(a0, "after"), "name")),
	        "audited");
	/* the secret never reaches the audit trail */
	assert_null(json_object_get(json_object_get(a0, "after"), "token"));
	assert_string_equal(json_string_value(json_object_get(a1, "method")), "DELETE");
	assert_string_equal(json_string_value(json_object_get(a1, "route")), path);
	assert_true(json_is_null(json_object_get(json_object_get(a1, "before"), "revoked")));
	assert_true(json_integer_value(json_object_get(json_object_get(a1, "after"), "revoked")) >
	            0);
	call_free(&c);
	/* filters */
	assert_int_equal(
	        serve(f, &c, "GET", "/admin/v1/audit", "method=DELETE", f->admin, NULL, NULL, 0),
	        200);
	assert_int_equal(json_array_size(json_object_get(c.json, "items")), 1);
	call_free(&c);
	assert_int_equal(
	        serve(f, &c, "GET", "/admin/v1/audit", "token_id=2", f->admin, NULL, NULL, 0), 200);
	assert_int_equal(json_array_size(json_object_get(c.json, "items")), 0);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/audit", "since=abc", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "since", (const char *)NULL);
	call_free(&c);
}

static void test_audit_walk_filtered(void **state)
{
	struct fx *f = *state;
	int64_t ids[128];
	size_t n;
	char name[32], path[64];
	struct call c;

	/* 30 creations and 10 revocations, interleaved */
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		int64_t id = make_token(f, name, "read", NULL, NULL, 0);
		if (i % 3 == 0) {
			snprintf(path, sizeof(path), "/admin/v1/tokens/%lld", (long long)id);
			assert_int_equal(
			        serve(f, &c, "DELETE", path, NULL, f->admin, NULL, NULL, 0), 200);
			call_free(&c);
		}
	}
	walk(f, "/admin/v1/audit", "audit", 4, NULL, ids, &n, 128);
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], (int64_t)i + 1);
	walk(f, "/admin/v1/audit", "audit", 3, "method=DELETE", ids, &n, 128);
	assert_int_equal(n, 10);
	for (size_t i = 1; i < n; i++)
		assert_true(ids[i] > ids[i - 1]);
	walk(f, "/admin/v1/audit", "audit", 7, "method=POST", ids, &n, 128);
	assert_int_equal(n, 30);
}

static void test_audit_export(void **state)
{
	struct fx *f = *state;
	struct call c;
	size_t lines = 0;

	make_token(f, "e1", "read", NULL, NULL, 0);
	make_token(f, "e\\\"2,x", "read", NULL, NULL, 0);
	assert_int_equal(
	        serve(f, &c, "GET", "/admin/v1/audit/export", NULL, f->admin, NULL, NULL, 0), 200);
	assert_string_equal(c.resp.content_type, "application/jsonl");
	for (size_t i = 0; i < c.resp.body.len; i++)
		lines += c.resp.body.data[i] == '\n';
	assert_int_equal(lines, 2);
	/* each line is one JSON object */
	{
		json_error_t e;
		json_t *one = json_loadb((const char *)c.resp.body.data,
		                         (size_t)(strchr((const char *)c.resp.body.data, '\n') -
		                                  (const char *)c.resp.body.data),
		                         JSON_REJECT_DUPLICATES, &e);
		assert_non_null(one);
		assert_string_equal(json_string_value(json_object_get(one, "method")), "POST");
		json_decref(one);
	}
	call_free(&c);
	assert_int_equal(serve(f, &c, "GET", "/admin/v1/audit/export", "format=csv", f->admin, NULL,
	                       NULL, 0),
	                 200);
	assert_string_equal(c.resp.content_type, "text/csv; charset=utf-8");
	assert_true(strncmp((const char *)c.resp.body.data, "id,time,token_id,", 17) == 0);
	/* the quote in the name is doubled inside a quoted field */
	assert_non_null(strstr((const char *)c.resp.body.data, "\"\"name\"\":\"\"e\\\"\"2,x\"\""));
	lines = 0;
	for (size_t i = 0; i < c.resp.body.len; i++)
		lines += c.resp.body.data[i] == '\n';
	assert_int_equal(lines, 3);
	call_free(&c);
	serve(f, &c, "GET", "/admin/v1/audit/export", "format=xml", f->admin, NULL, NULL, 0);
	check_problem(&c, 400, "invalid", "format", (const char *)NULL);
	call_free(&c);
}

/* The change and its audit row are one transaction: when the row cannot be
 * written, the change is not made either. */
static void test_audit_same_transaction(void **state)
{
	struct fx *f = *state;
	struct store_page page = {0};
	struct store_token *v = NULL;
	char err[STORE_ERRLEN];
	struct call c;
	size_t n = 0;

	exec_sql(f, "ALTER TABLE admin_audit RENAME TO admin_audit_away");
	serve(f, &c, "POST", "/admin/v1/tokens", NULL, f->admin, NULL,
	      "{\"name\":\"lost\",\"scope\":\"read\"}", 0);
	check_problem(&c, 503, "store", "audit", (const char *)NULL);
	call_free(&c);
	exec_sql(f, "ALTER TABLE admin_audit_away RENAME TO admin_audit");
	assert_int_equal(store_token_list(f->s, &page, &v, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 1); /* only the bootstrap token */
	store_token_list_free(v, n);
}

/* ---- bootstrap ------------------------------------------------------------------ */

struct boot_arg {
	const char *db;
	const char *file;
	voucher_err r;
};

static void *boot_thread(void *p)
{
	struct boot_arg *a = p;
	struct store *s = NULL;
	char err[STORE_ERRLEN];

	a->r = store_open(a->db, &s, err, sizeof(err));
	if (a->r == VOUCHER_OK)
		a->r = svc_admin_bootstrap(s, a->file, err, sizeof(err));
	store_close(s);
	return NULL;
}

static void test_bootstrap(void **state)
{
	struct fx *f = *state;
	char file[320], err[STORE_ERRLEN];
	struct boot_arg args[8];
	pthread_t th[8];
	struct store_page page = {0};
	struct store_token *v = NULL;
	size_t n = 0;
	struct call c;
	FILE *fp;

	snprintf(file, sizeof(file), "%s/token%u", tmpdir, dbseq);
	/* again, and from many instances at once: still one row */
	assert_int_equal(svc_admin_bootstrap(f->s, file, err, sizeof(err)), VOUCHER_OK);
	for (int i = 0; i < 8; i++) {
		args[i] = (struct boot_arg){f->db, file, VOUCHER_EIO};
		assert_int_equal(pthread_create(&th[i], NULL, boot_thread, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].r, VOUCHER_OK);
	}
	assert_int_equal(store_token_list(f->s, &page, &v, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 1);
	store_token_list_free(v, n);
	/* a revoked bootstrap token stays revoked after a restart */
	assert_int_equal(
	        serve(f, &c, "DELETE", "/admin/v1/tokens/1", NULL, f->admin, NULL, NULL, 0), 200);
	call_free(&c);
	assert_int_equal(svc_admin_bootstrap(f->s, file, err, sizeof(err)), VOUCHER_OK);
	serve(f, &c, "GET", "/admin/v1/whoami", NULL, f->admin, NULL, NULL, 0);
	check_problem(&c, 401, "unauthenticated", (const char *)NULL);
	call_free(&c);
	/* files that hold no token */
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("two words\n", fp);
	fclose(fp);
	assert_int_equal(svc_admin_bootstrap(f->s, file, err, sizeof(err)), VOUCHER_E_CONFIG);
	assert_non_null(strstr(err, file));
	assert_int_equal(svc_admin_bootstrap(f->s, "/nonexistent/token", err, sizeof(err)),
	                 VOUCHER_E_CONFIG);
}

/* ---- OpenAPI --------------------------------------------------------------------- */

static void test_openapi(void **state)
{
	struct fx *f = *state;
	struct call c;
	const char *path;
	json_t *item;
	size_t ops = 0;

	/* no token needed */
	assert_int_equal(serve(f, &c, "GET", "/admin/v1/openapi.json", NULL, NULL, NULL, NULL, 0),
	                 200);
	assert_string_equal(json_string_value(json_object_get(c.json, "openapi")), "3.0.3");
	json_t *paths = json_object_get(c.json, "paths");
	/* every documented operation is a route of the table ... */
	json_object_foreach(paths, path, item)
	{
		const char *m;
		json_t *op;
		json_object_foreach(item, m, op)
		{
			bool found = false;
			for (size_t i = 0; i < svc_admin_table_len; i++) {
				char full[256];
				snprintf(full, sizeof(full), "%s%s", SVC_ADMIN_PREFIX,
				         svc_admin_table[i].path);
				if (strcmp(full, path) == 0 &&
				    strcasecmp(svc_admin_table[i].method, m) == 0)
					found = true;
			}
			if (!found)
				fail_msg("documented %s %s is not a route", m, path);
			ops++;
			assert_non_null(json_object_get(op, "responses"));
			assert_non_null(json_string_value(json_object_get(op, "summary")));
		}
	}
	/* ... and every route is documented, once */
	assert_int_equal(ops, svc_admin_table_len);
	json_t *rev = json_object_get(json_object_get(paths, "/admin/v1/tokens/{id}"), "delete");
	assert_non_null(rev);
	assert_string_equal(json_string_value(json_object_get(rev, "x-scope")), "admin");
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(rev, "parameters"), 0), "in")),
	                    "path");
	json_t *post = json_object_get(json_object_get(paths, "/admin/v1/tokens"), "post");
	assert_non_null(json_object_get(post, "requestBody"));
	assert_non_null(json_object_get(json_object_get(post, "responses"), "201"));
	call_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_auth_missing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_bad, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_scheme, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_ok_uses_constant_time, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_revoked, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_owner_scoped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_problems, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_json_size_and_type, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pagination_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pagination_bad, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_rows, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_walk_filtered, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_export, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_same_transaction, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_openapi, setup, teardown),
	};
	const char *tmp = getenv("TMPDIR");
	int rc;

	pg_base = getenv("BRSKI_TEST_PG_URI_BASE");
	pg_admin = getenv("BRSKI_TEST_PG_URI");
	if (pg_base && !*pg_base)
		pg_base = NULL;
	if (pg_base && !pg_admin) {
		fprintf(stderr, "BRSKI_TEST_PG_URI_BASE needs BRSKI_TEST_PG_URI\n");
		return 99;
	}
	fprintf(stderr, "# backend: %s\n", pg_base ? "postgresql" : "sqlite");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_admin.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	/* the databases are removed by each teardown; token files and WAL
	 * leftovers here */
	{
		char cmd[300];
		for (unsigned i = 1; i <= dbseq; i++) {
			snprintf(cmd, sizeof(cmd), "%s/token%u", tmpdir, i);
			unlink(cmd);
			snprintf(cmd, sizeof(cmd), "%s/admin%u.db-wal", tmpdir, i);
			unlink(cmd);
			snprintf(cmd, sizeof(cmd), "%s/admin%u.db-shm", tmpdir, i);
			unlink(cmd);
		}
	}
	rmdir(tmpdir);
	return rc;
}
