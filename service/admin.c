/* The admin REST API framework: see admin.h and docs/ADMIN.md. */
#include <config.h> /* the build's, not service/config.h */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compat.h"
#include "common/str.h"
#include "service/admin.h"
#include "service/daemon.h"
#include "service/log.h"

/* Every method under /admin/ reaches the admin dispatcher, so that 404 and
 * 405 are problem+json there too; OPTIONS answers the Allow list. */
const struct svc_route svc_admin_routes[SVC_ADMIN_N_ROUTES] = {
        {"GET", "/admin/", SVC_ROUTE_PREFIX, svc_admin_handle},
        {"HEAD", "/admin/", SVC_ROUTE_PREFIX, svc_admin_handle},
        {"POST", "/admin/", SVC_ROUTE_PREFIX | SVC_ROUTE_BODY, svc_admin_handle},
        {"PUT", "/admin/", SVC_ROUTE_PREFIX | SVC_ROUTE_BODY, svc_admin_handle},
        {"PATCH", "/admin/", SVC_ROUTE_PREFIX | SVC_ROUTE_BODY, svc_admin_handle},
        {"DELETE", "/admin/", SVC_ROUTE_PREFIX, svc_admin_handle},
        {"OPTIONS", "/admin/", SVC_ROUTE_PREFIX, svc_admin_handle},
};

/* ---- problems ------------------------------------------------------------ */

/* A stable machine-readable name for each error, sent as the "code"
 * extension member next to RFC 9457's type/title/status/detail. */
static const char *problem_code(voucher_err err)
{
	switch (err) {
	case VOUCHER_E_UNAUTHENTICATED:
		return "unauthenticated";
	case VOUCHER_E_FORBIDDEN:
	case VOUCHER_EACCES:
		return "forbidden";
	case VOUCHER_E_NOT_FOUND:
	case VOUCHER_ENOENT:
		return "not-found";
	case VOUCHER_E_CONFLICT:
	case VOUCHER_EEXIST:
		return "conflict";
	case VOUCHER_E_TOO_LARGE:
		return "too-large";
	case VOUCHER_E_CONTENT_TYPE:
		return "unsupported-media-type";
	case VOUCHER_E_DUPLICATE:
		return "duplicate-member";
	case VOUCHER_E_UNKNOWN_MEMBER:
		return "unknown-member";
	case VOUCHER_E_BAD_TYPE:
		return "bad-type";
	case VOUCHER_E_MISSING:
		return "missing-member";
	case VOUCHER_E_MALFORMED:
	case VOUCHER_E_TRAILING_DATA:
		return "malformed";
	case VOUCHER_EINVAL:
	case VOUCHER_ERANGE:
		return "invalid";
	case VOUCHER_E_STORE:
		return "store";
	default:
		return "error";
	}
}

/* The detail quotes request data (paths, names); JSON strings must be
 * UTF-8, so invalid sequences and control characters become '?'. */
static void clean_utf8(const char *in, char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	while (*p && o + 5 < len) {
		size_t n = 0;

		if (*p >= 0x20 && *p < 0x7f)
			n = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		/* overlong forms, surrogates and code points past U+10FFFF */
		if ((n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) ||
		    (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))))
			n = 0;
		if (n == 0) {
			out[o++] = '?';
			p++;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
}

static voucher_err problem_status(struct svc_resp *resp, unsigned status, const char *code,
                                  const char *raw)
{
	char detail[1024];
	json_t *doc;
	char *text = NULL;
	voucher_err r;

	clean_utf8(raw, detail, sizeof(detail));
	/* "about:blank": the status says what kind of problem it is, and the
	 * title is then the reason phrase (RFC 9457, section 4.2.1). */
	doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank", "title",
	                svc_http_reason(status), "status", (int)status, "detail", detail, "code",
	                code);
	if (doc)
		text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text) {
		resp->status = 500;
		return VOUCHER_ENOMEM;
	}
	r = svc_resp_set(resp, status, SVC_ADMIN_PROBLEM_TYPE, text, strlen(text));
	free(text);
	return r;
}

static voucher_err vproblem(struct svc_resp *resp, voucher_err err, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static voucher_err vproblem(struct svc_resp *resp, voucher_err err, const char *fmt, va_list ap)
{
	char detail[1024];

	if (vsnprintf(detail, sizeof(detail), fmt, ap) < 0)
		detail[0] = '\0';
	problem_status(resp, svc_http_status(err), problem_code(err), detail);
	return err;
}

voucher_err svc_admin_problem(struct svc_resp *resp, voucher_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(resp, err, fmt, ap);
	va_end(ap);
	return err;
}

voucher_err svc_admin_reply(struct svc_resp *resp, unsigned status, json_t *doc)
{
	char *text;
	voucher_err r;

	if (!doc)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "failed to build the answer");
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "failed to encode the answer");
	r = svc_resp_set(resp, status, "application/json", text, strlen(text));
	free(text);
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "the answer is too large");
	return VOUCHER_OK;
}

/* ---- paths ----------------------------------------------------------------- */

/* Match path (after the prefix) against a template; fill c's parameters. */
static bool path_match(const char *tmpl, const char *path, struct svc_admin_ctx *c)
{
	const char *t = tmpl, *p = path;

	c->n_params = 0;
	while (*t && *p) {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			size_t seg = strcspn(p, "/");

			if (!close || seg == 0 || seg >= SVC_ADMIN_MAX_PARAM ||
			    c->n_params >= SVC_ADMIN_MAX_PARAMS)
				return false;
			c->param_name[c->n_params] = t + 1; /* up to '}', see svc_admin_param */
			memcpy(c->param_value[c->n_params], p, seg);
			c->param_value[c->n_params][seg] = '\0';
			c->n_params++;
			t = close + 1;
			p += seg;
			continue;
		}
		if (*t != *p)
			return false;
		t++;
		p++;
	}
	return *t == '\0' && *p == '\0';
}

const char *svc_admin_param(const struct svc_admin_ctx *c, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->n_params; i++)
		if (strncmp(c->param_name[i], name, n) == 0 && c->param_name[i][n] == '}')
			return c->param_value[i];
	return NULL;
}

voucher_err svc_admin_param_id(const struct svc_admin_ctx *c, struct svc_resp *resp,
                               const char *name, int64_t *id)
{
	const char *v = svc_admin_param(c, name);
	uint64_t u = 0;

	*id = 0;
	if (!v || brski_str_to_u64(v, &u, INT64_MAX) != VOUCHER_OK || u == 0)
		return svc_admin_problem(resp, VOUCHER_E_NOT_FOUND,
		                         "'%s' is not a record id (a positive decimal number)",
		                         v ? v : "");
	*id = (int64_t)u;
	return VOUCHER_OK;
}

/* ---- strict unpacking ------------------------------------------------------- */

static const char *ftype_name(enum svc_admin_ftype t)
{
	switch (t) {
	case SVC_ADMIN_STR:
		return "a string";
	case SVC_ADMIN_INT:
		return "an integer";
	case SVC_ADMIN_BOOL:
		return "a boolean";
	default:
		return "a value";
	}
}

voucher_err svc_admin_unpack(json_t *obj, const struct svc_admin_field *fields, size_t n,
                             struct svc_resp *resp)
{
	char unknown[512] = "";
	size_t off = 0, n_unknown = 0;
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
		                         "the request body must be a JSON object");
	/* Unknown members first: a misspelt optional member must not pass
	 * silently as "absent". */
	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i < n)
			continue;
		n_unknown++;
		if (off < sizeof(unknown)) {
			int w = snprintf(unknown + off, sizeof(unknown) - off, "%s'%.64s'",
			                 off ? ", " : "", key);
			if (w > 0)
				off += (size_t)w;
		}
	}
	if (n_unknown)
		return svc_admin_problem(resp, VOUCHER_E_UNKNOWN_MEMBER, "unknown member%s: %s%s",
		                         n_unknown > 1 ? "s" : "", unknown,
		                         off >= sizeof(unknown) ? " ..." : "");
	for (size_t i = 0; i < n; i++) {
		const struct svc_admin_field *f = &fields[i];
		size_t max = f->max ? f->max : 1024;

		v = json_object_get(obj, f->name);
		if (!v) {
			if (f->required)
				return svc_admin_problem(resp, VOUCHER_E_MISSING,
				                         "member '%s' is required", f->name);
			continue;
		}
		if (json_is_null(v) && f->nullable && f->type != SVC_ADMIN_ANY)
			continue;
		switch (f->type) {
		case SVC_ADMIN_STR:
			if (!json_is_string(v))
				break;
			if (json_string_length(v) > max)
				return svc_admin_problem(resp, VOUCHER_E_TOO_LARGE,
				                         "member '%s' is longer than %zu bytes",
				                         f->name, max);
			*(const char **)f->out = json_string_value(v);
			continue;
		case SVC_ADMIN_INT:
			if (!json_is_integer(v))
				break;
			*(int64_t *)f->out = (int64_t)json_integer_value(v);
			continue;
		case SVC_ADMIN_BOOL:
			if (!json_is_boolean(v))
				break;
			*(bool *)f->out = json_is_true(v);
			continue;
		case SVC_ADMIN_ANY:
			*(json_t **)f->out = v;
			continue;
		}
		return svc_admin_problem(resp, VOUCHER_E_BAD_TYPE, "member '%s' must be %s%s",
		                         f->name, ftype_name(f->type),
		                         f->nullable ? " or null" : "");
	}
	return VOUCHER_OK;
}

/* ---- cursors ------------------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void svc_admin_cursor(const char *kind, int64_t after, char *buf, size_t len)
{
	char raw[48];
	int n = snprintf(raw, sizeof(raw), "%.24s:%lld", kind, (long long)after);
	size_t o = 0;

	/* base64url without padding: opaque to clients, and safe in a query */
	for (int i = 0; n > 0 && i < n && o + 5 < len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
		int k = n - i;

		if (k > 1)
			v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
		if (k > 2)
			v |= (unsigned char)raw[i + 2];
		buf[o++] = b64url[(v >> 18) & 63];
		buf[o++] = b64url[(v >> 12) & 63];
		if (k > 1)
			buf[o++] = b64url[(v >> 6) & 63];
		if (k > 2)
			buf[o++] = b64url[v & 63];
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
}

static voucher_err cursor_parse(const char *kind, const char *text, int64_t *after)
{
	char raw[48];
	size_t n = strlen(text), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	uint64_t u;
	size_t klen = strlen(kind);

	if (n == 0 || n > 64)
		return VOUCHER_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *at = strchr(b64url, text[i]);

		if (!at || !text[i])
			return VOUCHER_EINVAL;
		acc = (acc << 6) | (uint32_t)(at - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= sizeof(raw))
				return VOUCHER_EINVAL;
			raw[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	raw[o] = '\0';
	if (strlen(raw) != o || o <= klen + 1 || strncmp(raw, kind, klen) != 0 || raw[klen] != ':')
		return VOUCHER_EINVAL;
	if (brski_str_to_u64(raw + klen + 1, &u, INT64_MAX) != VOUCHER_OK)
		return VOUCHER_EINVAL;
	*after = (int64_t)u;
	return VOUCHER_OK;
}

voucher_err svc_admin_page_start(const struct svc_admin_ctx *c, struct svc_resp *resp,
                                 const char *kind, struct store_page *page)
{
	const char *limit = svc_req_query(c->req, "limit");
	const char *cursor = svc_req_query(c->req, "cursor");
	uint64_t u = STORE_LIST_DEFAULT;

	memset(page, 0, sizeof(*page));
	if (limit && (brski_str_to_u64(limit, &u, STORE_LIST_MAX) != VOUCHER_OK || u == 0))
		return svc_admin_problem(resp, VOUCHER_ERANGE,
		                         "limit must be a number from 1 to %d", STORE_LIST_MAX);
	page->limit = (unsigned)u;
	if (cursor && cursor_parse(kind, cursor, &page->after) != VOUCHER_OK)
		return svc_admin_problem(resp, VOUCHER_EINVAL,
		                         "cursor is not one this API gave for %s; start without "
		                         "one",
		                         kind);
	return VOUCHER_OK;
}

voucher_err svc_admin_reply_page(const struct svc_admin_ctx *c, struct svc_resp *resp,
                                 const char *kind, json_t *items, int64_t next)
{
	json_t *doc = json_object();
	char cur[96], link[512];
	voucher_err r;

	if (!doc || !items || json_object_set_new(doc, "items", items) != 0) {
		json_decref(doc);
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "failed to build the page");
	}
	if (next) {
		svc_admin_cursor(kind, next, cur, sizeof(cur));
		if (json_object_set_new(doc, "next", json_string(cur)) != 0) {
			json_decref(doc);
			return svc_admin_problem(resp, VOUCHER_ENOMEM, "failed to build the page");
		}
	}
	r = svc_admin_reply(resp, 200, doc);
	if (r == VOUCHER_OK && next) {
		/* The link keeps the page size; the filters are the client's to
		 * repeat (the cursor alone says where to go on). */
		const char *limit = svc_req_query(c->req, "limit");
		uint64_t u;
		if (limit && brski_str_to_u64(limit, &u, STORE_LIST_MAX) == VOUCHER_OK)
			snprintf(link, sizeof(link), "<%s?limit=%llu&cursor=%s>; rel=\"next\"",
			         c->req->path, (unsigned long long)u, cur);
		else
			snprintf(link, sizeof(link), "<%s?cursor=%s>; rel=\"next\"", c->req->path,
			         cur);
		svc_resp_header(resp, "Link", link);
	}
	return r;
}

void svc_admin_audit_set(struct svc_admin_ctx *c, json_t *before, json_t *after)
{
	json_decref(c->audit_before);
	json_decref(c->audit_after);
	c->audit_before = before;
	c->audit_after = after;
}

/* ---- authentication ------------------------------------------------------------ */

/* RFC 6750 b64token: what a bearer value may hold. */
static bool token68(const char *s)
{
	size_t i = 0;

	for (; s[i]; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || strchr("-._~+/", ch)))
			break;
	}
	if (i == 0)
		return false;
	while (s[i] == '=')
		i++;
	return s[i] == '\0';
}

static voucher_err unauthenticated(struct svc_resp *resp, bool invalid, const char *detail)
{
	svc_admin_problem(resp, VOUCHER_E_UNAUTHENTICATED, "%s", detail);
	svc_resp_header(resp, "WWW-Authenticate",
	                invalid ? "Bearer realm=\"brski-admin\", error=\"invalid_token\""
	                        : "Bearer realm=\"brski-admin\"");
	return VOUCHER_E_UNAUTHENTICATED;
}

static voucher_err authenticate(struct store *store, const struct svc_req *req,
                                struct store_token *tok, struct svc_resp *resp)
{
	const char *h = svc_req_header(req, "Authorization");
	uint8_t hash[STORE_SHA256_LEN];
	char err[STORE_ERRLEN] = "";
	size_t len;
	voucher_err r;

	if (!h)
		return unauthenticated(resp, false,
		                       "a bearer token is required "
		                       "(Authorization: Bearer <token>)");
	if (strlen(h) < 7 || strncasecmp(h, "Bearer ", 7) != 0)
		return unauthenticated(resp, true, "the Authorization scheme must be Bearer");
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	if (len == 0 || len > SVC_ADMIN_MAX_TOKEN || !token68(h))
		return unauthenticated(resp, true, "the bearer token is malformed");
	if ((r = svc_admin_token_hash(h, len, hash)) != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to hash the token");
	r = store_token_lookup(store, hash, tok, err, sizeof(err));
	if (r == VOUCHER_E_NOT_FOUND)
		return unauthenticated(resp, true, "unknown or revoked token");
	if (r != VOUCHER_OK) {
		log_err_r(r, "req=%s failed to look up an admin token (%s)",
		          req->request_id ? req->request_id : "-", err);
		return svc_admin_problem(resp, r, "failed to check the token: %s", err);
	}
	/* The database found the row by its hash index; the decision itself
	 * rests on a comparison whose time does not depend on the bytes. */
	if (timingsafe_bcmp(tok->sha256, hash, STORE_SHA256_LEN) != 0) {
		store_token_clear(tok);
		return unauthenticated(resp, true, "unknown or revoked token");
	}
	return VOUCHER_OK;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static bool is_write(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	       strcmp(method, "OPTIONS") != 0;
}

static bool media_is_json(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct || strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static voucher_err parse_body(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const struct svc_req *req = c->req;
	size_t max = c->route->max_body ? c->route->max_body : SVC_ADMIN_MAX_BODY;
	json_error_t jerr;

	if (!(c->route->flags & SVC_ADMIN_JSON)) {
		if (req->body_len)
			return svc_admin_problem(resp, VOUCHER_E_CONTENT_TYPE,
			                         "%s %s takes no request body", req->method,
			                         req->path);
		return VOUCHER_OK;
	}
	if (!media_is_json(svc_req_header(req, "Content-Type")))
		return svc_admin_problem(resp, VOUCHER_E_CONTENT_TYPE,
		                         "the request body must be application/json");
	if (req->body_len > max)
		return svc_admin_problem(resp, VOUCHER_E_TOO_LARGE,
		                         "the request body of %zu bytes is over the limit of %zu "
		                         "bytes for %s %s",
		                         req->body_len, max, req->method, c->route->path);
	if (req->body_len == 0)
		return svc_admin_problem(resp, VOUCHER_E_MISSING,
		                         "a JSON object request body is required");
	c->body = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body) {
		voucher_err r = json_error_code(&jerr) == json_error_duplicate_key
		                        ? VOUCHER_E_DUPLICATE
		                        : VOUCHER_E_MALFORMED;
		return svc_admin_problem(resp, r, "invalid JSON at byte %d: %s", jerr.position,
		                         jerr.text);
	}
	if (!json_is_object(c->body))
		return svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
		                         "the request body must be a JSON object");
	return VOUCHER_OK;
}

/* Query arguments a route does not take are refused, like unknown members. */
static voucher_err check_query(const struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const struct svc_req *req = c->req;

	for (size_t i = 0; i < req->n_query; i++) {
		const char *q = req->query[i].name;
		bool ok = (c->route->flags & SVC_ADMIN_PAGED) &&
		          (strcmp(q, "limit") == 0 || strcmp(q, "cursor") == 0);

		for (const struct svc_admin_param *p = c->route->query; !ok && p && p->name; p++)
			ok = strcmp(p->name, q) == 0;
		if (!ok)
			return svc_admin_problem(resp, VOUCHER_EINVAL,
			                         "unknown query parameter '%.64s' for %s %s", q,
			                         req->method, c->route->path);
	}
	return VOUCHER_OK;
}

static char *dump_or_null(json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* Run a write route's handler in a transaction that also gets its audit
 * row: the change and its record exist together or not at all. */
static voucher_err run_write(struct svc_admin_ctx *c, struct store *store, struct svc_resp *resp)
{
	struct store_admin_audit a = {0};
	struct store *tx = NULL;
	voucher_err r;

	r = store_begin(store, &tx, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to start a transaction: %s", c->err);
	c->store = tx;
	c->err[0] = '\0';
	r = c->route->handler(c, resp);
	if (r != VOUCHER_OK || resp->status >= 400 || resp->status == 0) {
		store_rollback(tx);
		return r;
	}
	a.token_id = c->token ? c->token->id : 0;
	a.request_id = (char *)c->req->request_id;
	a.method = (char *)c->req->method;
	a.route = (char *)c->req->path;
	a.status = (int)resp->status;
	a.before_json = dump_or_null(c->audit_before);
	a.after_json = dump_or_null(c->audit_after);
	if ((c->audit_before && !a.before_json) || (c->audit_after && !a.after_json)) {
		r = VOUCHER_ENOMEM;
		snprintf(c->err, sizeof(c->err), "out of memory");
	} else {
		r = store_admin_audit_add(tx, &a, c->err, sizeof(c->err));
	}
	free(a.before_json);
	free(a.after_json);
	if (r != VOUCHER_OK) {
		store_rollback(tx);
		svc_resp_free(resp);
		return svc_admin_problem(resp, r,
		                         "failed to record the change in the audit log, "
		                         "nothing was changed: %s",
		                         c->err);
	}
	r = store_commit(tx, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		svc_resp_free(resp);
		return svc_admin_problem(resp, r, "failed to commit the change: %s", c->err);
	}
	return VOUCHER_OK;
}

static voucher_err method_not_allowed(const struct svc_req *req, struct svc_resp *resp,
                                      const char *allow)
{
	char detail[512];

	snprintf(detail, sizeof(detail), "method %s not allowed on %s (allowed: %s)", req->method,
	         req->path, allow);
	problem_status(resp, 405, "method-not-allowed", detail);
	svc_resp_header(resp, "Allow", allow);
	return VOUCHER_ENOTSUP;
}

voucher_err svc_admin_serve(const struct svc_admin_route *routes, size_t n, struct store *store,
                            const struct svc_req *req, struct svc_resp *resp)
{
	struct svc_admin_ctx *c = NULL;
	struct store_token tok = {0};
	const char *path = req->path;
	char allow[128] = "";
	size_t off = 0;
	voucher_err r;

	if (!brski_str_startswith(path, SVC_ADMIN_PREFIX "/"))
		return svc_admin_problem(resp, VOUCHER_E_NOT_FOUND,
		                         "no such resource: %s (the admin API is under %s/)", path,
		                         SVC_ADMIN_PREFIX);
	/* The context is large (path parameters): keep it off the stack of
	 * the server's threads. */
	c = calloc(1, sizeof(*c));
	if (!c)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
	c->req = req;
	c->routes = routes;
	c->n_routes = n;
	path += strlen(SVC_ADMIN_PREFIX);
	for (size_t i = 0; i < n; i++) {
		if (!path_match(routes[i].path, path, c))
			continue;
		/* HEAD is GET without the body (the HTTP layer drops it) */
		if (strcmp(routes[i].method, req->method) == 0 ||
		    (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			c->route = &routes[i];
			break;
		}
		if (!strstr(allow, routes[i].method)) {
			int w = snprintf(allow + off, sizeof(allow) - off, "%s%s", off ? ", " : "",
			                 routes[i].method);
			if (w > 0 && (size_t)w < sizeof(allow) - off)
				off += (size_t)w;
		}
	}
	if (!c->route) {
		if (!off) {
			r = svc_admin_problem(resp, VOUCHER_E_NOT_FOUND, "no such resource: %s",
			                      req->path);
		} else if (strcmp(req->method, "OPTIONS") == 0) {
			r = svc_resp_set(resp, 204, NULL, NULL, 0);
			svc_resp_header(resp, "Allow", allow);
		} else {
			r = method_not_allowed(req, resp, allow);
		}
		goto out;
	}
	/* path_match ran on later rows too: match the chosen one again. */
	path_match(c->route->path, path, c);

	if (!(c->route->flags & SVC_ADMIN_PUBLIC)) {
		if (!store) {
			r = svc_admin_problem(resp, VOUCHER_E_STORE, "no store");
			goto out;
		}
		if ((r = authenticate(store, req, &tok, resp)) != VOUCHER_OK)
			goto out;
		c->token = &tok;
		if (tok.scope < c->route->scope) {
			char hdr[128];
			r = svc_admin_problem(resp, VOUCHER_E_FORBIDDEN,
			                      "%s %s needs a token with scope '%s'; this one has "
			                      "'%s'",
			                      req->method, c->route->path,
			                      store_scope_name(c->route->scope),
			                      store_scope_name(tok.scope));
			snprintf(hdr, sizeof(hdr),
			         "Bearer realm=\"brski-admin\", error=\"insufficient_scope\", "
			         "scope=\"%s\"",
			         store_scope_name(c->route->scope));
			svc_resp_header(resp, "WWW-Authenticate", hdr);
			goto out;
		}
		if (tok.owner && !(c->route->flags & SVC_ADMIN_OWNER)) {
			r = svc_admin_problem(
			        resp, VOUCHER_E_FORBIDDEN,
			        "this token is limited to owner '%s' and %s %s is not "
			        "an owner's route",
			        tok.owner, req->method, c->route->path);
			goto out;
		}
	}
	if ((r = check_query(c, resp)) != VOUCHER_OK || (r = parse_body(c, resp)) != VOUCHER_OK)
		goto out;
	c->store = store;
	if (is_write(req->method)) {
		r = run_write(c, store, resp);
	} else {
		r = c->route->handler(c, resp);
	}
	if (r != VOUCHER_OK && (resp->status == 0 || resp->status < 400))
		svc_admin_problem(resp, r, "%s %s failed%s%s", req->method, req->path,
		                  c->err[0] ? ": " : "", c->err);
	if (resp->status == 0)
		svc_admin_problem(resp, VOUCHER_EIO, "the handler gave no answer");
out:
	json_decref(c->body);
	json_decref(c->audit_before);
	json_decref(c->audit_after);
	free(c);
	store_token_clear(&tok);
	return r;
}

/* Process-wide (admin.h): whether this process's bootstrap token is in
 * the store. */
static atomic_bool boot_done;
static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;

static voucher_err boot_once(struct svc_daemon *d, struct svc_resp *resp)
{
	char err[STORE_ERRLEN + 128] = "";
	voucher_err r = VOUCHER_OK;

	if (atomic_load(&boot_done))
		return VOUCHER_OK;
	pthread_mutex_lock(&boot_lock);
	if (!atomic_load(&boot_done))
		r = svc_admin_bootstrap_daemon(d, err, sizeof(err));
	pthread_mutex_unlock(&boot_lock);
	if (r != VOUCHER_OK) {
		log_err_r(r, "failed to insert the admin bootstrap token: %s", err);
		return svc_admin_problem(
		        resp, VOUCHER_E_STORE,
		        "the admin API is not ready: the bootstrap token could not "
		        "be stored (see the daemon's log)");
	}
	return VOUCHER_OK;
}

voucher_err svc_admin_daemon_table(const struct svc_admin_route *rows, size_t n_rows,
                                   struct svc_admin_route **out, size_t *n)
{
	size_t no = svc_admin_owner_routes_len;
	struct svc_admin_route *t = calloc(svc_admin_table_len + no + n_rows, sizeof(*t));

	*out = NULL;
	*n = 0;
	if (!t)
		return VOUCHER_ENOMEM;
	memcpy(t, svc_admin_table, svc_admin_table_len * sizeof(*t));
	memcpy(t + svc_admin_table_len, svc_admin_owner_routes, no * sizeof(*t));
	if (n_rows)
		memcpy(t + svc_admin_table_len + no, rows, n_rows * sizeof(*t));
	*out = t;
	*n = svc_admin_table_len + no + n_rows;
	return VOUCHER_OK;
}

voucher_err svc_admin_handle(const struct svc_req *req, struct svc_resp *resp)
{
	struct store *store = req->daemon ? svc_daemon_store(req->daemon) : NULL;
	voucher_err r;

	if (req->daemon && (r = boot_once(req->daemon, resp)) != VOUCHER_OK)
		return r;
	/* resp always has a status here, so the route layer keeps the
	 * problem+json answer and only counts the error (store failures). */
	return svc_admin_serve(svc_admin_table, svc_admin_table_len, store, req, resp);
}

/* ---- bootstrap ---------------------------------------------------------------------- */

voucher_err svc_admin_bootstrap(struct store *s, const char *path, char *err, size_t errlen)
{
	struct store_token t = {0};
	char buf[SVC_ADMIN_MAX_TOKEN + 4];
	size_t len = 0;
	FILE *f;
	voucher_err r;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "failed to open the bootstrap token file %s (%s)", path,
		         strerror(errno));
		return VOUCHER_E_CONFIG;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len == 0 || len > SVC_ADMIN_MAX_TOKEN || !token68(buf)) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen,
		         "the bootstrap token file %s must hold one token of 1..%d characters "
		         "(letters, digits, -._~+/) on one line",
		         path, SVC_ADMIN_MAX_TOKEN);
		return VOUCHER_E_CONFIG;
	}
	r = svc_admin_token_hash(buf, len, t.sha256);
	explicit_bzero(buf, sizeof(buf));
	if (r != VOUCHER_OK) {
		snprintf(err, errlen, "failed to hash the bootstrap token");
		return r;
	}
	t.name = "bootstrap";
	t.scope = STORE_SCOPE_ADMIN;
	r = store_token_create(s, &t, NULL, err, errlen);
	/* The same hash is already there: this instance or another one put
	 * it there (a revoked bootstrap token stays revoked). */
	if (r == VOUCHER_E_CONFLICT) {
		struct store_token valid = {0};
		if (store_token_lookup(s, t.sha256, &valid, err, errlen) == VOUCHER_E_NOT_FOUND)
			log_warn("admin bootstrap token from %s was revoked and stays revoked: "
			         "sign in with another admin token",
			         path);
		store_token_clear(&valid);
		if (errlen)
			err[0] = '\0';
		return VOUCHER_OK;
	}
	return r;
}

voucher_err svc_admin_bootstrap_daemon(struct svc_daemon *d, char *err, size_t errlen)
{
	const char *path = svc_config_str(svc_daemon_config(d), "admin", "bootstrap_token_file");
	voucher_err r;

	if (!path) {
		atomic_store(&boot_done, true);
		return VOUCHER_OK;
	}
	r = svc_admin_bootstrap(svc_daemon_store(d), path, err, errlen);
	if (r == VOUCHER_OK) {
		atomic_store(&boot_done, true);
		log_info("admin bootstrap token from %s is in the store", path);
	}
	return r;
}
