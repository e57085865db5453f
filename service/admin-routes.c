/*
 * The admin API: one row per route (admin.h, struct svc_admin_route). The
 * dispatcher, the scope checks and the OpenAPI document all come from this
 * table. First match wins: put a literal path ("/audit/export") before a
 * template that would also match it ("/audit/{id}").
 */
#include <config.h> /* the build's, not service/config.h */

#include "service/admin.h"

/* The filters that the audit list and its export share. */
/* clang-format off */
#define AUDIT_FILTER_ROWS                                                       \
	{"token_id", "only changes made with this token id"},                   \
	{"method", "only this HTTP method (POST, PUT, PATCH, DELETE)"},         \
	{"route", "only paths that start with this text, e.g. /admin/v1/tokens"}, \
	{"since", "only rows logged at or after this time (Unix seconds or RFC 3339)"}, \
	{"until", "only rows logged at or before this time (Unix seconds or RFC 3339)"}
/* clang-format on */

static const struct svc_admin_param audit_filters[] = {
        AUDIT_FILTER_ROWS,
        {NULL, NULL},
};

static const struct svc_admin_param audit_export_params[] = {
        {"format", "jsonl (default: one JSON object per line) or csv (RFC 4180, header row)"},
        {"cursor", "where to go on: the cursor from the previous answer's Link rel=\"next\""},
        AUDIT_FILTER_ROWS,
        {NULL, NULL},
};

#define TOKEN_JSON                                                                                 \
	"a token: {id, name, scope (read|write|admin), owner (null: all owners), created, "        \
	"revoked (null while valid); times in Unix seconds}"

const struct svc_admin_route svc_admin_table[] = {
        {.method = "GET",
         .path = "/openapi.json",
         .flags = SVC_ADMIN_PUBLIC,
         .handler = svc_admin_openapi_get,
         .status = 200,
         .summary = "this document (OpenAPI 3.0); no token needed",
         .response = "the OpenAPI document of every admin route"},
        {.method = "GET",
         .path = "/whoami",
         .scope = STORE_SCOPE_READ,
         .flags = SVC_ADMIN_OWNER,
         .handler = svc_admin_whoami,
         .status = 200,
         .summary = "the token this request presents",
         .response = TOKEN_JSON},
        {.method = "GET",
         .path = "/tokens",
         .scope = STORE_SCOPE_ADMIN,
         .flags = SVC_ADMIN_PAGED,
         .handler = svc_admin_tokens_list,
         .status = 200,
         .summary = "list tokens, revoked ones included, oldest first",
         .response = "{items: [token...], next: cursor (absent on the last page)}"},
        {.method = "POST",
         .path = "/tokens",
         .scope = STORE_SCOPE_ADMIN,
         .flags = SVC_ADMIN_JSON,
         .handler = svc_admin_tokens_create,
         .status = 201,
         .summary = "create a token; its text is shown in this answer only",
         .request = "{name: string (1..128), scope: \"read\"|\"write\"|\"admin\", owner: "
                    "string|null (optional: limits the token to that owner's records)}",
         .response = TOKEN_JSON " plus token: the bearer text; Location: the token's URL"},
        {.method = "GET",
         .path = "/tokens/{id}",
         .scope = STORE_SCOPE_ADMIN,
         .handler = svc_admin_tokens_get,
         .status = 200,
         .summary = "one token",
         .response = TOKEN_JSON},
        {.method = "DELETE",
         .path = "/tokens/{id}",
         .scope = STORE_SCOPE_ADMIN,
         .handler = svc_admin_tokens_revoke,
         .status = 200,
         .summary = "revoke a token (every instance refuses it from its next request on)",
         .response = TOKEN_JSON " as revoked"},
        {.method = "GET",
         .path = "/audit",
         .scope = STORE_SCOPE_ADMIN,
         .flags = SVC_ADMIN_PAGED,
         .handler = svc_admin_audit_list,
         .status = 200,
         .summary = "the admin audit trail, oldest first, filtered",
         .response = "{items: [{id, time, token_id, request_id, method, route, status, "
                     "before, after}], next: cursor (absent at the end; a filtered page "
                     "may be short or empty and still have a next)}",
         .query = audit_filters},
        {.method = "GET",
         .path = "/audit/export",
         .scope = STORE_SCOPE_ADMIN,
         .handler = svc_admin_audit_export,
         .status = 200,
         .summary = "export the admin audit trail as JSON lines or CSV",
         .response = "application/jsonl or text/csv rows; Link rel=\"next\" when the rest "
                     "did not fit",
         .query = audit_export_params,
         .produces = "application/jsonl text/csv"},
};

const size_t svc_admin_table_len = sizeof(svc_admin_table) / sizeof(svc_admin_table[0]);
