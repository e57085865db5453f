/* The pledge-facing endpoints of cloudregd: requestvoucher (cloud
 * registrar decision logic, cloud-20 section 3.2, or an owner's registrar),
 * voucher_status and enrollstatus; EST is handed to cloudreg/est.c. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "cloudreg/creg.h"
#include "cloudreg/est.h"
#include "common/str.h"
#include "service/log.h"

static voucher_err retry_after(struct svc_resp *resp, unsigned seconds)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", seconds);
	return svc_resp_header(resp, "Retry-After", v);
}

static voucher_err answer(struct svc_resp *resp, voucher_err err, const char *text)
{
	svc_resp_free(resp);
	svc_resp_init(resp);
	return svc_resp_text(resp, svc_http_status(err), "%s", text);
}

/* 202: the MASA has not answered in time (RFC 8995 section 5.6: the pledge
 * sends the same request again). */
static voucher_err answer_not_yet(struct svc_resp *resp, unsigned retry_after_s)
{
	voucher_err e;

	svc_resp_free(resp);
	svc_resp_init(resp);
	e = svc_resp_text(resp, 202,
	                  "the MASA has not answered yet; send the same request again after "
	                  "Retry-After");
	return e == VOUCHER_OK ? retry_after(resp, retry_after_s) : e;
}

/* A peer's error text, bounded and printable, for our plain-text body. */
static void shown_as_sent(const struct brski_buf *b, char *out, size_t outlen)
{
	const uint8_t *p = b->data;
	size_t n = b->len, o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : (p[i] == '\n' ? ' ' : '?');
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Answer the pledge with what the MASA said: e is what creg_masa_post
 * returned for url, res its result. */
static voucher_err masa_answer(const struct creg_keys *k, const struct svc_req *req,
                               const struct creg_pvr *p, const char *url, voucher_err e,
                               const struct creg_masa_result *res, struct svc_resp *resp)
{
	uint8_t *stripped = NULL;
	size_t stripped_len = 0;
	char err[400] = "", sent[300];
	enum voucher_envelope got;

	if (e == VOUCHER_ETIMEDOUT) {
		/* RFC 8995 section 5.6: the pledge retries the same request. */
		log_warn("masa: no answer from %s in time (serial %s, request %s)", url, p->serial,
		         req->request_id);
		e = answer_not_yet(resp, k->retry_after);
		goto out;
	}
	if (e != VOUCHER_OK) {
		log_err("masa: failed to reach %s (%s) after %u attempt(s) (serial %s, request %s)",
		        url, res->error, res->attempts, p->serial, req->request_id);
		snprintf(err, sizeof(err), "failed to reach the MASA: %s", res->error);
		answer(resp, VOUCHER_E_NETWORK, err);
		e = VOUCHER_E_NETWORK;
		goto out;
	}
	shown_as_sent(&res->body, sent, sizeof(sent));
	if (res->status != 200) {
		log_warn("masa reported %ld: %s (serial %s, request %s)", res->status, sent,
		         p->serial, req->request_id);
		svc_resp_free(resp);
		svc_resp_init(resp);
		/* The MASA's refusals about the pledge reach the pledge as
		 * they were (RFC 8995 section 5.6); a MASA that refuses us
		 * (401) or fails is our failure toward the pledge: 502. */
		if (res->status >= 400 && res->status < 500 && res->status != 401 &&
		    res->status != 407 && res->status != 429)
			e = svc_resp_text(resp, (unsigned)res->status, "masa reported: %s", sent);
		else
			e = svc_resp_text(resp, 502, "masa reported %ld: %s", res->status, sent);
		if (res->status == 401)
			log_err("masa: %s refused this registrar's credentials (401); check "
			        "[registrar] cert and the MASA's ownership records",
			        url);
		if (e == VOUCHER_OK && res->status == 503 && res->retry_after > 0)
			e = retry_after(resp, (unsigned)res->retry_after);
		if (e == VOUCHER_OK)
			e = VOUCHER_E_PEER;
		goto out;
	}
	got = voucher_envelope_from_media_type(res->ctype);
	if (got == VOUCHER_ENV_NONE) {
		log_err("masa: %s answered 200 with Content-Type '%s', not a voucher type", url,
		        res->ctype);
		answer(resp, VOUCHER_E_PEER,
		       "the MASA answered with something that is not a voucher");
		e = VOUCHER_E_PEER;
		goto out;
	}
	if (got == VOUCHER_ENV_COSE) {
		/* cBRSKI: the pledge needs no MASA chain in the voucher. */
		e = voucher_cose_strip_unprotected_certs(res->body.data, res->body.len, &stripped,
		                                         &stripped_len);
		if (e != VOUCHER_OK) {
			answer(resp, VOUCHER_E_PEER, "the MASA's COSE voucher does not parse");
			e = VOUCHER_E_PEER;
			goto out;
		}
		e = svc_resp_set(resp, 200, voucher_envelope_media_type(got), stripped,
		                 stripped_len);
	} else {
		e = svc_resp_set(resp, 200, voucher_envelope_media_type(got), res->body.data,
		                 res->body.len);
	}
	if (e == VOUCHER_OK)
		log_info("voucher for serial %s from %s (%s, %u attempt(s), request %s)", p->serial,
		         url, voucher_envelope_media_type(got), res->attempts, req->request_id);
out:
	free(stripped);
	return e;
}

/* The SHA-256 of the pledge's voucher-request as sent: its retry sends
 * the same bytes (RFC 8995 section 5.6), a new nonce makes other bytes. */
static voucher_err body_hash(const struct svc_req *req, uint8_t out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, req->body, req->body_len, out) < 0
	               ? VOUCHER_E_CRYPTO
	               : VOUCHER_OK;
}

/* Through cloudreg/pending.c: the MASA call runs on a worker and outlives
 * the 202 the pledge gets when it is slow; the pledge's retry of the same
 * request picks up its answer (or waits for it again). */
static voucher_err via_pending(struct creg_app *app, struct creg_keys *k, const struct svc_req *req,
                               const struct creg_pvr *p, const char *url, const char *trust,
                               struct svc_resp *resp)
{
	struct creg_pending *c = NULL;
	const struct creg_masa_result *res = NULL;
	const char *accept = svc_req_header(req, "Accept"), *asked = NULL;
	uint8_t hash[32], *rvr = NULL;
	size_t rvr_len = 0;
	char err[400] = "";
	voucher_err e;

	if ((e = body_hash(req, hash)) != VOUCHER_OK) {
		answer(resp, e, "failed to hash the voucher-request");
		return e;
	}
	e = creg_pend_find(app, hash, p->serial, &c);
	if (e == VOUCHER_OK) {
		log_info("pledge %s: retry of a voucher-request already sent to the MASA "
		         "(request %s)",
		         p->serial, req->request_id);
	} else {
		if ((e = creg_rvr_build(k, p, req->body, req->body_len, &rvr, &rvr_len, err,
		                        sizeof(err))) != VOUCHER_OK) {
			log_err_r(e, "%s (serial %s, request %s)", err, p->serial, req->request_id);
			answer(resp, VOUCHER_E_CRYPTO,
			       "failed to build the registrar voucher-request");
			goto out;
		}
		e = creg_pend_start(
		        app, k, hash, p->serial, url, trust, voucher_envelope_media_type(p->env),
		        accept && *accept ? accept : voucher_envelope_media_type(p->env), &rvr,
		        rvr_len, &c);
		if (e == VOUCHER_EAGAIN) {
			answer(resp, VOUCHER_EAGAIN,
			       "too many voucher requests in progress; retry later");
			retry_after(resp, k->retry_after);
			goto out;
		}
		if (e != VOUCHER_OK) {
			log_err_r(e, "failed to queue the MASA call (serial %s, request %s)",
			          p->serial, req->request_id);
			answer(resp, e, "failed to queue the voucher request");
			goto out;
		}
	}
	if (!creg_pend_wait(app, c, k->masa_timeout)) {
		/* RFC 8995 section 5.6: the pledge retries the same request;
		 * the call goes on meanwhile. */
		log_info("masa: no answer from %s within %u s; 202 to serial %s, the call goes "
		         "on (request %s)",
		         url, k->masa_timeout, p->serial, req->request_id);
		e = answer_not_yet(resp, k->retry_after);
		goto out;
	}
	e = creg_pend_outcome(c, &res, &asked);
	if (e == VOUCHER_EAGAIN) {
		answer(resp, VOUCHER_EAGAIN,
		       "a newer voucher-request of this pledge replaced this one; retry later");
		retry_after(resp, k->retry_after);
		goto out;
	}
	e = masa_answer(k, req, p, asked, e, res, resp);
out:
	free(rvr);
	creg_pend_put(app, c);
	return e;
}

/* Ask the MASA and answer the pledge with what it said. The MASA is the
 * pledge manufacturer's masa_url, else [registrar] masa_url, else the
 * IDevID's MASA URL extension; its TLS anchors the manufacturer's
 * masa_trust, else [registrar] masa_trust. */
static voucher_err via_masa(struct creg_app *app, struct creg_keys *k, const struct svc_req *req,
                            const struct creg_pvr *p, struct svc_resp *resp)
{
	struct creg_masa_result res;
	uint8_t *rvr = NULL;
	size_t rvr_len = 0;
	char *url = NULL, err[400] = "";
	const char *base = creg_mfr_masa_url(p->mfr);
	const char *trust = creg_mfr_masa_trust(p->mfr);
	const char *accept = svc_req_header(req, "Accept");
	unsigned inflight;
	voucher_err e;

	if (!base)
		base = k->masa_url ? k->masa_url : p->masa_url;
	if (!trust)
		trust = k->masa_trust;
	creg_masa_result_init(&res);
	if (!base) {
		e = answer(resp, VOUCHER_E_FORBIDDEN,
		           "the IDevID names no MASA (no MASA URL extension) and no [registrar] "
		           "masa_url is configured");
		e = VOUCHER_E_FORBIDDEN;
		goto out;
	}
	if ((e = creg_masa_endpoint(base, &url)) != VOUCHER_OK) {
		answer(resp, VOUCHER_E_FORBIDDEN, "the MASA URL is not an https URL");
		e = VOUCHER_E_FORBIDDEN;
		goto out;
	}
	if (p->mfr)
		log_debug("pledge %s: manufacturer %s, MASA %s (request %s)", p->serial,
		          creg_mfr_name(p->mfr), url, req->request_id);
	if (app->pend && k->masa_pending > 0) {
		e = via_pending(app, k, req, p, url, trust, resp);
		goto out;
	}
	if ((e = creg_rvr_build(k, p, req->body, req->body_len, &rvr, &rvr_len, err,
	                        sizeof(err))) != VOUCHER_OK) {
		log_err_r(e, "%s (serial %s, request %s)", err, p->serial, req->request_id);
		answer(resp, VOUCHER_E_CRYPTO, "failed to build the registrar voucher-request");
		goto out;
	}
	/* Overload: each MASA call holds a request thread for up to
	 * masa_timeout; past the bound the pledge comes back later. */
	inflight = atomic_fetch_add(&app->masa_inflight, 1);
	if (inflight >= k->max_inflight) {
		atomic_fetch_sub(&app->masa_inflight, 1);
		answer(resp, VOUCHER_EAGAIN, "too many voucher requests in progress; retry later");
		retry_after(resp, k->retry_after);
		e = VOUCHER_EAGAIN;
		goto out;
	}
	/* Without masa_pending the call ends with the pledge's request. */
	e = creg_masa_post_to(app, k, url, trust, k->masa_timeout,
	                      voucher_envelope_media_type(p->env),
	                      accept && *accept ? accept : voucher_envelope_media_type(p->env), rvr,
	                      rvr_len, &res);
	atomic_fetch_sub(&app->masa_inflight, 1);
	e = masa_answer(k, req, p, url, e, &res, resp);
out:
	free(url);
	free(rvr);
	creg_masa_result_free(&res);
	return e;
}

/* The cloud registrar's decision (cloud-20 section 3.2) for a checked
 * request. */
static voucher_err cloud_decide(struct creg_app *app, struct creg_keys *k,
                                const struct svc_req *req, const struct creg_pvr *p,
                                struct svc_resp *resp)
{
	struct store_device dev = {0};
	struct store_owner own = {0};
	char serr[STORE_ERRLEN] = "", *issuer = NULL, *loc = NULL, text[400];
	voucher_err e;

	if (!(issuer = creg_b64(p->idevid_issuer, p->idevid_issuer_len)))
		return VOUCHER_ENOMEM;
	e = store_device_get(app->store, p->serial, issuer, &dev, serr, sizeof(serr));
	free(issuer);
	if (e == VOUCHER_E_NOT_FOUND) {
		log_info("pledge %s: unknown device (request %s)", p->serial, req->request_id);
		snprintf(text, sizeof(text), "device '%.64s' is unknown to this cloud registrar",
		         p->serial);
		answer(resp, e, text);
		return e;
	}
	if (e != VOUCHER_OK) {
		log_err_r(e, "failed to look up device %s (%s)", p->serial, serr);
		answer(resp, VOUCHER_E_STORE, "the device database is unavailable; retry later");
		retry_after(resp, k->retry_after);
		return VOUCHER_E_STORE;
	}
	if (!dev.owner) {
		log_info("pledge %s: no owner assigned yet (request %s)", p->serial,
		         req->request_id);
		snprintf(text, sizeof(text),
		         "device '%.64s' has no owner assigned yet; retry after Retry-After",
		         p->serial);
		answer(resp, VOUCHER_E_UNAUTHENTICATED, text);
		retry_after(resp, k->retry_after);
		e = VOUCHER_E_UNAUTHENTICATED;
		goto out;
	}
	if ((e = store_owner_get(app->store, dev.owner, &own, serr, sizeof(serr))) != VOUCHER_OK) {
		log_err_r(e, "failed to read owner %s of device %s (%s)", dev.owner, p->serial,
		          serr);
		answer(resp, VOUCHER_E_STORE, "the owner database is unavailable; retry later");
		retry_after(resp, k->retry_after);
		e = VOUCHER_E_STORE;
		goto out;
	}
	switch (dev.mode) {
	case STORE_MODE_REDIRECT:
		if (creg_redirect_location(own.registrar_url, &loc) != VOUCHER_OK) {
			/* cloud-20 3.2: a registrar that cannot handle the
			 * device answers 404, never a guess. */
			snprintf(text, sizeof(text),
			         "device '%.64s' is in redirect mode but owner '%.64s' has no "
			         "usable "
			         "registrar_url",
			         p->serial, own.name);
			log_warn("pledge %s: %s (request %s)", p->serial, text, req->request_id);
			answer(resp, VOUCHER_E_NOT_FOUND, text);
			e = VOUCHER_E_NOT_FOUND;
			goto out;
		}
		svc_resp_free(resp);
		svc_resp_init(resp);
		e = svc_resp_text(resp, 307, "redirect to the owner registrar %s", loc);
		if (e == VOUCHER_OK)
			e = svc_resp_header(resp, "Location", loc);
		log_info("pledge %s: 307 to %s (owner %s, request %s)", p->serial, loc, own.name,
		         req->request_id);
		goto out;
	case STORE_MODE_ENROLL_HERE:
		if (!own.enroll_here) {
			snprintf(text, sizeof(text),
			         "device '%.64s' is in enroll-here mode but owner '%.64s' does not "
			         "allow it (enroll_here is off)",
			         p->serial, own.name);
			answer(resp, VOUCHER_E_FORBIDDEN, text);
			e = VOUCHER_E_FORBIDDEN;
			goto out;
		}
		/* The MASA pins our domain CA for this mode. */
		e = via_masa(app, k, req, p, resp);
		goto out;
	case STORE_MODE_EST_DOMAIN:
	default:
		e = via_masa(app, k, req, p, resp);
		goto out;
	}
out:
	free(loc);
	store_owner_clear(&own);
	store_device_clear(&dev);
	return e;
}

voucher_err creg_handle_requestvoucher(const struct svc_req *req, struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	struct creg_keys *k = creg_app_get_keys(app);
	const char *ct = svc_req_header(req, "Content-Type");
	enum voucher_envelope env = ct ? voucher_envelope_from_media_type(ct) : VOUCHER_ENV_NONE;
	struct creg_pvr p = {0};
	struct creg_fail f = {0};
	char text[300];
	voucher_err e;

	if (!k) {
		e = answer(resp, VOUCHER_E_CONFIG, "no registrar keys loaded");
		return VOUCHER_E_CONFIG;
	}
	if (env == VOUCHER_ENV_NONE) {
		snprintf(text, sizeof(text),
		         "Content-Type '%.100s' is not a voucher-request type "
		         "(application/voucher-cms+json, application/voucher+cose, "
		         "application/voucher-jws+json)",
		         ct ? ct : "");
		answer(resp, VOUCHER_E_CONTENT_TYPE, text);
		e = VOUCHER_E_CONTENT_TYPE;
		goto out;
	}
	e = creg_pvr_check(k, env, req->body, req->body_len,
	                   req->peer_chain_len ? req->peer_chain[0].data : NULL,
	                   req->peer_chain_len ? req->peer_chain[0].len : 0, &p, &f);
	if (e != VOUCHER_OK) {
		log_info("pledge voucher-request refused: %s (%s, request %s)", f.text,
		         p.serial ? p.serial : "no serial", req->request_id);
		answer(resp, f.err, f.text);
		/* RFC 8995 section 5.3: 401 and close on a proximity mismatch. */
		if (f.err == VOUCHER_E_UNAUTHENTICATED)
			svc_resp_header(resp, "Connection", "close");
		e = f.err;
		goto out;
	}
	if (k->cloud)
		e = cloud_decide(app, k, req, &p, resp);
	else
		e = via_masa(app, k, req, &p, resp);
out:
	creg_pvr_clear(&p);
	creg_app_put_keys(app, k);
	return e;
}

voucher_err creg_handle_telemetry(const struct svc_req *req, struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	const char *ct = svc_req_header(req, "Content-Type");
	bool enroll = strstr(req->path, "enrollstatus") != NULL;
	struct store_telemetry t = {0};
	char err[STORE_ERRLEN + 64] = "", *serial = NULL, *reason = NULL, *json = NULL;
	int64_t version = 0;
	bool status = false;
	voucher_err e;

	if (!ct || !brski_str_startswith(ct, "application/json")) {
		snprintf(err, sizeof(err), "Content-Type '%.100s' is not application/json",
		         ct ? ct : "");
		answer(resp, VOUCHER_E_CONTENT_TYPE, err);
		return VOUCHER_E_CONTENT_TYPE;
	}
	if (!req->peer_chain_len) {
		answer(resp, VOUCHER_E_FORBIDDEN, "no client certificate");
		return VOUCHER_E_FORBIDDEN;
	}
	/* Who reports: first the registrar's own record of the certificates
	 * it issued (creg_ldevid_lookup: the LDevID of an enrollstatus, which
	 * from an ACME CA has no serialNumber and cannot be forged by one that
	 * names the device), else the subject serialNumber of an IDevID (a
	 * voucher_status) or of a certificate from [registrar] domain_ca. */
	e = creg_ldevid_lookup(app->store, req->peer_chain[0].data, req->peer_chain[0].len, &serial,
	                       err, sizeof(err));
	if (e != VOUCHER_OK && e != VOUCHER_E_NOT_FOUND) {
		log_err_r(e, "%s (request %s)", err, req->request_id);
		answer(resp, VOUCHER_E_STORE,
		       "the registrar's database is unavailable; retry later");
		return VOUCHER_E_STORE;
	}
	if (e == VOUCHER_E_NOT_FOUND &&
	    voucher_x509_serial_number(req->peer_chain[0].data, req->peer_chain[0].len, &serial) !=
	            VOUCHER_OK) {
		answer(resp, VOUCHER_E_FORBIDDEN,
		       "the client certificate is not one this registrar issued and carries no "
		       "subject serialNumber (an IDevID's): the device is unknown");
		return VOUCHER_E_FORBIDDEN;
	}
	err[0] = '\0';
	e = creg_telemetry_parse(req->body, req->body_len, &version, &status, &reason, err,
	                         sizeof(err));
	if (e != VOUCHER_OK) {
		char text[sizeof(err) + 32];
		snprintf(text, sizeof(text), "bad %s: %s",
		         enroll ? "enrollstatus" : "voucher_status", err);
		answer(resp, e == VOUCHER_ENOMEM ? e : VOUCHER_E_MALFORMED, text);
		goto out;
	}
	if (version > 1)
		log_warn("pledge %s sent %s version %lld (this registrar knows version 1)", serial,
		         enroll ? "enrollstatus" : "voucher_status", (long long)version);
	if (!(json = malloc(req->body_len + 1))) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	memcpy(json, req->body, req->body_len);
	json[req->body_len] = '\0';
	t.serial = serial;
	t.kind = enroll ? STORE_TELEMETRY_ENROLL_STATUS : STORE_TELEMETRY_VOUCHER_STATUS;
	t.status = status;
	t.reason = reason;
	t.body = json;
	if ((e = store_telemetry_add(app->store, &t, err, sizeof(err))) != VOUCHER_OK) {
		log_err_r(e, "failed to store telemetry of %s (%s)", serial, err);
		answer(resp, VOUCHER_E_STORE, "failed to record the status; send it again later");
		goto out;
	}
	log_info("pledge %s: %s %s%s%s (request %s)", serial,
	         enroll ? "enrollstatus" : "voucher_status", status ? "success" : "failure",
	         reason ? ": " : "", reason ? reason : "", req->request_id);
	e = svc_resp_text(resp, 200, "recorded");
out:
	free(serial);
	free(reason);
	free(json);
	return e;
}

/* EST lives in cloudreg/est.c. Without [ca] there is no EST server: the
 * cloud registrar then answers 404 as cloud-20 section 2.2 asks of it for
 * every device, an owner's registrar 501. */
voucher_err creg_handle_est(const struct svc_req *req, struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	struct creg_keys *k;
	voucher_err e;

	if (app->est)
		return creg_est_handle(req, resp);
	k = creg_app_get_keys(app);
	if (k && k->cloud) {
		answer(resp, VOUCHER_E_NOT_FOUND,
		       "this cloud registrar is not an EST server for this device (cloud-20 "
		       "section 2.2)");
		e = VOUCHER_E_NOT_FOUND;
	} else {
		answer(resp, VOUCHER_ENOTSUP, "EST is not configured here ([ca] is missing)");
		e = VOUCHER_ENOTSUP;
	}
	creg_app_put_keys(app, k);
	return e;
}

const struct svc_route creg_brski_routes[] = {
        {"POST", "/.well-known/brski/requestvoucher", SVC_ROUTE_BODY | SVC_ROUTE_CLIENT_CERT,
         creg_handle_requestvoucher},
        {"POST", "/.well-known/brski/voucher_status", SVC_ROUTE_BODY | SVC_ROUTE_CLIENT_CERT,
         creg_handle_telemetry},
        {"POST", "/.well-known/brski/enrollstatus", SVC_ROUTE_BODY | SVC_ROUTE_CLIENT_CERT,
         creg_handle_telemetry},
        /* A BRSKI registrar is the pledge's EST server on the same port
         * (RFC 8995 5.9); the cloud role answers 404 there. */
        {"GET", "/.well-known/est/", SVC_ROUTE_PREFIX, creg_handle_est},
        {"POST", "/.well-known/est/", SVC_ROUTE_PREFIX | SVC_ROUTE_BODY, creg_handle_est},
};
const size_t creg_n_brski_routes = sizeof(creg_brski_routes) / sizeof(creg_brski_routes[0]);

const struct svc_route creg_est_routes[] = {
        {"GET", "/.well-known/est/", SVC_ROUTE_PREFIX, creg_handle_est},
        {"POST", "/.well-known/est/", SVC_ROUTE_PREFIX | SVC_ROUTE_BODY, creg_handle_est},
        /* RFC 8995 5.9.4: the pledge reports to its EST server, over TLS
         * with the new LDevID. */
        {"POST", "/.well-known/brski/enrollstatus", SVC_ROUTE_BODY | SVC_ROUTE_CLIENT_CERT,
         creg_handle_telemetry},
};
const size_t creg_n_est_routes = sizeof(creg_est_routes) / sizeof(creg_est_routes[0]);
