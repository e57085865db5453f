/* Route table and response helpers: see route.h. */
#include <config.h> /* the build's, not service/config.h */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "service/route.h"

void svc_resp_init(struct svc_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	brski_buf_init(&resp->body, SVC_RESP_MAX_BODY);
}

void svc_resp_free(struct svc_resp *resp)
{
	if (!resp)
		return;
	brski_buf_free(&resp->body);
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	svc_resp_init(resp);
}

voucher_err svc_resp_set(struct svc_resp *resp, unsigned status, const char *content_type,
                         const void *body, size_t len)
{
	brski_buf_reset(&resp->body);
	resp->status = status;
	resp->content_type = content_type;
	return len ? brski_buf_put(&resp->body, body, len) : VOUCHER_OK;
}

static voucher_err resp_vtext(struct svc_resp *resp, unsigned status, const char *prefix,
                              const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static voucher_err resp_vtext(struct svc_resp *resp, unsigned status, const char *prefix,
                              const char *fmt, va_list ap)
{
	char text[1024];
	int n = vsnprintf(text, sizeof(text), fmt, ap);

	if (n < 0)
		text[0] = '\0';
	brski_buf_reset(&resp->body);
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	return brski_buf_printf(&resp->body, "%s%s\n", prefix ? prefix : "", text);
}

voucher_err svc_resp_text(struct svc_resp *resp, unsigned status, const char *fmt, ...)
{
	va_list ap;
	voucher_err r;

	va_start(ap, fmt);
	r = resp_vtext(resp, status, NULL, fmt, ap);
	va_end(ap);
	return r;
}

voucher_err svc_resp_error(struct svc_resp *resp, voucher_err err, const char *fmt, ...)
{
	va_list ap;
	char reason[1024];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n < 0)
		reason[0] = '\0';
	/* "<what the handler knows>: <which check failed>" */
	return svc_resp_text(resp, svc_http_status(err), "%s: %s", reason, voucher_strerror(err));
}

voucher_err svc_resp_header(struct svc_resp *resp, const char *name, const char *value)
{
	char *n, *v;

	if (resp->n_headers >= SVC_RESP_MAX_HEADERS)
		return VOUCHER_E_TOO_LARGE;
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || !*name)
		return VOUCHER_EINVAL;
	n = brski_strdup(name);
	v = brski_strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return VOUCHER_ENOMEM;
	}
	resp->headers[resp->n_headers].name = n;
	resp->headers[resp->n_headers].value = v;
	resp->n_headers++;
	return VOUCHER_OK;
}

const char *svc_req_header(const struct svc_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (brski_str_caseeq(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

const char *svc_req_query(const struct svc_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_query; i++)
		if (strcmp(req->query[i].name, name) == 0)
			return req->query[i].value ? req->query[i].value : "";
	return NULL;
}

unsigned svc_http_status(voucher_err err)
{
	switch (err) {
	case VOUCHER_OK:
		return 200;
	case VOUCHER_EINVAL:
	case VOUCHER_ERANGE:
	case VOUCHER_E_MALFORMED:
	case VOUCHER_E_TRAILING_DATA:
	case VOUCHER_E_TOO_DEEP:
	case VOUCHER_E_DUPLICATE:
	case VOUCHER_E_SCHEMA:
	case VOUCHER_E_UNKNOWN_MEMBER:
	case VOUCHER_E_BAD_TYPE:
	case VOUCHER_E_MISSING:
	case VOUCHER_E_BAD_BASE64:
	case VOUCHER_E_UNSUPPORTED_ALG:
	case VOUCHER_E_NO_SIGNED_ATTRS:
	case VOUCHER_E_CERT:
		return 400;
	case VOUCHER_E_UNAUTHENTICATED:
		return 401;
	case VOUCHER_EACCES:
	case VOUCHER_E_SIG_INVALID:
	case VOUCHER_E_UNTRUSTED:
	case VOUCHER_E_EXPIRED:
	case VOUCHER_E_NONCE_MISMATCH:
	case VOUCHER_E_PIN_MISMATCH:
	case VOUCHER_E_SERIAL_MISMATCH:
	case VOUCHER_E_NOT_REGISTRAR:
	case VOUCHER_E_REVOKED:
	case VOUCHER_E_FORBIDDEN:
		return 403;
	case VOUCHER_ENOENT:
	case VOUCHER_E_NOT_FOUND:
		return 404;
	case VOUCHER_EEXIST:
	case VOUCHER_E_CONFLICT:
		return 409;
	case VOUCHER_E_TOO_LARGE:
		return 413;
	case VOUCHER_E_NOT_ACCEPTABLE:
		return 406;
	case VOUCHER_E_CONTENT_TYPE:
		return 415;
	case VOUCHER_E_RATE_LIMITED:
		return 429;
	case VOUCHER_ENOTSUP:
		return 501;
	case VOUCHER_E_NETWORK:
	case VOUCHER_E_PEER:
		return 502;
	case VOUCHER_EAGAIN:
	case VOUCHER_E_STORE:
		return 503;
	case VOUCHER_ETIMEDOUT:
		return 504;
	case VOUCHER_ENOMEM:
	case VOUCHER_EIO:
	case VOUCHER_E_CRYPTO:
	case VOUCHER_E_CONFIG:
	case VOUCHER_E_KEY:
	default:
		return 500;
	}
}

const char *svc_http_reason(unsigned status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

static bool path_matches(const struct svc_route *rt, const char *path)
{
	if (rt->flags & SVC_ROUTE_PREFIX)
		return brski_str_startswith(path, rt->path);
	return strcmp(rt->path, path) == 0;
}

int svc_route_find(const struct svc_route *routes, size_t n, const char *method, const char *path,
                   unsigned *status, char *allow, size_t allow_len)
{
	size_t off = 0;
	bool path_known = false;

	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!path_matches(&routes[i], path))
			continue;
		if (strcmp(routes[i].method, method) == 0)
			return (int)i;
		path_known = true;
		if (allow_len && !strstr(allow, routes[i].method)) {
			int w = snprintf(allow + off, allow_len - off, "%s%s", off ? ", " : "",
			                 routes[i].method);
			if (w > 0 && (size_t)w < allow_len - off)
				off += (size_t)w;
		}
	}
	*status = path_known ? 405 : 404;
	return -1;
}

bool svc_route_check_peer(const struct svc_req *req, bool require, struct svc_resp *resp)
{
	if (!require || req->peer_status == SVC_PEER_TRUSTED)
		return true;
	if (req->peer_status == SVC_PEER_NONE)
		svc_resp_text(resp, 401, "a TLS client certificate is required");
	else
		svc_resp_text(resp, 403, "client certificate not accepted: %s",
		              req->peer_reason ? req->peer_reason : "not trusted");
	return false;
}

int svc_route_dispatch(const struct svc_route *routes, size_t n, bool require_cert,
                       const struct svc_req *req, struct svc_resp *resp)
{
	char allow[128];
	unsigned status = 0;
	int idx;

	/* Authentication comes before routing, so an unauthenticated peer
	 * learns nothing about which paths exist. */
	if (!svc_route_check_peer(req, require_cert, resp))
		return -1;
	idx = svc_route_find(routes, n, req->method, req->path, &status, allow, sizeof(allow));
	if (idx < 0) {
		if (status == 405) {
			svc_resp_text(resp, 405, "method %s not allowed on %s", req->method,
			              req->path);
			svc_resp_header(resp, "Allow", allow);
		} else {
			svc_resp_text(resp, 404, "no such resource: %s", req->path);
		}
		return -1;
	}
	if (svc_route_check_peer(req, routes[idx].flags & SVC_ROUTE_CLIENT_CERT, resp))
		svc_route_call(&routes[idx], req, resp);
	return idx;
}

voucher_err svc_route_call(const struct svc_route *rt, const struct svc_req *req,
                           struct svc_resp *resp)
{
	voucher_err r = rt->handler(req, resp);

	if (r != VOUCHER_OK && resp->status == 0)
		svc_resp_error(resp, r, "%s %s failed", req->method, req->path);
	if (resp->status == 0)
		svc_resp_text(resp, 500, "the handler gave no answer");
	return r;
}
