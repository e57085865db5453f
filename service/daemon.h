/*
 * The daemon runner shared by masad and cloudregd: command line, config,
 * store, listeners, signals. A program describes itself in a
 * svc_daemon_def (its routes, which configured PEM bundles are the client
 * trust anchors of which listener, and optional init/reload/fini hooks)
 * and calls svc_daemon_main from main().
 *
 * Signals: SIGHUP reloads every listener's certificate, key and trust
 * anchors from the files the configuration names (a failed reload keeps the
 * old ones and logs why), then calls def->reload. SIGTERM and SIGINT drain:
 * stop accepting, wait up to [daemon] drain_timeout for requests in flight,
 * then stop; the exit status is 0.
 *
 * Exit statuses: 0 ok, 1 runtime failure (store, bind), 2 usage or
 * configuration error.
 */
#ifndef SVC_DAEMON_H
#define SVC_DAEMON_H

#include <stddef.h>

#include "service/config.h"
#include "service/http.h"
#include "service/metrics.h"
#include "service/route.h"

struct store;
struct svc_daemon;

/* The PEM bundle at [section] key (when set) is a client trust anchor set
 * of the listener named listener ("brski", "est", "admin"). */
struct svc_trust_src {
	const char *listener;
	const char *section;
	const char *key;
};

struct svc_daemon_def {
	const char *name;        /* program name, e.g. "masad" */
	const char *description; /* one line for --help */
	const char *default_role;
	const char *roles; /* roles this program serves, "cloud|registrar" */
	const struct svc_route *brski_routes;
	size_t n_brski_routes;
	const struct svc_route *est_routes;
	size_t n_est_routes;
	const struct svc_route *admin_routes; /* besides /healthz and /metrics */
	size_t n_admin_routes;
	const struct svc_trust_src *trust; /* terminated by a NULL listener; may be NULL */
	/* Extra client-certificate verifiers of the brski and est listeners,
	 * called with the application context (see svc_peer_verifier); for
	 * chains the configured anchors do not validate, e.g. against CAs in
	 * the store. May be NULL. svc_http_set_verifier and
	 * svc_http_set_trust (svc_daemon_listener) change them at run time. */
	svc_peer_verifier brski_verifier;
	svc_peer_verifier est_verifier;
	/* After the store is open and before the listeners start; *app is
	 * handed to handlers as svc_req.app. May be NULL. */
	voucher_err (*init)(struct svc_daemon *d, void **app, char *err, size_t errlen);
	/* On SIGHUP, after the listeners reloaded. May be NULL. */
	voucher_err (*reload)(struct svc_daemon *d, void *app, char *err, size_t errlen);
	/* After the listeners stopped. May be NULL. */
	void (*fini)(struct svc_daemon *d, void *app);
	/* The program's own cache counters for /metrics: append lines
	 * made with svc_daemon_cache_metric. May be NULL. */
	voucher_err (*cache_metrics)(void *app, struct brski_buf *out);
};

/* One cache's counters as /metrics lines (brski_cache_hits_total and
 * brski_cache_misses_total, label cache="name"). */
voucher_err svc_daemon_cache_metric(struct brski_buf *out, const char *name, uint64_t hits,
                                    uint64_t misses);

/* Run the program: returns the exit status for main(). */
int svc_daemon_main(const struct svc_daemon_def *def, int argc, char **argv);

/* Accessors for init/reload hooks and handlers (req->daemon). */
const struct svc_config *svc_daemon_config(const struct svc_daemon *d);
struct store *svc_daemon_store(struct svc_daemon *d);
struct svc_metrics *svc_daemon_metrics(struct svc_daemon *d);
/* A running listener by name, NULL when that listener is off. */
struct svc_http *svc_daemon_listener(struct svc_daemon *d, const char *name);

/* The built-in admin handlers (GET /healthz, GET /metrics); they use
 * req->daemon. Exposed for unit tests. */
voucher_err svc_handle_healthz(const struct svc_req *req, struct svc_resp *resp);
voucher_err svc_handle_metrics(const struct svc_req *req, struct svc_resp *resp);

#endif
