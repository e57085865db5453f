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
 *
 * Latency: SQLite's own busy handler sleeps 1, 2, 5, 10 ms... between
 * retries, so two request threads that collide on the write lock cost the
 * loser milliseconds at the tail. Writers of one process therefore queue
 * on a mutex first (woken the moment the holder commits) and meet the
 * busy handler only across processes, where it polls from 100 us up.
 * The WAL is checkpointed by a thread of its own, signalled from the WAL
 * hook, so no request waits for a checkpoint's writes and fsync.
 */
#include <config.h> /* the build's, not service/config.h */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "service/store-int.h"

#define SQ_MAX_COLS 32

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt **stmts; /* by statement id, prepared on first use */
	struct store_conn *next_free;
	struct sq_ctx *ctx;
	bool holds_write; /* inside an explicit transaction, holding write_mu */
	unsigned busy_ms; /* the busy handler's budget */
};

/* The WAL size in pages that wakes the checkpointer (SQLite's own
 * autocheckpoint default), and the size at which a writer stops to
 * checkpoint itself because the checkpointer is falling behind (a
 * starved thread on a loaded machine): the bound of the WAL file. */
#define SQ_CHECKPOINT_PAGES      1000
#define SQ_CHECKPOINT_HARD_PAGES (4 * SQ_CHECKPOINT_PAGES)

struct sq_ctx {
	char *path;
	unsigned pool_max;
	unsigned busy_ms;
	uint64_t mmap_bytes; /* PRAGMA mmap_size of each connection */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned nconn; /* open or being opened */
	struct store_conn *free_list;
	/* One writer of this process at a time (see the top of the file). */
	pthread_mutex_t write_mu;
	/* The checkpointer: its own connection and thread, woken by ckpt_cv
	 * when a commit leaves the WAL at SQ_CHECKPOINT_PAGES or more. */
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_cv;
	bool ckpt_wanted, ckpt_stop, ckpt_running;
	pthread_t ckpt_thread;
	sqlite3 *ckpt_db;
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

/* Another process holds the write lock: poll from 100 us, doubling to
 * 4 ms, until the busy timeout is spent. Returns 0 to give up (BUSY). */
static int sq_busy(void *arg, int count)
{
	const struct store_conn *c = arg;
	/* Sleeps 0..5 are 100 << i us (100..3200), the rest 4000 us each. */
	unsigned long step_us = count < 6 ? 100UL << count : 4000UL;
	unsigned long spent_us = count < 6 ? 100UL * ((1UL << count) - 1)
	                                   : 6300UL + 4000UL * (unsigned long)(count - 6);

	if (spent_us >= (unsigned long)c->busy_ms * 1000UL)
		return 0;
	usleep((useconds_t)step_us);
	return 1;
}

/* Called after every commit with the WAL's size, by the committing
 * writer while it still holds write_mu. Past the threshold, wake the
 * checkpointer; past the hard bound, or without a checkpointer (its
 * thread failed to start), checkpoint here, as SQLite's autocheckpoint
 * would, and with no other writer of this process able to add frames. */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_ctx *x = arg;

	if (pages < SQ_CHECKPOINT_PAGES)
		return SQLITE_OK;
	pthread_mutex_lock(&x->ckpt_mu);
	if (x->ckpt_running && pages < SQ_CHECKPOINT_HARD_PAGES) {
		x->ckpt_wanted = true;
		pthread_cond_signal(&x->ckpt_cv);
		pthread_mutex_unlock(&x->ckpt_mu);
		return SQLITE_OK;
	}
	pthread_mutex_unlock(&x->ckpt_mu);
	sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* Two passes. The first copies the WAL into the database while writers
 * go on appending, so it never holds them up but cannot finish: the WAL
 * only starts over when a writer finds all of it copied, and busy writers
 * always add more. The second holds this process's writers back (not
 * readers) to copy the few frames they added meanwhile; the next writer
 * then rewinds the WAL instead of growing it. */
static void sq_checkpoint(struct sq_ctx *x)
{
	if (sqlite3_wal_checkpoint_v2(x->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK)
		return;
	pthread_mutex_lock(&x->write_mu);
	sqlite3_wal_checkpoint_v2(x->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	pthread_mutex_unlock(&x->write_mu);
}

/* The checkpointer thread. PASSIVE: copies what no reader still needs and never blocks readers or
 * writers; what it cannot copy now, the next wake-up does. */
static void *sq_checkpointer(void *arg)
{
	struct sq_ctx *x = arg;

	pthread_mutex_lock(&x->ckpt_mu);
	while (!x->ckpt_stop) {
		if (!x->ckpt_wanted) {
			pthread_cond_wait(&x->ckpt_cv, &x->ckpt_mu);
			continue;
		}
		x->ckpt_wanted = false;
		pthread_mutex_unlock(&x->ckpt_mu);
		sq_checkpoint(x);
		pthread_mutex_lock(&x->ckpt_mu);
	}
	pthread_mutex_unlock(&x->ckpt_mu);
	return NULL;
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
	c->ctx = x;
	c->busy_ms = x->busy_ms;
	/* The busy handler first: switching to WAL needs a short exclusive
	 * lock that other openers may hold. */
	sqlite3_busy_handler(c->db, sq_busy, c);
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
	/* Replaces the autocheckpoint (itself a WAL hook). */
	sqlite3_wal_hook(c->db, sq_wal_hook, x);
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

/* Take this process's writer slot, waiting at most the busy timeout as
 * SQLite would for the file lock (so a writer that never finishes gives a
 * "locked" error, not a hang). */
static bool sq_write_lock(struct store_conn *c)
{
	struct timespec until = brski_realtime_in(c->busy_ms);

	return pthread_mutex_timedlock(&c->ctx->write_mu, &until) == 0;
}

/* Give up this process's writer slot once the transaction has ended,
 * by COMMIT, ROLLBACK or an error after which SQLite rolled back. */
static void sq_write_release(struct store_conn *c)
{
	if (c->holds_write && sqlite3_get_autocommit(c->db)) {
		c->holds_write = false;
		pthread_mutex_unlock(&c->ctx->write_mu);
	}
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
	sq_write_release(c);
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
	pthread_mutex_init(&x->write_mu, NULL);
	pthread_mutex_init(&x->ckpt_mu, NULL);
	pthread_cond_init(&x->ckpt_cv, NULL);
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
	/* Best effort: without the thread, the WAL hook checkpoints inline.
	 * A connection learns the journal mode on first use, and until then
	 * would take a checkpoint for a no-op. */
	{
		char mode[16] = "";

		if (sqlite3_open_v2(x->path, &x->ckpt_db,
		                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
		                    NULL) == SQLITE_OK &&
		    sqlite3_exec(x->ckpt_db, "PRAGMA journal_mode", sq_first_col, mode, NULL) ==
		            SQLITE_OK &&
		    strcmp(mode, "wal") == 0 &&
		    sqlite3_exec(x->ckpt_db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) ==
		            SQLITE_OK &&
		    pthread_create(&x->ckpt_thread, NULL, sq_checkpointer, x) == 0)
			x->ckpt_running = true;
	}
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
	if (x->ckpt_running) {
		pthread_mutex_lock(&x->ckpt_mu);
		x->ckpt_stop = true;
		x->ckpt_running = false;
		pthread_cond_signal(&x->ckpt_cv);
		pthread_mutex_unlock(&x->ckpt_mu);
		pthread_join(x->ckpt_thread, NULL);
	}
	sqlite3_close_v2(x->ckpt_db);
	while ((c = x->free_list)) {
		x->free_list = c->next_free;
		sq_conn_free(c);
	}
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->write_mu);
	pthread_mutex_destroy(&x->ckpt_mu);
	pthread_cond_destroy(&x->ckpt_cv);
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
	bool write_locked = false;
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
	/* A write on its own is a transaction of its own: queue it behind
	 * this process's other writers. */
	if (!c->holds_write && sqlite3_get_autocommit(c->db) && !sqlite3_stmt_readonly(st)) {
		if (!sq_write_lock(c)) {
			store_errf(err, errlen, "query: sqlite: database is locked");
			r = VOUCHER_E_STORE;
			goto out;
		}
		write_locked = true;
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
	if (write_locked)
		pthread_mutex_unlock(&c->ctx->write_mu);
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
	voucher_err r;

	(void)ctx;
	if (c->holds_write) {
		store_errf(err, errlen, "a transaction is already open on this connection");
		return VOUCHER_E_STORE;
	}
	if (!sq_write_lock(c)) {
		store_errf(err, errlen, "BEGIN IMMEDIATE: sqlite: database is locked");
		return VOUCHER_E_STORE;
	}
	r = sq_pragma(c->db, "BEGIN IMMEDIATE", err, errlen);
	if (r == VOUCHER_OK)
		c->holds_write = true;
	else
		pthread_mutex_unlock(&c->ctx->write_mu);
	return r;
}

static voucher_err sq_commit(void *ctx, struct store_conn *c, char *err, size_t errlen)
{
	voucher_err r;

	(void)ctx;
	if (sqlite3_get_autocommit(c->db)) {
		sq_write_release(c);
		store_errf(err, errlen, "the transaction was rolled back by an earlier error");
		return VOUCHER_E_STORE;
	}
	r = sq_pragma(c->db, "COMMIT", err, errlen);
	sq_write_release(c);
	return r;
}

static voucher_err sq_rollback(void *ctx, struct store_conn *c, char *err, size_t errlen)
{
	voucher_err r = VOUCHER_OK;

	(void)ctx;
	/* When the engine already rolled back, there is nothing to do. */
	if (!sqlite3_get_autocommit(c->db))
		r = sq_pragma(c->db, "ROLLBACK", err, errlen);
	sq_write_release(c);
	return r;
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
