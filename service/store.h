/*
 * The store: everything the daemons must keep across a restart (owners,
 * devices, audit events, voucher-request dispositions, enrollment jobs,
 * issued certificates, the ACME account and orders, admin tokens).
 *
 * One schema with versioned migrations, on SQLite (the embedded default:
 * one file in WAL mode) or PostgreSQL (many daemons on many hosts share one
 * database). The backend is chosen by the database string: a file path or
 * "sqlite:PATH" is SQLite, "postgresql://..." (or "postgres://...") is
 * PostgreSQL. See docs/internals/STORE.md for the design.
 *
 * Thread-safety: a struct store may be used from any number of threads at
 * once; each call borrows a pooled connection for its duration. A
 * transaction handle (store_begin) belongs to one thread until it is
 * committed or rolled back.
 *
 * Errors: every function returns VOUCHER_OK or a negative voucher_err and,
 * where it takes err/errlen, writes a message a person can act on:
 *   VOUCHER_E_CONFLICT   a unique key already exists, or a row is still
 *                        referenced, or a job lease was lost
 *   VOUCHER_E_NOT_FOUND  no such record
 *   VOUCHER_E_STORE      the database failed (the engine's message in err)
 *   VOUCHER_EINVAL       a bad argument (the message says which)
 * The store keeps no cache across calls: what another instance wrote is
 * seen by the next call.
 */
#ifndef BRSKI_STORE_H
#define BRSKI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

struct store;

/* Size of an error buffer that holds any store message. */
#define STORE_ERRLEN 256

/*
 * Open the store named by database (see above), create or migrate its
 * schema to the version this build knows, and return it in *out (owned by
 * the caller; release with store_close). Many processes may open the same
 * database at once: migrations run exactly once, under a lock.
 * VOUCHER_E_CONFIG for an unusable database string, VOUCHER_E_STORE when
 * the database cannot be opened or migrated (also when its schema is newer
 * than this build).
 */
voucher_err store_open(const char *database, struct store **out, char *err, size_t errlen);

/* Tuning for store_open_opts; zero fields take the defaults. */
struct store_opts {
	unsigned pool_size;       /* connections at most; default 8 */
	unsigned busy_timeout_ms; /* SQLite lock wait; default 5000 */
	unsigned connect_timeout; /* PostgreSQL connect timeout, s; default 5 */
};
voucher_err store_open_opts(const char *database, const struct store_opts *opts, struct store **out,
                            char *err, size_t errlen);

/*
 * Check that the database answers (a round trip on a pooled connection,
 * reconnecting a broken PostgreSQL connection). For /healthz.
 */
voucher_err store_ping(struct store *s);

/* Close every connection and free s. NULL is a no-op. Not for a
 * transaction handle (use store_commit or store_rollback). */
void store_close(struct store *s);

#endif
