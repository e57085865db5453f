/*
 * One HTTPS listener on libmicrohttpd + GnuTLS (only http.c includes
 * microhttpd.h). A listener serves a route table (route.h) from a thread
 * pool; it takes its server certificate through MHD's certificate callback
 * so that new credentials can be swapped in while it runs, asks for client
 * certificates by policy, and verifies them itself against trust anchors
 * that can also be swapped: an unknown client certificate never aborts the
 * handshake, the request gets 401 or 403 with a reason.
 *
 * Client certificates with MHD 0.9.75 and GnuTLS 3.7.9: MHD requests one
 * only when given MHD_OPTION_HTTPS_MEM_TRUST (and then also sends that
 * list's names). We give it no trust list; instead the connection-start
 * notification (which runs before the handshake) calls
 * gnutls_certificate_server_set_request(GNUTLS_CERT_REQUEST) on the
 * session. REQUEST (never REQUIRE) keeps the handshake from failing when
 * the client has no certificate, and GnuTLS does not verify the client
 * chain on its own, so the application's verdict is the only one.
 */
#ifndef SVC_HTTP_H
#define SVC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/metrics.h"
#include "service/route.h"
#include "service/tlsconf.h"

enum svc_client_cert {
	SVC_CLIENT_CERT_NONE,
	SVC_CLIENT_CERT_REQUEST,
	SVC_CLIENT_CERT_REQUIRE,
};

/* Extra verifier for client chains the listener's trust set does not
 * validate (e.g. owners' domain CAs from the store). VOUCHER_OK to accept;
 * otherwise a reason. Called from request threads. */
typedef voucher_err (*svc_peer_verifier)(void *ctx, const struct svc_der *chain, size_t n,
                                         char *reason, size_t reason_len);

/* Limits that docs/CONFIG.md does not expose. */
#define SVC_HTTP_PER_IP_LIMIT 64          /* concurrent connections per address */
#define SVC_HTTP_CONN_LIMIT   1024        /* concurrent connections per listener */
#define SVC_HTTP_CONN_MEMORY  (64 * 1024) /* headers and buffers per connection */
#define SVC_HTTP_CONN_TIMEOUT 30          /* idle seconds before a connection is closed */
#define SVC_HTTP_MAX_HEADERS  64

struct svc_http_opts {
	const char *name; /* "brski", "est", "admin": logs and metric labels */
	const char *host; /* address to bind (numeric or a name) */
	uint16_t port;    /* 0: any free port (svc_http_port tells which) */
	enum svc_client_cert client_cert;
	size_t max_body;
	unsigned threads;               /* 0: one per core */
	const struct svc_route *routes; /* copied */
	size_t n_routes;
	struct svc_creds *creds;    /* required; the listener takes a reference */
	struct svc_trust *trust;    /* may be NULL; the listener takes a reference */
	svc_peer_verifier verifier; /* may be NULL */
	void *verifier_ctx;
	struct svc_metrics *metrics; /* may be NULL; must outlive the listener */
	struct svc_daemon *daemon;   /* handed to handlers in svc_req */
	void *app;                   /* handed to handlers in svc_req */
};

struct svc_http;

voucher_err svc_http_start(const struct svc_http_opts *opts, struct svc_http **out, char *err,
                           size_t errlen);
/* The bound port. */
uint16_t svc_http_port(const struct svc_http *h);
const char *svc_http_name(const struct svc_http *h);
/* Swap in new server credentials / client trust anchors (a reference is
 * taken). Connections that already chose a certificate keep theirs; the
 * old objects are freed by their last user. Thread-safe. */
void svc_http_set_creds(struct svc_http *h, struct svc_creds *creds);
void svc_http_set_trust(struct svc_http *h, struct svc_trust *trust);
/* Replace the extra verifier (NULL: none). Requests that already started
 * use the one they read. Thread-safe. */
void svc_http_set_verifier(struct svc_http *h, svc_peer_verifier verifier, void *ctx);
/* Called when the HTTP layer itself refuses a request that matched a route
 * (413 over max_body, 429 over a rate limit, 401/403 for the client
 * certificate the listener or the route requires), so an application that
 * keeps a disposition for every refusal of an endpoint (the request logs of
 * masad and cloudregd) can record it: the listener's name, the request as
 * far as it was read (never its body), the status, a short disposition
 * ("too-large", "rate-limited", "no-client-cert", "untrusted-client-cert")
 * and the reason sent. Process-wide; set it before the
 * listeners start (NULL: none). */
typedef void (*svc_refusal_hook)(const char *listener, const struct svc_req *req, unsigned status,
                                 const char *disposition, const char *reason);
void svc_http_set_refusal_hook(svc_refusal_hook hook);
/* Stop accepting connections (drain); requests in progress go on and
 * responses ask clients to close. */
void svc_http_quiesce(struct svc_http *h);
/* Requests received and not yet completed. */
unsigned svc_http_inflight(const struct svc_http *h);
/* Stop (closing every connection) and free. NULL ok. */
void svc_http_stop(struct svc_http *h);
/* Counters of the per-connection cache of the client chain's verdict
 * (validated on a connection's first request, kept for the requests that
 * follow on it while the anchors, the chain and the certificates' validity
 * hold): process-wide, all listeners. */
void svc_http_cache_stats(uint64_t *hits, uint64_t *misses);

#endif
