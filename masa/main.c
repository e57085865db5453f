/* masad: the MASA. The daemon runner does the rest (service/daemon.h);
 * the MASA itself is masa/libmasa.la (masa/masa.h). */
#include <config.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "masa/masa.h"
#include "service/admin.h"
#include "service/daemon.h"
#include "service/log.h"

/* Registrars authenticate with TLS client certificates; the configured
 * cloud registrars are trusted here, owners' registrars through their
 * domain CAs in the store. */
static const struct svc_trust_src masa_trust[] = {
        {"brski", "masa", "cloud_registrar_cert"},
        {NULL, NULL, NULL},
};

static voucher_err masa_init(struct svc_daemon *d, void **app, char *err, size_t errlen)
{
	struct masa_keys *k = NULL;
	struct masa_app *a = NULL;
	struct voucher_error_info ei = {0};
	voucher_err r;

	/* A broken YANG installation fails the start, not every request. */
	if ((r = voucher_lib_init(&ei)) != VOUCHER_OK) {
		snprintf(err, errlen, "failed to load the voucher YANG modules (%s)",
		         ei.message[0] ? ei.message : voucher_strerror(r));
		return r;
	}
	if ((r = masa_keys_load(svc_daemon_config(d), &k, err, errlen)) != VOUCHER_OK)
		return r;
	if ((r = masa_app_new(svc_daemon_store(d), k, &a)) != VOUCHER_OK) {
		masa_keys_free(k);
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if ((r = masa_admin_table(&a->admin_table, &a->n_admin_table)) != VOUCHER_OK) {
		snprintf(err, errlen, "out of memory");
		masa_app_free(a);
		return r;
	}
	if ((r = svc_admin_bootstrap_daemon(d, err, errlen)) != VOUCHER_OK) {
		masa_app_free(a);
		return r;
	}
	svc_http_set_refusal_hook(masa_log_refusal);
	*app = a;
	return VOUCHER_OK;
}

/* A failed reload keeps the keys in use. */
static voucher_err masa_reload(struct svc_daemon *d, void *app, char *err, size_t errlen)
{
	struct masa_keys *k = NULL;
	voucher_err r;

	if ((r = masa_keys_load(svc_daemon_config(d), &k, err, errlen)) != VOUCHER_OK)
		return r;
	masa_app_set_keys(app, k);
	log_info("masa: reloaded the voucher-signing key and trust anchors");
	return VOUCHER_OK;
}

/* The MASA's caches for /metrics: owner validations, and the chain
 * validations of the manufacturer CAs (pledges' IDevIDs). */
static voucher_err masa_cache_metrics(void *app, struct brski_buf *out)
{
	struct masa_keys *k = masa_app_get_keys(app);
	struct voucher_trust_stats st = {0};
	uint64_t hits = 0, misses = 0;
	voucher_err r;

	masa_owner_cache_stats(&hits, &misses);
	r = svc_daemon_cache_metric(out, "masa_owner_validation", hits, misses);
	masa_pem_cache_stats(&hits, &misses);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "masa_pinned_pem", hits, misses);
	if (k)
		voucher_trust_stats(k->manufacturer, &st);
	if (r == VOUCHER_OK)
		r = svc_daemon_cache_metric(out, "manufacturer_chain", st.hits, st.misses);
	masa_app_put_keys(app, k);
	return r;
}

static void masa_fini(struct svc_daemon *d, void *app)
{
	(void)d;
	masa_app_free(app);
}

int main(int argc, char **argv)
{
	/* The framework's admin rows, dispatching to our table. */
	struct svc_route admin_routes[SVC_ADMIN_N_ROUTES];

	memcpy(admin_routes, svc_admin_routes, sizeof(admin_routes));
	for (size_t i = 0; i < SVC_ADMIN_N_ROUTES; i++)
		admin_routes[i].handler = masa_admin_handle;
	struct svc_daemon_def masad = {
	        .name = "masad",
	        .description = "masad: the BRSKI MASA (signs vouchers for registrars).",
	        .default_role = "masa",
	        .roles = "masa",
	        .brski_routes = masa_brski_routes,
	        .n_brski_routes = masa_n_brski_routes,
	        .admin_routes = admin_routes,
	        .n_admin_routes = SVC_ADMIN_N_ROUTES,
	        .trust = masa_trust,
	        .init = masa_init,
	        .reload = masa_reload,
	        .fini = masa_fini,
	        .cache_metrics = masa_cache_metrics,
	};
	return svc_daemon_main(&masad, argc, argv);
}
