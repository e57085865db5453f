/* The daemon runner: see daemon.h. */
#include <config.h> /* the build's, not service/config.h */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <voucher/x509.h>

#include "common/str.h"
#include "service/daemon.h"
#include "service/log.h"
#include "service/ratelimit.h"
#include "service/store.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG  2

static const char *const listener_names[] = {"brski", "est", "admin"};
#define N_LISTENERS 3

struct svc_daemon {
	const struct svc_daemon_def *def;
	struct svc_config *cfg;
	struct store *store;
	struct svc_metrics *metrics;
	void *app;
	struct svc_http *listeners[N_LISTENERS];
};

static const struct svc_route builtin_admin_routes[] = {
        {"GET", "/healthz", 0, svc_handle_healthz},
        {"GET", "/metrics", 0, svc_handle_metrics},
};

const struct svc_config *svc_daemon_config(const struct svc_daemon *d)
{
	return d->cfg;
}

struct store *svc_daemon_store(struct svc_daemon *d)
{
	return d->store;
}

struct svc_metrics *svc_daemon_metrics(struct svc_daemon *d)
{
	return d->metrics;
}

struct svc_http *svc_daemon_listener(struct svc_daemon *d, const char *name)
{
	for (int i = 0; i < N_LISTENERS; i++)
		if (strcmp(listener_names[i], name) == 0)
			return d->listeners[i];
	return NULL;
}

voucher_err svc_handle_healthz(const struct svc_req *req, struct svc_resp *resp)
{
	struct svc_daemon *d = req->daemon;
	voucher_err r;

	if (!d || !d->store)
		return svc_resp_text(resp, 503, "no store");
	r = store_ping(d->store);
	if (r != VOUCHER_OK) {
		svc_metrics_inc(d->metrics, SVC_METRIC_STORE_ERRORS);
		log_warn_r(r, "health check: store not reachable");
		return svc_resp_text(resp, 503, "store not reachable: %s", voucher_strerror(r));
	}
	return svc_resp_text(resp, 200, "ok");
}

voucher_err svc_daemon_cache_metric(struct brski_buf *out, const char *name, uint64_t hits,
                                    uint64_t misses)
{
	return brski_buf_printf(out,
	                        "brski_cache_hits_total{cache=\"%s\"} %llu\n"
	                        "brski_cache_misses_total{cache=\"%s\"} %llu\n",
	                        name, (unsigned long long)hits, name, (unsigned long long)misses);
}

/* The counters of every cache on the request path (docs/PERFORMANCE.md
 * lists them and what keys each). */
static voucher_err cache_metrics(struct svc_daemon *d, struct brski_buf *out)
{
	struct voucher_trust_stats st;
	uint64_t hits = 0, misses = 0;
	voucher_err r;

	r = brski_buf_puts(out, "# HELP brski_cache_hits_total Lookups answered by a cache.\n"
	                        "# TYPE brski_cache_hits_total counter\n"
	                        "# HELP brski_cache_misses_total Lookups a cache could not "
	                        "answer.\n"
	                        "# TYPE brski_cache_misses_total counter\n");
	svc_http_cache_stats(&hits, &misses);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "tls_peer_verdict", hits, misses);
	voucher_trust_temporary_stats(&st);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "chain_temporary_anchor", st.hits, st.misses);
	voucher_trust_shared_stats(&st);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "chain_shared", st.hits, st.misses);
	voucher_x509_cache_stats(&st);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "x509_facts", st.hits, st.misses);
	if (r == VOUCHER_OK && d->def->cache_metrics)
		r = d->def->cache_metrics(d->app, out);
	return r;
}

voucher_err svc_handle_metrics(const struct svc_req *req, struct svc_resp *resp)
{
	struct svc_daemon *d = req->daemon;
	voucher_err r;

	if (!d || !d->metrics)
		return VOUCHER_ENOTSUP;
	brski_buf_reset(&resp->body);
	r = svc_metrics_render(d->metrics, &resp->body);
	if (r == VOUCHER_OK)
		r = cache_metrics(d, &resp->body);
	if (r != VOUCHER_OK)
		return r;
	resp->status = 200;
	resp->content_type = SVC_METRICS_CONTENT_TYPE;
	return VOUCHER_OK;
}

static void usage(const struct svc_daemon_def *def, FILE *out)
{
	fprintf(out,
	        "usage: %s [-c FILE] [--check-config]\n"
	        "       %s --version | --help\n\n"
	        "%s\n\n"
	        "  -c, --config FILE  configuration file (default %s/brski-cloud.conf)\n"
	        "      --check-config validate the configuration and its files, then exit\n"
	        "                     (0 valid, 2 invalid)\n"
	        "      --version      print the version and exit\n"
	        "  -h, --help         print this help and exit\n\n"
	        "Signals: SIGHUP reloads certificates and keys; SIGTERM drains and exits.\n"
	        "Keys: brski-cloud.conf(5), docs/CONFIG.md.\n",
	        def->name, def->name, def->description, BRSKI_SYSCONFDIR);
}

static bool role_ok(const char *roles, const char *role)
{
	size_t n = strlen(role);

	for (const char *p = roles; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, role, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* The trust anchors of one listener, from every source the program names;
 * NULL (no client certificate is trusted by anchors) when none is set. */
static voucher_err load_trust(const struct svc_daemon_def *def, const struct svc_config *cfg,
                              const char *listener, struct svc_trust **out, char *err,
                              size_t errlen)
{
	struct svc_trust *t = NULL;
	voucher_err r = VOUCHER_OK;

	*out = NULL;
	for (const struct svc_trust_src *s = def->trust; s && s->listener; s++) {
		const char *path;
		if (strcmp(s->listener, listener) != 0)
			continue;
		path = svc_config_str(cfg, s->section, s->key);
		if (!path)
			continue;
		if (!t && (r = svc_trust_new(&t)) != VOUCHER_OK)
			break;
		r = svc_trust_add_file(t, path, err, errlen);
		if (r != VOUCHER_OK)
			break;
	}
	if (r != VOUCHER_OK) {
		svc_trust_unref(t);
		return r;
	}
	*out = t;
	return VOUCHER_OK;
}

/* Load the TLS material of every listener that is on, without starting
 * anything: --check-config runs this too, so a key that does not match its
 * certificate is a configuration error. */
static voucher_err load_tls(const struct svc_daemon_def *def, const struct svc_config *cfg,
                            struct svc_creds *creds[N_LISTENERS],
                            struct svc_trust *trust[N_LISTENERS], struct brski_buf *errors)
{
	voucher_err r = VOUCHER_OK;
	char err[512];

	for (int i = 0; i < N_LISTENERS; i++) {
		const char *name = listener_names[i];
		creds[i] = NULL;
		trust[i] = NULL;
		if (!svc_config_is_set(cfg, name, "listen"))
			continue;
		err[0] = '\0';
		voucher_err r1 = svc_creds_load(svc_config_str(cfg, name, "cert"),
		                                svc_config_str(cfg, name, "key"), &creds[i], err,
		                                sizeof(err));
		if (r1 != VOUCHER_OK) {
			brski_buf_printf(errors, "%s:%u: [%s] cert/key: %s\n", svc_config_file(cfg),
			                 svc_config_line(cfg, name, "key"), name, err);
			r = r1;
		}
		err[0] = '\0';
		r1 = load_trust(def, cfg, name, &trust[i], err, sizeof(err));
		if (r1 != VOUCHER_OK) {
			brski_buf_printf(errors, "%s: [%s] client trust anchors: %s\n",
			                 svc_config_file(cfg), name, err);
			r = r1;
		}
	}
	return r;
}

static void free_tls(struct svc_creds *creds[N_LISTENERS], struct svc_trust *trust[N_LISTENERS])
{
	for (int i = 0; i < N_LISTENERS; i++) {
		svc_creds_unref(creds[i]);
		svc_trust_unref(trust[i]);
		creds[i] = NULL;
		trust[i] = NULL;
	}
}

static enum svc_client_cert client_cert_mode(const char *v)
{
	if (strcmp(v, "require") == 0)
		return SVC_CLIENT_CERT_REQUIRE;
	if (strcmp(v, "request") == 0)
		return SVC_CLIENT_CERT_REQUEST;
	return SVC_CLIENT_CERT_NONE;
}

static voucher_err start_listeners(struct svc_daemon *d, struct svc_creds *creds[N_LISTENERS],
                                   struct svc_trust *trust[N_LISTENERS])
{
	const struct svc_daemon_def *def = d->def;
	struct svc_route admin_routes[64];
	char err[512];
	voucher_err r;

	for (int i = 0; i < N_LISTENERS; i++) {
		const char *name = listener_names[i];
		struct svc_http_opts o = {0};
		char host[256];
		uint16_t port;

		if (!creds[i])
			continue;
		r = svc_config_hostport(d->cfg, name, "listen", host, sizeof(host), &port);
		if (r != VOUCHER_OK)
			return r;
		o.name = name;
		o.host = host;
		o.port = port;
		o.client_cert = client_cert_mode(svc_config_str(d->cfg, name, "client_cert"));
		o.max_body = (size_t)svc_config_int(d->cfg, name, "max_body");
		o.threads = (unsigned)svc_config_int(d->cfg, "daemon", "threads");
		o.creds = creds[i];
		o.trust = trust[i];
		o.metrics = d->metrics;
		o.daemon = d;
		o.app = d->app;
		if (strcmp(name, "brski") == 0) {
			o.routes = def->brski_routes;
			o.n_routes = def->n_brski_routes;
			o.verifier = def->brski_verifier;
			o.verifier_ctx = d->app;
		} else if (strcmp(name, "est") == 0) {
			o.routes = def->est_routes;
			o.n_routes = def->n_est_routes;
			o.verifier = def->est_verifier;
			o.verifier_ctx = d->app;
		} else {
			size_t nb = sizeof(builtin_admin_routes) / sizeof(builtin_admin_routes[0]);
			if (nb + def->n_admin_routes >
			    sizeof(admin_routes) / sizeof(admin_routes[0]))
				return VOUCHER_E_TOO_LARGE;
			memcpy(admin_routes, builtin_admin_routes, sizeof(builtin_admin_routes));
			if (def->n_admin_routes)
				memcpy(admin_routes + nb, def->admin_routes,
				       def->n_admin_routes * sizeof(*admin_routes));
			o.routes = admin_routes;
			o.n_routes = nb + def->n_admin_routes;
		}
		err[0] = '\0';
		r = svc_http_start(&o, &d->listeners[i], err, sizeof(err));
		if (r != VOUCHER_OK) {
			log_err_r(r, "%s", err);
			return r;
		}
		log_info("%s listener on %s port %u (client certificates: %s, certificate serial "
		         "%s)",
		         name, host, (unsigned)svc_http_port(d->listeners[i]),
		         svc_config_str(d->cfg, name, "client_cert"), svc_creds_serial(creds[i]));
	}
	return VOUCHER_OK;
}

static voucher_err drop_privileges(const char *user)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		log_err("failed to drop privileges: no user '%s'", user);
		return VOUCHER_E_CONFIG;
	}
	if (initgroups(pw.pw_name, pw.pw_gid) != 0 || setgid(pw.pw_gid) != 0 ||
	    setuid(pw.pw_uid) != 0) {
		log_err("failed to drop privileges to '%s' (%s)", user, strerror(errno));
		return VOUCHER_EACCES;
	}
	log_info("running as user %s", user);
	return VOUCHER_OK;
}

static void reload(struct svc_daemon *d)
{
	struct svc_creds *creds[N_LISTENERS];
	struct svc_trust *trust[N_LISTENERS];
	struct brski_buf errors;
	char err[512] = "";

	brski_buf_init(&errors, 64 * 1024);
	/* All or nothing: a half-written certificate file must not leave one
	 * listener on new credentials and another on none. */
	if (load_tls(d->def, d->cfg, creds, trust, &errors) != VOUCHER_OK) {
		log_err("reload failed, keeping the current certificates: %s",
		        brski_buf_str(&errors));
		free_tls(creds, trust);
		brski_buf_free(&errors);
		return;
	}
	for (int i = 0; i < N_LISTENERS; i++) {
		if (!d->listeners[i] || !creds[i])
			continue;
		svc_http_set_creds(d->listeners[i], creds[i]);
		svc_http_set_trust(d->listeners[i], trust[i]);
		log_info("%s listener: reloaded certificate (serial %s) and %zu trust anchors",
		         listener_names[i], svc_creds_serial(creds[i]), svc_trust_count(trust[i]));
	}
	free_tls(creds, trust);
	brski_buf_free(&errors);
	if (d->def->reload && d->def->reload(d, d->app, err, sizeof(err)) != VOUCHER_OK)
		log_err("reload of %s state failed: %s", d->def->name, err);
}

static unsigned inflight(struct svc_daemon *d)
{
	unsigned n = 0;

	for (int i = 0; i < N_LISTENERS; i++)
		if (d->listeners[i])
			n += svc_http_inflight(d->listeners[i]);
	return n;
}

static void drain(struct svc_daemon *d)
{
	int64_t timeout = svc_config_int(d->cfg, "daemon", "drain_timeout");
	struct timespec start, now, tick = {0, 10 * 1000 * 1000};

	for (int i = 0; i < N_LISTENERS; i++)
		svc_http_quiesce(d->listeners[i]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	log_info("draining: %u requests in flight, waiting up to %llds", inflight(d),
	         (long long)timeout);
	for (;;) {
		unsigned n = inflight(d);
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout) {
			log_warn("drain timeout: closing %u requests still in flight", n);
			break;
		}
		nanosleep(&tick, NULL);
	}
	for (int i = 0; i < N_LISTENERS; i++) {
		svc_http_stop(d->listeners[i]);
		d->listeners[i] = NULL;
	}
}

static int parse_args(const struct svc_daemon_def *def, int argc, char **argv, const char **path,
                      bool *check)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: %s needs a file name\n", def->name, a);
				return EXIT_CONFIG;
			}
			*path = argv[++i];
		} else if (brski_str_startswith(a, "--config=")) {
			*path = a + 9;
		} else if (strcmp(a, "--check-config") == 0) {
			*check = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("%s (%s) %s\n", def->name, PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(def, stdout);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", def->name, a);
			usage(def, stderr);
			return EXIT_CONFIG;
		}
	}
	return -1;
}

int svc_daemon_main(const struct svc_daemon_def *def, int argc, char **argv)
{
	struct svc_daemon d = {0};
	const char *path = BRSKI_SYSCONFDIR "/brski-cloud.conf";
	bool check = false;
	struct svc_cfg_default defaults[] = {{"daemon", "role", def->default_role},
	                                     {NULL, NULL, NULL}};
	struct svc_creds *creds[N_LISTENERS] = {0};
	struct svc_trust *trust[N_LISTENERS] = {0};
	struct brski_buf errors;
	enum svc_log_level level = SVC_LOG_INFO;
	char err[STORE_ERRLEN + 256] = "";
	sigset_t sigs;
	int status = EXIT_RUNTIME;
	int ret;
	voucher_err r;

	svc_log_init(def->name);
	ret = parse_args(def, argc, argv, &path, &check);
	if (ret >= 0)
		return ret;
	d.def = def;
	brski_buf_init(&errors, 256 * 1024);
	r = svc_config_load(path, defaults, &d.cfg, &errors);
	if (r == VOUCHER_OK) {
		const char *role = svc_config_str(d.cfg, "daemon", "role");
		if (!role_ok(def->roles, role)) {
			unsigned line = svc_config_line(d.cfg, "daemon", "role");
			brski_buf_printf(&errors,
			                 "%s:%u: role '%s' is not served by %s (roles: %s)\n", path,
			                 line, role, def->name, def->roles);
			r = VOUCHER_E_CONFIG;
		}
	}
	if (r == VOUCHER_OK && !svc_config_is_set(d.cfg, "brski", "listen") &&
	    !svc_config_is_set(d.cfg, "est", "listen") &&
	    !svc_config_is_set(d.cfg, "admin", "listen")) {
		brski_buf_printf(&errors,
		                 "%s: no listener: set 'listen' in [brski], [est] or [admin]\n",
		                 path);
		r = VOUCHER_E_CONFIG;
	}
	if (r == VOUCHER_OK)
		r = load_tls(def, d.cfg, creds, trust, &errors);
	if (r != VOUCHER_OK) {
		fputs(brski_buf_str(&errors), stderr);
		fprintf(stderr, "%s: configuration %s is not valid\n", def->name, path);
		status = EXIT_CONFIG;
		goto out;
	}
	if (check) {
		printf("%s: configuration %s is valid\n", def->name, path);
		status = 0;
		goto out;
	}
	svc_log_level_parse(svc_config_str(d.cfg, "daemon", "log_level"), &level);
	svc_log_set_level(level);

	/* Signals are taken by this thread alone, with sigwait: block them
	 * before any other thread exists so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	{
		/* [store] tuning (docs/CONFIG.md); the rest takes the defaults. */
		int64_t mib = svc_config_int(d.cfg, "store", "sqlite_mmap_mib");
		struct store_opts so = {.sqlite_mmap = (uint64_t)mib << 20,
		                        .sqlite_mmap_off = mib == 0};
		r = store_open_opts(svc_config_str(d.cfg, "daemon", "database"), &so, &d.store, err,
		                    sizeof(err));
	}
	if (r != VOUCHER_OK) {
		log_err_r(r, "failed to open the store: %s", err);
		goto out;
	}
	r = svc_metrics_new(&d.metrics);
	if (r != VOUCHER_OK)
		goto out;
	if (def->init && (r = def->init(&d, &d.app, err, sizeof(err))) != VOUCHER_OK) {
		log_err_r(r, "failed to start %s: %s", def->name, err);
		goto out;
	}
	r = svc_ratelimit_configure(d.cfg, err, sizeof(err));
	if (r != VOUCHER_OK) {
		log_err_r(r, "%s", err);
		goto out;
	}
	r = start_listeners(&d, creds, trust);
	if (r != VOUCHER_OK)
		goto out;
	free_tls(creds, trust);
	if (svc_config_str(d.cfg, "daemon", "user") &&
	    drop_privileges(svc_config_str(d.cfg, "daemon", "user")) != VOUCHER_OK)
		goto out;
	log_info("%s %s started (role %s, pid %ld)", def->name, PACKAGE_VERSION,
	         svc_config_str(d.cfg, "daemon", "role"), (long)getpid());

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: reloading certificates and keys");
			reload(&d);
			continue;
		}
		log_info("%s: draining and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	drain(&d);
	log_info("%s stopped", def->name);
	status = 0;
out:
	for (int i = 0; i < N_LISTENERS; i++)
		svc_http_stop(d.listeners[i]);
	if (def->fini && d.app)
		def->fini(&d, d.app);
	free_tls(creds, trust);
	svc_ratelimit_shutdown();
	svc_metrics_free(d.metrics);
	store_close(d.store);
	svc_config_free(d.cfg);
	brski_buf_free(&errors);
	return status;
}
