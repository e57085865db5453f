/* HTTPS listener on libmicrohttpd: see http.h. The only file that includes
 * microhttpd.h. */
#include <config.h> /* the build's, not service/config.h */

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <microhttpd.h>

#include "common/str.h"
#include "service/http.h"
#include "service/log.h"
#include "service/ratelimit.h"

#define MAX_QUERY_ARGS 32

struct svc_http {
	char *name;
	struct MHD_Daemon *mhd;
	uint16_t port;
	enum svc_client_cert client_cert;
	size_t max_body;
	struct svc_route *routes;
	size_t n_routes;
	int *route_slots; /* metric slot of each route */
	int unmatched_slot;
	struct svc_metrics *metrics;
	struct svc_daemon *daemon;
	void *app;
	svc_peer_verifier verifier;
	void *verifier_ctx;

	pthread_mutex_t lock; /* guards creds, trust and the verifier (the pointers) */
	struct svc_creds *creds;
	struct svc_trust *trust;

	_Atomic unsigned inflight;
	_Atomic bool draining;
	bool starting;
};

/* Per TCP connection (MHD socket context; also the GnuTLS session pointer). */
struct conn_ctx {
	struct svc_http *h;
	struct svc_creds *creds; /* the credentials this session chose */
	bool had_request;
	/* The client's Finished arrived. GnuTLS keeps no handshake state to
	 * ask afterwards (gnutls_handshake_get_last_in() is -1 by then), so
	 * a hook records it. */
	_Atomic bool handshake_done;
	/* The client chain's verdict against the listener's anchors, kept
	 * from the connection's first request for the ones that follow on
	 * it (keep-alive): perf showed the per-request validation at 8 % of
	 * masad's CPU per voucher. Valid while the anchors are the same
	 * object (a reference is held, so the pointer cannot be reused),
	 * the chain hashes the same, and now is within [peer_from,
	 * peer_until], the validity of every certificate of the chain: so
	 * an expiry or an anchor reload (SIGHUP) is seen on the next
	 * request. The listener's extra verifier (store-backed) is asked
	 * again on every request; its answers are never kept. */
	bool peer_kept;
	struct svc_trust *peer_trust;
	uint8_t peer_sha256[32];
	time_t peer_from, peer_until;
	voucher_err peer_verdict;
	char peer_reason[256];
	char peer_subject[256];
};

/* Hit counters of that per-connection cache, for /metrics. */
static _Atomic uint64_t peer_cache_hits, peer_cache_misses;

void svc_http_cache_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = atomic_load(&peer_cache_hits);
	*misses = atomic_load(&peer_cache_misses);
}

/* Per request (MHD con_cls). */
struct req_state {
	struct svc_http *h;
	struct timespec start;
	char id[24];
	char method[16];
	char path[257];
	int route; /* index into h->routes, -1 before/without a match */
	bool answered;
	bool too_large;
	unsigned status;
	size_t bytes;
	struct brski_buf body;

	char peer_addr[64];
	struct svc_der chain[BRSKI_MAX_CERT_CHAIN];
	size_t chain_len;
	enum svc_peer_status peer_status;
	char peer_reason[256];
	char peer_subject[256];
	int tls_version;
	enum svc_cb_type cb_type;
	uint8_t cb[64];
	size_t cb_len;

	struct svc_kv headers[SVC_HTTP_MAX_HEADERS];
	size_t n_headers;
	struct svc_kv query[MAX_QUERY_ARGS];
	size_t n_query;
};

static _Atomic uint64_t request_counter;
static uint32_t request_prefix;
static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;

static void prefix_init(void)
{
	/* Request ids unique across restarts and instances, for log search. */
	if (gnutls_rnd(GNUTLS_RND_NONCE, &request_prefix, sizeof(request_prefix)) < 0)
		request_prefix = (uint32_t)getpid();
}

static uint64_t elapsed_us(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t us = (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	             (now.tv_nsec - start->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct svc_http *h = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* Per-connection chatter (resets, TLS alerts) is for debugging; what
	 * MHD says while starting is why the listener failed. */
	svc_log(h->starting ? SVC_LOG_ERROR : SVC_LOG_DEBUG, "%s listener: %s", h->name, msg);
}

static struct svc_creds *current_creds(struct svc_http *h)
{
	struct svc_creds *c;

	pthread_mutex_lock(&h->lock);
	c = svc_creds_ref(h->creds);
	pthread_mutex_unlock(&h->lock);
	return c;
}

/* GnuTLS asks for the server certificate during each handshake. */
static int cert_callback(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey)
{
	struct conn_ctx *cc = gnutls_session_get_ptr(s);
	struct svc_creds *c;

	if (!cc)
		return -1;
	c = current_creds(cc->h);
	if (!c)
		return -1;
	/* The session uses what we return until it ends: keep a reference
	 * for as long as the connection lives. */
	svc_creds_unref(cc->creds);
	cc->creds = c;
	svc_creds_get(c, pcert, pcert_length, privkey);
	return 0;
}

static int handshake_hook(gnutls_session_t s, unsigned int htype, unsigned when,
                          unsigned int incoming, const gnutls_datum_t *msg)
{
	struct conn_ctx *cc = gnutls_session_get_ptr(s);

	if (cc && incoming && htype == GNUTLS_HANDSHAKE_FINISHED)
		atomic_store(&cc->handshake_done, true);
	return 0;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
	struct svc_http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn_ctx *cc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		cc = calloc(1, sizeof(*cc));
		*socket_context = cc;
		if (!cc)
			return; /* cert_callback then fails the handshake */
		cc->h = h;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci) {
			int one = 1;
			setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session) {
			gnutls_session_t s = ci->tls_session;
			gnutls_session_set_ptr(s, cc);
			gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED,
			                                   GNUTLS_HOOK_POST, handshake_hook);
			/* Ask, never demand: a client without a certificate
			 * gets a 401 it can read, not a handshake alert. */
			if (h->client_cert != SVC_CLIENT_CERT_NONE)
				gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		}
		return;
	}
	cc = *socket_context;
	if (!cc)
		return;
	if (!cc->had_request && !atomic_load(&cc->handshake_done)) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session)
			svc_metrics_inc(h->metrics, SVC_METRIC_TLS_HANDSHAKE_FAILURES);
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session)
		gnutls_session_set_ptr(ci->tls_session, NULL);
	svc_creds_unref(cc->creds);
	svc_trust_unref(cc->peer_trust);
	free(cc);
	*socket_context = NULL;
}

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct req_state *st = cls;

	if (kind == MHD_HEADER_KIND) {
		if (st->n_headers < SVC_HTTP_MAX_HEADERS)
			st->headers[st->n_headers++] = (struct svc_kv){key, value ? value : ""};
	} else if (st->n_query < MAX_QUERY_ARGS) {
		st->query[st->n_query++] = (struct svc_kv){key, value};
	}
	return MHD_YES;
}

/* 0 when out holds the digest of the chain. */
static int chain_sha256(const struct svc_der *chain, size_t n, uint8_t out[32])
{
	gnutls_hash_hd_t hd;

	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint8_t len[4] = {(uint8_t)(chain[i].len >> 24), (uint8_t)(chain[i].len >> 16),
		                  (uint8_t)(chain[i].len >> 8), (uint8_t)chain[i].len};
		gnutls_hash(hd, len, sizeof(len));
		gnutls_hash(hd, chain[i].data, chain[i].len);
	}
	gnutls_hash_deinit(hd, out);
	return 0;
}

/* The anchors' verdict on the chain (and the leaf's subject into st): the
 * one kept on the connection when it still holds, else validated now. */
static voucher_err peer_verdict(struct conn_ctx *cc, struct svc_trust *t, struct req_state *st)
{
	uint8_t sum[32];
	time_t now = time(NULL), from = 0, until = 0;
	voucher_err r;

	if (chain_sha256(st->chain, st->chain_len, sum) < 0)
		cc = NULL; /* nothing to key it by: validated, not kept */
	if (cc && cc->peer_kept && cc->peer_trust == t && memcmp(cc->peer_sha256, sum, 32) == 0 &&
	    cc->peer_from <= now && now <= cc->peer_until) {
		atomic_fetch_add(&peer_cache_hits, 1);
		snprintf(st->peer_reason, sizeof(st->peer_reason), "%s", cc->peer_reason);
		snprintf(st->peer_subject, sizeof(st->peer_subject), "%s", cc->peer_subject);
		return cc->peer_verdict;
	}
	atomic_fetch_add(&peer_cache_misses, 1);
	svc_tls_subject(&st->chain[0], st->peer_subject, sizeof(st->peer_subject));
	r = svc_trust_verify_window(t, st->chain, st->chain_len, st->peer_reason,
	                            sizeof(st->peer_reason), &from, &until);
	if (!cc)
		return r;
	svc_trust_unref(cc->peer_trust);
	cc->peer_trust = NULL;
	cc->peer_kept = false;
	/* Kept only with a window that holds now (out of it the answer
	 * is about time, and time moves) and for answers that do not come
	 * from running out of memory. */
	if (!t || svc_trust_count(t) == 0) {
		/* No anchors: refused whatever the time. */
		from = 0;
		until = (time_t)((~(unsigned long long)0) >> 1);
	}
	if (until != 0 && from <= now && now <= until && r != VOUCHER_ENOMEM) {
		cc->peer_trust = svc_trust_ref(t);
		memcpy(cc->peer_sha256, sum, 32);
		cc->peer_from = from;
		cc->peer_until = until;
		cc->peer_verdict = r;
		snprintf(cc->peer_reason, sizeof(cc->peer_reason), "%s", st->peer_reason);
		snprintf(cc->peer_subject, sizeof(cc->peer_subject), "%s", st->peer_subject);
		cc->peer_kept = true;
	}
	return r;
}

static void peer_collect(struct svc_http *h, struct MHD_Connection *conn, struct req_state *st)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	const gnutls_datum_t *list;
	unsigned n = 0;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		char host[INET6_ADDRSTRLEN], serv[8];
		socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                       : sizeof(struct sockaddr_in);
		if (getnameinfo(ci->client_addr, len, host, sizeof(host), serv, sizeof(serv),
		                NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			snprintf(st->peer_addr, sizeof(st->peer_addr),
			         ci->client_addr->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
			         serv);
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return;
	s = ci->tls_session;
	st->tls_version = svc_tls_version(s);
	svc_tls_channel_binding(s, &st->cb_type, st->cb, sizeof(st->cb), &st->cb_len);
	if (h->client_cert == SVC_CLIENT_CERT_NONE)
		return;
	/* Session-owned DER, leaf first as sent (intermediates possibly
	 * unsorted); valid until the session ends. */
	list = gnutls_certificate_get_peers(s, &n);
	if (!list || n == 0)
		return;
	st->chain_len = n < BRSKI_MAX_CERT_CHAIN ? n : BRSKI_MAX_CERT_CHAIN;
	for (size_t i = 0; i < st->chain_len; i++)
		st->chain[i] = (struct svc_der){list[i].data, list[i].size};
	if (n > BRSKI_MAX_CERT_CHAIN) {
		svc_tls_subject(&st->chain[0], st->peer_subject, sizeof(st->peer_subject));
		st->peer_status = SVC_PEER_UNTRUSTED;
		snprintf(st->peer_reason, sizeof(st->peer_reason),
		         "chain of %u certificates (at most %d)", n, BRSKI_MAX_CERT_CHAIN);
		return;
	}
	struct svc_trust *t;
	svc_peer_verifier verifier;
	void *verifier_ctx;
	pthread_mutex_lock(&h->lock);
	t = svc_trust_ref(h->trust);
	verifier = h->verifier;
	verifier_ctx = h->verifier_ctx;
	pthread_mutex_unlock(&h->lock);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	voucher_err r = peer_verdict(ci ? ci->socket_context : NULL, t, st);
	svc_trust_unref(t);
	if (r != VOUCHER_OK && verifier) {
		char reason2[256] = "";
		if (verifier(verifier_ctx, st->chain, st->chain_len, reason2, sizeof(reason2)) ==
		    VOUCHER_OK)
			r = VOUCHER_OK;
		else if (reason2[0]) {
			/* Both said no: the anchors' reason (expired, unknown
			 * issuer) is the specific one; the verifier's says what
			 * else was tried. */
			char first[sizeof(st->peer_reason)];
			memcpy(first, st->peer_reason, sizeof(first));
			if (snprintf(st->peer_reason, sizeof(st->peer_reason), "%s%s%s", first,
			             first[0] ? "; " : "", reason2) < 0)
				st->peer_reason[0] = '\0';
		}
	}
	st->peer_status = r == VOUCHER_OK ? SVC_PEER_TRUSTED : SVC_PEER_UNTRUSTED;
	if (r == VOUCHER_OK)
		st->peer_reason[0] = '\0';
}

static void build_req(struct req_state *st, struct svc_req *req, const char *method,
                      const char *url)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = url;
	req->query = st->query;
	req->n_query = st->n_query;
	req->headers = st->headers;
	req->n_headers = st->n_headers;
	req->body = st->body.data;
	req->body_len = st->body.len;
	req->peer_chain = st->chain_len ? st->chain : NULL;
	req->peer_chain_len = st->chain_len;
	req->peer_status = st->peer_status;
	req->peer_reason = st->peer_reason[0] ? st->peer_reason : NULL;
	req->peer_subject = st->peer_subject[0] ? st->peer_subject : NULL;
	req->peer_addr = st->peer_addr;
	req->cb_type = st->cb_type;
	req->cb_data = st->cb_len ? st->cb : NULL;
	req->cb_len = st->cb_len;
	req->tls_version = st->tls_version;
	req->request_id = st->id;
	req->daemon = st->h->daemon;
	req->app = st->h->app;
}

static void free_body(void *p)
{
	free(p);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct req_state *st,
                                 struct svc_resp *resp)
{
	struct MHD_Response *mr;
	size_t len = 0;
	uint8_t *data = brski_buf_take(&resp->body, &len);
	enum MHD_Result ret;

	mr = MHD_create_response_from_buffer_with_free_callback(len, data, free_body);
	if (!mr) {
		free(data);
		return MHD_NO;
	}
	if (resp->content_type)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (size_t i = 0; i < resp->n_headers; i++)
		MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
	MHD_add_response_header(mr, "X-Request-Id", st->id);
	if (atomic_load(&st->h->draining))
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, resp->status, mr);
	MHD_destroy_response(mr);
	st->answered = true;
	st->status = resp->status;
	st->bytes = len;
	return ret;
}

static enum MHD_Result answer(struct MHD_Connection *conn, struct req_state *st,
                              struct svc_resp *resp)
{
	enum MHD_Result ret = send_resp(conn, st, resp);

	svc_resp_free(resp);
	return ret;
}

static svc_refusal_hook refusal_hook;

void svc_http_set_refusal_hook(svc_refusal_hook hook)
{
	refusal_hook = hook;
}

/* Tell the application about a refusal of the HTTP layer on one of its
 * routes (the body has not reached the handler). */
static void refused(struct svc_http *h, const struct svc_req *req, struct svc_resp *resp,
                    const char *disposition)
{
	unsigned status = 0;
	char allow[128], reason[256];
	size_t n = resp->body.len < sizeof(reason) - 1 ? resp->body.len : sizeof(reason) - 1;

	if (!refusal_hook || svc_route_find(h->routes, h->n_routes, req->method, req->path, &status,
	                                    allow, sizeof(allow)) < 0)
		return;
	memcpy(reason, resp->body.data ? (const char *)resp->body.data : "", n);
	while (n && reason[n - 1] == '\n')
		n--;
	reason[n] = '\0';
	refusal_hook(h->name, req, resp->status, disposition, reason);
}

/* The disposition of a refusal for the client certificate. */
static const char *peer_disposition(const struct svc_req *req)
{
	return req->peer_status == SVC_PEER_NONE ? "no-client-cert" : "untrusted-client-cert";
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
	struct svc_http *h = cls;
	struct req_state *st = *con_cls;
	struct svc_resp resp;
	struct svc_req req;

	if (!st) {
		const union MHD_ConnectionInfo *ci;
		unsigned status = 0;
		char allow[128];

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		st->h = h;
		st->route = -1;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		pthread_once(&prefix_once, prefix_init);
		snprintf(st->id, sizeof(st->id), "%08x%08llx", request_prefix,
		         (unsigned long long)(atomic_fetch_add(&request_counter, 1) & 0xffffffffu));
		brski_buf_init(&st->body, h->max_body);
		snprintf(st->method, sizeof(st->method), "%s", method);
		snprintf(st->path, sizeof(st->path), "%s", url);
		atomic_fetch_add(&h->inflight, 1);
		svc_metrics_inflight(h->metrics, 1);
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (ci && ci->socket_context)
			((struct conn_ctx *)ci->socket_context)->had_request = true;
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, st);
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, st);
		peer_collect(h, conn, st);
		build_req(st, &req, method, url);

		/* Everything that can be decided from the headers is decided
		 * now, before any body is read. */
		svc_resp_init(&resp);
		unsigned retry = 0;
		char why[128];
		if (!svc_ratelimit_request(
		            h->name, st->peer_addr, st->chain_len ? st->chain[0].data : NULL,
		            st->chain_len ? st->chain[0].len : 0, &retry, why, sizeof(why))) {
			char ra[16];
			snprintf(ra, sizeof(ra), "%u", retry);
			svc_resp_text(&resp, 429, "%s; retry in %u s", why, retry);
			svc_resp_header(&resp, "Retry-After", ra);
			refused(h, &req, &resp, "rate-limited");
			return answer(conn, st, &resp);
		}
		if (!svc_route_check_peer(&req, h->client_cert == SVC_CLIENT_CERT_REQUIRE, &resp)) {
			refused(h, &req, &resp, peer_disposition(&req));
			return answer(conn, st, &resp);
		}
		/* The body limit is the listener's, whatever the path. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t clen = 0;
		if (cl && brski_str_to_u64(cl, &clen, UINT64_MAX) == VOUCHER_OK &&
		    clen > h->max_body) {
			svc_resp_text(&resp, 413,
			              "request body of %llu bytes is over the limit of %zu bytes",
			              (unsigned long long)clen, h->max_body);
			refused(h, &req, &resp, "too-large");
			return answer(conn, st, &resp);
		}
		st->route = svc_route_find(h->routes, h->n_routes, method, url, &status, allow,
		                           sizeof(allow));
		if (st->route < 0) {
			if (status == 405) {
				svc_resp_text(&resp, 405, "method %s not allowed on %s", method,
				              url);
				svc_resp_header(&resp, "Allow", allow);
			} else {
				svc_resp_text(&resp, 404, "no such resource: %s", url);
			}
			return answer(conn, st, &resp);
		}
		if (!svc_route_check_peer(&req, h->routes[st->route].flags & SVC_ROUTE_CLIENT_CERT,
		                          &resp)) {
			refused(h, &req, &resp, peer_disposition(&req));
			return answer(conn, st, &resp);
		}
		svc_resp_free(&resp);
		return MHD_YES;
	}
	if (st->answered) {
		/* MHD discards the rest of a body after an early answer. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!st->too_large &&
		    brski_buf_put(&st->body, upload_data, *upload_data_size) != VOUCHER_OK) {
			st->too_large = true;
			brski_buf_free(&st->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	svc_resp_init(&resp);
	build_req(st, &req, method, url);
	if (st->too_large) {
		svc_resp_text(&resp, 413, "request body is over the limit of %zu bytes",
		              h->max_body);
		refused(h, &req, &resp, "too-large");
		return answer(conn, st, &resp);
	}
	voucher_err r = svc_route_call(&h->routes[st->route], &req, &resp);
	/* Failures of the store and of upstream peers are counted where they
	 * become statuses, so handlers need not remember to. */
	if (r == VOUCHER_E_STORE)
		svc_metrics_inc(h->metrics, SVC_METRIC_STORE_ERRORS);
	else if (r == VOUCHER_E_NETWORK || r == VOUCHER_E_PEER || r == VOUCHER_ETIMEDOUT)
		svc_metrics_inc(h->metrics, SVC_METRIC_UPSTREAM_ERRORS);
	return answer(conn, st, &resp);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
	struct svc_http *h = cls;
	struct req_state *st = *con_cls;

	if (!st)
		return;
	uint64_t us = elapsed_us(&st->start);

	svc_log(SVC_LOG_INFO, "req=%s %s %s %s %u %zu %lluus peer=%s%s%s%s", st->id, h->name,
	        st->method, st->path, st->status, st->bytes, (unsigned long long)us,
	        st->peer_addr[0] ? st->peer_addr : "-", st->peer_subject[0] ? " subject=\"" : "",
	        st->peer_subject, st->peer_subject[0] ? "\"" : "");
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		svc_log(SVC_LOG_DEBUG, "req=%s ended early (code %d)", st->id, (int)toe);
	svc_metrics_request(h->metrics,
	                    st->route >= 0 ? h->route_slots[st->route] : h->unmatched_slot,
	                    st->status, us);
	svc_metrics_inflight(h->metrics, -1);
	atomic_fetch_sub(&h->inflight, 1);
	brski_buf_free(&st->body);
	free(st);
	*con_cls = NULL;
}

static voucher_err resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
                           socklen_t *sslen, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	int ret;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret != 0 || !res) {
		snprintf(err, errlen, "cannot resolve listen address '%s' (%s)", host,
		         gai_strerror(ret));
		return VOUCHER_E_CONFIG;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	freeaddrinfo(res);
	return VOUCHER_OK;
}

static void http_free(struct svc_http *h)
{
	if (!h)
		return;
	svc_creds_unref(h->creds);
	svc_trust_unref(h->trust);
	pthread_mutex_destroy(&h->lock);
	free(h->routes);
	free(h->route_slots);
	free(h->name);
	free(h);
}

voucher_err svc_http_start(const struct svc_http_opts *o, struct svc_http **out, char *err,
                           size_t errlen)
{
	struct svc_http *h = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	unsigned threads = o->threads;
	unsigned flags;
	voucher_err r;

	*out = NULL;
	if (!o->creds) {
		snprintf(err, errlen, "%s listener: no server certificate", o->name);
		return VOUCHER_EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return VOUCHER_ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->name = brski_strdup(o->name);
	h->routes = calloc(o->n_routes + 1, sizeof(*h->routes));
	h->route_slots = calloc(o->n_routes + 1, sizeof(*h->route_slots));
	if (!h->name || !h->routes || !h->route_slots) {
		r = VOUCHER_ENOMEM;
		goto fail;
	}
	if (o->n_routes)
		memcpy(h->routes, o->routes, o->n_routes * sizeof(*h->routes));
	h->n_routes = o->n_routes;
	h->client_cert = o->client_cert;
	h->max_body = o->max_body;
	h->metrics = o->metrics;
	h->daemon = o->daemon;
	h->app = o->app;
	h->verifier = o->verifier;
	h->verifier_ctx = o->verifier_ctx;
	h->creds = svc_creds_ref(o->creds);
	h->trust = svc_trust_ref(o->trust);
	for (size_t i = 0; i < h->n_routes; i++) {
		char label[256];
		snprintf(label, sizeof(label), "%s%s", h->routes[i].path,
		         (h->routes[i].flags & SVC_ROUTE_PREFIX) ? "*" : "");
		h->route_slots[i] = h->metrics ? svc_metrics_route(h->metrics, h->name,
		                                                   h->routes[i].method, label)
		                               : -1;
	}
	h->unmatched_slot =
	        h->metrics ? svc_metrics_route(h->metrics, h->name, "-", "unmatched") : -1;
	r = resolve(o->host, o->port, &ss, &sslen, err, errlen);
	if (r != VOUCHER_OK)
		goto fail;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ITC |
	        MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->starting = true;
	h->mhd = MHD_start_daemon(
	        flags, 0, NULL, NULL, access_handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_HTTPS_CERT_CALLBACK,
	        cert_callback, MHD_OPTION_HTTPS_PRIORITIES, SVC_TLS_PRIORITY,
	        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)SVC_HTTP_CONN_MEMORY, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	        (unsigned)SVC_HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)SVC_HTTP_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)SVC_HTTP_CONN_TIMEOUT, MHD_OPTION_NOTIFY_COMPLETED, request_completed, h,
	        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h, MHD_OPTION_STRICT_FOR_CLIENT,
	        (int)1, MHD_OPTION_END);
	h->starting = false;
	if (!h->mhd) {
		snprintf(err, errlen, "%s listener: cannot listen on %s port %u (see above)",
		         o->name, o->host, (unsigned)o->port);
		r = VOUCHER_EIO;
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : o->port;
	*out = h;
	return VOUCHER_OK;
fail:
	http_free(h);
	return r;
}

uint16_t svc_http_port(const struct svc_http *h)
{
	return h->port;
}

const char *svc_http_name(const struct svc_http *h)
{
	return h->name;
}

void svc_http_set_creds(struct svc_http *h, struct svc_creds *creds)
{
	struct svc_creds *old;

	if (!creds)
		return;
	svc_creds_ref(creds);
	pthread_mutex_lock(&h->lock);
	old = h->creds;
	h->creds = creds;
	pthread_mutex_unlock(&h->lock);
	svc_creds_unref(old);
}

void svc_http_set_trust(struct svc_http *h, struct svc_trust *trust)
{
	struct svc_trust *old;

	svc_trust_ref(trust);
	pthread_mutex_lock(&h->lock);
	old = h->trust;
	h->trust = trust;
	pthread_mutex_unlock(&h->lock);
	svc_trust_unref(old);
}

void svc_http_set_verifier(struct svc_http *h, svc_peer_verifier verifier, void *ctx)
{
	pthread_mutex_lock(&h->lock);
	h->verifier = verifier;
	h->verifier_ctx = ctx;
	pthread_mutex_unlock(&h->lock);
}

void svc_http_quiesce(struct svc_http *h)
{
	MHD_socket fd;

	if (!h || atomic_exchange(&h->draining, true))
		return;
	fd = MHD_quiesce_daemon(h->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

unsigned svc_http_inflight(const struct svc_http *h)
{
	return atomic_load(&((struct svc_http *)h)->inflight);
}

void svc_http_stop(struct svc_http *h)
{
	if (!h)
		return;
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	http_free(h);
}
