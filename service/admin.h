/*
 * The admin REST API framework (/admin/v1/..., docs/ADMIN.md).
 *
 * One table of struct svc_admin_route rows (svc_admin_table, in
 * admin-routes.c) is the whole API: the dispatcher matches requests against
 * it, authenticates bearer tokens and checks scopes from it, and the OpenAPI
 * document at /admin/v1/openapi.json is generated from it. Adding a
 * resource is one row per route plus its handler.
 *
 * What the framework does before a handler runs, in order: path match
 * ({name} segments become parameters; 404/405 otherwise), bearer token
 * (401 with WWW-Authenticate: Bearer when missing, unknown or revoked),
 * scope (403 when too small, or when an owner-scoped token meets a route
 * that is not owner-aware), the JSON body (415 unless application/json,
 * 413 over the route's limit, 400 for bad JSON or duplicate members). A
 * write route (any method but GET) runs inside one store transaction, and
 * the framework appends the admin audit row (time, token id, method, path,
 * status, before and after JSON) in that same transaction before it
 * commits. Every error the API answers is application/problem+json
 * (RFC 9457).
 *
 * Handlers return voucher_err; the status of an error always comes from
 * svc_http_status(), never from the handler.
 */
#ifndef SVC_ADMIN_H
#define SVC_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "service/route.h"
#include "service/store.h"

struct svc_daemon;

#define SVC_ADMIN_PREFIX "/admin/v1"
/* Default bound of a JSON request body; a route may set its own. */
#define SVC_ADMIN_MAX_BODY (64 * 1024)
/* Path parameters per route, and the length of one. */
#define SVC_ADMIN_MAX_PARAMS 4
#define SVC_ADMIN_MAX_PARAM  256
/* Bearer tokens longer than this are refused before hashing. */
#define SVC_ADMIN_MAX_TOKEN 512
/* Bytes of randomness in a token made by the API (hex encoded). */
#define SVC_ADMIN_TOKEN_BYTES 32
#define SVC_ADMIN_TOKEN_HEX   (2 * SVC_ADMIN_TOKEN_BYTES)

#define SVC_ADMIN_PROBLEM_TYPE "application/problem+json"

enum {
	SVC_ADMIN_PUBLIC = 1 << 0, /* no token needed (the OpenAPI document) */
	SVC_ADMIN_OWNER = 1 << 1,  /* owner-scoped tokens may call it; the handler
	                            * restricts them to their owner's records */
	SVC_ADMIN_JSON = 1 << 2,   /* takes a JSON object body (ctx->body) */
	SVC_ADMIN_PAGED = 1 << 3,  /* takes limit and cursor (svc_admin_page_*) */
};

/* A query parameter a route accepts, for the OpenAPI document. */
struct svc_admin_param {
	const char *name;
	const char *description;
};

struct svc_admin_ctx;
typedef voucher_err (*svc_admin_handler)(struct svc_admin_ctx *c, struct svc_resp *resp);

struct svc_admin_route {
	const char *method;
	const char *path; /* under SVC_ADMIN_PREFIX, "/tokens/{id}" */
	enum store_scope scope;
	unsigned flags;
	svc_admin_handler handler;
	unsigned status;                     /* the success status, for the document */
	const char *summary;                 /* one line */
	const char *request;                 /* the JSON body's members, NULL without body */
	const char *response;                /* what a success answers */
	const struct svc_admin_param *query; /* NULL-name terminated; may be NULL */
	size_t max_body;                     /* 0: SVC_ADMIN_MAX_BODY */
	const char *produces;                /* media types of a success, space-separated;
	                                      * NULL: application/json */
};

/* What a handler sees. Everything is borrowed for the call. */
struct svc_admin_ctx {
	const struct svc_req *req;
	const struct svc_admin_route *route;
	/* The table being served (the OpenAPI handler documents it). */
	const struct svc_admin_route *routes;
	size_t n_routes;
	/* The store; for a write route, the transaction the audit row joins. */
	struct store *store;
	/* The authenticated token; NULL on a SVC_ADMIN_PUBLIC route. */
	const struct store_token *token;
	/* The request body of a SVC_ADMIN_JSON route (an object). */
	json_t *body;
	size_t n_params;
	const char *param_name[SVC_ADMIN_MAX_PARAMS];
	char param_value[SVC_ADMIN_MAX_PARAMS][SVC_ADMIN_MAX_PARAM];
	/* Set by a write handler with svc_admin_audit_set. */
	json_t *audit_before;
	json_t *audit_after;
	/* Scratch for store messages; the framework puts it in the problem
	 * detail when a handler fails without a response. */
	char err[STORE_ERRLEN];
};

/* ---- the API as served by the daemons ----------------------------------- */

/* The route table (admin-routes.c) and its length. */
extern const struct svc_admin_route svc_admin_table[];
extern const size_t svc_admin_table_len;

/* The rows a daemon puts in its svc_daemon_def: every method under /admin/
 * goes to svc_admin_handle. */
#define SVC_ADMIN_N_ROUTES 7
extern const struct svc_route svc_admin_routes[SVC_ADMIN_N_ROUTES];

/* Insert the bootstrap token ([admin] bootstrap_token_file) of the daemon:
 * the daemons call it from their init hook; the dispatcher calls it before
 * the first admin request of a process when no init did (and again on the
 * next request while it fails). The "done" flag is process-wide: one
 * daemon per process. */
voucher_err svc_admin_bootstrap_daemon(struct svc_daemon *d, char *err, size_t errlen);

/* svc_handler for svc_admin_routes: the daemon's store and svc_admin_table. */
voucher_err svc_admin_handle(const struct svc_req *req, struct svc_resp *resp);

/* The whole admin dispatch against any table and store (unit tests call it
 * without a daemon). resp always ends with a status. Returns the handler's
 * result, or the error that stopped the request before it. */
voucher_err svc_admin_serve(const struct svc_admin_route *routes, size_t n, struct store *store,
                            const struct svc_req *req, struct svc_resp *resp);

/* The OpenAPI 3.0 document of a table (*out owned by the caller). */
voucher_err svc_admin_openapi(const struct svc_admin_route *routes, size_t n, json_t **out);

/* Insert the token in the file at path (one line) with scope admin under
 * the name "bootstrap". Idempotent: a token already stored (also revoked,
 * which it stays) is not an error, and many instances may do this at once. */
voucher_err svc_admin_bootstrap(struct store *s, const char *path, char *err, size_t errlen);

/* ---- helpers for handlers ----------------------------------------------- */

/* An application/problem+json answer: the status is svc_http_status(err),
 * the title its reason phrase; detail from fmt. Returns err. */
voucher_err svc_admin_problem(struct svc_resp *resp, voucher_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Answer doc as application/json with status (doc is stolen, NULL ok). */
voucher_err svc_admin_reply(struct svc_resp *resp, unsigned status, json_t *doc);

/* A path parameter by name (NULL if the route has none of that name), or
 * parsed as a positive record id (VOUCHER_E_NOT_FOUND with a problem in
 * resp when it is not one: no record has such an id). */
const char *svc_admin_param(const struct svc_admin_ctx *c, const char *name);
voucher_err svc_admin_param_id(const struct svc_admin_ctx *c, struct svc_resp *resp,
                               const char *name, int64_t *id);

/* Strict unpacking of a JSON object: every member must be listed, listed
 * members must have their type, required ones must be there. On failure
 * resp gets a 400 problem naming the members and the error is returned:
 * VOUCHER_E_UNKNOWN_MEMBER, VOUCHER_E_BAD_TYPE, VOUCHER_E_MISSING or
 * VOUCHER_E_TOO_LARGE (a string over max). Outputs are borrowed from obj;
 * absent optional members leave their output untouched. */
enum svc_admin_ftype {
	SVC_ADMIN_STR,  /* const char ** */
	SVC_ADMIN_INT,  /* int64_t * */
	SVC_ADMIN_BOOL, /* bool * */
	SVC_ADMIN_ANY,  /* json_t ** (borrowed) */
};
struct svc_admin_field {
	const char *name;
	enum svc_admin_ftype type;
	bool required;
	bool nullable; /* JSON null is accepted and leaves the output NULL/untouched */
	size_t max;    /* SVC_ADMIN_STR: longest accepted length; 0: 1024 */
	void *out;
};
voucher_err svc_admin_unpack(json_t *obj, const struct svc_admin_field *fields, size_t n,
                             struct svc_resp *resp);

/* Pagination: limit (1..STORE_LIST_MAX, default STORE_LIST_DEFAULT) and an
 * opaque cursor bound to kind ("tokens", "audit"). page_start fills page
 * from the query (400 problem for a bad limit or a cursor of another kind).
 * reply_page answers {"items": items, "next": cursor} (items stolen) with a
 * Link rel="next" header while next != 0. */
voucher_err svc_admin_page_start(const struct svc_admin_ctx *c, struct svc_resp *resp,
                                 const char *kind, struct store_page *page);
voucher_err svc_admin_reply_page(const struct svc_admin_ctx *c, struct svc_resp *resp,
                                 const char *kind, json_t *items, int64_t next);
/* The cursor text for kind and after (buf of at least 64 bytes). */
void svc_admin_cursor(const char *kind, int64_t after, char *buf, size_t len);

/* Record what a write changed (both stolen, NULL for none); the framework
 * writes the audit row with them. */
void svc_admin_audit_set(struct svc_admin_ctx *c, json_t *before, json_t *after);

/* A token record as the API shows it (never the hash). */
json_t *svc_admin_token_json(const struct store_token *t);
/* SHA-256 of a bearer token's text. */
voucher_err svc_admin_token_hash(const char *token, size_t len, uint8_t out[STORE_SHA256_LEN]);

/* Owners (deny lists, CRLs) and devices (import, transfer): the rows of
 * service/admin-owners.c, served by every daemon on the store (masad and
 * cloudregd put them after svc_admin_table in their own tables). */
extern const struct svc_admin_route svc_admin_owner_routes[];
extern const size_t svc_admin_owner_routes_len;

/* A daemon's admin table: svc_admin_table, then svc_admin_owner_routes, then
 * its own n_rows rows; *out is the caller's to free(), *n its length. */
voucher_err svc_admin_daemon_table(const struct svc_admin_route *rows, size_t n_rows,
                                   struct svc_admin_route **out, size_t *n);

/* ---- the handlers of svc_admin_table (admin-tokens.c, admin-audit.c) ---- */
voucher_err svc_admin_openapi_get(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_whoami(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_tokens_create(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_tokens_list(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_tokens_get(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_tokens_revoke(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_audit_list(struct svc_admin_ctx *c, struct svc_resp *resp);
voucher_err svc_admin_audit_export(struct svc_admin_ctx *c, struct svc_resp *resp);

#endif
