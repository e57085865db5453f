/*
 * cloudregd internals (cloudreg/libcreg.la): the cloud registrar (role
 * cloud) and an owner's registrar (role registrar) on the daemon runner.
 * main.c only wires these into service/daemon.h.
 *
 * Keys, certificates and trust anchors are loaded once at start and again on
 * SIGHUP (creg_keys_load + creg_app_set_keys), never per request. Devices,
 * owners and modes come from the store on every request, so an admin write
 * by any instance is seen by the next pledge request of every instance.
 */
#ifndef CREG_CREG_H
#define CREG_CREG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/sign.h>
#include <voucher/voucher.h>

#include "common/buf.h"
#include "service/route.h"
#include "service/store.h"

struct svc_config;
struct svc_metrics;
struct svc_admin_route;
struct creg_est;

/* What [registrar] and [brski] configure, loaded from files; immutable once
 * built and shared by the requests that hold a reference. */
struct creg_keys {
	unsigned refs;                      /* guarded by creg_app.lock */
	bool cloud;                         /* [daemon] role = cloud (else an owner's registrar) */
	struct voucher_signer *signer;      /* [registrar] cert + key: signs RVRs */
	struct voucher_trust *manufacturer; /* IDevID issuing CAs: PVR signers */
	uint8_t *tls_cert;                  /* [brski] cert leaf, DER: what pledges pin */
	size_t tls_cert_len;                /* as proximity-registrar-cert */
	char *client_cert;                  /* [registrar] cert: TLS client cert to the MASA */
	char *client_key;                   /* [registrar] key (file or pkcs11: URI) */
	char *masa_trust;                   /* PEM bundle verifying MASA servers */
	char *masa_url;                     /* [registrar] masa_url override, NULL if unset */
	struct creg_mfrs *mfrs;             /* [registrar] manufacturers, NULL if unset */
	unsigned masa_timeout;              /* seconds the pledge's request waits for the MASA */
	unsigned masa_retries;
	unsigned retry_after;      /* seconds, sent with 401, 202 and 503 */
	unsigned max_inflight;     /* MASA requests at once */
	unsigned masa_pending;     /* seconds a call may outlive its 202; 0: no state */
	unsigned masa_pending_max; /* calls kept (running or answered) at once */
};

/* Load from cfg (role, [registrar], [brski] cert). *out has one reference. */
voucher_err creg_keys_load(const struct svc_config *cfg, struct creg_keys **out, char *err,
                           size_t errlen);
void creg_keys_free(struct creg_keys *k);

/* Outcomes of a MASA call, each a metric series (listener "masa-client"). */
enum creg_masa_outcome {
	CREG_MASA_ANSWERED = 0, /* the MASA answered (code = its status) */
	CREG_MASA_TLS,          /* TLS failed: the MASA's certificate did not verify, ... */
	CREG_MASA_UNREACHABLE,  /* no connection, or it broke */
	CREG_MASA_TIMEOUT,      /* no answer within [registrar] masa_timeout */
	CREG_MASA_OTHER,        /* anything else curl reports */
	CREG_MASA__COUNT
};

struct creg_app {
	pthread_mutex_t lock;
	struct creg_keys *keys;      /* current; replaced by creg_app_set_keys */
	struct store *store;         /* borrowed from the daemon */
	struct svc_metrics *metrics; /* borrowed; may be NULL (tests) */
	int masa_slot[CREG_MASA__COUNT];
	atomic_uint masa_inflight;
	pthread_key_t curl_key; /* one libcurl easy handle per request thread */
	/* MASA calls that outlive a 202 (cloudreg/pending.c); NULL: each call
	 * is made by the request thread and dropped at masa_timeout. */
	struct creg_pend *pend;
	atomic_bool masa_cancel; /* set at shutdown: calls in libcurl stop */
	/* The admin API: the framework's routes plus ours. */
	struct svc_admin_route *admin_table;
	size_t n_admin_table;
	/* The EST server (cloudreg/est.h); NULL when [ca] is not configured. */
	struct creg_est *est;
};

/* app owns keys (one reference) from now on; metrics may be NULL. */
voucher_err creg_app_new(struct store *store, struct svc_metrics *metrics, struct creg_keys *keys,
                         struct creg_app **out);
void creg_app_free(struct creg_app *app);
void creg_app_set_keys(struct creg_app *app, struct creg_keys *keys);
struct creg_keys *creg_app_get_keys(struct creg_app *app);
void creg_app_put_keys(struct creg_app *app, struct creg_keys *k);

/* ---- the pledge's voucher-request ---------------------------------------- */

/* A pledge voucher-request that passed the registrar's checks. */
struct creg_pvr {
	enum voucher_envelope env;
	struct voucher_verified *verified;
	struct voucher_artifact *pvr;
	char *serial;           /* from the TLS client certificate */
	uint8_t *idevid_issuer; /* AKI extnValue of the IDevID */
	size_t idevid_issuer_len;
	char *masa_url; /* from the IDevID's MASA URL extension; NULL if none */
	bool proximity;
	const struct creg_mfr *mfr; /* borrowed from the keys; NULL: none configured matches */
};
void creg_pvr_clear(struct creg_pvr *p);

/* Why a request was refused: the error gives the status through
 * svc_http_status (VOUCHER_E_UNAUTHENTICATED: 401 and close), text the
 * plain-text body. */
struct creg_fail {
	voucher_err err;
	char text[400];
};

/* Check a pledge voucher-request body against the TLS client certificate
 * (leaf DER): envelope and signature (the signer chains to the
 * manufacturer CAs and is the TLS client certificate), serial-number equal
 * to the certificate's, a nonce, and for assertion proximity a
 * proximity-registrar-cert equal to k->tls_cert. */
voucher_err creg_pvr_check(const struct creg_keys *k, enum voucher_envelope env,
                           const uint8_t *body, size_t len, const uint8_t *leaf, size_t leaf_len,
                           struct creg_pvr *out, struct creg_fail *f);

/* The registrar voucher-request for a checked pledge request, signed with
 * k->signer in the pledge's envelope. *out is malloc'd. */
voucher_err creg_rvr_build(const struct creg_keys *k, const struct creg_pvr *p, const uint8_t *body,
                           size_t len, uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* ---- the MASA client ------------------------------------------------------ */

#define CREG_MASA_MAX_RESPONSE (256 * 1024)

struct creg_masa_result {
	enum creg_masa_outcome outcome;
	long status;      /* the MASA's HTTP status (CREG_MASA_ANSWERED) */
	char ctype[128];  /* its Content-Type, "" if none */
	long retry_after; /* its Retry-After in seconds, 0 if none */
	struct brski_buf body;
	char error[320]; /* curl's message when not answered */
	unsigned attempts;
};
void creg_masa_result_init(struct creg_masa_result *r);
void creg_masa_result_free(struct creg_masa_result *r);

/* The requestvoucher URL for a MASA base URL (".../.well-known/brski", or
 * a URL already naming requestvoucher). *out is malloc'd. */
voucher_err creg_masa_endpoint(const char *base, char **out);

/* POST body to url with the registrar's TLS client certificate, verifying
 * the MASA against k->masa_trust, reusing this thread's connection; retries
 * (up to k->masa_retries) on broken connections and 502/503/504 within one
 * masa_timeout. Counted in app->metrics. Returns VOUCHER_OK when the MASA
 * answered (any status), else VOUCHER_E_NETWORK / VOUCHER_ETIMEDOUT. */
voucher_err creg_masa_post(struct creg_app *app, const struct creg_keys *k, const char *url,
                           const char *ctype, const char *accept, const uint8_t *body, size_t len,
                           struct creg_masa_result *res);

/* creg_masa_post with the MASA's TLS anchors trust (a PEM file) and a
 * deadline of timeout_s seconds for all attempts. Stops early when
 * app->masa_cancel is set (VOUCHER_E_NETWORK, outcome CREG_MASA_OTHER). */
voucher_err creg_masa_post_to(struct creg_app *app, const struct creg_keys *k, const char *url,
                              const char *trust, unsigned timeout_s, const char *ctype,
                              const char *accept, const uint8_t *body, size_t len,
                              struct creg_masa_result *res);

/* ---- per-manufacturer MASA settings (cloudreg/mfr.c) ----------------------- */

/* The [registrar] manufacturers file: one INI section per manufacturer with
 * ca (PEM, required; each certificate also in bundle_path, the [registrar]
 * manufacturer_ca), masa_url and masa_trust (both optional). Relative
 * paths are relative to the file. *out is new; err says file:line. */
struct creg_mfrs;
struct creg_mfr;
voucher_err creg_mfrs_load(const char *path, const char *bundle_path, struct creg_mfrs **out,
                           char *err, size_t errlen);
void creg_mfrs_free(struct creg_mfrs *ms);
/* The first manufacturer whose ca verifies the pledge's carried chain
 * (its IDevID first, DER); NULL when none does or ms is NULL. Borrowed. */
const struct creg_mfr *creg_mfrs_select(const struct creg_mfrs *ms, uint8_t *const *chain,
                                        const size_t *chain_len, size_t n);
const char *creg_mfr_name(const struct creg_mfr *m);
const char *creg_mfr_masa_url(const struct creg_mfr *m);   /* NULL if not set */
const char *creg_mfr_masa_trust(const struct creg_mfr *m); /* NULL if not set */

/* ---- MASA calls that outlive a 202 (cloudreg/pending.c) ------------------ */

struct creg_pend;
struct creg_pending; /* one MASA call, reference counted */
voucher_err creg_pend_new(struct creg_app *app, struct creg_pend **out);
/* Stops the workers (calls in libcurl are cancelled) and frees every call;
 * no request may be using it any more. */
void creg_pend_free(struct creg_pend *pd);
/* The call of this pledge voucher-request (hash: its SHA-256 as sent; serial:
 * of the TLS client certificate). VOUCHER_OK with a reference in *out, or
 * VOUCHER_E_NOT_FOUND. Answers older than masa_pending are dropped first. */
voucher_err creg_pend_find(struct creg_app *app, const uint8_t hash[32], const char *serial,
                           struct creg_pending **out);
/* Start the call (or join the same one started meanwhile), replacing an
 * older call of the same serial. Takes *rvr (set to NULL). VOUCHER_EAGAIN
 * when masa_max_inflight calls are running or masa_pending_max are kept. */
voucher_err creg_pend_start(struct creg_app *app, struct creg_keys *k, const uint8_t hash[32],
                            const char *serial, const char *url, const char *trust,
                            const char *ctype, const char *accept, uint8_t **rvr, size_t rvr_len,
                            struct creg_pending **out);
/* Wait up to timeout_s for the answer; true when it came (the call then
 * leaves the table: the next request with this body asks the MASA again). */
bool creg_pend_wait(struct creg_app *app, struct creg_pending *c, unsigned timeout_s);
/* After creg_pend_wait returned true: what creg_masa_post_to returned, its
 * result and the URL asked; valid while the reference is held. */
voucher_err creg_pend_outcome(const struct creg_pending *c, const struct creg_masa_result **res,
                              const char **url);
void creg_pend_put(struct creg_app *app, struct creg_pending *c);

/* ---- telemetry and small pure helpers ------------------------------------ */

/* Validate a voucher_status / enrollstatus body (FACTS 1.10): a JSON object
 * with version (integer >= 0), status (boolean), optional reason (string)
 * and reason-context (object), nothing else, no duplicate members. On
 * success *status and *reason (malloc'd or NULL) and *version are set. */
voucher_err creg_telemetry_parse(const uint8_t *body, size_t len, int64_t *version, bool *status,
                                 char **reason, char *err, size_t errlen);

/* The absolute requestvoucher URI of an owner registrar URL: an origin or
 * "/" gets /.well-known/brski/requestvoucher; a path is kept. Only https.
 * *out is malloc'd. VOUCHER_EINVAL for anything else. */
voucher_err creg_redirect_location(const char *registrar_url, char **out);

/* Standard padded base64 (the form masad keys idevid_issuer with). */
char *creg_b64(const uint8_t *in, size_t len);

/* ---- HTTP ---------------------------------------------------------------- */

extern const struct svc_route creg_brski_routes[];
extern const size_t creg_n_brski_routes;
extern const struct svc_route creg_est_routes[];
extern const size_t creg_n_est_routes;

voucher_err creg_handle_requestvoucher(const struct svc_req *req, struct svc_resp *resp);
voucher_err creg_handle_telemetry(const struct svc_req *req, struct svc_resp *resp);
voucher_err creg_handle_est(const struct svc_req *req, struct svc_resp *resp);

/* ---- the request log (cloudreg/reqlog.c) ---------------------------------- */

/* A copy of a route table (*out malloc'd) whose handlers are all
 * creg_reqlog_handle: each answer of a pledge-facing route gets its row in
 * the store's pledge_requests table. */
voucher_err creg_reqlog_routes(const struct svc_route *in, size_t n, struct svc_route **out);
/* The svc_handler of those copies: runs the route of creg_brski_routes or
 * creg_est_routes with the request's method and path, then logs. */
voucher_err creg_reqlog_handle(const struct svc_req *req, struct svc_resp *resp);
/* The HTTP layer's refusal hook (svc_http_set_refusal_hook): the row of a
 * request refused before its handler ran (listeners brski and est). */
void creg_reqlog_refusal(const char *listener, const struct svc_req *req, unsigned status,
                         const char *disposition, const char *reason);
/* "accepted", "pending" (202), "redirected" (3xx), or the failed check
 * named after the handler's error (e.g. "media-type", "malformed",
 * "expired", "not-found"). */
const char *creg_reqlog_disposition(voucher_err r, unsigned status);

/* ---- LDevIDs this registrar issued (cloudreg/keys.c) ----------------------- */

/* Who a TLS client certificate is, when this registrar issued it: the
 * store's record of every certificate an enrollment job produced (the
 * certificates table, by the SHA-256 of the certificate's DER) gives the
 * device serial it was issued to. The record, not the certificate's
 * contents, is what identifies the device: an ACME CA (Pebble, Let's
 * Encrypt) drops the subject and its serialNumber, and a SAN
 * "<serial>.<subdomain>" is only what the CSR asked for. Matching the
 * exact DER of a certificate the CA gave us cannot be forged: the TLS
 * handshake proved possession of its key.
 * VOUCHER_OK with *serial (malloc'd) while the certificate is valid (its
 * notAfter has not passed); VOUCHER_E_NOT_FOUND when this registrar did not
 * issue it (or it expired); VOUCHER_E_STORE (err says why) when the store
 * fails. */
voucher_err creg_ldevid_lookup(struct store *store, const uint8_t *der, size_t len, char **serial,
                               char *err, size_t errlen);

/* svc_peer_verifier of the brski and est listeners (ctx: struct creg_app):
 * accepts a client chain whose leaf is an LDevID this registrar issued
 * (creg_ldevid_lookup), whichever CA issued it. This is how certificates
 * from the ACME CA authenticate enrollstatus and simplereenroll: the
 * listener trusts what the ACME CA issued to us, not everything the CA
 * issues (a public ACME CA certifies anyone's names). */
voucher_err creg_ldevid_verifier(void *ctx, const struct svc_der *chain, size_t n, char *reason,
                                 size_t reason_len);

/* The framework's admin table, the shared owners/devices rows
 * (svc_admin_owner_routes), then ours (telemetry); *out malloc'd. */
voucher_err creg_admin_table(struct svc_admin_route **out, size_t *n);
/* svc_handler for every /admin/ method: serves app->admin_table. */
voucher_err creg_admin_handle(const struct svc_req *req, struct svc_resp *resp);

#endif
