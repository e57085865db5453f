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
#include "common/str.h"
#include "service/store-int.h"

struct store {
	const struct store_ops *ops;
	void *ctx;
	/* Set on a transaction handle: the connection it holds, and the
	 * store it belongs to. */
	struct store_conn *tx_conn;
	struct store *parent;
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

enum { ST_PING, ST_VERSION_GET, ST_VERSION_ADD, ST__COUNT };

static const char *const stmts[ST__COUNT] = {
        [ST_PING] = "SELECT 1",
        [ST_VERSION_GET] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [ST_VERSION_ADD] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, {NOW})",
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

char *store_sql_expand(const char *sql, const struct store_token *tokens, bool qmark)
{
	struct brski_buf b;
	const char *p;
	voucher_err r = VOUCHER_OK;

	brski_buf_init(&b, 1024 * 1024);
	for (p = sql; *p && r == VOUCHER_OK; p++) {
		const struct store_token *t = NULL;

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
	struct store_opts o = {8, 5000, 5};
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

void store_close(struct store *s)
{
	if (!s || s->tx_conn)
		return;
	s->ops->close(s->ctx);
	free(s);
}
