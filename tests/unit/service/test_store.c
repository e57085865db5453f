/*
 * The store, on SQLite or PostgreSQL: the same cases run on both.
 *
 * Without BRSKI_TEST_PG_URI_BASE the cases run on SQLite files in a temp
 * dir. tests/integration/test-store-pg.sh starts a private PostgreSQL
 * cluster and runs this program again with
 *   BRSKI_TEST_PG_URI       the maintenance database (to create others)
 *   BRSKI_TEST_PG_URI_BASE  the URI without a database name
 *   BRSKI_TEST_PG_RESTART   a command that restarts the server
 * Every case gets a fresh, empty database.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

#include "service/store.h"
#include "service/store-int.h" /* store_migrations_count */

static char tmpdir[256];
static const char *pg_base;  /* set: the PostgreSQL run */
static const char *pg_admin; /* maintenance database URI */
static unsigned dbseq;

/* ---- helpers -------------------------------------------------------------- */

/* A new, empty database; its store URI goes to uri. */
static void fresh_db(char *uri, size_t len)
{
	dbseq++;
	if (!pg_base) {
		snprintf(uri, len, "%s/t%u.db", tmpdir, dbseq);
		return;
	}
#ifdef HAVE_POSTGRESQL
	{
		char sql[128];
		PGconn *c = PQconnectdb(pg_admin);
		PGresult *res;

		if (PQstatus(c) != CONNECTION_OK)
			fail_msg("cannot reach the test server: %s", PQerrorMessage(c));
		snprintf(sql, sizeof(sql), "CREATE DATABASE t%ld_%u", (long)getpid(), dbseq);
		res = PQexec(c, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
		snprintf(uri, len, "%st%ld_%u", pg_base, (long)getpid(), dbseq);
	}
#else
	fail_msg("PostgreSQL run of a build without PostgreSQL");
#endif
}

static struct store *open_uri(const char *uri)
{
	char err[STORE_ERRLEN] = "";
	struct store *s = NULL;
	voucher_err r = store_open(uri, &s, err, sizeof(err));

	if (r != VOUCHER_OK)
		fail_msg("store_open(%s): %d %s", uri, r, err);
	return s;
}

static struct store *open_fresh(char *uri, size_t len)
{
	fresh_db(uri, len);
	return open_uri(uri);
}

/* One number straight from the database, past the store (to check what
 * the store wrote). */
static int64_t raw_count(const char *uri, const char *sql)
{
	int64_t n = -1;

	if (!pg_base) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
		return n;
	}
#ifdef HAVE_POSTGRESQL
	{
		PGconn *c = PQconnectdb(uri);
		PGresult *res;
		const char *v;

		assert_int_equal(PQstatus(c), CONNECTION_OK);
		res = PQexec(c, sql);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		v = PQgetvalue(res, 0, 0);
		n = 0;
		for (; *v >= '0' && *v <= '9'; v++)
			n = n * 10 + (*v - '0');
		PQclear(res);
		PQfinish(c);
	}
#endif
	return n;
}

/* Run one statement straight on the database. */
static void raw_exec(const char *uri, const char *sql)
{
	if (!pg_base) {
		sqlite3 *db = NULL;

		assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		return;
	}
#ifdef HAVE_POSTGRESQL
	{
		PGconn *c = PQconnectdb(uri);
		PGresult *res;

		assert_int_equal(PQstatus(c), CONNECTION_OK);
		res = PQexec(c, sql);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(c);
	}
#endif
}

static void hash_of(uint8_t h[STORE_SHA256_LEN], unsigned seed)
{
	unsigned i;

	for (i = 0; i < STORE_SHA256_LEN; i++)
		h[i] = (uint8_t)(seed * 31 + i * 7 + (seed >> 8));
}

static struct store_owner owner_rec(const char *name)
{
	struct store_owner o = {0};

	o.name = (char *)name;
	o.domain_ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	o.registrar_url = "https://registrar.example/.well-known/brski/requestvoucher";
	return o;
}

static void put_owner(struct store *s, const char *name)
{
	char err[STORE_ERRLEN] = "";
	struct store_owner o = owner_rec(name);

	if (store_owner_put(s, &o, STORE_PUT_CREATE, err, sizeof(err)) != VOUCHER_OK)
		fail_msg("owner %s: %s", name, err);
}

static int64_t new_job(struct store *s, unsigned seed)
{
	uint8_t h[STORE_SHA256_LEN], csr[3] = {0x30, 0x01, (uint8_t)seed};
	char serial[32], err[STORE_ERRLEN] = "";
	int64_t id = 0;

	hash_of(h, seed);
	snprintf(serial, sizeof(serial), "SN%u", seed);
	if (store_job_create(s, h, csr, sizeof(csr), serial, NULL, &id, err, sizeof(err)) !=
	    VOUCHER_OK)
		fail_msg("job create: %s", err);
	assert_true(id > 0);
	return id;
}

/* ---- schema and migrations ------------------------------------------------- */

static void test_migrate_from_empty(void **state)
{
	char uri[512];
	struct store *s;
	int64_t v = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	assert_int_equal(store_schema_version(s, &v, NULL, 0), VOUCHER_OK);
	assert_int_equal(v, (int64_t)store_migrations_count);
	assert_int_equal(store_ping(s), VOUCHER_OK);
	if (!pg_base) {
		/* Private: the file holds the ACME key and token hashes. */
		char wal[530];
		struct stat st;

		assert_int_equal(stat(uri, &st), 0);
		assert_int_equal(st.st_mode & 077, 0);
		snprintf(wal, sizeof(wal), "%s-wal", uri);
		assert_int_equal(stat(wal, &st), 0);
		assert_int_equal(st.st_mode & 077, 0);
	}
	store_close(s);
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM schema_version"),
	                 (int64_t)store_migrations_count);
	store_close(NULL);
}

static void test_reopen_is_noop(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_owner o;
	int64_t v = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	put_owner(s, "acme");
	store_close(s);
	s = open_uri(uri);
	assert_int_equal(store_schema_version(s, &v, NULL, 0), VOUCHER_OK);
	assert_int_equal(v, (int64_t)store_migrations_count);
	assert_int_equal(store_owner_get(s, "acme", &o, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(o.name, "acme");
	store_owner_clear(&o);
	store_close(s);
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM schema_version"),
	                 (int64_t)store_migrations_count);
}

/* A database migrated by a newer build is refused, not used blindly. */
static void test_newer_schema(void **state)
{
	char uri[512], err[STORE_ERRLEN] = "";
	struct store *s;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	assert_string_equal(store_backend(s), pg_base ? "postgresql" : "sqlite");
	store_close(s);
	raw_exec(uri, "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)");
	assert_int_equal(store_open(uri, &s, err, sizeof(err)), VOUCHER_E_STORE);
	assert_null(s);
	assert_non_null(strstr(err, "version 999 is newer"));
}

/* Children block on a pipe until the parent closes it, so that they start
 * as nearly at once as the OS allows. */
#define NPROC 4

static void test_concurrent_open(void **state)
{
	char uri[512];
	int gate[2], i, status;
	pid_t pids[NPROC];

	(void)state;
	fresh_db(uri, sizeof(uri));
	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char c, err[STORE_ERRLEN] = "";
			struct store *s = NULL;
			voucher_err r;

			close(gate[1]);
			(void)!read(gate[0], &c, 1);
			r = store_open(uri, &s, err, sizeof(err));
			if (r != VOUCHER_OK)
				fprintf(stderr, "child %d: %s\n", i, err);
			store_close(s);
			_exit(r == VOUCHER_OK ? 0 : 1);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < NPROC; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Each migration recorded once: applying one twice fails (plain
	 * CREATE TABLE, primary key on the version). */
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM schema_version"),
	                 (int64_t)store_migrations_count);
}

static void test_bad_database(void **state)
{
	char err[STORE_ERRLEN] = "";
	struct store *s = (struct store *)&err;

	(void)state;
	assert_int_equal(store_open("", &s, err, sizeof(err)), VOUCHER_E_CONFIG);
	assert_null(s);
	assert_int_equal(store_open(NULL, &s, err, sizeof(err)), VOUCHER_E_CONFIG);
	assert_int_equal(store_open("sqlite::memory:", &s, err, sizeof(err)), VOUCHER_E_CONFIG);
	assert_int_equal(store_open("/nonexistent-dir/x/y.db", &s, err, sizeof(err)),
	                 VOUCHER_E_STORE);
	assert_non_null(strstr(err, "/nonexistent-dir/x/y.db"));
#ifdef HAVE_POSTGRESQL
	assert_int_equal(store_open("postgresql://%zz", &s, err, sizeof(err)), VOUCHER_E_CONFIG);
	/* Nothing listens on port 1: the engine's reason comes back. */
	assert_int_equal(
	        store_open("postgresql://127.0.0.1:1/x?connect_timeout=2", &s, err, sizeof(err)),
	        VOUCHER_E_STORE);
	assert_non_null(strstr(err, "failed to connect to PostgreSQL"));
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_null(s);
#else
	assert_int_equal(store_open("postgresql://127.0.0.1/x", &s, err, sizeof(err)),
	                 VOUCHER_E_CONFIG);
#endif
}

/* ---- CRUD ------------------------------------------------------------------ */

static void test_owners(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_owner o = owner_rec("acme"), got;
	voucher_err r;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_int_equal(store_owner_get(s, "acme", &got, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(got.domain_ca_pem, o.domain_ca_pem);
	assert_string_equal(got.registrar_url, o.registrar_url);
	assert_null(got.est_url);
	assert_false(got.enroll_here);
	assert_true(got.created > 1600000000 && got.updated >= got.created);
	store_owner_clear(&got);
	assert_null(got.name);

	o.est_url = "https://est.acme.example/";
	o.est_pin_pem = "PIN";
	o.enroll_here = true;
	o.registrar_url = NULL;
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_UPDATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_get(s, "acme", &got, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(got.est_url, "https://est.acme.example/");
	assert_string_equal(got.est_pin_pem, "PIN");
	assert_null(got.registrar_url);
	assert_true(got.enroll_here);
	store_owner_clear(&got);

	o.name = "other";
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_UPDATE, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_UPSERT, err, sizeof(err)), VOUCHER_OK);
	o.est_url = "https://est2/";
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_UPSERT, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_get(s, "other", &got, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(got.est_url, "https://est2/");
	store_owner_clear(&got);

	o.domain_ca_pem = NULL;
	assert_int_equal(store_owner_put(s, &o, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_EINVAL);

	assert_int_equal(store_owner_delete(s, "other", err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_delete(s, "other", err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	r = store_owner_get(s, "other", &got, err, sizeof(err));
	assert_int_equal(r, VOUCHER_E_NOT_FOUND);
	assert_non_null(strstr(err, "not found"));
	assert_null(got.name);
	store_close(s);
}

static void test_owner_denylist_crls(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	uint8_t h1[STORE_SHA256_LEN], h2[STORE_SHA256_LEN];
	uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	struct store_crl crl = {0}, *list = NULL;
	struct store_page page = {0};
	bool denied = true;
	int64_t id = 0;
	size_t n = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	put_owner(s, "acme");
	hash_of(h1, 1);
	hash_of(h2, 2);
	assert_int_equal(store_owner_denied(s, "acme", h1, &denied, err, sizeof(err)), VOUCHER_OK);
	assert_false(denied);
	assert_int_equal(store_owner_deny_add(s, "acme", h1, "key compromise", err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_owner_deny_add(s, "acme", h1, NULL, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_int_equal(store_owner_deny_add(s, "nobody", h1, NULL, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_denied(s, "acme", h1, &denied, err, sizeof(err)), VOUCHER_OK);
	assert_true(denied);
	assert_int_equal(store_owner_denied(s, "acme", h2, &denied, err, sizeof(err)), VOUCHER_OK);
	assert_false(denied);
	assert_int_equal(store_owner_deny_remove(s, "acme", h1, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_deny_remove(s, "acme", h1, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_denied(s, "acme", h1, &denied, err, sizeof(err)), VOUCHER_OK);
	assert_false(denied);

	crl.owner = "acme";
	memcpy(crl.sha256, h2, sizeof(h2));
	crl.der = der;
	crl.der_len = sizeof(der);
	crl.next_update = 2000000000;
	assert_int_equal(store_owner_crl_add(s, &crl, &id, err, sizeof(err)), VOUCHER_OK);
	assert_true(id > 0);
	assert_int_equal(store_owner_crl_add(s, &crl, NULL, err, sizeof(err)), VOUCHER_E_CONFLICT);
	crl.owner = "nobody";
	assert_int_equal(store_owner_crl_add(s, &crl, NULL, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_crl_list(s, "acme", &page, &list, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, id);
	assert_string_equal(list[0].owner, "acme");
	assert_memory_equal(list[0].sha256, h2, sizeof(h2));
	assert_int_equal(list[0].der_len, sizeof(der));
	assert_memory_equal(list[0].der, der, sizeof(der));
	assert_int_equal(list[0].next_update, 2000000000);
	assert_int_equal(page.next, 0);
	store_crl_list_free(list, n);
	assert_int_equal(store_owner_crl_delete(s, "acme", id, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_crl_delete(s, "acme", id, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	/* Deleting the owner takes its deny list and CRLs with it. */
	assert_int_equal(store_owner_deny_add(s, "acme", h1, NULL, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_delete(s, "acme", err, sizeof(err)), VOUCHER_OK);
	put_owner(s, "acme");
	assert_int_equal(store_owner_denied(s, "acme", h1, &denied, err, sizeof(err)), VOUCHER_OK);
	assert_false(denied);
	store_close(s);
}

static void test_devices(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_device d = {0}, got, *list = NULL;
	struct store_page page = {0};
	enum store_mode m;
	size_t n = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	d.serial = "SN-1";
	d.owner = "acme";
	d.mode = STORE_MODE_EST_DOMAIN;
	d.additional_configuration_url = "https://conf.example/x";
	assert_int_equal(store_device_put(s, &d, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_non_null(strstr(err, "acme"));
	put_owner(s, "acme");
	put_owner(s, "beta");
	assert_int_equal(store_device_put(s, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_device_put(s, &d, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);

	/* Any-issuer record, then an exact-issuer one that wins for it. */
	assert_int_equal(store_device_get(s, "SN-1", "CN=Vendor CA", &got, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_null(got.idevid_issuer);
	assert_string_equal(got.owner, "acme");
	assert_int_equal(got.mode, STORE_MODE_EST_DOMAIN);
	assert_string_equal(got.additional_configuration_url, "https://conf.example/x");
	store_device_clear(&got);
	d.idevid_issuer = "CN=Vendor CA";
	d.owner = "beta";
	d.mode = STORE_MODE_REDIRECT;
	d.additional_configuration_url = NULL;
	assert_int_equal(store_device_put(s, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_device_get(s, "SN-1", "CN=Vendor CA", &got, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(got.idevid_issuer, "CN=Vendor CA");
	assert_string_equal(got.owner, "beta");
	store_device_clear(&got);
	assert_int_equal(store_device_get(s, "SN-1", "CN=Other CA", &got, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(got.owner, "acme");
	store_device_clear(&got);
	assert_int_equal(store_device_get(s, "SN-2", NULL, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	/* Update, transfer, unassign. */
	d.serial = "SN-7";
	assert_int_equal(store_device_put(s, &d, STORE_PUT_UPDATE, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_string_equal(err, "device not found");
	d.serial = "SN-1";
	d.mode = STORE_MODE_ENROLL_HERE;
	assert_int_equal(store_device_put(s, &d, STORE_PUT_UPDATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(
	        store_device_set_owner(s, "SN-1", "CN=Vendor CA", "acme", err, sizeof(err)),
	        VOUCHER_OK);
	assert_int_equal(
	        store_device_set_owner(s, "SN-1", "CN=Vendor CA", "nobody", err, sizeof(err)),
	        VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_device_set_owner(s, "SN-9", NULL, "acme", err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_device_get(s, "SN-1", "CN=Vendor CA", &got, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(got.owner, "acme");
	assert_int_equal(got.mode, STORE_MODE_ENROLL_HERE);
	store_device_clear(&got);
	d.serial = "SN-3";
	d.idevid_issuer = NULL;
	d.owner = NULL;
	assert_int_equal(store_device_put(s, &d, STORE_PUT_UPSERT, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_device_get(s, "SN-3", NULL, &got, err, sizeof(err)), VOUCHER_OK);
	assert_null(got.owner);
	store_device_clear(&got);

	/* An owner with devices cannot go. */
	assert_int_equal(store_owner_delete(s, "acme", err, sizeof(err)), VOUCHER_E_CONFLICT);
	assert_int_equal(store_device_list(s, "acme", &page, &list, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].serial, "SN-1");
	assert_string_equal(list[1].serial, "SN-1");
	store_device_list_free(list, n);
	assert_int_equal(store_device_list(s, NULL, &page, &list, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 3);
	store_device_list_free(list, n);
	assert_int_equal(store_device_list(s, "beta", &page, &list, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 0);
	assert_null(list);

	assert_int_equal(store_device_delete(s, "SN-1", NULL, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_device_delete(s, "SN-1", NULL, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_device_delete(s, "SN-1", "CN=Vendor CA", err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_owner_delete(s, "acme", err, sizeof(err)), VOUCHER_OK);

	assert_string_equal(store_mode_name(STORE_MODE_EST_DOMAIN), "est-domain");
	assert_null(store_mode_name((enum store_mode)7));
	assert_int_equal(store_mode_parse("enroll-here", &m), VOUCHER_OK);
	assert_int_equal(m, STORE_MODE_ENROLL_HERE);
	assert_int_equal(store_mode_parse("Redirect", &m), VOUCHER_EINVAL);
	d.mode = (enum store_mode)9;
	assert_int_equal(store_device_put(s, &d, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_EINVAL);
	store_close(s);
}

/* cloudregd's request log: every field back, filtered by serial, endpoint
 * and disposition required. */
static void test_pledge_log(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_preq v = {0}, *vl = NULL;
	struct store_page page = {0};
	size_t n = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	v.request_id = "req-1";
	v.peer = "127.0.0.1:4000";
	v.client_cert = "00ff";
	v.serial = "SN-1";
	v.endpoint = "brski/requestvoucher";
	v.media_type = "application/voucher-cms+json";
	v.disposition = "accepted";
	v.status = 200;
	assert_int_equal(store_preq_log(s, &v, err, sizeof(err)), VOUCHER_OK);
	v.serial = NULL;
	v.client_cert = NULL;
	v.endpoint = "est/simpleenroll";
	v.disposition = "client-cert";
	v.status = 401;
	v.detail = "a TLS client certificate is required";
	assert_int_equal(store_preq_log(s, &v, err, sizeof(err)), VOUCHER_OK);
	v.endpoint = NULL;
	assert_int_equal(store_preq_log(s, &v, err, sizeof(err)), VOUCHER_EINVAL);
	v.endpoint = "brski/enrollstatus";
	v.disposition = NULL;
	assert_int_equal(store_preq_log(s, &v, err, sizeof(err)), VOUCHER_EINVAL);
	assert_int_equal(store_preq_list(s, "SN-1", &page, &vl, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 1);
	assert_string_equal(vl[0].request_id, "req-1");
	assert_string_equal(vl[0].peer, "127.0.0.1:4000");
	assert_string_equal(vl[0].client_cert, "00ff");
	assert_string_equal(vl[0].endpoint, "brski/requestvoucher");
	assert_string_equal(vl[0].media_type, "application/voucher-cms+json");
	assert_string_equal(vl[0].disposition, "accepted");
	assert_int_equal(vl[0].status, 200);
	assert_null(vl[0].detail);
	assert_true(vl[0].logged > 1600000000);
	store_preq_list_free(vl, n);
	assert_int_equal(store_preq_list(s, NULL, &page, &vl, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_null(vl[1].serial);
	assert_null(vl[1].client_cert);
	assert_string_equal(vl[1].disposition, "client-cert");
	assert_int_equal(vl[1].status, 401);
	assert_string_equal(vl[1].detail, "a TLS client certificate is required");
	store_preq_list_free(vl, n);
	/* masad's log is another table */
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM voucher_requests"), 0);
	store_close(s);
}

static void test_logs(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	uint8_t nonce[] = {1, 2, 3, 4, 0, 5};
	struct store_vreq v = {0}, *vl = NULL;
	struct store_audit a = {0}, *al = NULL;
	struct store_telemetry t = {0}, *tl = NULL;
	struct store_admin_audit aa = {0}, *aal = NULL;
	struct store_page page = {0};
	size_t n = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	v.request_id = "req-1";
	v.peer = "127.0.0.1";
	v.signer = "CN=registrar";
	v.serial = "SN-1";
	v.nonce = nonce;
	v.nonce_len = sizeof(nonce);
	v.media_type = "application/voucher-cms+json";
	v.disposition = "accepted";
	v.status = 200;
	assert_int_equal(store_vreq_log(s, &v, err, sizeof(err)), VOUCHER_OK);
	v.serial = "SN-2";
	v.nonce = NULL;
	v.disposition = "signature";
	v.status = 403;
	v.detail = "bad signature";
	assert_int_equal(store_vreq_log(s, &v, err, sizeof(err)), VOUCHER_OK);
	v.disposition = NULL;
	assert_int_equal(store_vreq_log(s, &v, err, sizeof(err)), VOUCHER_EINVAL);
	assert_int_equal(store_vreq_list(s, "SN-1", &page, &vl, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 1);
	assert_string_equal(vl[0].disposition, "accepted");
	assert_int_equal(vl[0].status, 200);
	assert_int_equal(vl[0].nonce_len, sizeof(nonce));
	assert_memory_equal(vl[0].nonce, nonce, sizeof(nonce));
	assert_null(vl[0].detail);
	assert_true(vl[0].logged > 1600000000);
	store_vreq_list_free(vl, n);
	assert_int_equal(store_vreq_list(s, NULL, &page, &vl, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_string_equal(vl[1].detail, "bad signature");
	assert_null(vl[1].nonce);
	store_vreq_list_free(vl, n);

	a.serial = "SN-1";
	a.owner = "acme";
	a.domain_id = "abcdef";
	a.nonce = nonce;
	a.nonce_len = sizeof(nonce);
	a.assertion = "logged";
	assert_int_equal(store_audit_append(s, &a, err, sizeof(err)), VOUCHER_OK);
	a.nonce = NULL; /* a nonceless voucher */
	a.assertion = "verified";
	assert_int_equal(store_audit_append(s, &a, err, sizeof(err)), VOUCHER_OK);
	a.serial = "SN-2";
	assert_int_equal(store_audit_append(s, &a, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_audit_list(s, "SN-1", &page, &al, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_string_equal(al[0].domain_id, "abcdef");
	assert_memory_equal(al[0].nonce, nonce, sizeof(nonce));
	assert_string_equal(al[0].assertion, "logged");
	assert_null(al[1].nonce);
	assert_string_equal(al[1].owner, "acme");
	assert_true(al[0].id < al[1].id);
	store_audit_list_free(al, n);
	assert_int_equal(store_audit_list(s, NULL, &page, &al, &n, err, sizeof(err)),
	                 VOUCHER_EINVAL);

	t.serial = "SN-1";
	t.kind = STORE_TELEMETRY_VOUCHER_STATUS;
	t.status = true;
	t.body = "{\"version\":1,\"status\":true}";
	assert_int_equal(store_telemetry_add(s, &t, err, sizeof(err)), VOUCHER_OK);
	t.kind = STORE_TELEMETRY_ENROLL_STATUS;
	t.status = false;
	t.reason = "CA unreachable";
	assert_int_equal(store_telemetry_add(s, &t, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_telemetry_list(s, "SN-1", &page, &tl, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_int_equal(tl[0].kind, STORE_TELEMETRY_VOUCHER_STATUS);
	assert_true(tl[0].status);
	assert_null(tl[0].reason);
	assert_string_equal(tl[0].body, "{\"version\":1,\"status\":true}");
	assert_int_equal(tl[1].kind, STORE_TELEMETRY_ENROLL_STATUS);
	assert_false(tl[1].status);
	assert_string_equal(tl[1].reason, "CA unreachable");
	store_telemetry_list_free(tl, n);
	assert_int_equal(store_telemetry_list(s, "SN-9", &page, &tl, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 0);

	aa.token_id = 7;
	aa.request_id = "r1";
	aa.method = "PUT";
	aa.route = "/admin/v1/owners/acme";
	aa.status = 200;
	aa.after_json = "{\"name\":\"acme\"}";
	assert_int_equal(store_admin_audit_add(s, &aa, err, sizeof(err)), VOUCHER_OK);
	aa.token_id = 0;
	aa.method = "DELETE";
	aa.before_json = "{\"name\":\"acme\"}";
	aa.after_json = NULL;
	assert_int_equal(store_admin_audit_add(s, &aa, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_admin_audit_list(s, &page, &aal, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_int_equal(aal[0].token_id, 7);
	assert_string_equal(aal[0].route, "/admin/v1/owners/acme");
	assert_null(aal[0].before_json);
	assert_string_equal(aal[0].after_json, "{\"name\":\"acme\"}");
	assert_int_equal(aal[1].token_id, 0);
	assert_string_equal(aal[1].method, "DELETE");
	assert_null(aal[1].after_json);
	store_admin_audit_list_free(aal, n);
	store_close(s);
}

static void test_jobs_certs_acme(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	uint8_t h[STORE_SHA256_LEN], csr[] = {0x30, 0x82, 0, 0};
	uint8_t p7[] = {0x30, 0x80, 1, 2, 3};
	struct store_job j;
	struct store_cert c = {0}, gc;
	struct store_acme_account acct = {0}, ga;
	struct store_acme_order ord = {0}, go;
	int64_t id = 0, id2;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	hash_of(h, 42);
	assert_int_equal(
	        store_job_create(s, h, csr, sizeof(csr), "SN-1", "acme", &id, err, sizeof(err)),
	        VOUCHER_OK);
	assert_int_equal(
	        store_job_create(s, h, csr, sizeof(csr), "SN-1", "acme", NULL, err, sizeof(err)),
	        VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_get_by_csr(s, h, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.id, id);
	assert_int_equal(j.state, STORE_JOB_PENDING);
	assert_int_equal(j.csr_len, sizeof(csr));
	assert_memory_equal(j.csr, csr, sizeof(csr));
	assert_string_equal(j.serial, "SN-1");
	assert_string_equal(j.owner, "acme");
	assert_int_equal(j.attempts, 0);
	assert_null(j.result);
	store_job_clear(&j);

	assert_int_equal(store_job_claim(s, "w1", 60, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.id, id);
	assert_int_equal(j.state, STORE_JOB_RUNNING);
	assert_string_equal(j.lease_holder, "w1");
	assert_true(j.lease_expires >= j.updated + 59);
	assert_int_equal(j.attempts, 1);
	store_job_clear(&j);
	assert_int_equal(store_job_claim(s, "w2", 60, &j, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_job_claim(s, "w2", 0, &j, err, sizeof(err)), VOUCHER_EINVAL);
	assert_int_equal(store_job_renew(s, id, "w1", 120, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_job_renew(s, id, "w2", 120, err, sizeof(err)), VOUCHER_E_CONFLICT);

	/* A retryable failure makes it pending again, not before its time. */
	assert_int_equal(store_job_fail(s, id, "w1", "CA busy", 3600, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_job_claim(s, "w2", 60, &j, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_job_get(s, id, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.state, STORE_JOB_PENDING);
	assert_string_equal(j.error, "CA busy");
	assert_null(j.lease_holder);
	store_job_clear(&j);
	assert_int_equal(store_job_fail(s, id, "w1", "again", 0, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_fail(s, 99999, "w1", "x", 0, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	/* A second job, claimed, completed; the first one failed for good. */
	id2 = new_job(s, 43);
	assert_int_equal(store_job_claim(s, "w2", 60, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.id, id2);
	store_job_clear(&j);
	assert_int_equal(store_job_complete(s, id2, "w1", p7, sizeof(p7), err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_restart(s, id2, err, sizeof(err)), VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_complete(s, id2, "w2", p7, sizeof(p7), err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_job_get(s, id2, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.state, STORE_JOB_DONE);
	assert_int_equal(j.result_len, sizeof(p7));
	assert_memory_equal(j.result, p7, sizeof(p7));
	assert_null(j.lease_holder);
	store_job_clear(&j);
	assert_int_equal(store_job_complete(s, id2, "w2", p7, sizeof(p7), err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_restart(s, id2, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_job_claim(s, "w3", 60, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.id, id2);
	assert_int_equal(j.attempts, 2);
	assert_null(j.result);
	store_job_clear(&j);
	assert_int_equal(store_job_fail(s, id2, "w3", "rejected", -1, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_job_get(s, id2, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.state, STORE_JOB_FAILED);
	store_job_clear(&j);
	assert_int_equal(store_job_get(s, 424242, &j, err, sizeof(err)), VOUCHER_E_NOT_FOUND);

	/* Certificates by CSR hash; an expired one is not served. */
	assert_int_equal(store_cert_get_latest(s, &gc, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	memcpy(c.csr_sha256, h, sizeof(h));
	c.serial = "SN-1";
	/* one value: a second boundary between two time() calls must not
	 * make the stored and the expected notAfter differ */
	const int64_t valid_until = (int64_t)time(NULL) + 86400;
	c.not_after = valid_until;
	c.pkcs7 = p7;
	c.pkcs7_len = sizeof(p7);
	assert_int_equal(store_cert_put(s, &c, err, sizeof(err)), VOUCHER_OK);
	/* The newest valid one (the ACME backend's chain after a restart):
	 * another CSR's certificate is newer; expired ones are skipped. */
	c.csr_sha256[0] ^= 1;
	c.serial = "SN-LATEST";
	assert_int_equal(store_cert_put(s, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_latest(s, &gc, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(gc.serial, "SN-LATEST");
	store_cert_clear(&gc);
	c.not_after = (int64_t)time(NULL) - 10;
	assert_int_equal(store_cert_put(s, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_latest(s, &gc, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(gc.serial, "SN-1");
	assert_int_equal(gc.pkcs7_len, sizeof(p7));
	store_cert_clear(&gc);
	c.csr_sha256[0] ^= 1;
	c.serial = "SN-1";
	c.not_after = valid_until;
	assert_int_equal(store_cert_get_by_csr(s, h, &gc, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(gc.pkcs7_len, sizeof(p7));
	assert_memory_equal(gc.pkcs7, p7, sizeof(p7));
	assert_null(gc.der);
	assert_int_equal(gc.not_after, c.not_after);
	store_cert_clear(&gc);
	c.der = csr;
	c.der_len = sizeof(csr);
	c.not_after = (int64_t)time(NULL) - 10;
	assert_int_equal(store_cert_put(s, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_by_csr(s, h, &gc, err, sizeof(err)), VOUCHER_E_NOT_FOUND);

	/* ACME account and orders. */
	acct.directory = "https://acme.example/dir";
	acct.key_pem = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n";
	assert_int_equal(store_acme_account_put(s, &acct, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_acme_account_put(s, &acct, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	acct.kid = "https://acme.example/acct/1";
	assert_int_equal(store_acme_account_put(s, &acct, STORE_PUT_UPDATE, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_acme_account_get(s, acct.directory, &ga, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(ga.kid, "https://acme.example/acct/1");
	assert_string_equal(ga.key_pem, acct.key_pem);
	store_acme_account_clear(&ga);
	assert_int_equal(store_acme_account_get(s, "https://other/", &ga, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	ord.job_id = id;
	ord.order_url = "https://acme.example/order/1";
	ord.state = "pending";
	ord.authz_urls = "[\"https://acme.example/authz/1\"]";
	ord.finalize_url = "https://acme.example/finalize/1";
	assert_int_equal(store_acme_order_put(s, &ord, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(store_acme_order_put(s, &ord, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	ord.state = "valid";
	ord.cert_url = "https://acme.example/cert/1";
	assert_int_equal(store_acme_order_put(s, &ord, STORE_PUT_UPDATE, err, sizeof(err)),
	                 VOUCHER_OK);
	ord.order_url = "https://acme.example/order/2";
	ord.state = "pending";
	ord.cert_url = NULL;
	assert_int_equal(store_acme_order_put(s, &ord, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(
	        store_acme_order_get(s, "https://acme.example/order/1", &go, err, sizeof(err)),
	        VOUCHER_OK);
	assert_string_equal(go.state, "valid");
	assert_string_equal(go.cert_url, "https://acme.example/cert/1");
	assert_int_equal(go.job_id, id);
	store_acme_order_clear(&go);
	assert_int_equal(store_acme_order_get_by_job(s, id, &go, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(go.order_url, "https://acme.example/order/2");
	store_acme_order_clear(&go);
	ord.job_id = 987654;
	ord.order_url = "https://acme.example/order/3";
	assert_int_equal(store_acme_order_put(s, &ord, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	store_close(s);
}

static void test_tokens(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_token t = {0}, got, *list = NULL;
	struct store_page page = {0};
	enum store_scope sc;
	int64_t id = 0, id2 = 0;
	size_t n = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	t.name = "ops";
	hash_of(t.sha256, 5);
	t.scope = STORE_SCOPE_ADMIN;
	assert_int_equal(store_token_create(s, &t, &id, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_token_create(s, &t, NULL, err, sizeof(err)), VOUCHER_E_CONFLICT);
	t.name = "acme-ro";
	hash_of(t.sha256, 6);
	t.scope = STORE_SCOPE_READ;
	t.owner = "acme";
	assert_int_equal(store_token_create(s, &t, NULL, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	put_owner(s, "acme");
	assert_int_equal(store_token_create(s, &t, &id2, err, sizeof(err)), VOUCHER_OK);
	assert_true(id2 > id);

	assert_int_equal(store_token_lookup(s, t.sha256, &got, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(got.id, id2);
	assert_int_equal(got.scope, STORE_SCOPE_READ);
	assert_string_equal(got.owner, "acme");
	assert_memory_equal(got.sha256, t.sha256, STORE_SHA256_LEN);
	assert_int_equal(got.revoked, 0);
	store_token_clear(&got);

	assert_int_equal(store_token_list(s, &page, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "ops");
	assert_null(list[0].owner);
	store_token_list_free(list, n);

	assert_int_equal(store_token_revoke(s, id2, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_token_revoke(s, id2, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_token_lookup(s, t.sha256, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_token_list(s, &page, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_true(list[1].revoked > 0);
	store_token_list_free(list, n);

	/* Owner-scoped tokens go with their owner. */
	hash_of(t.sha256, 7);
	assert_int_equal(store_token_create(s, &t, NULL, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_delete(s, "acme", err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_token_lookup(s, t.sha256, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	assert_string_equal(store_scope_name(STORE_SCOPE_WRITE), "write");
	assert_int_equal(store_scope_parse("admin", &sc), VOUCHER_OK);
	assert_int_equal(sc, STORE_SCOPE_ADMIN);
	assert_int_equal(store_scope_parse("root", &sc), VOUCHER_EINVAL);
	store_close(s);
}

/* ---- pagination --------------------------------------------------------------- */

static void test_pagination(void **state)
{
	char uri[512], err[STORE_ERRLEN], name[32];
	struct store *s;
	struct store_owner *list = NULL;
	struct store_page page = {0};
	size_t n = 0, total = 0;
	unsigned i, pages = 0;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	for (i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "owner-%02u", i);
		put_owner(s, name);
	}
	page.limit = 10;
	do {
		page.after = page.next;
		assert_int_equal(store_owner_list(s, &page, &list, &n, err, sizeof(err)),
		                 VOUCHER_OK);
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "owner-%02zu", total + i);
			assert_string_equal(list[i].name, name);
		}
		if (page.next)
			assert_int_equal(page.next, list[n - 1].id);
		total += n;
		pages++;
		store_owner_list_free(list, n);
	} while (page.next);
	assert_int_equal(total, 25);
	assert_int_equal(pages, 3);

	/* Exactly one full page: no next page promised. */
	page.after = 0;
	page.limit = 25;
	assert_int_equal(store_owner_list(s, &page, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 25);
	assert_int_equal(page.next, 0);
	store_owner_list_free(list, n);

	/* Default and cap; NULL page reads the first default page. */
	page.limit = 0;
	assert_int_equal(store_owner_list(s, &page, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 25);
	store_owner_list_free(list, n);
	page.limit = 1000000;
	assert_int_equal(store_owner_list(s, &page, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 25);
	store_owner_list_free(list, n);
	assert_int_equal(store_owner_list(s, NULL, &list, &n, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(n, 25);
	store_owner_list_free(list, n);

	/* A filtered list pages over the matching rows only: devices of
	 * two owners, interleaved. */
	for (i = 0; i < 20; i++) {
		struct store_device d = {0};

		snprintf(name, sizeof(name), "SN-%02u", i);
		d.serial = name;
		d.owner = i % 2 ? "owner-01" : "owner-02";
		assert_int_equal(store_device_put(s, &d, STORE_PUT_CREATE, err, sizeof(err)),
		                 VOUCHER_OK);
	}
	memset(&page, 0, sizeof(page));
	page.limit = 3;
	total = 0;
	pages = 0;
	do {
		struct store_device *dl = NULL;

		page.after = page.next;
		assert_int_equal(store_device_list(s, "owner-01", &page, &dl, &n, err, sizeof(err)),
		                 VOUCHER_OK);
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "SN-%02zu", 2 * (total + i) + 1);
			assert_string_equal(dl[i].serial, name);
			assert_string_equal(dl[i].owner, "owner-01");
		}
		total += n;
		pages++;
		store_device_list_free(dl, n);
	} while (page.next);
	assert_int_equal(total, 10);
	assert_int_equal(pages, 4);
	store_close(s);
}

/* ---- job claims under concurrency ------------------------------------------------ */

#define NJOBS    120
#define NTHREADS 8

struct claimer {
	struct store *s;
	char name[16];
	int64_t got[NJOBS];
	size_t n;
	voucher_err r;
	char err[STORE_ERRLEN];
};

/* Claim and complete until nothing is left. */
static void *claim_loop(void *arg)
{
	struct claimer *c = arg;
	uint8_t res[] = {1};

	for (;;) {
		struct store_job j;
		voucher_err r = store_job_claim(c->s, c->name, 600, &j, c->err, sizeof(c->err));

		if (r == VOUCHER_E_NOT_FOUND)
			break;
		if (r != VOUCHER_OK) {
			c->r = r;
			break;
		}
		if (c->n < NJOBS)
			c->got[c->n++] = j.id;
		r = store_job_complete(c->s, j.id, c->name, res, sizeof(res), c->err,
		                       sizeof(c->err));
		store_job_clear(&j);
		if (r != VOUCHER_OK) {
			c->r = r;
			break;
		}
	}
	return NULL;
}

static void check_claimed_once(const int64_t *ids, size_t n, int64_t first)
{
	unsigned char seen[NJOBS] = {0};
	size_t i;

	assert_int_equal(n, NJOBS);
	for (i = 0; i < n; i++) {
		int64_t k = ids[i] - first;

		assert_true(k >= 0 && k < NJOBS);
		if (seen[k])
			fail_msg("job %lld claimed twice", (long long)ids[i]);
		seen[k] = 1;
	}
}

static void test_claim_threads(void **state)
{
	char uri[512];
	struct store *s;
	static struct claimer c[NTHREADS];
	pthread_t th[NTHREADS];
	int64_t all[NJOBS], first = 0;
	size_t n = 0;
	unsigned i, k;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	for (i = 0; i < NJOBS; i++) {
		int64_t id = new_job(s, i);

		if (i == 0)
			first = id;
	}
	for (i = 0; i < NTHREADS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].s = s;
		snprintf(c[i].name, sizeof(c[i].name), "t%u", i);
		assert_int_equal(pthread_create(&th[i], NULL, claim_loop, &c[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (c[i].r != VOUCHER_OK)
			fail_msg("worker %u: %d %s", i, c[i].r, c[i].err);
		for (k = 0; k < c[i].n; k++)
			all[n++] = c[i].got[k];
	}
	check_claimed_once(all, n, first);
	store_close(s);
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM enroll_jobs WHERE state = 'done'"
	                                " AND attempts = 1"),
	                 NJOBS);
}

/* Writers of one process: autocommit appends from several threads while
 * another runs transactions. All land, none fails on the write lock, and
 * on SQLite the checkpointer keeps the WAL from growing with the data. */
#define NWRITERS 4
#define NAPPENDS 3000

struct appender {
	struct store *s;
	unsigned id;
	voucher_err r;
	char err[STORE_ERRLEN];
};

static void *append_loop(void *arg)
{
	struct appender *a = arg;
	char serial[32], detail[1024];
	unsigned i;

	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (i = 0; i < NAPPENDS && a->r == VOUCHER_OK; i++) {
		struct store_vreq v = {0};

		snprintf(serial, sizeof(serial), "W%u-%u", a->id, i);
		v.request_id = serial;
		v.peer = "127.0.0.1";
		v.serial = serial;
		v.media_type = "application/voucher-cms+json";
		v.disposition = "accepted";
		v.status = 200;
		v.detail = detail;
		a->r = store_vreq_log(a->s, &v, a->err, sizeof(a->err));
	}
	return NULL;
}

static void *job_loop(void *arg)
{
	struct appender *a = arg;
	unsigned i;

	for (i = 0; i < NJOBS; i++)
		new_job(a->s, i);
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	char uri[512], wal[600];
	struct store *s;
	static struct appender a[NWRITERS + 1];
	pthread_t th[NWRITERS + 1];
	struct stat st;
	unsigned i;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	for (i = 0; i <= NWRITERS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].s = s;
		a[i].id = i;
		assert_int_equal(
		        pthread_create(&th[i], NULL, i < NWRITERS ? append_loop : job_loop, &a[i]),
		        0);
	}
	for (i = 0; i <= NWRITERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (a[i].r != VOUCHER_OK)
			fail_msg("writer %u: %d %s", i, a[i].r, a[i].err);
	}
	if (!pg_base) {
		/* Every commit appends at least one 4 KiB page to the WAL:
		 * 12,000 commits, 48 MiB or more, had it never started over.
		 * The store bounds it at 4,000 pages and a transaction. */
		snprintf(wal, sizeof(wal), "%s-wal", uri);
		assert_int_equal(stat(wal, &st), 0);
		if (st.st_size > 18 * 1024 * 1024)
			fail_msg("the WAL grew to %lld bytes", (long long)st.st_size);
	}
	store_close(s);
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM voucher_requests"),
	                 NWRITERS * NAPPENDS);
	assert_int_equal(raw_count(uri, "SELECT COUNT(*) FROM enroll_jobs"), NJOBS);
}

/* Two processes with their own stores, four threads each. */
static void test_claim_processes(void **state)
{
	char uri[512];
	struct store *s;
	int64_t all[NJOBS], first = 0;
	int gate[2], out[2][2], status;
	pid_t pid[2];
	size_t n = 0;
	unsigned i, p;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	for (i = 0; i < NJOBS; i++) {
		int64_t id = new_job(s, i);

		if (i == 0)
			first = id;
	}
	store_close(s);
	assert_int_equal(pipe(gate), 0);
	for (p = 0; p < 2; p++) {
		assert_int_equal(pipe(out[p]), 0);
		pid[p] = fork();
		assert_true(pid[p] >= 0);
		if (pid[p] == 0) {
			static struct claimer c[4];
			pthread_t th[4];
			char ch, err[STORE_ERRLEN] = "";
			struct store *cs = NULL;
			int bad = 0;

			close(gate[1]);
			close(out[p][0]);
			if (store_open(uri, &cs, err, sizeof(err)) != VOUCHER_OK) {
				fprintf(stderr, "child: %s\n", err);
				_exit(2);
			}
			(void)!read(gate[0], &ch, 1);
			for (i = 0; i < 4; i++) {
				memset(&c[i], 0, sizeof(c[i]));
				c[i].s = cs;
				snprintf(c[i].name, sizeof(c[i].name), "p%u.%u", p, i);
				pthread_create(&th[i], NULL, claim_loop, &c[i]);
			}
			for (i = 0; i < 4; i++) {
				pthread_join(th[i], NULL);
				if (c[i].r != VOUCHER_OK) {
					fprintf(stderr, "child worker: %s\n", c[i].err);
					bad = 1;
				}
				if (write(out[p][1], c[i].got, c[i].n * sizeof(int64_t)) < 0)
					bad = 1;
			}
			store_close(cs);
			_exit(bad);
		}
		close(out[p][1]);
	}
	close(gate[0]);
	close(gate[1]);
	for (p = 0; p < 2; p++) {
		ssize_t got;

		while (n < NJOBS &&
		       (got = read(out[p][0], &all[n], (NJOBS - n) * sizeof(int64_t))) > 0)
			n += (size_t)got / sizeof(int64_t);
		close(out[p][0]);
		assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	check_claimed_once(all, n, first);
}

static void test_lease_expiry(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_job j;
	uint8_t res[] = {9};
	int64_t id;
	voucher_err r;
	int i;

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	id = new_job(s, 1);
	assert_int_equal(store_job_claim(s, "A", 1, &j, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(j.id, id);
	store_job_clear(&j);
	assert_int_equal(store_job_claim(s, "B", 60, &j, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	/* Poll until A's lease (1..2 s on the database clock) runs out. */
	for (i = 0; i < 100; i++) {
		r = store_job_claim(s, "B", 60, &j, err, sizeof(err));
		if (r != VOUCHER_E_NOT_FOUND)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(r, VOUCHER_OK);
	assert_int_equal(j.id, id);
	assert_string_equal(j.lease_holder, "B");
	assert_int_equal(j.attempts, 2);
	store_job_clear(&j);
	/* A wakes up late: its result is refused, B's is taken. */
	assert_int_equal(store_job_complete(s, id, "A", res, sizeof(res), err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	assert_non_null(strstr(err, "B"));
	assert_int_equal(store_job_renew(s, id, "A", 60, err, sizeof(err)), VOUCHER_E_CONFLICT);
	assert_int_equal(store_job_complete(s, id, "B", res, sizeof(res), err, sizeof(err)),
	                 VOUCHER_OK);
	store_close(s);
}

/* ---- transactions -------------------------------------------------------------- */

static void test_transactions(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s, *tx, *tx2;
	struct store_owner o;
	struct store_device d = {0};

	(void)state;
	s = open_fresh(uri, sizeof(uri));
	put_owner(s, "dup");

	/* A bulk import that fails half way leaves nothing behind. */
	assert_int_equal(store_begin(s, &tx, err, sizeof(err)), VOUCHER_OK);
	put_owner(tx, "a");
	put_owner(tx, "b");
	d.serial = "SN-1";
	d.owner = "a";
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_get(tx, "a", &o, err, sizeof(err)), VOUCHER_OK);
	store_owner_clear(&o);
	assert_int_equal(store_begin(tx, &tx2, err, sizeof(err)), VOUCHER_EINVAL);
	{
		struct store_owner dup = owner_rec("dup");

		assert_int_equal(store_owner_put(tx, &dup, STORE_PUT_CREATE, err, sizeof(err)),
		                 VOUCHER_E_CONFLICT);
	}
	store_rollback(tx);
	assert_int_equal(store_owner_get(s, "a", &o, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_get(s, "b", &o, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(
	        store_device_get(s, "SN-1", NULL, &(struct store_device){0}, err, sizeof(err)),
	        VOUCHER_E_NOT_FOUND);

	/* And one that succeeds is all there. A reference to a missing
	 * owner is reported as such and does not spoil the transaction. */
	assert_int_equal(store_begin(s, &tx, err, sizeof(err)), VOUCHER_OK);
	put_owner(tx, "a");
	d.owner = "ghost";
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_string_equal(err, "owner ghost not found");
	put_owner(tx, "b");
	assert_int_equal(store_commit(tx, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_owner_get(s, "b", &o, err, sizeof(err)), VOUCHER_OK);
	store_owner_clear(&o);
	/* A failed statement inside a transaction undoes only itself, on
	 * both engines: the import can go on and report every bad row. */
	assert_int_equal(store_begin(s, &tx, err, sizeof(err)), VOUCHER_OK);
	d.serial = "SN-10";
	d.owner = "a";
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_CREATE, err, sizeof(err)),
	                 VOUCHER_E_CONFLICT);
	d.serial = "SN-11";
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	d.owner = "ghost";
	assert_int_equal(store_device_put(tx, &d, STORE_PUT_UPSERT, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_commit(tx, err, sizeof(err)), VOUCHER_OK);
	{
		struct store_device *dl = NULL;
		struct store_page pg = {0};
		size_t n = 0;

		assert_int_equal(store_device_list(s, "a", &pg, &dl, &n, err, sizeof(err)),
		                 VOUCHER_OK);
		assert_int_equal(n, 2);
		assert_string_equal(dl[0].serial, "SN-10");
		assert_string_equal(dl[1].serial, "SN-11");
		store_device_list_free(dl, n);
	}
	assert_int_equal(store_commit(NULL, err, sizeof(err)), VOUCHER_EINVAL);
	store_rollback(NULL);
	store_close(s);
}

/* ---- durability and reconnects ------------------------------------------------------- */

/* A write the store reported as done survives SIGKILL of the writer. */
static void test_survives_kill(void **state)
{
	char uri[512], err[STORE_ERRLEN];
	struct store *s;
	struct store_owner o;
	int ready[2], status;
	pid_t pid;
	char c = 0;

	(void)state;
	fresh_db(uri, sizeof(uri));
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;
		struct store_owner co = owner_rec("survivor");

		close(ready[0]);
		if (store_open(uri, &cs, err, sizeof(err)) != VOUCHER_OK ||
		    store_owner_put(cs, &co, STORE_PUT_CREATE, err, sizeof(err)) != VOUCHER_OK)
			_exit(1);
		(void)!write(ready[1], "k", 1);
		for (;;)
			pause(); /* killed here, store still open */
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	s = open_uri(uri);
	assert_int_equal(store_owner_get(s, "survivor", &o, err, sizeof(err)), VOUCHER_OK);
	store_owner_clear(&o);
	store_close(s);
}

struct pinger {
	struct store *s;
	voucher_err r;
};

static void *ping_some(void *arg)
{
	struct pinger *p = arg;
	int i;

	for (i = 0; i < 20 && p->r == VOUCHER_OK; i++)
		p->r = store_ping(p->s);
	return NULL;
}

/* Run the restart command without a shell (fork + exec). */
static int run_cmd(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_pg_restart(void **state)
{
	const char *restart = getenv("BRSKI_TEST_PG_RESTART");
	char uri[512], err[STORE_ERRLEN];
	struct store *s, *tx;
	struct store_owner o;
	struct pinger p[4];
	pthread_t th[4];
	unsigned i;

	(void)state;
	if (!pg_base) {
		skip(); /* a server restart is a PostgreSQL matter */
		return;
	}
	if (!restart)
		fail_msg("BRSKI_TEST_PG_RESTART is not set");
	s = open_fresh(uri, sizeof(uri));
	put_owner(s, "before");
	/* Fill the pool with several live connections. */
	for (i = 0; i < 4; i++) {
		p[i].s = s;
		p[i].r = VOUCHER_OK;
		assert_int_equal(pthread_create(&th[i], NULL, ping_some, &p[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(p[i].r, VOUCHER_OK);
	}
	assert_int_equal(run_cmd(restart), 0);
	/* Every pooled connection is dead now; each call reconnects. */
	assert_int_equal(store_ping(s), VOUCHER_OK);
	put_owner(s, "after");
	assert_int_equal(store_owner_get(s, "before", &o, err, sizeof(err)), VOUCHER_OK);
	store_owner_clear(&o);
	for (i = 0; i < 4; i++) {
		p[i].r = VOUCHER_OK;
		assert_int_equal(pthread_create(&th[i], NULL, ping_some, &p[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(p[i].r, VOUCHER_OK);
	}

	/* A transaction started on a dead pooled connection reconnects at
	 * BEGIN, where nothing is lost yet. */
	assert_int_equal(run_cmd(restart), 0);
	assert_int_equal(store_begin(s, &tx, err, sizeof(err)), VOUCHER_OK);
	put_owner(tx, "in-tx");
	assert_int_equal(store_commit(tx, err, sizeof(err)), VOUCHER_OK);

	/* One whose server goes away half way fails, commit included, and
	 * leaves nothing; the next call works again. */
	assert_int_equal(store_begin(s, &tx, err, sizeof(err)), VOUCHER_OK);
	put_owner(tx, "lost");
	assert_int_equal(run_cmd(restart), 0);
	{
		struct store_owner lost = owner_rec("lost-2");

		assert_int_equal(store_owner_put(tx, &lost, STORE_PUT_CREATE, err, sizeof(err)),
		                 VOUCHER_E_STORE);
	}
	assert_int_equal(store_commit(tx, err, sizeof(err)), VOUCHER_E_STORE);
	assert_int_equal(store_owner_get(s, "lost", &o, err, sizeof(err)), VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_owner_get(s, "in-tx", &o, err, sizeof(err)), VOUCHER_OK);
	store_owner_clear(&o);
	store_close(s);
}

/* ---- main ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	pg_base = getenv("BRSKI_TEST_PG_URI_BASE");
	pg_admin = getenv("BRSKI_TEST_PG_URI");
	if (pg_base && (!*pg_base || !pg_admin)) {
		fprintf(stderr, "BRSKI_TEST_PG_URI_BASE needs BRSKI_TEST_PG_URI\n");
		return -1;
	}
	if (pg_base && !*pg_base)
		pg_base = NULL;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_store.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	fprintf(stderr, "# backend: %s\n", pg_base ? "postgresql" : "sqlite");
	return 0;
}

static int group_teardown(void **state)
{
	char path[512];
	unsigned i;

	(void)state;
	for (i = 1; i <= dbseq; i++) {
		static const char *const sfx[] = {"", "-wal", "-shm"};
		unsigned k;

		for (k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "%s/t%u.db%s", tmpdir, i, sfx[k]);
			unlink(path);
		}
	}
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_migrate_from_empty),
	        cmocka_unit_test(test_reopen_is_noop),
	        cmocka_unit_test(test_concurrent_open),
	        cmocka_unit_test(test_newer_schema),
	        cmocka_unit_test(test_bad_database),
	        cmocka_unit_test(test_owners),
	        cmocka_unit_test(test_owner_denylist_crls),
	        cmocka_unit_test(test_devices),
	        cmocka_unit_test(test_logs),
	        cmocka_unit_test(test_pledge_log),
	        cmocka_unit_test(test_jobs_certs_acme),
	        cmocka_unit_test(test_tokens),
	        cmocka_unit_test(test_pagination),
	        cmocka_unit_test(test_claim_threads),
	        cmocka_unit_test(test_claim_processes),
	        cmocka_unit_test(test_concurrent_writers),
	        cmocka_unit_test(test_lease_expiry),
	        cmocka_unit_test(test_transactions),
	        cmocka_unit_test(test_survives_kill),
	        cmocka_unit_test(test_pg_restart),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
