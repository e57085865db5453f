/*
 * The seam between the generic store (store.c) and its backends
 * (store-sqlite.c, store-pg.c). Private to service/.
 *
 * The generic layer owns every SQL statement, written once with $1..$N
 * placeholders and a few dialect tokens in braces ({NOW}, {ID}, {BLOB},
 * {SKIP_LOCKED}); each backend expands the tokens from its own table and
 * prepares the result once per connection. Values cross the seam as
 * struct store_val, so the generic layer never sees an engine type.
 */
#ifndef BRSKI_STORE_INT_H
#define BRSKI_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/store.h"

enum store_vtype { STORE_V_NULL = 0, STORE_V_INT, STORE_V_TEXT, STORE_V_BLOB };

/* A parameter or a result column. p points at len bytes (TEXT is not
 * NUL-terminated on the way in unless len is computed from it; on the way
 * out the backend guarantees a NUL after TEXT). Result values are borrowed
 * from the backend for the duration of the row callback. */
struct store_val {
	enum store_vtype t;
	int64_t i;
	const void *p;
	size_t len;
};

/* Called once per result row; a non-OK return stops the statement and is
 * returned by exec. */
typedef voucher_err (*store_row_fn)(void *arg, const struct store_val *cols, size_t ncols);

/* A dialect token and its expansion. */
struct store_dialect {
	const char *name; /* "{NOW}" */
	const char *text;
};

struct store_conn; /* backend connection, opaque to store.c */

struct store_ops {
	const char *name;
	/* Dialect tokens, terminated by a NULL name. */
	const struct store_dialect *tokens;
	voucher_err (*open)(const char *target, const struct store_opts *opts, void **ctx,
	                    char *err, size_t errlen);
	void (*close)(void *ctx);
	/* Borrow a connection (blocks while the pool is exhausted). */
	voucher_err (*conn_get)(void *ctx, struct store_conn **out, char *err, size_t errlen);
	void (*conn_put)(void *ctx, struct store_conn *c);
	/*
	 * Run statement id (text sql, already token-expanded by the backend on
	 * first use) with params. cb gets each row (may be NULL). *changes (may
	 * be NULL) gets the number of rows changed. in_tx says the caller holds
	 * an explicit transaction, so a broken connection must not be retried.
	 */
	voucher_err (*exec)(void *ctx, struct store_conn *c, unsigned id, const char *sql,
	                    const struct store_val *params, size_t nparams, store_row_fn cb,
	                    void *arg, int64_t *changes, bool in_tx, char *err, size_t errlen);
	/* Run a parameterless script of one or more statements (DDL). */
	voucher_err (*script)(void *ctx, struct store_conn *c, const char *sql, char *err,
	                      size_t errlen);
	/* Transactions. begin_migrate also takes the cross-process migration
	 * lock (released at commit or rollback). */
	voucher_err (*begin)(void *ctx, struct store_conn *c, char *err, size_t errlen);
	voucher_err (*begin_migrate)(void *ctx, struct store_conn *c, char *err, size_t errlen);
	voucher_err (*commit)(void *ctx, struct store_conn *c, char *err, size_t errlen);
	voucher_err (*rollback)(void *ctx, struct store_conn *c, char *err, size_t errlen);
};

extern const struct store_ops store_sqlite_ops;
#ifdef HAVE_POSTGRESQL
extern const struct store_ops store_pg_ops;
#endif

/* Expand the dialect tokens in sql and, when qmark is true, turn $N into
 * ?N (SQLite's numbered parameter). Returns a malloc'ed string or NULL. */
char *store_sql_expand(const char *sql, const struct store_dialect *tokens, bool qmark);

/* Statement count, for the backends' per-connection prepared-statement
 * arrays. */
unsigned store_stmt_count(void);

/* The migrations (store-schema.c), in order, versions 1..n. */
struct store_migration {
	int version;
	const char *sql; /* statements separated by ';', with dialect tokens */
};
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

/* snprintf into err when err is non-NULL. */
void store_errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
