/*
 * The store: everything the daemons must keep across a restart (owners,
 * devices, audit events, voucher-request dispositions, enrollment jobs,
 * issued certificates, the ACME account and orders, admin tokens).
 *
 * One schema with versioned migrations, on SQLite (the embedded default:
 * one file in WAL mode) or PostgreSQL (many daemons on many hosts share one
 * database). The backend is chosen by the database string: a file path or
 * "sqlite:PATH" is SQLite, "postgresql://..." (or "postgres://...") is
 * PostgreSQL.
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
	/* SQLite: bytes of the database each connection reads through a
	 * memory map ([store] sqlite_mmap_mib); 0 here takes the default
	 * (STORE_SQLITE_MMAP_DEFAULT), sqlite_mmap_off turns the map off. */
	uint64_t sqlite_mmap;
	bool sqlite_mmap_off;
};
#define STORE_SQLITE_MMAP_DEFAULT (2048ull << 20)
voucher_err store_open_opts(const char *database, const struct store_opts *opts, struct store **out,
                            char *err, size_t errlen);

/*
 * Check that the database answers (a round trip on a pooled connection,
 * reconnecting a broken PostgreSQL connection). For /healthz.
 */
voucher_err store_ping(struct store *s);

/* "sqlite" or "postgresql", for logs. */
const char *store_backend(const struct store *s);

/* Close every connection and free s. NULL is a no-op. Not for a
 * transaction handle (use store_commit or store_rollback). */
void store_close(struct store *s);

/*
 * Schema version of the open database (the number of the last migration
 * applied). For diagnostics and tests.
 */
voucher_err store_schema_version(struct store *s, int64_t *version, char *err, size_t errlen);

/* ---- transactions --------------------------------------------------------
 *
 * store_begin borrows a connection and starts a transaction on it; *tx is a
 * store handle that every store_* function accepts, and whose calls all run
 * in that transaction. store_commit or store_rollback ends it and frees *tx
 * (both also on failure). Use it for writes that must all happen or none
 * (bulk import). A call that fails inside a transaction undoes only its
 * own change, on both engines, so the caller may go on (to report every bad
 * row of an import) and then decide to commit or roll back. On SQLite the
 * transaction holds the database's write lock from the start (BEGIN
 * IMMEDIATE), so keep it short. A transaction cannot
 * survive a PostgreSQL reconnect: a call inside one fails if the server
 * went away, and the commit then fails too.
 */
voucher_err store_begin(struct store *s, struct store **tx, char *err, size_t errlen);
voucher_err store_commit(struct store *tx, char *err, size_t errlen);
void store_rollback(struct store *tx);

/* ---- lists ----------------------------------------------------------------
 *
 * Every list is ordered by record id and read in pages: pass after = 0 for
 * the first page, then after = page.next until next is 0. The records come
 * back as a malloc'ed array (*out, *n) owned by the caller; free it with the
 * type's _list_free. An empty page is not an error.
 */
#define STORE_LIST_DEFAULT 100
#define STORE_LIST_MAX     1000

struct store_page {
	int64_t after;  /* in: records with id > after; 0 from the start */
	unsigned limit; /* in: 0 = STORE_LIST_DEFAULT; capped at STORE_LIST_MAX */
	int64_t next;   /* out: 'after' of the next page; 0 after the last */
};

/* How a put treats an existing record with the same key. */
enum store_put {
	STORE_PUT_CREATE, /* VOUCHER_E_CONFLICT if it exists */
	STORE_PUT_UPDATE, /* VOUCHER_E_NOT_FOUND if it does not */
	STORE_PUT_UPSERT, /* create or replace */
};

#define STORE_SHA256_LEN 32

/* Strings in records are malloc'ed and owned by the record; NULL means
 * absent. Times are Unix seconds (UTC) set by the database. Each
 * store_X_clear frees the members and zeroes the record (NULL ok). */

/* ---- owners --------------------------------------------------------------- */

struct store_owner {
	int64_t id;
	char *name;          /* unique key */
	char *domain_ca_pem; /* required: validates the owner's registrars */
	char *registrar_url; /* the owner registrar's requestvoucher URI */
	char *est_url;       /* the owner's EST server (est-domain mode) */
	char *est_pin_pem;   /* certificate pinned in est-domain vouchers */
	bool enroll_here;    /* devices may enroll at our EST */
	int64_t created;
	int64_t updated;
};
void store_owner_clear(struct store_owner *o);
void store_owner_list_free(struct store_owner *v, size_t n);
/* Write o (id, created and updated are ignored) keyed by o->name. */
voucher_err store_owner_put(struct store *s, const struct store_owner *o, enum store_put how,
                            char *err, size_t errlen);
voucher_err store_owner_get(struct store *s, const char *name, struct store_owner *out, char *err,
                            size_t errlen);
voucher_err store_owner_list(struct store *s, struct store_page *page, struct store_owner **out,
                             size_t *n, char *err, size_t errlen);
/* VOUCHER_E_CONFLICT while devices still belong to the owner; its deny
 * list, CRLs and owner-scoped tokens go with it. */
voucher_err store_owner_delete(struct store *s, const char *name, char *err, size_t errlen);

/* Deny-list of registrar certificates, by SHA-256 of the DER. */
voucher_err store_owner_deny_add(struct store *s, const char *owner,
                                 const uint8_t sha256[STORE_SHA256_LEN], const char *reason,
                                 char *err, size_t errlen);
voucher_err store_owner_deny_remove(struct store *s, const char *owner,
                                    const uint8_t sha256[STORE_SHA256_LEN], char *err,
                                    size_t errlen);
/* *denied is true when the owner has denied that certificate. */
voucher_err store_owner_denied(struct store *s, const char *owner,
                               const uint8_t sha256[STORE_SHA256_LEN], bool *denied, char *err,
                               size_t errlen);

struct store_crl {
	int64_t id;
	char *owner;
	uint8_t sha256[STORE_SHA256_LEN]; /* of der; unique per owner */
	uint8_t *der;
	size_t der_len;
	int64_t next_update; /* 0 if the CRL has none */
	int64_t created;
};
void store_crl_clear(struct store_crl *c);
void store_crl_list_free(struct store_crl *v, size_t n);
/* Adds c->der (sha256 is computed by the caller); *id may be NULL. */
voucher_err store_owner_crl_add(struct store *s, const struct store_crl *c, int64_t *id, char *err,
                                size_t errlen);
voucher_err store_owner_crl_list(struct store *s, const char *owner, struct store_page *page,
                                 struct store_crl **out, size_t *n, char *err, size_t errlen);
voucher_err store_owner_crl_delete(struct store *s, const char *owner, int64_t id, char *err,
                                   size_t errlen);

/* ---- devices -------------------------------------------------------------- */

enum store_mode {
	STORE_MODE_REDIRECT = 0, /* 307 to the owner's registrar */
	STORE_MODE_EST_DOMAIN,   /* voucher naming the owner's EST server */
	STORE_MODE_ENROLL_HERE,  /* voucher pinning our CA, EST here */
};
/* "redirect", "est-domain", "enroll-here"; NULL for an invalid value. */
const char *store_mode_name(enum store_mode m);
/* VOUCHER_EINVAL for an unknown name. */
voucher_err store_mode_parse(const char *name, enum store_mode *out);

struct store_device {
	int64_t id;
	char *serial;        /* IDevID serialNumber */
	char *idevid_issuer; /* NULL: matches an IDevID from any issuer */
	char *owner;         /* NULL: not assigned yet */
	enum store_mode mode;
	char *additional_configuration_url;
	int64_t created;
	int64_t updated;
};
void store_device_clear(struct store_device *d);
void store_device_list_free(struct store_device *v, size_t n);
/* Keyed by (serial, idevid_issuer). VOUCHER_E_NOT_FOUND if d->owner names
 * no owner. */
voucher_err store_device_put(struct store *s, const struct store_device *d, enum store_put how,
                             char *err, size_t errlen);
/* Look up the device an IDevID identifies: a record for exactly this
 * issuer wins over one for any issuer (issuer NULL matches only the
 * latter). */
voucher_err store_device_get(struct store *s, const char *serial, const char *issuer,
                             struct store_device *out, char *err, size_t errlen);
/* Devices, all or those of one owner (owner NULL: all). */
voucher_err store_device_list(struct store *s, const char *owner, struct store_page *page,
                              struct store_device **out, size_t *n, char *err, size_t errlen);
/* The key is exact: issuer NULL deletes the any-issuer record. */
voucher_err store_device_delete(struct store *s, const char *serial, const char *issuer, char *err,
                                size_t errlen);
/* Transfer of ownership (owner NULL: unassign). */
voucher_err store_device_set_owner(struct store *s, const char *serial, const char *issuer,
                                   const char *owner, char *err, size_t errlen);

/* ---- voucher-request log (append only) --------------------------------------- */

struct store_vreq {
	int64_t id;
	int64_t logged;
	char *request_id;
	char *peer;   /* address of the client */
	char *signer; /* registrar (or pledge) certificate subject or hash */
	char *serial;
	uint8_t *nonce;
	size_t nonce_len;
	char *media_type;
	char *disposition; /* "accepted" or the check that failed */
	int status;        /* HTTP status answered */
	char *detail;
};
void store_vreq_clear(struct store_vreq *v);
void store_vreq_list_free(struct store_vreq *v, size_t n);
voucher_err store_vreq_log(struct store *s, const struct store_vreq *v, char *err, size_t errlen);
/* All, or one device's (serial NULL: all). */
voucher_err store_vreq_list(struct store *s, const char *serial, struct store_page *page,
                            struct store_vreq **out, size_t *n, char *err, size_t errlen);

/* ---- cloudregd's pledge request log (append only) ------------------------------ */

struct store_preq {
	int64_t id;
	int64_t logged;
	char *request_id;
	char *peer;        /* address of the client */
	char *client_cert; /* hex SHA-256 of the TLS client certificate, NULL without */
	char *serial;      /* its subject serialNumber, NULL when it has none */
	char *endpoint;    /* "brski/requestvoucher", "est/simpleenroll", ... */
	char *media_type;  /* Content-Type as sent */
	char *disposition; /* "accepted" (or "pending", "redirected") or the check that failed */
	int status;        /* HTTP status answered */
	char *detail;
};
void store_preq_clear(struct store_preq *v);
void store_preq_list_free(struct store_preq *v, size_t n);
voucher_err store_preq_log(struct store *s, const struct store_preq *v, char *err, size_t errlen);
/* All, or those of one client certificate serialNumber (serial NULL: all). */
voucher_err store_preq_list(struct store *s, const char *serial, struct store_page *page,
                            struct store_preq **out, size_t *n, char *err, size_t errlen);

/* ---- MASA audit log ------------------------------------------------------------ */

struct store_audit {
	int64_t id;
	char *serial;
	char *owner;     /* owner at the time, for requestauditlog access */
	char *domain_id; /* RFC 8995 domainID */
	uint8_t *nonce;  /* NULL for a nonceless voucher */
	size_t nonce_len;
	char *assertion; /* "verified", "logged", "proximity" */
	int64_t logged;
};
void store_audit_clear(struct store_audit *a);
void store_audit_list_free(struct store_audit *v, size_t n);
voucher_err store_audit_append(struct store *s, const struct store_audit *a, char *err,
                               size_t errlen);
/* One device's events, oldest first (serial required). */
voucher_err store_audit_list(struct store *s, const char *serial, struct store_page *page,
                             struct store_audit **out, size_t *n, char *err, size_t errlen);

/* ---- telemetry ------------------------------------------------------------------ */

enum store_telemetry_kind {
	STORE_TELEMETRY_VOUCHER_STATUS = 0,
	STORE_TELEMETRY_ENROLL_STATUS,
};

struct store_telemetry {
	int64_t id;
	char *serial;
	enum store_telemetry_kind kind;
	bool status;
	char *reason;
	char *body; /* the JSON as the pledge sent it */
	int64_t logged;
};
void store_telemetry_clear(struct store_telemetry *t);
void store_telemetry_list_free(struct store_telemetry *v, size_t n);
voucher_err store_telemetry_add(struct store *s, const struct store_telemetry *t, char *err,
                                size_t errlen);
/* All, or one device's (serial NULL: all). */
voucher_err store_telemetry_list(struct store *s, const char *serial, struct store_page *page,
                                 struct store_telemetry **out, size_t *n, char *err, size_t errlen);

/* ---- enrollment jobs --------------------------------------------------------------
 *
 * One job per distinct CSR. A worker claims the oldest runnable job (pending
 * and due, or running with an expired lease) and holds a lease on it;
 * complete, fail and renew succeed only for the lease holder, so a worker
 * whose lease ran out and was taken over gets VOUCHER_E_CONFLICT and must
 * drop its result. Claims are atomic across threads, processes and hosts.
 */
enum store_job_state {
	STORE_JOB_PENDING = 0,
	STORE_JOB_RUNNING,
	STORE_JOB_DONE,
	STORE_JOB_FAILED,
};

struct store_job {
	int64_t id;
	uint8_t csr_sha256[STORE_SHA256_LEN];
	uint8_t *csr; /* DER */
	size_t csr_len;
	char *serial;
	char *owner;
	enum store_job_state state;
	char *lease_holder;
	int64_t lease_expires;
	int64_t run_after;
	int64_t attempts; /* claims so far */
	char *error;      /* last failure */
	uint8_t *result;  /* certs-only PKCS#7 once done */
	size_t result_len;
	int64_t created;
	int64_t updated;
	bool reenroll; /* simplereenroll (schema version 3) */
};
void store_job_clear(struct store_job *j);
/* New pending job for csr; *id may be NULL. VOUCHER_E_CONFLICT if a job
 * for the same CSR exists (look it up with store_job_get_by_csr). */
voucher_err store_job_create(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                             const uint8_t *csr, size_t csr_len, const char *serial,
                             const char *owner, int64_t *id, char *err, size_t errlen);
/* The same, for a simplereenroll when reenroll is true: the flag is kept
 * with the job, so that whichever worker, process or host runs it hands it
 * to the CA backend. */
voucher_err store_job_create_ex(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                const uint8_t *csr, size_t csr_len, const char *serial,
                                const char *owner, bool reenroll, int64_t *id, char *err,
                                size_t errlen);
voucher_err store_job_get(struct store *s, int64_t id, struct store_job *out, char *err,
                          size_t errlen);
voucher_err store_job_get_by_csr(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                 struct store_job *out, char *err, size_t errlen);
/* Claim a job for holder for lease_seconds (>= 1). VOUCHER_E_NOT_FOUND when
 * there is nothing to do. */
voucher_err store_job_claim(struct store *s, const char *holder, unsigned lease_seconds,
                            struct store_job *out, char *err, size_t errlen);
/* Extend the lease of a long job. */
voucher_err store_job_renew(struct store *s, int64_t id, const char *holder, unsigned lease_seconds,
                            char *err, size_t errlen);
voucher_err store_job_complete(struct store *s, int64_t id, const char *holder,
                               const uint8_t *result, size_t result_len, char *err, size_t errlen);
/* Record a failure: with retry_after >= 0 the job is pending again after
 * that many seconds, with retry_after < 0 it is failed for good. */
voucher_err store_job_fail(struct store *s, int64_t id, const char *holder, const char *error,
                           int retry_after, char *err, size_t errlen);

/* Put a finished (done or failed) job back to pending, e.g. when a device
 * asks again after a failure. VOUCHER_E_CONFLICT while it is pending or
 * running. */
voucher_err store_job_restart(struct store *s, int64_t id, char *err, size_t errlen);

/* ---- issued certificates ----------------------------------------------------------- */

struct store_cert {
	int64_t id;
	uint8_t csr_sha256[STORE_SHA256_LEN];
	char *serial; /* device serial */
	int64_t not_after;
	uint8_t *der; /* the leaf, may be NULL */
	size_t der_len;
	uint8_t *pkcs7; /* certs-only PKCS#7 as served */
	size_t pkcs7_len;
	int64_t created;
	/* SHA-256 of der (schema version 3): how a certificate this registrar
	 * issued is recognised when it comes back as a TLS client certificate.
	 * All zero: unknown (stored as NULL). Not read back by the getters. */
	uint8_t cert_sha256[STORE_SHA256_LEN];
};
void store_cert_clear(struct store_cert *c);
/* Cache c by its CSR hash, replacing an older entry. */
voucher_err store_cert_put(struct store *s, const struct store_cert *c, char *err, size_t errlen);
/* VOUCHER_E_NOT_FOUND when none or when it has expired (not_after passed). */
voucher_err store_cert_get_by_csr(struct store *s, const uint8_t csr_sha256[STORE_SHA256_LEN],
                                  struct store_cert *out, char *err, size_t errlen);
/* The issued certificate whose DER hashes to cert_sha256 (put with
 * cert_sha256 set). VOUCHER_E_NOT_FOUND when none or when it has expired. */
voucher_err store_cert_get_by_hash(struct store *s, const uint8_t cert_sha256[STORE_SHA256_LEN],
                                   struct store_cert *out, char *err, size_t errlen);
/* The most recently stored certificate that has not expired (the highest
 * id): how the ACME backend knows, after a restart, the issuing chain the
 * CA sent last. VOUCHER_E_NOT_FOUND when there is none. */
voucher_err store_cert_get_latest(struct store *s, struct store_cert *out, char *err,
                                  size_t errlen);

/* ---- ACME ---------------------------------------------------------------------------- */

struct store_acme_account {
	int64_t id;
	char *directory; /* directory URL: unique key */
	char *key_pem;   /* account private key */
	char *kid;       /* account URL once registered, else NULL */
	int64_t created;
	int64_t updated;
};
void store_acme_account_clear(struct store_acme_account *a);
voucher_err store_acme_account_put(struct store *s, const struct store_acme_account *a,
                                   enum store_put how, char *err, size_t errlen);
voucher_err store_acme_account_get(struct store *s, const char *directory,
                                   struct store_acme_account *out, char *err, size_t errlen);

struct store_acme_order {
	int64_t id;
	int64_t job_id;
	char *order_url;  /* unique key */
	char *state;      /* the order's status as the server gave it */
	char *authz_urls; /* as the ACME client chooses to encode them */
	char *finalize_url;
	char *cert_url;
	int64_t created;
	int64_t updated;
};
void store_acme_order_clear(struct store_acme_order *o);
voucher_err store_acme_order_put(struct store *s, const struct store_acme_order *o,
                                 enum store_put how, char *err, size_t errlen);
voucher_err store_acme_order_get(struct store *s, const char *order_url,
                                 struct store_acme_order *out, char *err, size_t errlen);
/* The job's most recent order. */
voucher_err store_acme_order_get_by_job(struct store *s, int64_t job_id,
                                        struct store_acme_order *out, char *err, size_t errlen);

/* A pre-authorization of a parent domain (RFC 8555 7.4.1 newAuthz, RFC
 * 9444) at one ACME directory (schema version 3): the authorization URL,
 * whether the server said it is valid, whether a dns-01 record of ours may
 * still be published for it, and until when it may be relied on (the
 * authorization's "expires"). Kept so that a restart or another instance
 * does not authorize the domain again while the authorization holds. */
struct store_acme_preauth {
	int64_t id;
	char *directory; /* with domain: unique key */
	char *domain;
	char *authz_url;
	bool valid;
	bool published;
	int64_t expires; /* Unix seconds */
	int64_t updated;
};
void store_acme_preauth_clear(struct store_acme_preauth *a);
/* Insert or replace the record of (directory, domain). */
voucher_err store_acme_preauth_put(struct store *s, const struct store_acme_preauth *a, char *err,
                                   size_t errlen);
/* VOUCHER_E_NOT_FOUND when there is none (expired ones are returned: the
 * caller decides, and may still have a record to remove). */
voucher_err store_acme_preauth_get(struct store *s, const char *directory, const char *domain,
                                   struct store_acme_preauth *out, char *err, size_t errlen);
/* Forget it (the server no longer honours it). No record is not an error. */
voucher_err store_acme_preauth_delete(struct store *s, const char *directory, const char *domain,
                                      char *err, size_t errlen);

/* ---- admin tokens ---------------------------------------------------------------------- */

enum store_scope {
	STORE_SCOPE_READ = 0,
	STORE_SCOPE_WRITE,
	STORE_SCOPE_ADMIN,
};
/* "read", "write", "admin"; NULL for an invalid value. */
const char *store_scope_name(enum store_scope sc);
voucher_err store_scope_parse(const char *name, enum store_scope *out);

struct store_token {
	int64_t id;
	char *name;
	uint8_t sha256[STORE_SHA256_LEN]; /* of the bearer token */
	enum store_scope scope;
	char *owner; /* limits the token to one owner's records; NULL: all */
	int64_t created;
	int64_t revoked; /* 0 while valid */
};
void store_token_clear(struct store_token *t);
void store_token_list_free(struct store_token *v, size_t n);
/* *id may be NULL. VOUCHER_E_CONFLICT for a hash already stored. */
voucher_err store_token_create(struct store *s, const struct store_token *t, int64_t *id, char *err,
                               size_t errlen);
/* The valid (not revoked) token with this hash, else VOUCHER_E_NOT_FOUND. */
voucher_err store_token_lookup(struct store *s, const uint8_t sha256[STORE_SHA256_LEN],
                               struct store_token *out, char *err, size_t errlen);
voucher_err store_token_list(struct store *s, struct store_page *page, struct store_token **out,
                             size_t *n, char *err, size_t errlen);
/* VOUCHER_E_NOT_FOUND if there is no such valid token. */
voucher_err store_token_revoke(struct store *s, int64_t id, char *err, size_t errlen);

/* ---- admin audit (append only) ------------------------------------------------------------ */

struct store_admin_audit {
	int64_t id;
	int64_t logged;
	int64_t token_id; /* 0 if none */
	char *request_id;
	char *method;
	char *route;
	int status;
	char *before_json; /* the record before the change, NULL if none */
	char *after_json;  /* after, NULL if deleted */
};
void store_admin_audit_clear(struct store_admin_audit *a);
void store_admin_audit_list_free(struct store_admin_audit *v, size_t n);
voucher_err store_admin_audit_add(struct store *s, const struct store_admin_audit *a, char *err,
                                  size_t errlen);
voucher_err store_admin_audit_list(struct store *s, struct store_page *page,
                                   struct store_admin_audit **out, size_t *n, char *err,
                                   size_t errlen);

#endif
