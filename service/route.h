/*
 * Transport-free request/response types and the route table.
 *
 * Handlers see a struct svc_req (filled by service/http.c from the TLS
 * connection, or by hand in unit tests) and fill a struct svc_resp; they
 * never see libmicrohttpd or the socket. Everything a svc_req points to is
 * borrowed for the duration of the handler call.
 */
#ifndef SVC_ROUTE_H
#define SVC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct svc_daemon;

/* One certificate, DER, borrowed. */
struct svc_der {
	const uint8_t *data;
	size_t len;
};

struct svc_kv {
	const char *name;
	const char *value;
};

/* What the listener's verifier concluded about the peer's certificate. */
enum svc_peer_status {
	SVC_PEER_NONE = 0,  /* no certificate presented (or not requested) */
	SVC_PEER_TRUSTED,   /* chain validates against the listener's anchors */
	SVC_PEER_UNTRUSTED, /* presented but does not validate (see peer_reason) */
};

enum svc_cb_type {
	SVC_CB_NONE = 0,
	SVC_CB_TLS_UNIQUE,   /* RFC 5929, TLS 1.2 */
	SVC_CB_TLS_EXPORTER, /* RFC 9266, TLS 1.3 */
};

struct svc_req {
	const char *method;
	const char *path; /* decoded by the HTTP layer, without the query */
	const struct svc_kv *query;
	size_t n_query;
	const struct svc_kv *headers; /* names as sent; look up with svc_req_header */
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;

	const struct svc_der *peer_chain; /* leaf first, as presented; NULL if none */
	size_t peer_chain_len;
	enum svc_peer_status peer_status;
	const char *peer_reason;  /* why untrusted, for logs and the 403 body */
	const char *peer_subject; /* leaf subject DN, RFC 4514, or NULL */
	const char *peer_addr;    /* "addr:port" of the TCP peer */

	enum svc_cb_type cb_type;
	const uint8_t *cb_data; /* channel-binding data, NULL when unavailable */
	size_t cb_len;
	int tls_version; /* 0x0303 (TLS 1.2), 0x0304 (TLS 1.3), 0 without TLS */

	const char *request_id;
	struct svc_daemon *daemon; /* the running daemon (NULL in unit tests) */
	void *app;                 /* the application context of the listener */
};

#define SVC_RESP_MAX_HEADERS 8

struct svc_resp {
	unsigned status;          /* 0 = not set yet */
	const char *content_type; /* static string */
	struct brski_buf body;
	size_t n_headers;
	struct {
		char *name;
		char *value;
	} headers[SVC_RESP_MAX_HEADERS];
};

/* Response bodies are bounded: the largest is a bulk admin export. */
#define SVC_RESP_MAX_BODY (16 * 1024 * 1024)

void svc_resp_init(struct svc_resp *resp);
/* Free what resp owns and make it empty again. NULL ok. */
void svc_resp_free(struct svc_resp *resp);
/* Set status, type and body (copied). */
voucher_err svc_resp_set(struct svc_resp *resp, unsigned status, const char *content_type,
                         const void *body, size_t len);
/* A text/plain body from a format, ending in a newline. */
voucher_err svc_resp_text(struct svc_resp *resp, unsigned status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The status for err from svc_http_status(), with a text/plain body
 * "<reason>: <voucher_strerror(err)>". */
voucher_err svc_resp_error(struct svc_resp *resp, voucher_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Add a response header (both strings copied). VOUCHER_E_TOO_LARGE past
 * SVC_RESP_MAX_HEADERS; VOUCHER_EINVAL on CR or LF in either string. */
voucher_err svc_resp_header(struct svc_resp *resp, const char *name, const char *value);

/* Case-insensitive header lookup; the first match or NULL. */
const char *svc_req_header(const struct svc_req *req, const char *name);
/* Query argument lookup (case-sensitive); NULL if absent. */
const char *svc_req_query(const struct svc_req *req, const char *name);

/* The one table from error codes to HTTP statuses. Unknown codes are 500. */
unsigned svc_http_status(voucher_err err);
/* The reason phrase of a status, "" when unknown. */
const char *svc_http_reason(unsigned status);

/* A handler returns VOUCHER_OK after filling resp, or an error: when resp
 * has no status yet, the error becomes svc_http_status(err) with a plain
 * text reason. */
typedef voucher_err (*svc_handler)(const struct svc_req *req, struct svc_resp *resp);

enum {
	SVC_ROUTE_PREFIX = 1 << 0,      /* path is a prefix ending in '/' */
	SVC_ROUTE_CLIENT_CERT = 1 << 1, /* 401/403 unless the peer is trusted */
	SVC_ROUTE_BODY = 1 << 2,        /* the handler reads a body (POST/PUT) */
};

struct svc_route {
	const char *method;
	const char *path;
	unsigned flags;
	svc_handler handler;
};

/* Find the route for method and path. Returns the index, or -1 and sets
 * *status to 404 (no route has the path) or 405 (some do, with other
 * methods; allow then lists them, "GET, POST"). */
int svc_route_find(const struct svc_route *routes, size_t n, const char *method, const char *path,
                   unsigned *status, char *allow, size_t allow_len);

/* Whether a request with this peer status may reach a handler: under
 * require (listener policy or SVC_ROUTE_CLIENT_CERT) a missing certificate
 * is 401 and an untrusted one 403, with the reason in resp. Returns true
 * when it may go on. */
bool svc_route_check_peer(const struct svc_req *req, bool require, struct svc_resp *resp);

/* Call the route's handler and turn an error it returns into a status
 * (svc_http_status) with a plain-text reason when it set none. Returns what
 * the handler returned. */
voucher_err svc_route_call(const struct svc_route *rt, const struct svc_req *req,
                           struct svc_resp *resp);

/* The whole dispatch for a complete request: route lookup (404/405 with
 * Allow), client certificate policy, then the handler; errors from the
 * handler become statuses through svc_http_status. Returns the route index
 * or -1. resp always ends with a status. */
int svc_route_dispatch(const struct svc_route *routes, size_t n, bool require_cert,
                       const struct svc_req *req, struct svc_resp *resp);

#endif
