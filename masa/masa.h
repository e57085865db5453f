/*
 * masad internals (masa/libmasa.la): the MASA's keys and trust anchors, the
 * checks on a registrar voucher-request, voucher issuance, the audit log
 * and the HTTP handlers. main.c only wires these into the daemon runner.
 *
 * Keys, certificates and configured trust anchors are loaded once at start
 * and again on SIGHUP (masa_app_reload), never per request. Owners' domain
 * CAs, pins, deny lists and CRLs come from the store on every request, so a
 * write by any instance is seen by the next request of every instance.
 */
#ifndef MASA_MASA_H
#define MASA_MASA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <voucher/sign.h>
#include <voucher/voucher.h>
#include <voucher/x509.h>

#include "service/route.h"
#include "service/store.h"

struct svc_config;

/* What [masa] configures, loaded from files; immutable once built and
 * shared by the requests that hold a reference. */
struct masa_keys {
	unsigned refs; /* guarded by masa_app.lock */
	struct voucher_signer *signer;
	struct voucher_trust *manufacturer;    /* IDevID issuing CAs */
	struct voucher_x509_chain *cloud_regs; /* trusted by certificate; NULL if none */
	uint8_t *enroll_here_ca;               /* DER, NULL if not configured */
	size_t enroll_here_ca_len;
	char *enroll_here_est_url; /* NULL if not configured */
	bool pin_registrar;        /* [masa] pinning = registrar */
	int64_t nonceless_lifetime;
};

struct masa_app {
	pthread_mutex_t lock;
	struct masa_keys *keys; /* current; replaced by masa_app_reload */
	struct store *store;    /* borrowed from the daemon */
	/* The admin API: the framework's routes and ours (masa_admin_table). */
	struct svc_admin_route *admin_table;
	size_t n_admin_table;
};

/* Load the [masa] keys of cfg. *out has one reference. */
voucher_err masa_keys_load(const struct svc_config *cfg, struct masa_keys **out, char *err,
                           size_t errlen);
/* Build keys from explicit files (tests; cloud_regs, enroll_here_ca and
 * est_url may be NULL). */
voucher_err masa_keys_load_files(const char *sign_key, const char *sign_cert,
                                 const char *manufacturer_ca, const char *cloud_regs,
                                 const char *enroll_here_ca, const char *enroll_here_est_url,
                                 struct masa_keys **out, char *err, size_t errlen);
void masa_keys_free(struct masa_keys *k);

/* app owns keys (one reference) from now on. */
voucher_err masa_app_new(struct store *store, struct masa_keys *keys, struct masa_app **out);
void masa_app_free(struct masa_app *app);
/* Swap in new keys; requests in flight finish with the old ones. */
void masa_app_set_keys(struct masa_app *app, struct masa_keys *keys);
/* A reference to the current keys; give it back with masa_app_put_keys. */
struct masa_keys *masa_app_get_keys(struct masa_app *app);
void masa_app_put_keys(struct masa_app *app, struct masa_keys *k);

/* ---- checks on a registrar voucher-request ----------------------------- */

/* Why a request was refused: the check that failed (the disposition stored
 * in the request log) and a sentence for the plain-text body. */
struct masa_fail {
	voucher_err err; /* its HTTP status comes from svc_http_status() */
	const char *check;
	char detail[320];
};

/* Sets f and returns err. */
voucher_err masa_fail_set(struct masa_fail *f, voucher_err err, const char *check, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

enum {
	/* requestauditlog: identify the device and the asking registrar,
	 * skip what only matters for issuing (mode, nonceless rules). */
	MASA_CHECK_AUDIT = 1 << 0,
};

/* A voucher-request that passed the checks, and what they found. */
struct masa_rvr {
	enum voucher_envelope env;        /* of the registrar's request */
	enum voucher_envelope pledge_env; /* of the pledge's request; NONE if nonceless */
	struct voucher_verified *verified;
	struct voucher_artifact *rvr;
	struct voucher_verified *pvr_verified;
	struct voucher_artifact *pvr;
	char *serial;
	uint8_t *idevid_issuer; /* from the IDevID (or the request when nonceless) */
	size_t idevid_issuer_len;
	const uint8_t *nonce; /* borrowed from pvr; NULL when nonceless */
	size_t nonce_len;
	enum voucher_assertion assertion;
	uint8_t signer_sha256[32];
	bool via_cloud;         /* signer is a configured cloud registrar */
	bool tls_authenticated; /* the TLS client certificate is the signer's */
	struct store_device device;
	struct store_owner owner;
};
void masa_rvr_clear(struct masa_rvr *r);

/* Input to the checks: the exact bytes received and the TLS peer. */
struct masa_input {
	enum voucher_envelope env;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *peer_cert; /* leaf DER of the TLS client, NULL if none */
	size_t peer_cert_len;
};

/* Run the checks of FACTS 1.7 in order, then ownership and revocation.
 * On success out holds everything found; on failure f says which check. */
voucher_err masa_check(const struct masa_keys *k, struct store *s, const struct masa_input *in,
                       unsigned flags, struct masa_rvr *out, struct masa_fail *f);
/* Counters of the cache of successful owner validations (check.c). */
void masa_owner_cache_stats(uint64_t *hits, uint64_t *misses);
/* Counters of the memo of pinned certificates read from PEM (issue.c). */
void masa_pem_cache_stats(uint64_t *hits, uint64_t *misses);

/* ---- the voucher ------------------------------------------------------- */

/* Everything a voucher may say. The signer builds the voucher from these
 * fields itself and never signs bytes it is given. */
struct masa_voucher_fields {
	const char *serial;
	const uint8_t *idevid_issuer; /* NULL: omitted */
	size_t idevid_issuer_len;
	const uint8_t *nonce; /* NULL: nonceless */
	size_t nonce_len;
	enum voucher_assertion assertion;
	const uint8_t *pinned_domain_cert; /* DER */
	size_t pinned_domain_cert_len;
	time_t created_on;
	time_t expires_on;                        /* 0: omitted */
	const char *est_domain;                   /* NULL: omitted */
	const char *additional_configuration_url; /* NULL: omitted */
};

/* Build, validate and sign a voucher in the given envelope. */
voucher_err masa_voucher_sign(const struct masa_keys *k, const struct masa_voucher_fields *v,
                              enum voucher_envelope env, uint8_t **out, size_t *out_len, char *err,
                              size_t errlen);

/* Decide pinned-domain-cert, est-domain and friends for a checked request
 * (policy of [masa] pinning and the device mode). Fills v (pointers borrow
 * from k and r; *pin_owned, when set, must be freed by the caller). */
voucher_err masa_voucher_policy(const struct masa_keys *k, const struct masa_rvr *r,
                                struct masa_voucher_fields *v, uint8_t **pin_owned,
                                struct masa_fail *f);

/* RFC 8995 domainID of a pinned certificate: base64 of its SKI, or of the
 * SHA-256 of its SPKI when it has none. *out is malloc'd. */
voucher_err masa_domain_id(const uint8_t *der, size_t len, char **out);

/* ---- media types ------------------------------------------------------- */

/* Choose the response envelope from an Accept header value (NULL: none).
 * want is what the pledge is known to process (NONE: anything we sign).
 * VOUCHER_E_CONTENT_TYPE (415) when Accept names nothing we know,
 * VOUCHER_E_NOT_ACCEPTABLE (406) when it names only types the pledge is
 * known not to process. */
voucher_err masa_accept(const char *accept, enum voucher_envelope want, enum voucher_envelope *out);

/* ---- audit log ----------------------------------------------------------- */

/* The RFC 8995 section 5.8.1 response for these events (oldest first):
 * per domainID only the newest nonced and the newest nonceless event
 * remain, the others are counted in "truncated" and in "truncation". */
voucher_err masa_auditlog_json(const struct store_audit *ev, size_t n, char **out, size_t *len);

/* ---- base64 (RFC 4648 section 4, padded) -------------------------------- */
char *masa_b64(const uint8_t *in, size_t len);
/* VOUCHER_E_BAD_BASE64 on anything but canonical padded base64. */
voucher_err masa_unb64(const char *in, uint8_t **out, size_t *out_len);

/* ---- HTTP ---------------------------------------------------------------- */

extern const struct svc_route masa_brski_routes[];
extern const size_t masa_n_brski_routes;
voucher_err masa_handle_requestvoucher(const struct svc_req *req, struct svc_resp *resp);
voucher_err masa_handle_requestauditlog(const struct svc_req *req, struct svc_resp *resp);
/* The HTTP layer's refusals (413, 429) of the voucher endpoints, into the
 * request log (svc_http_set_refusal_hook). */
void masa_log_refusal(const char *listener, const struct svc_req *req, unsigned status,
                      const char *disposition, const char *reason);

/* Check, sign, log and answer a registrar voucher-request. accept may be
 * NULL. On success resp holds the
 * voucher; on failure it holds the status and a plain-text reason. */
voucher_err masa_issue(struct masa_app *app, const struct masa_input *in, const char *accept,
                       const char *request_id, const char *peer, struct svc_resp *resp);

/* ---- admin API (masa/admin.c) --------------------------------------------- */

struct svc_admin_route;
/* The framework's table (service/admin.h) followed by the MASA's owners,
 * devices, logs and voucher routes; *out is malloc'd. */
voucher_err masa_admin_table(struct svc_admin_route **out, size_t *n);
/* svc_handler for every /admin/ method: serves app->admin_table. */
voucher_err masa_admin_handle(const struct svc_req *req, struct svc_resp *resp);

#endif
