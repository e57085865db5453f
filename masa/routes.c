/* The BRSKI endpoints of the MASA: requestvoucher and requestauditlog.
 * Every request is written to the request log with its disposition;
 * every voucher issued is an audit event. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "masa/masa.h"
#include "service/daemon.h"
#include "service/log.h"

/* Append the disposition to the request log. A store failure is logged
 * but does not change the answer already decided. */
static void log_request(struct store *s, const char *request_id, const char *peer,
                        const char *endpoint, const struct masa_input *in, const struct masa_rvr *r,
                        const char *disposition, unsigned status, const char *detail)
{
	struct store_vreq v = {0};
	char err[STORE_ERRLEN], *signer = NULL, text[400];
	voucher_err e;

	if (r->verified && r->verified->chain_len > 0 &&
	    (signer = brski_hex_new(r->signer_sha256, 32)))
		v.signer = signer;
	snprintf(text, sizeof(text), "%s: %s", endpoint, detail ? detail : "");
	v.request_id = (char *)(request_id ? request_id : "");
	v.peer = (char *)(peer ? peer : "");
	v.serial = r->serial;
	v.nonce = (uint8_t *)r->nonce;
	v.nonce_len = r->nonce_len;
	v.media_type = (char *)voucher_envelope_media_type(in->env);
	v.disposition = (char *)disposition;
	v.status = (int)status;
	v.detail = text;
	e = store_vreq_log(s, &v, err, sizeof(err));
	if (e != VOUCHER_OK)
		log_err_r(e, "failed to log voucher-request %s (%s)", request_id ? request_id : "",
		          err);
	free(signer);
}

static voucher_err answer_fail(struct svc_resp *resp, const struct masa_fail *f)
{
	svc_resp_free(resp);
	svc_resp_init(resp);
	return svc_resp_text(resp, svc_http_status(f->err), "%s: %s", f->check, f->detail);
}

voucher_err masa_issue(struct masa_app *app, const struct masa_input *in, const char *accept,
                       const char *request_id, const char *peer, struct svc_resp *resp)
{
	struct masa_keys *k = masa_app_get_keys(app);
	struct masa_rvr r;
	struct masa_fail f = {0};
	struct masa_voucher_fields vf;
	struct store_audit ev = {0};
	enum voucher_envelope out_env = VOUCHER_ENV_NONE;
	uint8_t *pin = NULL, *voucher = NULL;
	size_t voucher_len = 0;
	char err[STORE_ERRLEN + 64] = "";
	voucher_err e;

	memset(&r, 0, sizeof(r));
	if (!k) {
		e = masa_fail_set(&f, VOUCHER_E_CONFIG, "config", "no voucher-signing key loaded");
		goto fail;
	}
	/* An Accept naming nothing we know is refused before any work. */
	if ((e = masa_accept(accept, VOUCHER_ENV_NONE, &out_env)) != VOUCHER_OK) {
		masa_fail_set(&f, e, "accept",
		              "Accept '%.100s' names no voucher type this MASA signs",
		              accept ? accept : "");
		goto fail;
	}
	if ((e = masa_check(k, app->store, in, 0, &r, &f)) != VOUCHER_OK)
		goto fail;
	/* The voucher goes to the pledge: answer in its format. */
	e = masa_accept(accept, r.pledge_env != VOUCHER_ENV_NONE ? r.pledge_env : r.env, &out_env);
	if (e != VOUCHER_OK) {
		masa_fail_set(&f, e, "accept",
		              "the pledge processes %s, which Accept '%.100s' does not allow",
		              voucher_envelope_media_type(r.pledge_env ? r.pledge_env : r.env),
		              accept ? accept : "");
		goto fail;
	}
	if ((e = masa_voucher_policy(k, &r, &vf, &pin, &f)) != VOUCHER_OK)
		goto fail;
	e = masa_voucher_sign(k, &vf, out_env, &voucher, &voucher_len, err, sizeof(err));
	if (e != VOUCHER_OK) {
		masa_fail_set(&f, e, "sign", "%s", err);
		goto fail;
	}
	ev.serial = r.serial;
	ev.owner = r.owner.name;
	ev.nonce = (uint8_t *)vf.nonce;
	ev.nonce_len = vf.nonce_len;
	ev.assertion = (char *)voucher_assertion_name(vf.assertion);
	if ((e = masa_domain_id(vf.pinned_domain_cert, vf.pinned_domain_cert_len, &ev.domain_id)) !=
	    VOUCHER_OK) {
		masa_fail_set(&f, e, "pinning",
		              "failed to compute the domainID of the pinned "
		              "certificate");
		goto fail;
	}
	/* The audit event is written before the voucher leaves (RFC 8995
	 * section 5.6: MUST update the log whenever a voucher is issued). */
	e = store_audit_append(app->store, &ev, err, sizeof(err));
	free(ev.domain_id);
	if (e != VOUCHER_OK) {
		masa_fail_set(&f, e, "store", "failed to record the audit event (%s)", err);
		goto fail;
	}
	e = svc_resp_set(resp, 200, voucher_envelope_media_type(out_env), voucher, voucher_len);
	if (e != VOUCHER_OK) {
		masa_fail_set(&f, e, "sign", "failed to answer");
		goto fail;
	}
	log_info("voucher issued: serial %s, owner %s, %s%s, %s, request %s", r.serial,
	         r.owner.name, voucher_assertion_name(vf.assertion), vf.nonce ? "" : " (nonceless)",
	         voucher_envelope_media_type(out_env), request_id ? request_id : "");
	log_request(app->store, request_id, peer, "requestvoucher", in, &r, "accepted", 200,
	            voucher_assertion_name(vf.assertion));
	goto out;
fail:
	log_info("voucher-request refused: %s: %s (request %s)", f.check, f.detail,
	         request_id ? request_id : "");
	log_request(app->store, request_id, peer, "requestvoucher", in, &r, f.check,
	            svc_http_status(f.err), f.detail);
	e = f.err;
	answer_fail(resp, &f);
out:
	free(voucher);
	free(pin);
	masa_rvr_clear(&r);
	masa_app_put_keys(app, k);
	return e;
}

/* The request as the checks see it; VOUCHER_E_CONTENT_TYPE for a media
 * type that is not a voucher-request. */
static voucher_err request_input(const struct svc_req *req, struct masa_input *in,
                                 struct masa_fail *f)
{
	const char *ct = svc_req_header(req, "Content-Type");

	memset(in, 0, sizeof(*in));
	in->env = ct ? voucher_envelope_from_media_type(ct) : VOUCHER_ENV_NONE;
	if (in->env == VOUCHER_ENV_NONE)
		return masa_fail_set(f, VOUCHER_E_CONTENT_TYPE, "media-type",
		                     "Content-Type '%.100s' is not a voucher-request type "
		                     "(application/voucher-cms+json, application/voucher+cose, "
		                     "application/voucher-jws+json)",
		                     ct ? ct : "");
	in->body = req->body;
	in->body_len = req->body_len;
	if (req->peer_chain && req->peer_chain_len > 0) {
		in->peer_cert = req->peer_chain[0].data;
		in->peer_cert_len = req->peer_chain[0].len;
	}
	return VOUCHER_OK;
}

voucher_err masa_handle_requestvoucher(const struct svc_req *req, struct svc_resp *resp)
{
	struct masa_app *app = req->app;
	struct masa_input in;
	struct masa_fail f = {0};

	if (request_input(req, &in, &f) != VOUCHER_OK) {
		struct masa_rvr none = {0};
		log_request(app->store, req->request_id, req->peer_addr, "requestvoucher", &in,
		            &none, f.check, svc_http_status(f.err), f.detail);
		answer_fail(resp, &f);
		return f.err;
	}
	return masa_issue(app, &in, svc_req_header(req, "Accept"), req->request_id, req->peer_addr,
	                  resp);
}

voucher_err masa_handle_requestauditlog(const struct svc_req *req, struct svc_resp *resp)
{
	struct masa_app *app = req->app;
	struct masa_keys *k = masa_app_get_keys(app);
	struct masa_input in;
	struct masa_rvr r;
	struct masa_fail f = {0};
	struct store_audit *all = NULL;
	size_t n_all = 0;
	char *json = NULL;
	size_t json_len = 0;
	char err[STORE_ERRLEN];
	voucher_err e;

	memset(&r, 0, sizeof(r));
	if ((e = request_input(req, &in, &f)) != VOUCHER_OK)
		goto fail;
	if (!k) {
		e = masa_fail_set(&f, VOUCHER_E_CONFIG, "config", "no keys loaded");
		goto fail;
	}
	/* The Accept header does not matter: the log is JSON. */
	if ((e = masa_check(k, app->store, &in, MASA_CHECK_AUDIT, &r, &f)) != VOUCHER_OK) {
		/* Not an owner, or unknown: RFC 8995 section 5.8 says 404. */
		if (strcmp(f.check, "ownership") == 0 || strcmp(f.check, "unknown-device") == 0)
			f.err = VOUCHER_E_NOT_FOUND;
		goto fail;
	}
	{
		struct store_page page = {0};
		do {
			struct store_audit *ev = NULL, *grown;
			size_t n = 0;
			e = store_audit_list(app->store, r.serial, &page, &ev, &n, err,
			                     sizeof(err));
			if (e != VOUCHER_OK) {
				masa_fail_set(&f, e, "store", "%s", err);
				goto fail;
			}
			grown = n ? realloc(all, (n_all + n) * sizeof(*all)) : all;
			if (n && !grown) {
				store_audit_list_free(ev, n);
				masa_fail_set(&f, VOUCHER_ENOMEM, "store", "out of memory");
				goto fail;
			}
			all = grown;
			if (n)
				memcpy(all + n_all, ev, n * sizeof(*ev));
			n_all += n;
			free(ev); /* the records moved into all */
			if (page.next)
				page.after = page.next;
		} while (page.next != 0);
	}
	if ((e = masa_auditlog_json(all, n_all, &json, &json_len)) != VOUCHER_OK) {
		masa_fail_set(&f, e, "store", "failed to build the audit log");
		goto fail;
	}
	e = svc_resp_set(resp, 200, "application/json", json, json_len);
	log_request(app->store, req->request_id, req->peer_addr, "requestauditlog", &in, &r,
	            "accepted", 200, "audit log read");
	goto out;
fail:
	log_request(app->store, req->request_id, req->peer_addr, "requestauditlog", &in, &r,
	            f.check, svc_http_status(f.err), f.detail);
	e = f.err;
	answer_fail(resp, &f);
out:
	store_audit_list_free(all, n_all);
	free(json);
	masa_rvr_clear(&r);
	masa_app_put_keys(app, k);
	return e;
}

void masa_log_refusal(const char *listener, const struct svc_req *req, unsigned status,
                      const char *disposition, const char *reason)
{
	struct store_vreq v = {0};
	char err[STORE_ERRLEN], text[400];
	const char *ep = strrchr(req->path, '/');
	voucher_err e;

	/* Only the voucher endpoints keep a request log. */
	if (strcmp(listener, "brski") != 0 || !req->daemon)
		return;
	snprintf(text, sizeof(text), "%s: %s", ep ? ep + 1 : req->path, reason);
	v.request_id = (char *)(req->request_id ? req->request_id : "");
	v.peer = (char *)(req->peer_addr ? req->peer_addr : "");
	v.media_type = (char *)svc_req_header(req, "Content-Type");
	v.disposition = (char *)disposition;
	v.status = (int)status;
	v.detail = text;
	e = store_vreq_log(svc_daemon_store(req->daemon), &v, err, sizeof(err));
	if (e != VOUCHER_OK)
		log_err_r(e, "failed to log voucher-request %s (%s)", v.request_id, err);
}

const struct svc_route masa_brski_routes[] = {
        {"POST", "/.well-known/brski/requestvoucher", SVC_ROUTE_BODY, masa_handle_requestvoucher},
        {"POST", "/.well-known/brski/requestauditlog", SVC_ROUTE_BODY, masa_handle_requestauditlog},
};
const size_t masa_n_brski_routes = sizeof(masa_brski_routes) / sizeof(masa_brski_routes[0]);
