/*
 * The store's generic layer: backend dispatch by scheme, the migration
 * runner, and every typed operation, each written once as SQL that runs on
 * both engines (store-int.h explains the seam).
 */
#include <config.h> /* the build's, not service/config.h */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"
#include "service/store-int.h"

struct store {
	const struct store_ops *ops;
	void *ctx;
	/* Set on a transaction handle: the connection it holds. */
	struct store_conn *tx_conn;
};

/* Backends by scheme; a string without a known scheme is a SQLite path. */
static const struct {
	const char *prefix;
	const struct store_ops *ops; /* NULL: known scheme, not built in */
	bool strip;                  /* pass the rest after the prefix */
} schemes[] = {
        {"sqlite:", &store_sqlite_ops, true},
#ifdef HAVE_POSTGRESQL
        {"postgresql://", &store_pg_ops, false},
        {"postgres://", &store_pg_ops, false},
#else
        {"postgresql://", NULL, false},
        {"postgres://", NULL, false},
#endif
};

/* ---- statements --------------------------------------------------------- */

#define OWNER_COLS                                                                                 \
	"id, name, domain_ca_pem, registrar_url, est_url, est_pin_pem, enroll_here, created_at, "  \
	"updated_at"
#define CRL_COLS "id, owner, crl_sha256, crl_der, next_update, created_at"
#define DEVICE_COLS                                                                                \
	"id, serial, idevid_issuer, owner, mode, additional_configuration_url, created_at, "       \
	"updated_at"
#define VREQ_COLS                                                                                  \
	"id, logged_at, request_id, peer, signer, serial, nonce, media_type, disposition, "        \
	"status, detail"
#define AUDIT_COLS "id, serial, owner, domain_id, nonce, assertion, logged_at"
#define TELEM_COLS "id, serial, kind, status, reason, body, logged_at"
#define JOB_COLS                                                                                   \
	"id, csr_sha256, csr, serial, owner, state, lease_holder, lease_expires, run_after, "      \
	"attempts, error, result, created_at, updated_at, reenroll"
#define CERT_COLS    "id, csr_sha256, serial, not_after, cert_der, pkcs7, created_at"
#define ACCT_COLS    "id, directory, key_pem, kid, created_at, updated_at"
#define PREAUTH_COLS "id, directory, domain, authz_url, valid, published, expires, updated_at"
#define ORDER_COLS                                                                                 \
	"id, job_id, order_url, state, authz_urls, finalize_url, cert_url, created_at, updated_at"
#define TOKEN_COLS "id, name, token_sha256, scope, owner, created_at, revoked_at"
#define PREQ_COLS                                                                                  \
	"id, logged_at, request_id, peer, client_cert, serial, endpoint, media_type, "             \
	"disposition, status, detail"
#define AAUD_COLS                                                                                  \
	"id, logged_at, token_id, request_id, method, route, status, before_json, after_json"

/* A row may name an owner only if it exists. Checked in the statement (no
 * row written otherwise) rather than left to the foreign key, whose error
 * would abort a PostgreSQL transaction before the cause could be told. */
#define OWNER_OK(p)                                                                                \
	"(CAST(" p " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM owners WHERE name = " p "))"

/* A job is runnable when pending and due, or running on a lease that has
 * run out (its worker died or stalled). */
#define JOB_RUNNABLE                                                                               \
	"(state = 'pending' AND run_after <= {NOW}) OR (state = 'running' AND lease_expires < "    \
	"{NOW})"

enum {
	ST_PING,
	ST_VERSION_GET,
	ST_VERSION_ADD,
	ST_OWNER_INSERT,
	ST_OWNER_UPDATE,
	ST_OWNER_UPSERT,
	ST_OWNER_GET,
	ST_OWNER_LIST,
	ST_OWNER_DELETE,
	ST_DENY_ADD,
	ST_DENY_DEL,
	ST_DENY_CHECK,
	ST_CRL_ADD,
	ST_CRL_LIST,
	ST_CRL_DEL,
	ST_DEVICE_INSERT,
	ST_DEVICE_UPDATE,
	ST_DEVICE_UPSERT,
	ST_DEVICE_GET,
	ST_DEVICE_LIST,
	ST_DEVICE_DELETE,
	ST_DEVICE_SET_OWNER,
	ST_VREQ_ADD,
	ST_VREQ_LIST,
	ST_AUDIT_ADD,
	ST_AUDIT_LIST,
	ST_TELEM_ADD,
	ST_TELEM_LIST,
	ST_JOB_CREATE,
	ST_JOB_GET,
	ST_JOB_GET_BY_CSR,
	ST_JOB_CLAIM,
	ST_JOB_RENEW,
	ST_JOB_COMPLETE,
	ST_JOB_RETRY,
	ST_JOB_FAIL,
	ST_JOB_RESTART,
	ST_CERT_PUT,
	ST_CERT_GET,
	ST_ACCT_INSERT,
	ST_ACCT_UPDATE,
	ST_ACCT_UPSERT,
	ST_ACCT_GET,
	ST_ORDER_INSERT,
	ST_ORDER_UPDATE,
	ST_ORDER_UPSERT,
	ST_ORDER_GET,
	ST_ORDER_GET_BY_JOB,
	ST_TOKEN_CREATE,
	ST_TOKEN_LOOKUP,
	ST_TOKEN_LIST,
	ST_TOKEN_REVOKE,
	ST_AAUD_ADD,
	ST_AAUD_LIST,
	ST_PREQ_ADD,
	ST_PREQ_LIST,
	ST_CERT_GET_BY_HASH,
	ST_PREAUTH_PUT,
	ST_PREAUTH_GET,
	ST_PREAUTH_DEL,
	ST_CERT_GET_LATEST,
	ST__COUNT
};

/* Every statement the store runs. $N are parameters; {NOW} etc. are the
 * backends' dialect tokens (store-int.h). */
static const char *const stmts[ST__COUNT] = {
        [ST_PING] = "SELECT 1",
        [ST_VERSION_GET] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [ST_VERSION_ADD] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, {NOW})",

        [ST_OWNER_INSERT] = "INSERT INTO owners (name, domain_ca_pem, registrar_url, est_url,"
                            " est_pin_pem, enroll_here, created_at, updated_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, {NOW}, {NOW})",
        [ST_OWNER_UPDATE] = "UPDATE owners SET domain_ca_pem = $2, registrar_url = $3,"
                            " est_url = $4, est_pin_pem = $5, enroll_here = $6,"
                            " updated_at = {NOW} WHERE name = $1",
        [ST_OWNER_UPSERT] =
                "INSERT INTO owners (name, domain_ca_pem, registrar_url, est_url,"
                " est_pin_pem, enroll_here, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, {NOW}, {NOW})"
                " ON CONFLICT (name) DO UPDATE SET"
                " domain_ca_pem = excluded.domain_ca_pem,"
                " registrar_url = excluded.registrar_url, est_url = excluded.est_url,"
                " est_pin_pem = excluded.est_pin_pem, enroll_here = excluded.enroll_here,"
                " updated_at = excluded.updated_at",
        [ST_OWNER_GET] = "SELECT " OWNER_COLS " FROM owners WHERE name = $1",
        [ST_OWNER_LIST] = "SELECT " OWNER_COLS " FROM owners WHERE id > $1 ORDER BY id LIMIT $2",
        [ST_OWNER_DELETE] = "DELETE FROM owners WHERE name = $1",

        /* INSERT ... SELECT FROM owners: no row for an unknown owner, which
         * the caller reports as not found. */
        [ST_DENY_ADD] = "INSERT INTO owner_denied_certs (owner, cert_sha256, reason, created_at)"
                        " SELECT name, $2, $3, {NOW} FROM owners WHERE name = $1",
        [ST_DENY_DEL] = "DELETE FROM owner_denied_certs WHERE owner = $1 AND cert_sha256 = $2",
        [ST_DENY_CHECK] = "SELECT COUNT(*) FROM owner_denied_certs"
                          " WHERE owner = $1 AND cert_sha256 = $2",
        [ST_CRL_ADD] =
                "INSERT INTO owner_crls (owner, crl_sha256, crl_der, next_update, created_at)"
                " SELECT name, $2, $3, $4, {NOW} FROM owners WHERE name = $1 RETURNING id",
        [ST_CRL_LIST] = "SELECT " CRL_COLS " FROM owner_crls WHERE owner = $1 AND id > $2"
                        " ORDER BY id LIMIT $3",
        [ST_CRL_DEL] = "DELETE FROM owner_crls WHERE owner = $1 AND id = $2",

        [ST_DEVICE_INSERT] = "INSERT INTO devices (serial, idevid_issuer, owner, mode,"
                             " additional_configuration_url, created_at, updated_at)"
                             " SELECT $1, $2, $3, $4, $5, {NOW}, {NOW} WHERE " OWNER_OK("$3"),
        [ST_DEVICE_UPDATE] = "UPDATE devices SET owner = $3, mode = $4,"
                             " additional_configuration_url = $5, updated_at = {NOW}"
                             " WHERE serial = $1 AND idevid_issuer = $2 AND " OWNER_OK("$3"),
        [ST_DEVICE_UPSERT] = "INSERT INTO devices (serial, idevid_issuer, owner, mode,"
                             " additional_configuration_url, created_at, updated_at)"
                             " SELECT $1, $2, $3, $4, $5, {NOW}, {NOW} WHERE " OWNER_OK(
                                     "$3") " ON CONFLICT (serial, idevid_issuer) DO UPDATE SET"
                                           " owner = excluded.owner, mode = excluded.mode,"
                                           " additional_configuration_url = "
                                           "excluded.additional_configuration_url,"
                                           " updated_at = excluded.updated_at",
        /* '' (any issuer) sorts first: DESC prefers the exact issuer. */
        [ST_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE serial = $1"
                          " AND (idevid_issuer = $2 OR idevid_issuer = '')"
                          " ORDER BY idevid_issuer DESC LIMIT 1",
        [ST_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices WHERE id > $1"
                           " AND (CAST($2 AS TEXT) IS NULL OR owner = $2) ORDER BY id LIMIT $3",
        [ST_DEVICE_DELETE] = "DELETE FROM devices WHERE serial = $1 AND idevid_issuer = $2",
        [ST_DEVICE_SET_OWNER] = "UPDATE devices SET owner = $3, updated_at = {NOW}"
                                " WHERE serial = $1 AND idevid_issuer = $2 AND " OWNER_OK("$3"),

        [ST_VREQ_ADD] = "INSERT INTO voucher_requests (logged_at, request_id, peer, signer, serial,"
                        " nonce, media_type, disposition, status, detail)"
                        " VALUES ({NOW}, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [ST_VREQ_LIST] = "SELECT " VREQ_COLS " FROM voucher_requests WHERE id > $1"
                         " AND (CAST($2 AS TEXT) IS NULL OR serial = $2) ORDER BY id LIMIT $3",
        [ST_AUDIT_ADD] = "INSERT INTO audit_events (serial, owner, domain_id, nonce, assertion,"
                         " logged_at) VALUES ($1, $2, $3, $4, $5, {NOW})",
        [ST_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit_events WHERE serial = $1 AND id > $2"
                          " ORDER BY id LIMIT $3",
        [ST_TELEM_ADD] = "INSERT INTO telemetry (serial, kind, status, reason, body, logged_at)"
                         " VALUES ($1, $2, $3, $4, $5, {NOW})",
        [ST_TELEM_LIST] = "SELECT " TELEM_COLS " FROM telemetry WHERE id > $1"
                          " AND (CAST($2 AS TEXT) IS NULL OR serial = $2) ORDER BY id LIMIT $3",

        [ST_JOB_CREATE] = "INSERT INTO enroll_jobs (csr_sha256, csr, serial, owner, reenroll,"
                          " state, run_after, created_at, updated_at)"
                          " VALUES ($1, $2, $3, $4, $5, 'pending', {NOW}, {NOW}, {NOW})"
                          " RETURNING id",
        [ST_JOB_GET] = "SELECT " JOB_COLS " FROM enroll_jobs WHERE id = $1",
        [ST_JOB_GET_BY_CSR] = "SELECT " JOB_COLS " FROM enroll_jobs WHERE csr_sha256 = $1",
        /* One statement picks and takes the job, so two workers can never
         * take the same one: on SQLite the statement holds the write lock;
         * on PostgreSQL the row lock of FOR UPDATE does, re-checked against
         * the newest row version, and SKIP LOCKED sends other workers to
         * the next job instead of queueing them behind this one. */
        [ST_JOB_CLAIM] = "UPDATE enroll_jobs SET state = 'running', lease_holder = $1,"
                         " lease_expires = {NOW} + $2, attempts = attempts + 1,"
                         " updated_at = {NOW} WHERE id = (SELECT id FROM enroll_jobs"
                         " WHERE " JOB_RUNNABLE " ORDER BY id LIMIT 1 {SKIP_LOCKED})"
                         " RETURNING " JOB_COLS,
        [ST_JOB_RENEW] = "UPDATE enroll_jobs SET lease_expires = {NOW} + $3, updated_at = {NOW}"
                         " WHERE id = $1 AND lease_holder = $2 AND state = 'running'",
        [ST_JOB_COMPLETE] = "UPDATE enroll_jobs SET state = 'done', result = $3, error = NULL,"
                            " lease_holder = NULL, lease_expires = NULL, updated_at = {NOW}"
                            " WHERE id = $1 AND lease_holder = $2 AND state = 'running'",
        [ST_JOB_RETRY] = "UPDATE enroll_jobs SET state = 'pending', error = $3,"
                         " lease_holder = NULL, lease_expires = NULL, run_after = {NOW} + $4,"
                         " updated_at = {NOW}"
                         " WHERE id = $1 AND lease_holder = $2 AND state = 'running'",
        [ST_JOB_FAIL] = "UPDATE enroll_jobs SET state = 'failed', error = $3,"
                        " lease_holder = NULL, lease_expires = NULL, updated_at = {NOW}"
                        " WHERE id = $1 AND lease_holder = $2 AND state = 'running'",
        [ST_JOB_RESTART] = "UPDATE enroll_jobs SET state = 'pending', run_after = {NOW},"
                           " result = NULL, updated_at = {NOW}"
                           " WHERE id = $1 AND state IN ('done', 'failed')",

        [ST_CERT_PUT] = "INSERT INTO certificates (csr_sha256, serial, not_after, cert_der, pkcs7,"
                        " cert_sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, {NOW})"
                        " ON CONFLICT (csr_sha256) DO UPDATE SET serial = excluded.serial,"
                        " not_after = excluded.not_after, cert_der = excluded.cert_der,"
                        " pkcs7 = excluded.pkcs7, cert_sha256 = excluded.cert_sha256,"
                        " created_at = excluded.created_at",
        [ST_CERT_GET] = "SELECT " CERT_COLS " FROM certificates WHERE csr_sha256 = $1"
                        " AND not_after > {NOW}",

        [ST_ACCT_INSERT] = "INSERT INTO acme_account (directory, key_pem, kid, created_at,"
                           " updated_at) VALUES ($1, $2, $3, {NOW}, {NOW})",
        [ST_ACCT_UPDATE] = "UPDATE acme_account SET key_pem = $2, kid = $3, updated_at = {NOW}"
                           " WHERE directory = $1",
        [ST_ACCT_UPSERT] = "INSERT INTO acme_account (directory, key_pem, kid, created_at,"
                           " updated_at) VALUES ($1, $2, $3, {NOW}, {NOW})"
                           " ON CONFLICT (directory) DO UPDATE SET key_pem = excluded.key_pem,"
                           " kid = excluded.kid, updated_at = excluded.updated_at",
        [ST_ACCT_GET] = "SELECT " ACCT_COLS " FROM acme_account WHERE directory = $1",
        [ST_ORDER_INSERT] = "INSERT INTO acme_orders (order_url, job_id, state, authz_urls,"
                            " finalize_url, cert_url, created_at, updated_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, {NOW}, {NOW})",
        [ST_ORDER_UPDATE] = "UPDATE acme_orders SET job_id = $2, state = $3, authz_urls = $4,"
                            " finalize_url = $5, cert_url = $6, updated_at = {NOW}"
                            " WHERE order_url = $1",
        [ST_ORDER_UPSERT] = "INSERT INTO acme_orders (order_url, job_id, state, authz_urls,"
                            " finalize_url, cert_url, created_at, updated_at)"
                            " VALUES ($1, $2, $3, $4, $5, $6, {NOW}, {NOW})"
                            " ON CONFLICT (order_url) DO UPDATE SET job_id = excluded.job_id,"
                            " state = excluded.state, authz_urls = excluded.authz_urls,"
                            " finalize_url = excluded.finalize_url, cert_url = excluded.cert_url,"
                            " updated_at = excluded.updated_at",
        [ST_ORDER_GET] = "SELECT " ORDER_COLS " FROM acme_orders WHERE order_url = $1",
        [ST_ORDER_GET_BY_JOB] = "SELECT " ORDER_COLS " FROM acme_orders WHERE job_id = $1"
                                " ORDER BY id DESC LIMIT 1",
        [ST_TOKEN_CREATE] =
                "INSERT INTO admin_tokens (name, token_sha256, scope, owner,"
                " created_at) SELECT $1, $2, $3, $4, {NOW} WHERE " OWNER_OK("$4") " RETURNING id",
        [ST_TOKEN_LOOKUP] = "SELECT " TOKEN_COLS " FROM admin_tokens WHERE token_sha256 = $1"
                            " AND revoked_at IS NULL",
        [ST_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM admin_tokens WHERE id > $1"
                          " ORDER BY id LIMIT $2",
        [ST_TOKEN_REVOKE] = "UPDATE admin_tokens SET revoked_at = {NOW}"
                            " WHERE id = $1 AND revoked_at IS NULL",
        [ST_AAUD_ADD] = "INSERT INTO admin_audit (logged_at, token_id, request_id, method, route,"
                        " status, before_json, after_json)"
                        " VALUES ({NOW}, $1, $2, $3, $4, $5, $6, $7)",
        [ST_AAUD_LIST] = "SELECT " AAUD_COLS " FROM admin_audit WHERE id > $1"
                         " ORDER BY id LIMIT $2",

        [ST_PREQ_ADD] = "INSERT INTO pledge_requests (logged_at, request_id, peer, client_cert,"
                        " serial, endpoint, media_type, disposition, status, detail)"
                        " VALUES ({NOW}, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [ST_PREQ_LIST] = "SELECT " PREQ_COLS " FROM pledge_requests WHERE id > $1"
                         " AND (CAST($2 AS TEXT) IS NULL OR serial = $2) ORDER BY id LIMIT $3",
        [ST_CERT_GET_BY_HASH] = "SELECT " CERT_COLS " FROM certificates WHERE cert_sha256 = $1"
                                " AND not_after > {NOW} ORDER BY id DESC LIMIT 1",
        [ST_PREAUTH_PUT] = "INSERT INTO acme_preauth (directory, domain, authz_url, valid,"
                           " published, expires, updated_at)"
                           " VALUES ($1, $2, $3, $4, $5, $6, {NOW})"
                           " ON CONFLICT (directory, domain) DO UPDATE SET"
                           " authz_url = excluded.authz_url, valid = excluded.valid,"
                           " published = excluded.published, expires = excluded.expires,"
                           " updated_at = excluded.updated_at",
        [ST_PREAUTH_GET] = "SELECT " PREAUTH_COLS " FROM acme_preauth"
                           " WHERE directory = $1 AND domain = $2",
        [ST_PREAUTH_DEL] = "DELETE FROM acme_preauth WHERE directory = $1 AND domain = $2",
        [ST_CERT_GET_LATEST] = "SELECT " CERT_COLS " FROM certificates WHERE not_after > {NOW}"
                               " ORDER BY id DESC LIMIT 1",
};

unsigned store_stmt_count(void)
{
	return ST__COUNT;
}

void store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

char *store_sql_expand(const char *sql, const struct store_dialect *tokens, bool qmark)
{
	struct brski_buf b;
	const char *p;
	voucher_err r = VOUCHER_OK;

	brski_buf_init(&b, 1024 * 1024);
	for (p = sql; *p && r == VOUCHER_OK; p++) {
		const struct store_dialect *t = NULL;

		if (*p == '{') {
			for (t = tokens; t->name; t++)
				if (strncmp(p, t->name, strlen(t->name)) == 0)
					break;
			if (t->name) {
				r = brski_buf_puts(&b, t->text);
				p += strlen(t->name) - 1;
				continue;
			}
		}
		if (qmark && *p == '$' && p[1] >= '0' && p[1] <= '9')
			r = brski_buf_putc(&b, '?');
		else
			r = brski_buf_putc(&b, (uint8_t)*p);
	}
	if (r == VOUCHER_OK && b.len == 0)
		r = brski_buf_putc(&b, ' ');
	if (r != VOUCHER_OK) {
		brski_buf_free(&b);
		return NULL;
	}
	return (char *)brski_buf_take(&b, NULL);
}

/* ---- running statements --------------------------------------------------- */

/* Borrow the connection a call runs on: the transaction's, or a pooled
 * one. */
static voucher_err conn_get(struct store *s, struct store_conn **c, char *err, size_t errlen)
{
	if (s->tx_conn) {
		*c = s->tx_conn;
		return VOUCHER_OK;
	}
	return s->ops->conn_get(s->ctx, c, err, errlen);
}

static void conn_put(struct store *s, struct store_conn *c)
{
	if (c && !s->tx_conn)
		s->ops->conn_put(s->ctx, c);
}

static voucher_err exec_on(struct store *s, struct store_conn *c, unsigned id,
                           const struct store_val *params, size_t n, store_row_fn cb, void *arg,
                           int64_t *changes, char *err, size_t errlen)
{
	return s->ops->exec(s->ctx, c, id, stmts[id], params, n, cb, arg, changes,
	                    s->tx_conn != NULL, err, errlen);
}

/* One statement on its own connection (or the transaction's). A single
 * statement is atomic on both engines, so a one-statement write needs no
 * explicit transaction. */
static voucher_err run(struct store *s, unsigned id, const struct store_val *params, size_t n,
                       store_row_fn cb, void *arg, int64_t *changes, char *err, size_t errlen)
{
	struct store_conn *c = NULL;
	voucher_err r;

	if (!s) {
		store_errf(err, errlen, "no store");
		return VOUCHER_EINVAL;
	}
	if ((r = conn_get(s, &c, err, errlen)) != VOUCHER_OK)
		return r;
	r = exec_on(s, c, id, params, n, cb, arg, changes, err, errlen);
	conn_put(s, c);
	return r;
}

static voucher_err row_int(void *arg, const struct store_val *cols, size_t n)
{
	int64_t *out = arg;

	if (n < 1 || cols[0].t != STORE_V_INT)
		return VOUCHER_E_STORE;
	*out = cols[0].i;
	return VOUCHER_OK;
}

/* ---- open, migrate, close --------------------------------------------------- */

static voucher_err migrate(struct store *s, char *err, size_t errlen)
{
	struct store_conn *c = NULL;
	int64_t have = -1;
	int latest = store_migrations[store_migrations_count - 1].version;
	voucher_err r;
	size_t i;

	if ((r = s->ops->conn_get(s->ctx, &c, err, errlen)) != VOUCHER_OK)
		return r;
	/* Everything below runs under the cross-process migration lock, in
	 * one transaction (DDL is transactional on both engines): instances
	 * starting together wait here, then find the work done. */
	if ((r = s->ops->begin_migrate(s->ctx, c, err, errlen)) != VOUCHER_OK)
		goto out;
	r = s->ops->script(s->ctx, c,
	                   "CREATE TABLE IF NOT EXISTS schema_version ("
	                   " version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
	                   err, errlen);
	if (r == VOUCHER_OK)
		r = s->ops->exec(s->ctx, c, ST_VERSION_GET, stmts[ST_VERSION_GET], NULL, 0, row_int,
		                 &have, NULL, true, err, errlen);
	if (r != VOUCHER_OK)
		goto rollback;
	if (have > latest) {
		store_errf(err, errlen,
		           "database schema version %lld is newer than this build knows (%d); "
		           "upgrade brski-cloud",
		           (long long)have, latest);
		r = VOUCHER_E_STORE;
		goto rollback;
	}
	for (i = 0; i < store_migrations_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		struct store_val v = {.t = STORE_V_INT, .i = m->version};
		char e2[STORE_ERRLEN] = "";

		if (m->version <= have)
			continue;
		r = s->ops->script(s->ctx, c, m->sql, e2, sizeof(e2));
		if (r == VOUCHER_OK)
			r = s->ops->exec(s->ctx, c, ST_VERSION_ADD, stmts[ST_VERSION_ADD], &v, 1,
			                 NULL, NULL, NULL, true, e2, sizeof(e2));
		if (r != VOUCHER_OK) {
			store_errf(err, errlen, "failed to migrate the schema to version %d (%s)",
			           m->version, e2);
			goto rollback;
		}
	}
	r = s->ops->commit(s->ctx, c, err, errlen);
	goto out;
rollback:
	s->ops->rollback(s->ctx, c, NULL, 0);
out:
	s->ops->conn_put(s->ctx, c);
	return r;
}

voucher_err store_open_opts(const char *database, const struct store_opts *opts, struct store **out,
                            char *err, size_t errlen)
{
	struct store_opts o = {8, 5000, 5, 0, false};
	const struct store_ops *ops = &store_sqlite_ops;
	const char *target = database;
	struct store *s;
	voucher_err r;
	size_t i;

	if (out)
		*out = NULL;
	if (!database || !*database || !out) {
		store_errf(err, errlen, "no database configured");
		return VOUCHER_E_CONFIG;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (!brski_str_startswith(database, schemes[i].prefix))
			continue;
		if (!schemes[i].ops) {
			store_errf(err, errlen,
			           "database %s needs PostgreSQL support, and this build has none "
			           "(configure --with-postgresql)",
			           schemes[i].prefix);
			return VOUCHER_E_CONFIG;
		}
		ops = schemes[i].ops;
		if (schemes[i].strip)
			target = database + strlen(schemes[i].prefix);
		break;
	}
	if (opts) {
		if (opts->pool_size)
			o.pool_size = opts->pool_size;
		if (opts->busy_timeout_ms)
			o.busy_timeout_ms = opts->busy_timeout_ms;
		if (opts->connect_timeout)
			o.connect_timeout = opts->connect_timeout;
		o.sqlite_mmap = opts->sqlite_mmap;
		o.sqlite_mmap_off = opts->sqlite_mmap_off;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return VOUCHER_ENOMEM;
	s->ops = ops;
	if ((r = ops->open(target, &o, &s->ctx, err, errlen)) != VOUCHER_OK) {
		free(s);
		return r;
	}
	if ((r = migrate(s, err, errlen)) != VOUCHER_OK) {
		store_close(s);
		return r;
	}
	*out = s;
	return VOUCHER_OK;
}

voucher_err store_open(const char *database, struct store **out, char *err, size_t errlen)
{
	return store_open_opts(database, NULL, out, err, errlen);
}

voucher_err store_ping(struct store *s)
{
	int64_t one = 0;

	return run(s, ST_PING, NULL, 0, row_int, &one, NULL, NULL, 0);
}

const char *store_backend(const struct store *s)
{
	return s ? s->ops->name : "none";
}

void store_close(struct store *s)
{
	if (!s || s->tx_conn)
		return;
	s->ops->close(s->ctx);
	free(s);
}

voucher_err store_schema_version(struct store *s, int64_t *version, char *err, size_t errlen)
{
	*version = 0;
	return run(s, ST_VERSION_GET, NULL, 0, row_int, version, NULL, err, errlen);
}

/* ---- transactions ------------------------------------------------------------ */

voucher_err store_begin(struct store *s, struct store **tx, char *err, size_t errlen)
{
	struct store *t;
	struct store_conn *c = NULL;
	voucher_err r;

	*tx = NULL;
	if (!s || s->tx_conn) {
		store_errf(err, errlen, "transactions do not nest");
		return VOUCHER_EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return VOUCHER_ENOMEM;
	if ((r = s->ops->conn_get(s->ctx, &c, err, errlen)) != VOUCHER_OK) {
		free(t);
		return r;
	}
	if ((r = s->ops->begin(s->ctx, c, err, errlen)) != VOUCHER_OK) {
		s->ops->conn_put(s->ctx, c);
		free(t);
		return r;
	}
	t->ops = s->ops;
	t->ctx = s->ctx;
	t->tx_conn = c;
	*tx = t;
	return VOUCHER_OK;
}

voucher_err store_commit(struct store *tx, char *err, size_t errlen)
{
	voucher_err r;

	if (!tx || !tx->tx_conn) {
		store_errf(err, errlen, "not a transaction");
		return VOUCHER_EINVAL;
	}
	r = tx->ops->commit(tx->ctx, tx->tx_conn, err, errlen);
	/* conn_put rolls back whatever a failed COMMIT left open. */
	tx->ops->conn_put(tx->ctx, tx->tx_conn);
	free(tx);
	return r;
}

void store_rollback(struct store *tx)
{
	if (!tx || !tx->tx_conn)
		return;
	tx->ops->rollback(tx->ctx, tx->tx_conn, NULL, 0);
	tx->ops->conn_put(tx->ctx, tx->tx_conn);
	free(tx);
}

/* ---- values in and out -------------------------------------------------------- */

static struct store_val v_int(int64_t i)
{
	return (struct store_val){.t = STORE_V_INT, .i = i};
}

static struct store_val v_text(const char *s)
{
	return (struct store_val){.t = s ? STORE_V_TEXT : STORE_V_NULL, .p = s};
}

/* An absent blob (p NULL) is SQL NULL; a present empty one is not. */
static struct store_val v_blob(const void *p, size_t len)
{
	return (struct store_val){.t = p ? STORE_V_BLOB : STORE_V_NULL, .p = p, .len = len};
}

static struct store_val v_hash(const uint8_t h[STORE_SHA256_LEN])
{
	return v_blob(h, STORE_SHA256_LEN);
}

/* Decoding keeps the first error (like a wire cursor): decode a whole row,
 * check once. */
struct dec {
	const struct store_val *c;
	size_t n;
	size_t i;
	voucher_err r;
};

static const struct store_val *d_next(struct dec *d)
{
	if (d->r != VOUCHER_OK)
		return NULL;
	if (d->i >= d->n) {
		d->r = VOUCHER_E_STORE;
		return NULL;
	}
	return &d->c[d->i++];
}

static int64_t d_int(struct dec *d)
{
	const struct store_val *v = d_next(d);

	if (!v || v->t == STORE_V_NULL)
		return 0;
	if (v->t != STORE_V_INT) {
		d->r = VOUCHER_E_STORE;
		return 0;
	}
	return v->i;
}

static char *d_str(struct dec *d)
{
	const struct store_val *v = d_next(d);
	char *s;

	if (!v || v->t == STORE_V_NULL)
		return NULL;
	if (v->t != STORE_V_TEXT) {
		d->r = VOUCHER_E_STORE;
		return NULL;
	}
	s = malloc(v->len + 1);
	if (!s) {
		d->r = VOUCHER_ENOMEM;
		return NULL;
	}
	memcpy(s, v->p, v->len);
	s[v->len] = '\0';
	return s;
}

static uint8_t *d_blob(struct dec *d, size_t *len)
{
	const struct store_val *v = d_next(d);
	uint8_t *p;

	*len = 0;
	if (!v || v->t == STORE_V_NULL)
		return NULL;
	if (v->t != STORE_V_BLOB && v->t != STORE_V_TEXT) {
		d->r = VOUCHER_E_STORE;
		return NULL;
	}
	/* One byte more, so that an empty blob is still a non-NULL pointer. */
	p = malloc(v->len + 1);
	if (!p) {
		d->r = VOUCHER_ENOMEM;
		return NULL;
	}
	if (v->len)
		memcpy(p, v->p, v->len);
	*len = v->len;
	return p;
}

static void d_hash(struct dec *d, uint8_t out[STORE_SHA256_LEN])
{
	const struct store_val *v = d_next(d);

	memset(out, 0, STORE_SHA256_LEN);
	if (!v)
		return;
	if (v->t != STORE_V_BLOB || v->len != STORE_SHA256_LEN) {
		d->r = VOUCHER_E_STORE;
		return;
	}
	memcpy(out, v->p, STORE_SHA256_LEN);
}

typedef voucher_err (*decode_fn)(void *rec, struct dec *d);
typedef void (*clear_fn)(void *rec);

/* One record: the first row of a result. */
struct one {
	void *rec;
	decode_fn decode;
	bool found;
};

static voucher_err row_one(void *arg, const struct store_val *cols, size_t n)
{
	struct one *o = arg;
	struct dec d = {cols, n, 0, VOUCHER_OK};
	voucher_err r;

	if (o->found)
		return VOUCHER_OK;
	o->found = true;
	r = o->decode(o->rec, &d);
	return r != VOUCHER_OK ? r : d.r;
}

static voucher_err get_one(struct store *s, unsigned id, const struct store_val *params, size_t n,
                           void *rec, size_t size, decode_fn decode, clear_fn clear,
                           const char *what, char *err, size_t errlen)
{
	struct one o = {rec, decode, false};
	voucher_err r;

	memset(rec, 0, size);
	r = run(s, id, params, n, row_one, &o, NULL, err, errlen);
	if (r == VOUCHER_OK && !o.found) {
		store_errf(err, errlen, "%s not found", what);
		r = VOUCHER_E_NOT_FOUND;
	}
	if (r != VOUCHER_OK) {
		if (r == VOUCHER_E_STORE && err && !*err)
			store_errf(err, errlen, "%s: unexpected row from the database", what);
		clear(rec);
	}
	return r;
}

/* A page of records; every record struct starts with its int64_t id. */
struct many {
	uint8_t *items;
	size_t n, cap, size, limit;
	bool more;
	decode_fn decode;
	clear_fn clear;
};

static voucher_err row_many(void *arg, const struct store_val *cols, size_t ncols)
{
	struct many *m = arg;
	struct dec d = {cols, ncols, 0, VOUCHER_OK};
	voucher_err r;
	void *rec;

	if (m->n == m->limit) {
		m->more = true; /* the one extra row we asked for */
		return VOUCHER_OK;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		uint8_t *p;

		if (cap > m->limit)
			cap = m->limit;
		p = realloc(m->items, cap * m->size);
		if (!p)
			return VOUCHER_ENOMEM;
		m->items = p;
		m->cap = cap;
	}
	rec = m->items + m->n * m->size;
	memset(rec, 0, m->size);
	m->n++;
	r = m->decode(rec, &d);
	return r != VOUCHER_OK ? r : d.r;
}

static unsigned page_limit(const struct store_page *page)
{
	if (!page || page->limit == 0)
		return STORE_LIST_DEFAULT;
	return page->limit > STORE_LIST_MAX ? STORE_LIST_MAX : page->limit;
}

static void free_many(void *items, size_t n, size_t size, clear_fn clear)
{
	size_t i;

	if (!items)
		return;
	for (i = 0; i < n; i++)
		clear((uint8_t *)items + i * size);
	free(items);
}

/* Run a list statement whose last parameter is the row limit (filled in
 * here with one more than the page, to learn whether another follows). */
static voucher_err get_many(struct store *s, unsigned id, struct store_val *params, size_t n,
                            struct store_page *page, void **out, size_t *count, size_t size,
                            decode_fn decode, clear_fn clear, char *err, size_t errlen)
{
	struct many m = {NULL, 0, 0, size, page_limit(page), false, decode, clear};
	voucher_err r;

	*out = NULL;
	*count = 0;
	if (page)
		page->next = 0;
	params[n - 1] = v_int((int64_t)m.limit + 1);
	r = run(s, id, params, n, row_many, &m, NULL, err, errlen);
	if (r != VOUCHER_OK) {
		if (r == VOUCHER_E_STORE && err && !*err)
			store_errf(err, errlen, "unexpected row from the database");
		free_many(m.items, m.n, size, clear);
		return r;
	}
	if (page && m.more && m.n > 0)
		page->next = *(const int64_t *)(m.items + (m.n - 1) * size);
	*out = m.items;
	*count = m.n;
	return VOUCHER_OK;
}

static int64_t page_after(const struct store_page *page)
{
	return page && page->after > 0 ? page->after : 0;
}

/* A write that must touch exactly one existing row. */
static voucher_err write_one(struct store *s, unsigned id, const struct store_val *params, size_t n,
                             const char *what, char *err, size_t errlen)
{
	int64_t changes = 0;
	voucher_err r = run(s, id, params, n, NULL, NULL, &changes, err, errlen);

	if (r == VOUCHER_OK && changes == 0) {
		store_errf(err, errlen, "%s not found", what);
		r = VOUCHER_E_NOT_FOUND;
	}
	return r;
}

static voucher_err need(const void *p, const char *what, char *err, size_t errlen)
{
	if (p)
		return VOUCHER_OK;
	store_errf(err, errlen, "%s is required", what);
	return VOUCHER_EINVAL;
}

static voucher_err owner_exists(struct store *s, const char *name, bool *exists, char *err,
                                size_t errlen);

/* A write guarded by OWNER_OK touched no row: say whether the owner or
 * the record itself is missing (both are VOUCHER_E_NOT_FOUND). Runs on the
 * caller's transaction, which no error has aborted. */
static voucher_err missing(struct store *s, voucher_err r, const char *owner, const char *what,
                           char *err, size_t errlen)
{
	bool exists = true;

	if (r != VOUCHER_E_NOT_FOUND)
		return r;
	if (owner && owner_exists(s, owner, &exists, NULL, 0) == VOUCHER_OK && !exists)
		store_errf(err, errlen, "owner %s not found", owner);
	else
		store_errf(err, errlen, "%s not found", what);
	return r;
}

/* ---- owners ---------------------------------------------------------------------- */

void store_owner_clear(struct store_owner *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->domain_ca_pem);
	free(o->registrar_url);
	free(o->est_url);
	free(o->est_pin_pem);
	memset(o, 0, sizeof(*o));
}

static void owner_clear_v(void *rec)
{
	store_owner_clear(rec);
}

static voucher_err owner_dec(void *rec, struct dec *d)
{
	struct store_owner *o = rec;

	o->id = d_int(d);
	o->name = d_str(d);
	o->domain_ca_pem = d_str(d);
	o->registrar_url = d_str(d);
	o->est_url = d_str(d);
	o->est_pin_pem = d_str(d);
	o->enroll_here = d_int(d) != 0;
	o->created = d_int(d);
	o->updated = d_int(d);
	return VOUCHER_OK;
}

void store_owner_list_free(struct store_owner *v, size_t n)
{
	free_many(v, n, sizeof(*v), owner_clear_v);
}

voucher_err store_owner_put(struct store *s, const struct store_owner *o, enum store_put how,
                            char *err, size_t errlen)
{
	static const unsigned ids[] = {ST_OWNER_INSERT, ST_OWNER_UPDATE, ST_OWNER_UPSERT};
	struct store_val p[6];
	voucher_err r;

	if ((r = need(o, "owner", err, errlen)) != VOUCHER_OK ||
	    (r = need(o->name, "owner name", err, errlen)) != VOUCHER_OK ||
	    (r = need(o->domain_ca_pem, "owner domain CA", err, errlen)) != VOUCHER_OK)
		return r;
	if ((unsigned)how > STORE_PUT_UPSERT)
		return VOUCHER_EINVAL;
	p[0] = v_text(o->name);
	p[1] = v_text(o->domain_ca_pem);
	p[2] = v_text(o->registrar_url);
	p[3] = v_text(o->est_url);
	p[4] = v_text(o->est_pin_pem);
	p[5] = v_int(o->enroll_here ? 1 : 0);
	if (how == STORE_PUT_UPDATE)
		return write_one(s, ids[how], p, 6, "owner", err, errlen);
	return run(s, ids[how], p, 6, NULL, NULL, NULL, err, errlen);
}

voucher_err store_owner_get(struct store *s, const char *name, struct store_owner *out, char *err,
                            size_t errlen)
{
	struct store_val p[1] = {v_text(name)};

	if (!name) {
		memset(out, 0, sizeof(*out));
		return need(name, "owner name", err, errlen);
	}
	return get_one(s, ST_OWNER_GET, p, 1, out, sizeof(*out), owner_dec, owner_clear_v, "owner",
	               err, errlen);
}

static voucher_err owner_exists(struct store *s, const char *name, bool *exists, char *err,
                                size_t errlen)
{
	struct store_owner o = {0};
	voucher_err r = store_owner_get(s, name, &o, err, errlen);

	*exists = r == VOUCHER_OK;
	store_owner_clear(&o);
	return r == VOUCHER_E_NOT_FOUND ? VOUCHER_OK : r;
}

voucher_err store_owner_list(struct store *s, struct store_page *page, struct store_owner **out,
                             size_t *n, char *err, size_t errlen)
{
	struct store_val p[2] = {v_int(page_after(page))};

	return get_many(s, ST_OWNER_LIST, p, 2, page, (void **)out, n, sizeof(**out), owner_dec,
	                owner_clear_v, err, errlen);
}

voucher_err store_owner_delete(struct store *s, const char *name, char *err, size_t errlen)
{
	struct store_val p[1] = {v_text(name)};
	voucher_err r;

	if ((r = need(name, "owner name", err, errlen)) != VOUCHER_OK)
		return r;
	r = write_one(s, ST_OWNER_DELETE, p, 1, "owner", err, errlen);
	if (r == VOUCHER_E_CONFLICT)
		store_errf(err, errlen, "owner %s still has devices: reassign or delete them first",
		           name);
	return r;
}

voucher_err store_owner_deny_add(struct store *s, const char *owner,
                                 const uint8_t sha256[STORE_SHA256_LEN], const char *reason,
                                 char *err, size_t errlen)
{
	struct store_val p[3] = {v_text(owner), v_hash(sha256), v_text(reason)};
	voucher_err r;

	if ((r = need(owner, "owner name", err, errlen)) != VOUCHER_OK ||
	    (r = need(sha256, "certificate hash", err, errlen)) != VOUCHER_OK)
		return r;
	return write_one(s, ST_DENY_ADD, p, 3, "owner", err, errlen);
}

voucher_err store_owner_deny_remove(struct store *s, const char *owner,
                                    const uint8_t sha256[STORE_SHA256_LEN], char *err,
                                    size_t errlen)
{
	struct store_val p[2] = {v_text(owner), v_hash(sha256)};
	voucher_err r;

	if ((r = need(owner, "owner name", err, errlen)) != VOUCHER_OK ||
	    (r = need(sha256, "certificate hash", err, errlen)) != VOUCHER_OK)
		return r;
	return write_one(s, ST_DENY_DEL, p, 2, "denied certificate", err, errlen);
}

voucher_err store_owner_denied(struct store *s, const char *owner,
                               const uint8_t sha256[STORE_SHA256_LEN], bool *denied, char *err,
                               size_t errlen)
{
	struct store_val p[2] = {v_text(owner), v_hash(sha256)};
	int64_t count = 0;
	voucher_err r;

	*denied = false;
	if ((r = need(owner, "owner name", err, errlen)) != VOUCHER_OK ||
	    (r = need(sha256, "certificate hash", err, errlen)) != VOUCHER_OK)
		return r;
	r = run(s, ST_DENY_CHECK, p, 2, row_int, &count, NULL, err, errlen);
	*denied = r == VOUCHER_OK && count > 0;
	return r;
}

void store_crl_clear(struct store_crl *c)
{
	if (!c)
		return;
	free(c->owner);
	free(c->der);
	memset(c, 0, sizeof(*c));
}

static void crl_clear_v(void *rec)
{
	store_crl_clear(rec);
}

static voucher_err crl_dec(void *rec, struct dec *d)
{
	struct store_crl *c = rec;

	c->id = d_int(d);
	c->owner = d_str(d);
	d_hash(d, c->sha256);
	c->der = d_blob(d, &c->der_len);
	c->next_update = d_int(d);
	c->created = d_int(d);
	return VOUCHER_OK;
}

void store_crl_list_free(struct store_crl *v, size_t n)
{
	free_many(v, n, sizeof(*v), crl_clear_v);
}

voucher_err store_owner_crl_add(struct store *s, const struct store_crl *c, int64_t *id, char *err,
                                size_t errlen)
{
	struct store_val p[4];
	int64_t newid = 0;
	voucher_err r;

	if (id)
		*id = 0;
	if ((r = need(c, "CRL", err, errlen)) != VOUCHER_OK ||
	    (r = need(c->owner, "owner name", err, errlen)) != VOUCHER_OK ||
	    (r = need(c->der, "CRL", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_text(c->owner);
	p[1] = v_hash(c->sha256);
	p[2] = v_blob(c->der, c->der_len);
	p[3] = c->next_update ? v_int(c->next_update) : v_text(NULL);
	r = run(s, ST_CRL_ADD, p, 4, row_int, &newid, NULL, err, errlen);
	if (r == VOUCHER_OK && newid == 0) {
		store_errf(err, errlen, "owner %s not found", c->owner);
		r = VOUCHER_E_NOT_FOUND;
	}
	if (r == VOUCHER_OK && id)
		*id = newid;
	return r;
}

voucher_err store_owner_crl_list(struct store *s, const char *owner, struct store_page *page,
                                 struct store_crl **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_text(owner), v_int(page_after(page))};
	voucher_err r;

	if ((r = need(owner, "owner name", err, errlen)) != VOUCHER_OK) {
		*out = NULL;
		*n = 0;
		return r;
	}
	return get_many(s, ST_CRL_LIST, p, 3, page, (void **)out, n, sizeof(**out), crl_dec,
	                crl_clear_v, err, errlen);
}

voucher_err store_owner_crl_delete(struct store *s, const char *owner, int64_t id, char *err,
                                   size_t errlen)
{
	struct store_val p[2] = {v_text(owner), v_int(id)};
	voucher_err r;

	if ((r = need(owner, "owner name", err, errlen)) != VOUCHER_OK)
		return r;
	return write_one(s, ST_CRL_DEL, p, 2, "CRL", err, errlen);
}

/* ---- devices ------------------------------------------------------------------------ */

static const char *const mode_names[] = {
        [STORE_MODE_REDIRECT] = "redirect",
        [STORE_MODE_EST_DOMAIN] = "est-domain",
        [STORE_MODE_ENROLL_HERE] = "enroll-here",
};

const char *store_mode_name(enum store_mode m)
{
	if ((unsigned)m >= sizeof(mode_names) / sizeof(mode_names[0]))
		return NULL;
	return mode_names[m];
}

voucher_err store_mode_parse(const char *name, enum store_mode *out)
{
	unsigned i;

	for (i = 0; name && i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*out = (enum store_mode)i;
			return VOUCHER_OK;
		}
	}
	return VOUCHER_EINVAL;
}

void store_device_clear(struct store_device *d)
{
	if (!d)
		return;
	free(d->serial);
	free(d->idevid_issuer);
	free(d->owner);
	free(d->additional_configuration_url);
	memset(d, 0, sizeof(*d));
}

static void device_clear_v(void *rec)
{
	store_device_clear(rec);
}

static voucher_err device_dec(void *rec, struct dec *d)
{
	struct store_device *v = rec;
	char *mode;

	v->id = d_int(d);
	v->serial = d_str(d);
	v->idevid_issuer = d_str(d);
	v->owner = d_str(d);
	mode = d_str(d);
	v->additional_configuration_url = d_str(d);
	v->created = d_int(d);
	v->updated = d_int(d);
	if (d->r == VOUCHER_OK && store_mode_parse(mode, &v->mode) != VOUCHER_OK)
		d->r = VOUCHER_E_STORE;
	free(mode);
	/* '' is how the table spells "any issuer". */
	if (v->idevid_issuer && !*v->idevid_issuer) {
		free(v->idevid_issuer);
		v->idevid_issuer = NULL;
	}
	return VOUCHER_OK;
}

void store_device_list_free(struct store_device *v, size_t n)
{
	free_many(v, n, sizeof(*v), device_clear_v);
}

voucher_err store_device_put(struct store *s, const struct store_device *d, enum store_put how,
                             char *err, size_t errlen)
{
	static const unsigned ids[] = {ST_DEVICE_INSERT, ST_DEVICE_UPDATE, ST_DEVICE_UPSERT};
	struct store_val p[5];
	const char *mode;
	voucher_err r;

	if ((r = need(d, "device", err, errlen)) != VOUCHER_OK ||
	    (r = need(d->serial, "device serial", err, errlen)) != VOUCHER_OK)
		return r;
	if ((unsigned)how > STORE_PUT_UPSERT || !(mode = store_mode_name(d->mode))) {
		store_errf(err, errlen, "invalid device mode or put");
		return VOUCHER_EINVAL;
	}
	p[0] = v_text(d->serial);
	p[1] = v_text(d->idevid_issuer ? d->idevid_issuer : "");
	p[2] = v_text(d->owner);
	p[3] = v_text(mode);
	p[4] = v_text(
	        d->additional_configuration_url); /* Every form writes one row unless the owner (or,
	                                           * for an update, the device) is missing. */
	r = write_one(s, ids[how], p, 5, "device", err, errlen);
	return missing(s, r, d->owner, "device", err, errlen);
}

voucher_err store_device_get(struct store *s, const char *serial, const char *issuer,
                             struct store_device *out, char *err, size_t errlen)
{
	struct store_val p[2] = {v_text(serial), v_text(issuer ? issuer : "")};

	if (!serial) {
		memset(out, 0, sizeof(*out));
		return need(serial, "device serial", err, errlen);
	}
	return get_one(s, ST_DEVICE_GET, p, 2, out, sizeof(*out), device_dec, device_clear_v,
	               "device", err, errlen);
}

voucher_err store_device_list(struct store *s, const char *owner, struct store_page *page,
                              struct store_device **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(page_after(page)), v_text(owner)};

	return get_many(s, ST_DEVICE_LIST, p, 3, page, (void **)out, n, sizeof(**out), device_dec,
	                device_clear_v, err, errlen);
}

voucher_err store_device_delete(struct store *s, const char *serial, const char *issuer, char *err,
                                size_t errlen)
{
	struct store_val p[2] = {v_text(serial), v_text(issuer ? issuer : "")};
	voucher_err r;

	if ((r = need(serial, "device serial", err, errlen)) != VOUCHER_OK)
		return r;
	return write_one(s, ST_DEVICE_DELETE, p, 2, "device", err, errlen);
}

voucher_err store_device_set_owner(struct store *s, const char *serial, const char *issuer,
                                   const char *owner, char *err, size_t errlen)
{
	struct store_val p[3] = {v_text(serial), v_text(issuer ? issuer : ""), v_text(owner)};
	voucher_err r;

	if ((r = need(serial, "device serial", err, errlen)) != VOUCHER_OK)
		return r;
	r = write_one(s, ST_DEVICE_SET_OWNER, p, 3, "device", err, errlen);
	return missing(s, r, owner, "device", err, errlen);
}

/* ---- voucher-request log ------------------------------------------------------------- */

void store_vreq_clear(struct store_vreq *v)
{
	if (!v)
		return;
	free(v->request_id);
	free(v->peer);
	free(v->signer);
	free(v->serial);
	free(v->nonce);
	free(v->media_type);
	free(v->disposition);
	free(v->detail);
	memset(v, 0, sizeof(*v));
}

static void vreq_clear_v(void *rec)
{
	store_vreq_clear(rec);
}

static voucher_err vreq_dec(void *rec, struct dec *d)
{
	struct store_vreq *v = rec;

	v->id = d_int(d);
	v->logged = d_int(d);
	v->request_id = d_str(d);
	v->peer = d_str(d);
	v->signer = d_str(d);
	v->serial = d_str(d);
	v->nonce = d_blob(d, &v->nonce_len);
	v->media_type = d_str(d);
	v->disposition = d_str(d);
	v->status = (int)d_int(d);
	v->detail = d_str(d);
	return VOUCHER_OK;
}

void store_vreq_list_free(struct store_vreq *v, size_t n)
{
	free_many(v, n, sizeof(*v), vreq_clear_v);
}

voucher_err store_vreq_log(struct store *s, const struct store_vreq *v, char *err, size_t errlen)
{
	struct store_val p[9];
	voucher_err r;

	if ((r = need(v, "voucher-request record", err, errlen)) != VOUCHER_OK ||
	    (r = need(v->disposition, "disposition", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_text(v->request_id);
	p[1] = v_text(v->peer);
	p[2] = v_text(v->signer);
	p[3] = v_text(v->serial);
	p[4] = v_blob(v->nonce, v->nonce_len);
	p[5] = v_text(v->media_type);
	p[6] = v_text(v->disposition);
	p[7] = v_int(v->status);
	p[8] = v_text(v->detail);
	return run(s, ST_VREQ_ADD, p, 9, NULL, NULL, NULL, err, errlen);
}

voucher_err store_vreq_list(struct store *s, const char *serial, struct store_page *page,
                            struct store_vreq **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(page_after(page)), v_text(serial)};

	return get_many(s, ST_VREQ_LIST, p, 3, page, (void **)out, n, sizeof(**out), vreq_dec,
	                vreq_clear_v, err, errlen);
}

/* ---- pledge request log (cloudregd) ---------------------------------------------- */

void store_preq_clear(struct store_preq *v)
{
	if (!v)
		return;
	free(v->request_id);
	free(v->peer);
	free(v->client_cert);
	free(v->serial);
	free(v->endpoint);
	free(v->media_type);
	free(v->disposition);
	free(v->detail);
	memset(v, 0, sizeof(*v));
}

static void preq_clear_v(void *rec)
{
	store_preq_clear(rec);
}

static voucher_err preq_dec(void *rec, struct dec *d)
{
	struct store_preq *v = rec;

	v->id = d_int(d);
	v->logged = d_int(d);
	v->request_id = d_str(d);
	v->peer = d_str(d);
	v->client_cert = d_str(d);
	v->serial = d_str(d);
	v->endpoint = d_str(d);
	v->media_type = d_str(d);
	v->disposition = d_str(d);
	v->status = (int)d_int(d);
	v->detail = d_str(d);
	return VOUCHER_OK;
}

void store_preq_list_free(struct store_preq *v, size_t n)
{
	free_many(v, n, sizeof(*v), preq_clear_v);
}

voucher_err store_preq_log(struct store *s, const struct store_preq *v, char *err, size_t errlen)
{
	struct store_val p[9];
	voucher_err r;

	if ((r = need(v, "pledge request record", err, errlen)) != VOUCHER_OK ||
	    (r = need(v->endpoint, "endpoint", err, errlen)) != VOUCHER_OK ||
	    (r = need(v->disposition, "disposition", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_text(v->request_id);
	p[1] = v_text(v->peer);
	p[2] = v_text(v->client_cert);
	p[3] = v_text(v->serial);
	p[4] = v_text(v->endpoint);
	p[5] = v_text(v->media_type);
	p[6] = v_text(v->disposition);
	p[7] = v_int(v->status);
	p[8] = v_text(v->detail);
	return run(s, ST_PREQ_ADD, p, 9, NULL, NULL, NULL, err, errlen);
}

voucher_err store_preq_list(struct store *s, const char *serial, struct store_page *page,
                            struct store_preq **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(page_after(page)), v_text(serial)};

	return get_many(s, ST_PREQ_LIST, p, 3, page, (void **)out, n, sizeof(**out), preq_dec,
	                preq_clear_v, err, errlen);
}

/* ---- audit log ---------------------------------------------------------------------- */

void store_audit_clear(struct store_audit *a)
{
	if (!a)
		return;
	free(a->serial);
	free(a->owner);
	free(a->domain_id);
	free(a->nonce);
	free(a->assertion);
	memset(a, 0, sizeof(*a));
}

static void audit_clear_v(void *rec)
{
	store_audit_clear(rec);
}

static voucher_err audit_dec(void *rec, struct dec *d)
{
	struct store_audit *a = rec;

	a->id = d_int(d);
	a->serial = d_str(d);
	a->owner = d_str(d);
	a->domain_id = d_str(d);
	a->nonce = d_blob(d, &a->nonce_len);
	a->assertion = d_str(d);
	a->logged = d_int(d);
	return VOUCHER_OK;
}

void store_audit_list_free(struct store_audit *v, size_t n)
{
	free_many(v, n, sizeof(*v), audit_clear_v);
}

voucher_err store_audit_append(struct store *s, const struct store_audit *a, char *err,
                               size_t errlen)
{
	struct store_val p[5];
	voucher_err r;

	if ((r = need(a, "audit event", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->serial, "serial", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->domain_id, "domainID", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->assertion, "assertion", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_text(a->serial);
	p[1] = v_text(a->owner);
	p[2] = v_text(a->domain_id);
	p[3] = v_blob(a->nonce, a->nonce_len);
	p[4] = v_text(a->assertion);
	return run(s, ST_AUDIT_ADD, p, 5, NULL, NULL, NULL, err, errlen);
}

voucher_err store_audit_list(struct store *s, const char *serial, struct store_page *page,
                             struct store_audit **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_text(serial), v_int(page_after(page))};
	voucher_err r;

	if ((r = need(serial, "serial", err, errlen)) != VOUCHER_OK) {
		*out = NULL;
		*n = 0;
		return r;
	}
	return get_many(s, ST_AUDIT_LIST, p, 3, page, (void **)out, n, sizeof(**out), audit_dec,
	                audit_clear_v, err, errlen);
}

/* ---- telemetry ------------------------------------------------------------------------ */

static const char *const telem_kinds[] = {
        [STORE_TELEMETRY_VOUCHER_STATUS] = "voucher_status",
        [STORE_TELEMETRY_ENROLL_STATUS] = "enrollstatus",
};

void store_telemetry_clear(struct store_telemetry *t)
{
	if (!t)
		return;
	free(t->serial);
	free(t->reason);
	free(t->body);
	memset(t, 0, sizeof(*t));
}

static void telem_clear_v(void *rec)
{
	store_telemetry_clear(rec);
}

static voucher_err telem_dec(void *rec, struct dec *d)
{
	struct store_telemetry *t = rec;
	char *kind;

	t->id = d_int(d);
	t->serial = d_str(d);
	kind = d_str(d);
	t->status = d_int(d) != 0;
	t->reason = d_str(d);
	t->body = d_str(d);
	t->logged = d_int(d);
	if (d->r == VOUCHER_OK) {
		if (kind && strcmp(kind, telem_kinds[STORE_TELEMETRY_ENROLL_STATUS]) == 0)
			t->kind = STORE_TELEMETRY_ENROLL_STATUS;
		else if (kind && strcmp(kind, telem_kinds[STORE_TELEMETRY_VOUCHER_STATUS]) == 0)
			t->kind = STORE_TELEMETRY_VOUCHER_STATUS;
		else
			d->r = VOUCHER_E_STORE;
	}
	free(kind);
	return VOUCHER_OK;
}

void store_telemetry_list_free(struct store_telemetry *v, size_t n)
{
	free_many(v, n, sizeof(*v), telem_clear_v);
}

voucher_err store_telemetry_add(struct store *s, const struct store_telemetry *t, char *err,
                                size_t errlen)
{
	struct store_val p[5];
	voucher_err r;

	if ((r = need(t, "telemetry", err, errlen)) != VOUCHER_OK ||
	    (r = need(t->serial, "serial", err, errlen)) != VOUCHER_OK)
		return r;
	if ((unsigned)t->kind > STORE_TELEMETRY_ENROLL_STATUS) {
		store_errf(err, errlen, "invalid telemetry kind");
		return VOUCHER_EINVAL;
	}
	p[0] = v_text(t->serial);
	p[1] = v_text(telem_kinds[t->kind]);
	p[2] = v_int(t->status ? 1 : 0);
	p[3] = v_text(t->reason);
	p[4] = v_text(t->body);
	return run(s, ST_TELEM_ADD, p, 5, NULL, NULL, NULL, err, errlen);
}

voucher_err store_telemetry_list(struct store *s, const char *serial, struct store_page *page,
                                 struct store_telemetry **out, size_t *n, char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(page_after(page)), v_text(serial)};

	return get_many(s, ST_TELEM_LIST, p, 3, page, (void **)out, n, sizeof(**out), telem_dec,
	                telem_clear_v, err, errlen);
}

/* ---- enrollment jobs ---------------------------------------------------------------------- */

static const char *const job_states[] = {
        [STORE_JOB_PENDING] = "pending",
        [STORE_JOB_RUNNING] = "running",
        [STORE_JOB_DONE] = "done",
        [STORE_JOB_FAILED] = "failed",
};

void store_job_clear(struct store_job *j)
{
	if (!j)
		return;
	free(j->csr);
	free(j->serial);
	free(j->owner);
	free(j->lease_holder);
	free(j->error);
	free(j->result);
	memset(j, 0, sizeof(*j));
}

static void job_clear_v(void *rec)
{
	store_job_clear(rec);
}

static voucher_err job_dec(void *rec, struct dec *d)
{
	struct store_job *j = rec;
	char *state;
	unsigned i;

	j->id = d_int(d);
	d_hash(d, j->csr_sha256);
	j->csr = d_blob(d, &j->csr_len);
	j->serial = d_str(d);
	j->owner = d_str(d);
	state = d_str(d);
	j->lease_holder = d_str(d);
	j->lease_expires = d_int(d);
	j->run_after = d_int(d);
	j->attempts = d_int(d);
	j->error = d_str(d);
	j->result = d_blob(d, &j->result_len);
	j->created = d_int(d);
	j->updated = d_int(d);
	j->reenroll = d_int(d) != 0;
	if (d->r == VOUCHER_OK) {
		for (i = 0; i < sizeof(job_states) / sizeof(job_states[0]); i++)
			if (state && strcmp(state, job_states[i]) == 0)
				break;
		if (i == sizeof(job_states) / sizeof(job_states[0]))
			d->r = VOUCHER_E_STORE;
		else
			j->state = (enum store_job_state)i;
	}
	free(state);
	return VOUCHER_OK;
}

voucher_err store_job_create(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                             const uint8_t *csr, size_t csr_len, const char *serial,
                             const char *owner, int64_t *id, char *err, size_t errlen)
{
	return store_job_create_ex(s, csr_sha256, csr, csr_len, serial, owner, false, id, err,
	                           errlen);
}

voucher_err store_job_create_ex(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                const uint8_t *csr, size_t csr_len, const char *serial,
                                const char *owner, bool reenroll, int64_t *id, char *err,
                                size_t errlen)
{
	struct store_val p[5] = {v_hash(csr_sha256), v_blob(csr, csr_len), v_text(serial),
	                         v_text(owner), v_int(reenroll ? 1 : 0)};
	int64_t newid = 0;
	voucher_err r;

	if (id)
		*id = 0;
	if ((r = need(csr_sha256, "CSR hash", err, errlen)) != VOUCHER_OK ||
	    (r = need(csr, "CSR", err, errlen)) != VOUCHER_OK ||
	    (r = need(serial, "serial", err, errlen)) != VOUCHER_OK)
		return r;
	r = run(s, ST_JOB_CREATE, p, 5, row_int, &newid, NULL, err, errlen);
	if (r == VOUCHER_OK && id)
		*id = newid;
	return r;
}

voucher_err store_job_get(struct store *s, int64_t id, struct store_job *out, char *err,
                          size_t errlen)
{
	struct store_val p[1] = {v_int(id)};

	return get_one(s, ST_JOB_GET, p, 1, out, sizeof(*out), job_dec, job_clear_v, "job", err,
	               errlen);
}

voucher_err store_job_get_by_csr(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                 struct store_job *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_hash(csr_sha256)};

	if (!csr_sha256) {
		memset(out, 0, sizeof(*out));
		return need(csr_sha256, "CSR hash", err, errlen);
	}
	return get_one(s, ST_JOB_GET_BY_CSR, p, 1, out, sizeof(*out), job_dec, job_clear_v, "job",
	               err, errlen);
}

voucher_err store_job_claim(struct store *s, const char *holder, unsigned lease_seconds,
                            struct store_job *out, char *err, size_t errlen)
{
	struct store_val p[2] = {v_text(holder), v_int(lease_seconds)};
	voucher_err r;

	if (!holder || lease_seconds == 0) {
		memset(out, 0, sizeof(*out));
		store_errf(err, errlen, "a claim needs a holder and a lease of at least 1 s");
		return VOUCHER_EINVAL;
	}
	r = get_one(s, ST_JOB_CLAIM, p, 2, out, sizeof(*out), job_dec, job_clear_v, "runnable job",
	            err, errlen);
	return r;
}

/* A lease-guarded update touched no row: the job is gone, or someone
 * else holds it now. */
static voucher_err lease_lost(struct store *s, voucher_err r, int64_t id, char *err, size_t errlen)
{
	struct store_job j = {0};

	if (r != VOUCHER_E_NOT_FOUND)
		return r;
	r = store_job_get(s, id, &j, err, errlen);
	if (r == VOUCHER_OK) {
		store_errf(err, errlen, "job %lld is no longer leased to this worker (%s by %s)",
		           (long long)id, job_states[j.state],
		           j.lease_holder ? j.lease_holder : "nobody");
		r = VOUCHER_E_CONFLICT;
	}
	store_job_clear(&j);
	return r;
}

voucher_err store_job_renew(struct store *s, int64_t id, const char *holder, unsigned lease_seconds,
                            char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(id), v_text(holder), v_int(lease_seconds)};
	voucher_err r;

	if ((r = need(holder, "lease holder", err, errlen)) != VOUCHER_OK)
		return r;
	r = write_one(s, ST_JOB_RENEW, p, 3, "job", err, errlen);
	return lease_lost(s, r, id, err, errlen);
}

voucher_err store_job_complete(struct store *s, int64_t id, const char *holder,
                               const uint8_t *result, size_t result_len, char *err, size_t errlen)
{
	struct store_val p[3] = {v_int(id), v_text(holder), v_blob(result, result_len)};
	voucher_err r;

	if ((r = need(holder, "lease holder", err, errlen)) != VOUCHER_OK ||
	    (r = need(result, "result", err, errlen)) != VOUCHER_OK)
		return r;
	r = write_one(s, ST_JOB_COMPLETE, p, 3, "job", err, errlen);
	return lease_lost(s, r, id, err, errlen);
}

voucher_err store_job_fail(struct store *s, int64_t id, const char *holder, const char *error,
                           int retry_after, char *err, size_t errlen)
{
	struct store_val p[4] = {v_int(id), v_text(holder), v_text(error), v_int(retry_after)};
	voucher_err r;

	if ((r = need(holder, "lease holder", err, errlen)) != VOUCHER_OK)
		return r;
	if (retry_after >= 0)
		r = write_one(s, ST_JOB_RETRY, p, 4, "job", err, errlen);
	else
		r = write_one(s, ST_JOB_FAIL, p, 3, "job", err, errlen);
	return lease_lost(s, r, id, err, errlen);
}

voucher_err store_job_restart(struct store *s, int64_t id, char *err, size_t errlen)
{
	struct store_val p[1] = {v_int(id)};
	struct store_job j = {0};
	voucher_err r = write_one(s, ST_JOB_RESTART, p, 1, "finished job", err, errlen);

	if (r != VOUCHER_E_NOT_FOUND)
		return r;
	if (store_job_get(s, id, &j, NULL, 0) == VOUCHER_OK) {
		store_errf(err, errlen, "job %lld is %s, not finished", (long long)id,
		           job_states[j.state]);
		r = VOUCHER_E_CONFLICT;
	}
	store_job_clear(&j);
	return r;
}

/* ---- certificates -------------------------------------------------------------------------- */

void store_cert_clear(struct store_cert *c)
{
	if (!c)
		return;
	free(c->serial);
	free(c->der);
	free(c->pkcs7);
	memset(c, 0, sizeof(*c));
}

static void cert_clear_v(void *rec)
{
	store_cert_clear(rec);
}

static voucher_err cert_dec(void *rec, struct dec *d)
{
	struct store_cert *c = rec;

	c->id = d_int(d);
	d_hash(d, c->csr_sha256);
	c->serial = d_str(d);
	c->not_after = d_int(d);
	c->der = d_blob(d, &c->der_len);
	c->pkcs7 = d_blob(d, &c->pkcs7_len);
	c->created = d_int(d);
	return VOUCHER_OK;
}

static bool hash_set(const uint8_t h[STORE_SHA256_LEN])
{
	uint8_t any = 0;

	for (size_t i = 0; i < STORE_SHA256_LEN; i++)
		any |= h[i];
	return any != 0;
}

voucher_err store_cert_put(struct store *s, const struct store_cert *c, char *err, size_t errlen)
{
	struct store_val p[6];
	voucher_err r;

	if ((r = need(c, "certificate", err, errlen)) != VOUCHER_OK ||
	    (r = need(c->pkcs7, "PKCS#7", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_hash(c->csr_sha256);
	p[1] = v_text(c->serial);
	p[2] = v_int(c->not_after);
	p[3] = v_blob(c->der, c->der_len);
	p[4] = v_blob(c->pkcs7, c->pkcs7_len);
	p[5] = hash_set(c->cert_sha256) ? v_hash(c->cert_sha256) : v_blob(NULL, 0);
	return run(s, ST_CERT_PUT, p, 6, NULL, NULL, NULL, err, errlen);
}

voucher_err store_cert_get_by_csr(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                  struct store_cert *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_hash(csr_sha256)};

	if (!csr_sha256) {
		memset(out, 0, sizeof(*out));
		return need(csr_sha256, "CSR hash", err, errlen);
	}
	return get_one(s, ST_CERT_GET, p, 1, out, sizeof(*out), cert_dec, cert_clear_v,
	               "valid certificate for this CSR", err, errlen);
}

voucher_err store_cert_get_by_hash(struct store *s, const uint8_t cert_sha256[STORE_SHA256_LEN],
                                   struct store_cert *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_hash(cert_sha256)};

	if (!cert_sha256) {
		memset(out, 0, sizeof(*out));
		return need(cert_sha256, "certificate hash", err, errlen);
	}
	return get_one(s, ST_CERT_GET_BY_HASH, p, 1, out, sizeof(*out), cert_dec, cert_clear_v,
	               "valid certificate issued here with this hash", err, errlen);
}

voucher_err store_cert_get_latest(struct store *s, struct store_cert *out, char *err, size_t errlen)
{
	return get_one(s, ST_CERT_GET_LATEST, NULL, 0, out, sizeof(*out), cert_dec, cert_clear_v,
	               "valid issued certificate", err, errlen);
}

/* ---- ACME ---------------------------------------------------------------------------------- */

void store_acme_account_clear(struct store_acme_account *a)
{
	if (!a)
		return;
	free(a->directory);
	if (a->key_pem)
		explicit_bzero(a->key_pem, strlen(a->key_pem));
	free(a->key_pem);
	free(a->kid);
	memset(a, 0, sizeof(*a));
}

static void acct_clear_v(void *rec)
{
	store_acme_account_clear(rec);
}

static voucher_err acct_dec(void *rec, struct dec *d)
{
	struct store_acme_account *a = rec;

	a->id = d_int(d);
	a->directory = d_str(d);
	a->key_pem = d_str(d);
	a->kid = d_str(d);
	a->created = d_int(d);
	a->updated = d_int(d);
	return VOUCHER_OK;
}

voucher_err store_acme_account_put(struct store *s, const struct store_acme_account *a,
                                   enum store_put how, char *err, size_t errlen)
{
	static const unsigned ids[] = {ST_ACCT_INSERT, ST_ACCT_UPDATE, ST_ACCT_UPSERT};
	struct store_val p[3];
	voucher_err r;

	if ((r = need(a, "ACME account", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->directory, "ACME directory", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->key_pem, "ACME account key", err, errlen)) != VOUCHER_OK)
		return r;
	if ((unsigned)how > STORE_PUT_UPSERT)
		return VOUCHER_EINVAL;
	p[0] = v_text(a->directory);
	p[1] = v_text(a->key_pem);
	p[2] = v_text(a->kid);
	if (how == STORE_PUT_UPDATE)
		return write_one(s, ids[how], p, 3, "ACME account", err, errlen);
	return run(s, ids[how], p, 3, NULL, NULL, NULL, err, errlen);
}

voucher_err store_acme_account_get(struct store *s, const char *directory,
                                   struct store_acme_account *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_text(directory)};

	if (!directory) {
		memset(out, 0, sizeof(*out));
		return need(directory, "ACME directory", err, errlen);
	}
	return get_one(s, ST_ACCT_GET, p, 1, out, sizeof(*out), acct_dec, acct_clear_v,
	               "ACME account", err, errlen);
}

void store_acme_order_clear(struct store_acme_order *o)
{
	if (!o)
		return;
	free(o->order_url);
	free(o->state);
	free(o->authz_urls);
	free(o->finalize_url);
	free(o->cert_url);
	memset(o, 0, sizeof(*o));
}

static void order_clear_v(void *rec)
{
	store_acme_order_clear(rec);
}

static voucher_err order_dec(void *rec, struct dec *d)
{
	struct store_acme_order *o = rec;

	o->id = d_int(d);
	o->job_id = d_int(d);
	o->order_url = d_str(d);
	o->state = d_str(d);
	o->authz_urls = d_str(d);
	o->finalize_url = d_str(d);
	o->cert_url = d_str(d);
	o->created = d_int(d);
	o->updated = d_int(d);
	return VOUCHER_OK;
}

voucher_err store_acme_order_put(struct store *s, const struct store_acme_order *o,
                                 enum store_put how, char *err, size_t errlen)
{
	static const unsigned ids[] = {ST_ORDER_INSERT, ST_ORDER_UPDATE, ST_ORDER_UPSERT};
	struct store_val p[6];
	voucher_err r;

	if ((r = need(o, "ACME order", err, errlen)) != VOUCHER_OK ||
	    (r = need(o->order_url, "order URL", err, errlen)) != VOUCHER_OK ||
	    (r = need(o->state, "order state", err, errlen)) != VOUCHER_OK)
		return r;
	if ((unsigned)how > STORE_PUT_UPSERT)
		return VOUCHER_EINVAL;
	p[0] = v_text(o->order_url);
	p[1] = v_int(o->job_id);
	p[2] = v_text(o->state);
	p[3] = v_text(o->authz_urls);
	p[4] = v_text(o->finalize_url);
	p[5] = v_text(o->cert_url);
	if (how == STORE_PUT_UPDATE)
		r = write_one(s, ids[how], p, 6, "ACME order", err, errlen);
	else
		r = run(s, ids[how], p, 6, NULL, NULL, NULL, err, errlen);
	if (r == VOUCHER_E_CONFLICT && how != STORE_PUT_CREATE) {
		store_errf(err, errlen, "job %lld not found", (long long)o->job_id);
		r = VOUCHER_E_NOT_FOUND;
	}
	return r;
}

voucher_err store_acme_order_get(struct store *s, const char *order_url,
                                 struct store_acme_order *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_text(order_url)};

	if (!order_url) {
		memset(out, 0, sizeof(*out));
		return need(order_url, "order URL", err, errlen);
	}
	return get_one(s, ST_ORDER_GET, p, 1, out, sizeof(*out), order_dec, order_clear_v,
	               "ACME order", err, errlen);
}

voucher_err store_acme_order_get_by_job(struct store *s, int64_t job_id,
                                        struct store_acme_order *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_int(job_id)};

	return get_one(s, ST_ORDER_GET_BY_JOB, p, 1, out, sizeof(*out), order_dec, order_clear_v,
	               "ACME order", err, errlen);
}

void store_acme_preauth_clear(struct store_acme_preauth *a)
{
	if (!a)
		return;
	free(a->directory);
	free(a->domain);
	free(a->authz_url);
	memset(a, 0, sizeof(*a));
}

static void preauth_clear_v(void *rec)
{
	store_acme_preauth_clear(rec);
}

static voucher_err preauth_dec(void *rec, struct dec *d)
{
	struct store_acme_preauth *a = rec;

	a->id = d_int(d);
	a->directory = d_str(d);
	a->domain = d_str(d);
	a->authz_url = d_str(d);
	a->valid = d_int(d) != 0;
	a->published = d_int(d) != 0;
	a->expires = d_int(d);
	a->updated = d_int(d);
	return VOUCHER_OK;
}

voucher_err store_acme_preauth_put(struct store *s, const struct store_acme_preauth *a, char *err,
                                   size_t errlen)
{
	struct store_val p[6];
	voucher_err r;

	if ((r = need(a, "pre-authorization", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->directory, "ACME directory", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->domain, "domain", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->authz_url, "authorization URL", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = v_text(a->directory);
	p[1] = v_text(a->domain);
	p[2] = v_text(a->authz_url);
	p[3] = v_int(a->valid ? 1 : 0);
	p[4] = v_int(a->published ? 1 : 0);
	p[5] = v_int(a->expires);
	return run(s, ST_PREAUTH_PUT, p, 6, NULL, NULL, NULL, err, errlen);
}

voucher_err store_acme_preauth_get(struct store *s, const char *directory, const char *domain,
                                   struct store_acme_preauth *out, char *err, size_t errlen)
{
	struct store_val p[2] = {v_text(directory), v_text(domain)};

	if (!directory || !domain) {
		memset(out, 0, sizeof(*out));
		store_errf(err, errlen, "ACME directory and domain are required");
		return VOUCHER_EINVAL;
	}
	return get_one(s, ST_PREAUTH_GET, p, 2, out, sizeof(*out), preauth_dec, preauth_clear_v,
	               "pre-authorization", err, errlen);
}

voucher_err store_acme_preauth_delete(struct store *s, const char *directory, const char *domain,
                                      char *err, size_t errlen)
{
	struct store_val p[2] = {v_text(directory), v_text(domain)};

	if (!directory || !domain) {
		store_errf(err, errlen, "ACME directory and domain are required");
		return VOUCHER_EINVAL;
	}
	return run(s, ST_PREAUTH_DEL, p, 2, NULL, NULL, NULL, err, errlen);
}

/* ---- admin tokens -----------------------------------------------------------------------------
 */

static const char *const scope_names[] = {
        [STORE_SCOPE_READ] = "read",
        [STORE_SCOPE_WRITE] = "write",
        [STORE_SCOPE_ADMIN] = "admin",
};

const char *store_scope_name(enum store_scope sc)
{
	if ((unsigned)sc >= sizeof(scope_names) / sizeof(scope_names[0]))
		return NULL;
	return scope_names[sc];
}

voucher_err store_scope_parse(const char *name, enum store_scope *out)
{
	unsigned i;

	for (i = 0; name && i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
		if (strcmp(name, scope_names[i]) == 0) {
			*out = (enum store_scope)i;
			return VOUCHER_OK;
		}
	}
	return VOUCHER_EINVAL;
}

void store_token_clear(struct store_token *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->owner);
	memset(t, 0, sizeof(*t));
}

static void token_clear_v(void *rec)
{
	store_token_clear(rec);
}

static voucher_err token_dec(void *rec, struct dec *d)
{
	struct store_token *t = rec;
	char *scope;

	t->id = d_int(d);
	t->name = d_str(d);
	d_hash(d, t->sha256);
	scope = d_str(d);
	t->owner = d_str(d);
	t->created = d_int(d);
	t->revoked = d_int(d);
	if (d->r == VOUCHER_OK && store_scope_parse(scope, &t->scope) != VOUCHER_OK)
		d->r = VOUCHER_E_STORE;
	free(scope);
	return VOUCHER_OK;
}

void store_token_list_free(struct store_token *v, size_t n)
{
	free_many(v, n, sizeof(*v), token_clear_v);
}

voucher_err store_token_create(struct store *s, const struct store_token *t, int64_t *id, char *err,
                               size_t errlen)
{
	struct store_val p[4];
	const char *scope;
	int64_t newid = 0;
	voucher_err r;

	if (id)
		*id = 0;
	if ((r = need(t, "token", err, errlen)) != VOUCHER_OK ||
	    (r = need(t->name, "token name", err, errlen)) != VOUCHER_OK)
		return r;
	if (!(scope = store_scope_name(t->scope))) {
		store_errf(err, errlen, "invalid token scope");
		return VOUCHER_EINVAL;
	}
	p[0] = v_text(t->name);
	p[1] = v_hash(t->sha256);
	p[2] = v_text(scope);
	p[3] = v_text(t->owner);
	r = run(s, ST_TOKEN_CREATE, p, 4, row_int, &newid, NULL, err, errlen);
	if (r == VOUCHER_OK && newid == 0)
		r = missing(s, VOUCHER_E_NOT_FOUND, t->owner, "owner", err, errlen);
	if (r == VOUCHER_OK && id)
		*id = newid;
	return r;
}

voucher_err store_token_lookup(struct store *s, const uint8_t sha256[STORE_SHA256_LEN],
                               struct store_token *out, char *err, size_t errlen)
{
	struct store_val p[1] = {v_hash(sha256)};

	if (!sha256) {
		memset(out, 0, sizeof(*out));
		return need(sha256, "token hash", err, errlen);
	}
	return get_one(s, ST_TOKEN_LOOKUP, p, 1, out, sizeof(*out), token_dec, token_clear_v,
	               "valid token", err, errlen);
}

voucher_err store_token_list(struct store *s, struct store_page *page, struct store_token **out,
                             size_t *n, char *err, size_t errlen)
{
	struct store_val p[2] = {v_int(page_after(page))};

	return get_many(s, ST_TOKEN_LIST, p, 2, page, (void **)out, n, sizeof(**out), token_dec,
	                token_clear_v, err, errlen);
}

voucher_err store_token_revoke(struct store *s, int64_t id, char *err, size_t errlen)
{
	struct store_val p[1] = {v_int(id)};

	return write_one(s, ST_TOKEN_REVOKE, p, 1, "valid token", err, errlen);
}

/* ---- admin audit ------------------------------------------------------------------------------
 */

void store_admin_audit_clear(struct store_admin_audit *a)
{
	if (!a)
		return;
	free(a->request_id);
	free(a->method);
	free(a->route);
	free(a->before_json);
	free(a->after_json);
	memset(a, 0, sizeof(*a));
}

static void aaud_clear_v(void *rec)
{
	store_admin_audit_clear(rec);
}

static voucher_err aaud_dec(void *rec, struct dec *d)
{
	struct store_admin_audit *a = rec;

	a->id = d_int(d);
	a->logged = d_int(d);
	a->token_id = d_int(d);
	a->request_id = d_str(d);
	a->method = d_str(d);
	a->route = d_str(d);
	a->status = (int)d_int(d);
	a->before_json = d_str(d);
	a->after_json = d_str(d);
	return VOUCHER_OK;
}

void store_admin_audit_list_free(struct store_admin_audit *v, size_t n)
{
	free_many(v, n, sizeof(*v), aaud_clear_v);
}

voucher_err store_admin_audit_add(struct store *s, const struct store_admin_audit *a, char *err,
                                  size_t errlen)
{
	struct store_val p[7];
	voucher_err r;

	if ((r = need(a, "admin audit record", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->method, "method", err, errlen)) != VOUCHER_OK ||
	    (r = need(a->route, "route", err, errlen)) != VOUCHER_OK)
		return r;
	p[0] = a->token_id ? v_int(a->token_id) : v_text(NULL);
	p[1] = v_text(a->request_id);
	p[2] = v_text(a->method);
	p[3] = v_text(a->route);
	p[4] = v_int(a->status);
	p[5] = v_text(a->before_json);
	p[6] = v_text(a->after_json);
	return run(s, ST_AAUD_ADD, p, 7, NULL, NULL, NULL, err, errlen);
}

voucher_err store_admin_audit_list(struct store *s, struct store_page *page,
                                   struct store_admin_audit **out, size_t *n, char *err,
                                   size_t errlen)
{
	struct store_val p[2] = {v_int(page_after(page))};

	return get_many(s, ST_AAUD_LIST, p, 2, page, (void **)out, n, sizeof(**out), aaud_dec,
	                aaud_clear_v, err, errlen);
}
