/* cloudregd: the cloud registrar (role cloud) or an owner's registrar
 * (role registrar). The daemon runner does the rest (service/daemon.h);
 * the registrar itself is cloudreg/libcreg.la (cloudreg/creg.h). */
#include <config.h>

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/creg.h"
#include "cloudreg/est.h"
#include "service/admin.h"
#include "service/daemon.h"
#include "service/http.h"
#include "service/log.h"

/* Pledges present IDevIDs (manufacturer CAs); enrollstatus and EST
 * re-enrollment also accept certificates from our own domain CA. */
static const struct svc_trust_src creg_trust[] = {
        {"brski", "registrar", "manufacturer_ca"},
        /* enrollstatus with the new LDevID (RFC 8995 5.9.4) */
        {"brski", "registrar", "domain_ca"},
        {"est", "registrar", "manufacturer_ca"},
        {"est", "registrar", "domain_ca"},
        {NULL, NULL, NULL},
};

static voucher_err creg_init(struct svc_daemon *d, void **app, char *err, size_t errlen)
{
	struct creg_keys *k = NULL;
	struct creg_app *a = NULL;
	voucher_err r;

	if ((r = creg_keys_load(svc_daemon_config(d), &k, err, errlen)) != VOUCHER_OK)
		return r;
	if ((r = creg_app_new(svc_daemon_store(d), svc_daemon_metrics(d), k, &a)) != VOUCHER_OK) {
		creg_keys_free(k);
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if ((r = creg_admin_table(&a->admin_table, &a->n_admin_table)) != VOUCHER_OK) {
		snprintf(err, errlen, "out of memory");
		creg_app_free(a);
		return r;
	}
	if ((r = svc_admin_bootstrap_daemon(d, err, errlen)) != VOUCHER_OK) {
		creg_app_free(a);
		return r;
	}
	/* MASA calls that outlive their 202 ([registrar] masa_pending). */
	if ((r = creg_pend_new(a, &a->pend)) != VOUCHER_OK) {
		snprintf(err, errlen, "out of memory");
		creg_app_free(a);
		return r;
	}
	/* The EST server and its enrollment workers, when a CA is configured. */
	if (svc_config_has_section(svc_daemon_config(d), "ca") &&
	    (r = creg_est_new(svc_daemon_config(d), svc_daemon_store(d), svc_daemon_metrics(d), -1,
	                      &a->est, err, errlen)) != VOUCHER_OK) {
		creg_pend_free(a->pend);
		creg_app_free(a);
		return r;
	}
	*app = a;
	return VOUCHER_OK;
}

/* A failed reload keeps the keys in use. */
static voucher_err creg_reload(struct svc_daemon *d, void *app, char *err, size_t errlen)
{
	struct creg_keys *k = NULL;
	voucher_err r;

	if ((r = creg_keys_load(svc_daemon_config(d), &k, err, errlen)) != VOUCHER_OK)
		return r;
	creg_app_set_keys(app, k);
	log_info("registrar: reloaded the registrar key, certificates and trust anchors");
	/* The EST server: a new CA backend and trust anchors; requests in
	 * flight finish with the old one, whose workers stop after it. */
	if (svc_config_has_section(svc_daemon_config(d), "ca")) {
		struct creg_est *est = NULL, *cur = creg_est_get(app);
		int slot = cur ? creg_enroll_metrics_slot(cur->enroll) : -1;
		creg_est_put(app, cur);
		if ((r = creg_est_new(svc_daemon_config(d), svc_daemon_store(d),
		                      svc_daemon_metrics(d), slot, &est, err, errlen)) !=
		    VOUCHER_OK)
			return r;
		creg_est_swap(app, est);
		log_info("est: reloaded the CA backend and the client trust anchors");
	}
	return VOUCHER_OK;
}

static void creg_fini(struct svc_daemon *d, void *app)
{
	struct creg_app *a = app;

	(void)d;
	/* The workers stop before the store goes away. */
	creg_est_free(a->est);
	a->est = NULL;
	/* MASA calls still running are cancelled; their threads end here,
	 * each freeing its libcurl handle. */
	creg_pend_free(a->pend);
	a->pend = NULL;
	creg_app_free(a);
}

int main(int argc, char **argv)
{
	struct svc_route admin_routes[SVC_ADMIN_N_ROUTES];
	struct svc_route *brski_routes = NULL, *est_routes = NULL;
	int rc;

	memcpy(admin_routes, svc_admin_routes, sizeof(admin_routes));
	for (size_t i = 0; i < SVC_ADMIN_N_ROUTES; i++)
		admin_routes[i].handler = creg_admin_handle;
	/* Every answer of a pledge-facing route, and every refusal of one by
	 * the HTTP layer, gets its row in the request log (cloudreg/reqlog.c). */
	if (creg_reqlog_routes(creg_brski_routes, creg_n_brski_routes, &brski_routes) !=
	            VOUCHER_OK ||
	    creg_reqlog_routes(creg_est_routes, creg_n_est_routes, &est_routes) != VOUCHER_OK) {
		fprintf(stderr, "cloudregd: out of memory\n");
		free(brski_routes);
		return 1;
	}
	svc_http_set_refusal_hook(creg_reqlog_refusal);
	struct svc_daemon_def cloudregd = {
	        .name = "cloudregd",
	        .description = "cloudregd: the BRSKI cloud registrar (role cloud) or an owner's "
	                       "registrar (role registrar).",
	        .default_role = "cloud",
	        .roles = "cloud|registrar",
	        .brski_routes = brski_routes,
	        .n_brski_routes = creg_n_brski_routes,
	        .est_routes = est_routes,
	        .n_est_routes = creg_n_est_routes,
	        .admin_routes = admin_routes,
	        .n_admin_routes = SVC_ADMIN_N_ROUTES,
	        .trust = creg_trust,
	        /* LDevIDs this registrar issued, from whichever CA (ACME). */
	        .brski_verifier = creg_ldevid_verifier,
	        .est_verifier = creg_ldevid_verifier,
	        .init = creg_init,
	        .reload = creg_reload,
	        .fini = creg_fini,
	};
	/* Before any thread exists (libcurl's rule). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "cloudregd: failed to initialise libcurl\n");
		rc = 1;
	} else {
		rc = svc_daemon_main(&cloudregd, argc, argv);
		curl_global_cleanup();
	}
	free(brski_routes);
	free(est_routes);
	return rc;
}
