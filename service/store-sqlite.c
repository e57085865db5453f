/*
 * SQLite backend of the store.
 *
 * One database file in WAL mode shared by every thread and process. Each
 * thread borrows a connection from a small bounded pool (a SQLite
 * connection must not be used by two threads at once, and one per request
 * thread would be wasteful), so readers run in parallel and writers queue
 * on the file lock with a busy timeout.
 *
 * Durability: with journal_mode=WAL and synchronous=NORMAL a transaction is
 * committed once its frames are write()n to the -wal file, before COMMIT
 * returns. The data is then in the kernel's page cache, which outlives the
 * process: a killed daemon loses nothing it reported as committed, and the
 * next opener replays the WAL. Only an operating-system crash or power loss
 * can drop the last transactions (never corrupt the file), because the WAL
 * is fsync'ed at checkpoints rather than at every commit; that is the
 * trade-off synchronous=NORMAL makes, and FULL would sync per commit.
 */
#include <config.h> /* the build's, not service/config.h */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "service/store-int.h"

#define SQ_MAX_COLS 32

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt **stmts; /* by statement id, prepared on first use */
	struct store_conn *next_free;
};

struct sq_ctx {
	char *path;
	unsigned pool_max;
	unsigned busy_ms;
	uint64_t mmap_bytes; /* PRAGMA mmap_size of each connection */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned nconn; /* open or being opened */
	struct store_conn *free_list;
};

/* {NOW} is the database's clock in Unix seconds: one clock for every
 * writer, whatever host it runs on. */
static const struct store_dialect sq_tokens[] = {
        {"{NOW}", "CAST(strftime('%s','now') AS INTEGER)"},
        {"{ID}", "INTEGER PRIMARY KEY AUTOINCREMENT"},
        {"{BLOB}", "BLOB"},
        /* A single UPDATE already holds the write lock of the whole file. */
        {"{SKIP_LOCKED}", ""},
        {NULL, NULL},
};

/* Map a SQLite result code (extended codes are on) to the store's errors;
 * the engine's message goes to err. Unique and foreign-key violations are
 * conflicts by code, never by message text. */
static voucher_err sq_err(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		store_errf(err, errlen, "%s: record already exists (%s)", what, msg);
		return VOUCHER_E_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		store_errf(err, errlen, "%s: record is referenced by or refers to another (%s)",
		           what, msg);
		return VOUCHER_E_CONFLICT;
	case SQLITE_NOMEM:
		store_errf(err, errlen, "%s: out of memory", what);
		return VOUCHER_ENOMEM;
	default:
		store_errf(err, errlen, "%s: sqlite: %s", what, msg);
		return VOUCHER_E_STORE;
	}
}

static void sq_conn_free(struct store_conn *c)
{
	unsigned i, n = store_stmt_count();

	if (!c)
		return;
	if (c->stmts)
		for (i = 0; i < n; i++)
			sqlite3_finalize(c->stmts[i]);
	free(c->stmts);
	sqlite3_close_v2(c->db);
	free(c);
}

static voucher_err sq_pragma(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sq_err(db, rc, sql, err, errlen);
	return VOUCHER_OK;
}

static int sq_first_col(void *arg, int n, char **vals, char **names)
{
	char *out = arg;

	(void)names;
	if (n > 0 && vals[0])
		snprintf(out, 16, "%s", vals[0]);
	return 0;
}

static voucher_err sq_conn_new(struct sq_ctx *x, struct store_conn **out, char *err, size_t errlen)
{
	struct store_conn *c = NULL;
	char mode[16] = "";
	unsigned waited;
	voucher_err r;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->stmts = calloc(store_stmt_count(), sizeof(*c->stmts)))) {
		free(c);
		return VOUCHER_ENOMEM;
	}
	/* NOMUTEX: the pool guarantees one thread per connection at a time. */
	rc = sqlite3_open_v2(x->path, &c->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		store_errf(err, errlen, "failed to open SQLite database %s (%s)", x->path,
		           c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		r = VOUCHER_E_STORE;
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	/* The busy timeout first: switching to WAL needs a short exclusive
	 * lock that other openers may hold. */
	sqlite3_busy_timeout(c->db, (int)x->busy_ms);
	rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", sq_first_col, mode, NULL);
	/* On a new file still in rollback mode, SQLite answers BUSY at once,
	 * without the busy handler, when openers race for the exclusive lock
	 * of the switch (it refuses to wait where waiting could deadlock).
	 * Retry for the busy timeout; once one opener has switched, WAL is
	 * recorded in the file and the others find it set. */
	for (waited = 0; (rc & 0xff) == SQLITE_BUSY && waited < x->busy_ms; waited += 10) {
		sqlite3_sleep(10);
		rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", sq_first_col, mode, NULL);
	}
	if (rc != SQLITE_OK) {
		r = sq_err(c->db, rc, "enable WAL", err, errlen);
		goto out;
	}
	if (strcmp(mode, "wal") != 0) {
		store_errf(err, errlen, "SQLite database %s cannot use WAL (journal mode %s)",
		           x->path, mode);
		r = VOUCHER_E_STORE;
		goto out;
	}
	if ((r = sq_pragma(c->db, "PRAGMA synchronous=NORMAL", err, errlen)) != VOUCHER_OK ||
	    (r = sq_pragma(c->db, "PRAGMA foreign_keys=ON", err, errlen)) != VOUCHER_OK)
		goto out;
	/* Read the database through a shared memory map rather than a pread
	 * per page missing from each connection's 2 MiB page cache: with
	 * many devices a lookup otherwise pays system calls that a small
	 * store does not (brski bench store). The map must cover the whole
	 * file for that: a page past its end is read the slow way again
	 * ([store] sqlite_mmap_mib, default 2 GiB of address space, which
	 * costs no memory until touched). Best effort: SQLite silently caps
	 * it (SQLITE_MAX_MMAP_SIZE) or ignores it where mapping is
	 * unavailable; writes still go through the WAL. */
	{
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA mmap_size=%llu",
		         (unsigned long long)x->mmap_bytes);
		sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
	}
	*out = c;
	c = NULL;
	r = VOUCHER_OK;
out:
	sq_conn_free(c);
	return r;
}

static voucher_err sq_conn_get(void *ctx, struct store_conn **out, char *err, size_t errlen)
{
	struct sq_ctx *x = ctx;
	voucher_err r;

	pthread_mutex_lock(&x->mu);
	while (!x->free_list && x->nconn >= x->pool_max)
		pthread_cond_wait(&x->cv, &x->mu);
	if (x->free_list) {
		*out = x->free_list;
		x->free_list = (*out)->next_free;
		pthread_mutex_unlock(&x->mu);
		return VOUCHER_OK;
	}
	x->nconn++; /* reserve the slot, open outside the lock */
	pthread_mutex_unlock(&x->mu);
	r = sq_conn_new(x, out, err, errlen);
	if (r != VOUCHER_OK) {
		pthread_mutex_lock(&x->mu);
		x->nconn--;
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&x->mu);
	}
	return r;
}

static void sq_conn_put(void *ctx, struct store_conn *c)
{
	struct sq_ctx *x = ctx;

	if (!c)
		return;
	/* A connection never goes back to the pool inside a transaction. */
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&x->mu);
	c->next_free = x->free_list;
	x->free_list = c;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

static void sq_close(void *ctx);

static voucher_err sq_open(const char *target, const struct store_opts *opts, void **ctx, char *err,
                           size_t errlen)
{
	struct sq_ctx *x;
	struct store_conn **conns = NULL;
	voucher_err r = VOUCHER_OK;
	unsigned i, n;
	int fd;

	*ctx = NULL;
	if (!sqlite3_threadsafe()) {
		store_errf(err, errlen, "the SQLite library is built without thread support");
		return VOUCHER_E_CONFIG;
	}
	if (target[0] == '\0' || strcmp(target, ":memory:") == 0) {
		store_errf(err, errlen,
		           "SQLite database must be a file path (an in-memory database is "
		           "private to one connection)");
		return VOUCHER_E_CONFIG;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return VOUCHER_ENOMEM;
	x->path = strdup(target);
	x->pool_max = opts->pool_size;
	x->busy_ms = opts->busy_timeout_ms;
	x->mmap_bytes = opts->sqlite_mmap_off ? 0
	                : opts->sqlite_mmap   ? opts->sqlite_mmap
	                                      : STORE_SQLITE_MMAP_DEFAULT;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	if (!x->path) {
		r = VOUCHER_ENOMEM;
		goto fail;
	}
	/* The file holds the ACME account key and the token hashes: create
	 * it private (SQLite would use 0644); its -wal and -shm files take
	 * the database file's mode. */
	fd = open(x->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		store_errf(err, errlen, "failed to create SQLite database %s (%s)", x->path,
		           strerror(errno));
		r = VOUCHER_E_STORE;
		goto fail;
	}
	/* Open the whole pool now: a bad file fails at startup, not under
	 * load, and a daemon that drops privileges later keeps working
	 * connections. */
	conns = calloc(x->pool_max, sizeof(*conns));
	if (!conns) {
		r = VOUCHER_ENOMEM;
		goto fail;
	}
	for (i = 0; i < x->pool_max; i++)
		if ((r = sq_conn_get(x, &conns[i], err, errlen)) != VOUCHER_OK)
			break;
	for (n = i, i = 0; i < n; i++)
		sq_conn_put(x, conns[i]);
	free(conns);
	if (r != VOUCHER_OK)
		goto fail;
	*ctx = x;
	return VOUCHER_OK;
fail:
	sq_close(x);
	return r;
}

static void sq_close(void *ctx)
{
	struct sq_ctx *x = ctx;
	struct store_conn *c;

	if (!x)
		return;
	while ((c = x->free_list)) {
		x->free_list = c->next_free;
		sq_conn_free(c);
	}
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x->path);
	free(x);
}

static voucher_err sq_bind(sqlite3_stmt *st, const struct store_val *params, size_t n)
{
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct store_val *v = &params[i];
		int idx = (int)i + 1;

		switch (v->t) {
		case STORE_V_NULL:
			rc = sqlite3_bind_null(st, idx);
			break;
		case STORE_V_INT:
			rc = sqlite3_bind_int64(st, idx, v->i);
			break;
		case STORE_V_TEXT:
			/* STATIC: the caller's values outlive the statement
			 * use, and the bindings are cleared before return. */
			rc = sqlite3_bind_text(st, idx, v->p, -1, SQLITE_STATIC);
			break;
		case STORE_V_BLOB:
			rc = sqlite3_bind_blob64(st, idx, v->p ? v->p : "", v->len, SQLITE_STATIC);
			break;
		}
	}
	return rc;
}

static voucher_err sq_exec(void *ctx, struct store_conn *c, unsigned id, const char *sql,
                           const struct store_val *params, size_t nparams, store_row_fn cb,
                           void *arg, int64_t *changes, bool in_tx, char *err, size_t errlen)
{
	struct store_val cols[SQ_MAX_COLS];
	sqlite3_stmt *st;
	voucher_err r = VOUCHER_OK;
	int rc, ncols, i;

	(void)ctx;
	if (changes)
		*changes = 0;
	/* Some errors (disk full, I/O) make SQLite roll back the whole
	 * transaction; a statement run now would commit on its own. */
	if (in_tx && sqlite3_get_autocommit(c->db)) {
		store_errf(err, errlen, "the transaction was rolled back by an earlier error");
		return VOUCHER_E_STORE;
	}
	st = c->stmts[id];
	if (!st) {
		char *x = store_sql_expand(sql, sq_tokens, true);
		const char *tail = NULL;

		if (!x)
			return VOUCHER_ENOMEM;
		rc = sqlite3_prepare_v3(c->db, x, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
		if (rc == SQLITE_OK && tail && *tail) {
			sqlite3_finalize(st);
			st = NULL;
			store_errf(err, errlen, "statement %u holds more than one statement", id);
			free(x);
			return VOUCHER_E_STORE;
		}
		free(x);
		if (rc != SQLITE_OK)
			return sq_err(c->db, rc, "prepare", err, errlen);
		c->stmts[id] = st;
	}
	if ((size_t)sqlite3_bind_parameter_count(st) != nparams) {
		store_errf(err, errlen, "statement %u takes %d parameters, got %zu", id,
		           sqlite3_bind_parameter_count(st), nparams);
		return VOUCHER_EINVAL;
	}
	rc = sq_bind(st, params, nparams);
	if (rc != SQLITE_OK) {
		r = sq_err(c->db, rc, "bind", err, errlen);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ncols = sqlite3_column_count(st);
		if (ncols > SQ_MAX_COLS) {
			store_errf(err, errlen, "statement %u returns too many columns", id);
			r = VOUCHER_E_STORE;
			goto out;
		}
		for (i = 0; i < ncols; i++) {
			struct store_val *v = &cols[i];

			memset(v, 0, sizeof(*v));
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_NULL:
				v->t = STORE_V_NULL;
				break;
			case SQLITE_INTEGER:
			case SQLITE_FLOAT:
				v->t = STORE_V_INT;
				v->i = sqlite3_column_int64(st, i);
				break;
			case SQLITE_TEXT:
				v->t = STORE_V_TEXT;
				v->p = sqlite3_column_text(st, i);
				v->len = (size_t)sqlite3_column_bytes(st, i);
				break;
			default:
				v->t = STORE_V_BLOB;
				v->p = sqlite3_column_blob(st, i);
				v->len = (size_t)sqlite3_column_bytes(st, i);
				break;
			}
		}
		if (cb && (r = cb(arg, cols, (size_t)ncols)) != VOUCHER_OK)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(c->db, rc, "query", err, errlen);
		goto out;
	}
	if (changes)
		*changes = sqlite3_changes64(c->db);
out:
	sqlite3_reset(st);
	/* reset does not clear the bindings, and they point at caller
	 * memory that is about to go away. */
	sqlite3_clear_bindings(st);
	return r;
}

static voucher_err sq_script(void *ctx, struct store_conn *c, const char *sql, char *err,
                             size_t errlen)
{
	char *x = store_sql_expand(sql, sq_tokens, true);
	int rc;

	(void)ctx;
	if (!x)
		return VOUCHER_ENOMEM;
	rc = sqlite3_exec(c->db, x, NULL, NULL, NULL);
	free(x);
	if (rc != SQLITE_OK)
		return sq_err(c->db, rc, "script", err, errlen);
	return VOUCHER_OK;
}

/* IMMEDIATE takes the write lock at BEGIN: a deferred transaction that
 * reads and then writes could fail with SQLITE_BUSY instead of waiting. It
 * is also the cross-process lock for migrations. */
static voucher_err sq_begin(void *ctx, struct store_conn *c, char *err, size_t errlen)
{
	(void)ctx;
	return sq_pragma(c->db, "BEGIN IMMEDIATE", err, errlen);
}

static voucher_err sq_commit(void *ctx, struct store_conn *c, char *err, size_t errlen)
{
	(void)ctx;
	if (sqlite3_get_autocommit(c->db)) {
		store_errf(err, errlen, "the transaction was rolled back by an earlier error");
		return VOUCHER_E_STORE;
	}
	return sq_pragma(c->db, "COMMIT", err, errlen);
}

static voucher_err sq_rollback(void *ctx, struct store_conn *c, char *err, size_t errlen)
{
	(void)ctx;
	if (sqlite3_get_autocommit(c->db))
		return VOUCHER_OK; /* the engine already rolled back */
	return sq_pragma(c->db, "ROLLBACK", err, errlen);
}

const struct store_ops store_sqlite_ops = {
        .name = "sqlite",
        .tokens = sq_tokens,
        .open = sq_open,
        .close = sq_close,
        .conn_get = sq_conn_get,
        .conn_put = sq_conn_put,
        .exec = sq_exec,
        .script = sq_script,
        .begin = sq_begin,
        .begin_migrate = sq_begin,
        .commit = sq_commit,
        .rollback = sq_rollback,
};
