/*
 * cloudregd's request log: one append-only row in the store's
 * pledge_requests table for every answer of a pledge-facing route
 * (requestvoucher, voucher_status, enrollstatus, EST), with the request id,
 * the peer, the TLS client certificate (SHA-256 and subject serialNumber, or
 * for a certificate without one that this registrar issued, the serial of
 * its issued-certificate record),
 * the endpoint, the disposition, the status and a short detail.
 *
 * It is written in two places only, so that no refusal can forget its row:
 *   - creg_reqlog_handle wraps every pledge-facing handler (main.c puts it
 *     in the route tables): the row is written after the handler has
 *     answered, whatever path it took;
 *   - creg_reqlog_refusal is the HTTP layer's refusal hook: a request
 *     refused before its handler ran (429 over a rate limit, 413 over
 *     max_body, 401/403 for the client certificate a route requires).
 * 404 and 405 name no endpoint and are left to the access log.
 *
 * The disposition is "accepted" (200/201), "pending" (202) or "redirected"
 * (3xx), or the check that failed, named after the error the handler
 * returned (creg_reqlog_disposition). Each row is one INSERT on the request
 * thread, as masad's log: SQLite runs in WAL mode with synchronous=NORMAL,
 * so a commit is not an fsync.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <voucher/x509.h>

#include "cloudreg/creg.h"
#include "common/str.h"
#include "service/daemon.h"
#include "service/log.h"

#define DETAIL_MAX   300
#define ENDPOINT_MAX 64

/* The check an error status stands for, when that is all there is. */
static const char *by_status(unsigned status)
{
	switch (status) {
	case 400:
		return "malformed";
	case 401:
		return "unauthenticated";
	case 403:
		return "forbidden";
	case 404:
		return "not-found";
	case 406:
		return "accept";
	case 409:
		return "conflict";
	case 413:
		return "too-large";
	case 415:
		return "media-type";
	case 429:
		return "rate-limited";
	case 501:
		return "not-supported";
	case 502:
	case 504:
		return "upstream";
	case 503:
		return "overload";
	default:
		return status >= 500 ? "internal" : "refused";
	}
}

const char *creg_reqlog_disposition(voucher_err r, unsigned status)
{
	if (status < 400) {
		if (status == 202)
			return "pending";
		return status >= 300 ? "redirected" : "accepted";
	}
	switch (r) {
	case VOUCHER_E_CONTENT_TYPE:
		return "media-type";
	case VOUCHER_E_NOT_ACCEPTABLE:
		return "accept";
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
	case VOUCHER_E_UNKNOWN_CRITICAL:
	case VOUCHER_E_WRONG_KIND:
		return "malformed";
	case VOUCHER_E_UNSUPPORTED_ALG:
		return "algorithm";
	case VOUCHER_E_NO_SIGNED_ATTRS:
	case VOUCHER_E_SIG_INVALID:
		return "signature";
	case VOUCHER_E_CERT:
		return "certificate";
	case VOUCHER_E_UNTRUSTED:
		return "untrusted";
	case VOUCHER_E_EXPIRED:
		return "expired";
	case VOUCHER_E_REVOKED:
		return "revoked";
	case VOUCHER_E_NONCE_MISMATCH:
		return "nonce";
	case VOUCHER_E_PIN_MISMATCH:
		return "pinning";
	case VOUCHER_E_SERIAL_MISMATCH:
		return "serial-number";
	case VOUCHER_E_NOT_REGISTRAR:
		return "registrar-eku";
	case VOUCHER_E_UNAUTHENTICATED:
		return "unauthenticated";
	case VOUCHER_EACCES:
	case VOUCHER_E_FORBIDDEN:
		return "forbidden";
	case VOUCHER_ENOENT:
	case VOUCHER_E_NOT_FOUND:
		return "not-found";
	case VOUCHER_EEXIST:
	case VOUCHER_E_CONFLICT:
		return "conflict";
	case VOUCHER_E_TOO_LARGE:
		return "too-large";
	case VOUCHER_E_RATE_LIMITED:
		return "rate-limited";
	case VOUCHER_EAGAIN:
		return "overload";
	case VOUCHER_E_STORE:
		return "store";
	case VOUCHER_E_NETWORK:
	case VOUCHER_E_PEER:
	case VOUCHER_ETIMEDOUT:
		return "upstream";
	case VOUCHER_ENOTSUP:
		return "not-supported";
	case VOUCHER_E_CONFIG:
	case VOUCHER_E_KEY:
		return "config";
	case VOUCHER_OK:
		/* A handler that answered an error itself (the EST server
		 * does): the status is all it said. */
		return by_status(status);
	default:
		return "internal";
	}
}

/* "brski/requestvoucher", "est/simpleenroll": the path after
 * /.well-known/, bounded and printable. */
static void endpoint_of(const char *path, char *out, size_t outlen)
{
	const char *p = path ? path : "";
	size_t o = 0;

	if (brski_str_startswith(p, "/.well-known/"))
		p += strlen("/.well-known/");
	for (; *p && o + 1 < outlen; p++)
		out[o++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
	out[o] = '\0';
}

/* The first line of a plain-text body, bounded and printable. */
static void detail_of(const char *text, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n' || c == '\r')
			break;
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/* Write one row. A store failure is logged and changes nothing about the
 * answer, which is decided already. */
static void write_row(const struct svc_req *req, const char *disposition, unsigned status,
                      const char *detail)
{
	struct store_preq v = {0};
	struct store *store;
	char endpoint[ENDPOINT_MAX], err[STORE_ERRLEN];
	char *cert = NULL, *serial = NULL;
	voucher_err e;

	if (!req->daemon || !(store = svc_daemon_store(req->daemon)))
		return;
	if (req->peer_chain && req->peer_chain_len > 0) {
		uint8_t sha[32];
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, req->peer_chain[0].data,
		                     req->peer_chain[0].len, sha) == 0)
			cert = brski_hex_new(sha, sizeof(sha));
		/* A certificate without a subject serialNumber (an LDevID
		 * from an ACME CA) is logged with the serial of the device
		 * this registrar issued it to, when it did; otherwise
		 * without. */
		if (voucher_x509_serial_number(req->peer_chain[0].data, req->peer_chain[0].len,
		                               &serial) != VOUCHER_OK) {
			serial = NULL;
			if (creg_ldevid_lookup(store, req->peer_chain[0].data,
			                       req->peer_chain[0].len, &serial, err,
			                       sizeof(err)) != VOUCHER_OK)
				serial = NULL;
		}
	}
	endpoint_of(req->path, endpoint, sizeof(endpoint));
	v.request_id = (char *)(req->request_id ? req->request_id : "");
	v.peer = (char *)(req->peer_addr ? req->peer_addr : "");
	v.client_cert = cert;
	v.serial = serial;
	v.endpoint = endpoint;
	v.media_type = (char *)svc_req_header(req, "Content-Type");
	v.disposition = (char *)disposition;
	v.status = (int)status;
	v.detail = (char *)(detail && *detail ? detail : NULL);
	e = store_preq_log(store, &v, err, sizeof(err));
	if (e != VOUCHER_OK)
		log_err_r(e, "failed to log pledge request %s (%s)", v.request_id, err);
	free(cert);
	free(serial);
}

/* The route the wrapper stands for: the same method and path in the
 * original tables (both map a path to the same handler). */
static const struct svc_route *original(const struct svc_req *req)
{
	unsigned status = 0;
	int i = svc_route_find(creg_brski_routes, creg_n_brski_routes, req->method, req->path,
	                       &status, NULL, 0);

	if (i >= 0)
		return &creg_brski_routes[i];
	i = svc_route_find(creg_est_routes, creg_n_est_routes, req->method, req->path, &status,
	                   NULL, 0);
	return i >= 0 ? &creg_est_routes[i] : NULL;
}

voucher_err creg_reqlog_handle(const struct svc_req *req, struct svc_resp *resp)
{
	const struct svc_route *rt = original(req);
	char detail[DETAIL_MAX];
	voucher_err r;

	if (!rt)
		return svc_resp_text(resp, 404, "no such resource: %s", req->path);
	/* svc_route_call turns an error without a status into one, so the
	 * row records what the client is sent. */
	r = svc_route_call(rt, req, resp);
	if (resp->content_type && brski_str_startswith(resp->content_type, "text/plain"))
		detail_of(resp->body.data ? (const char *)resp->body.data : "", resp->body.len,
		          detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "answered %s",
		         resp->content_type ? resp->content_type : "without a body");
	write_row(req, creg_reqlog_disposition(r, resp->status), resp->status, detail);
	return r;
}

void creg_reqlog_refusal(const char *listener, const struct svc_req *req, unsigned status,
                         const char *disposition, const char *reason)
{
	/* The pledge-facing listeners; the admin API keeps its own audit. */
	if (strcmp(listener, "brski") != 0 && strcmp(listener, "est") != 0)
		return;
	write_row(req, disposition, status, reason);
}

voucher_err creg_reqlog_routes(const struct svc_route *in, size_t n, struct svc_route **out)
{
	struct svc_route *r = calloc(n ? n : 1, sizeof(*r));

	*out = NULL;
	if (!r)
		return VOUCHER_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r[i] = in[i];
		r[i].handler = creg_reqlog_handle;
	}
	*out = r;
	return VOUCHER_OK;
}
