/* The MASA's admin routes on the service framework (service/admin.h): a
 * device's audit and request logs, and nonceless voucher issuance. Owners
 * and devices are service/admin-owners.c (svc_admin_owner_routes), shared
 * with the cloud registrar, which serves the same store.
 *
 * Owner-scoped tokens (a reseller, a customer) reach only the routes
 * marked SVC_ADMIN_OWNER, and there only their own owner's records: every
 * such handler calls owner_allowed() before it reads or writes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/str.h"
#include "masa/masa.h"
#include "service/admin.h"
#include "service/daemon.h"

#define SERIAL_MAX 64 /* as service/admin-owners.c accepts */

/* An owner-scoped token may act only on its owner. The answer for another
 * owner's record is 404, as if it did not exist: it sees nothing else. */
static bool owner_allowed(const struct svc_admin_ctx *c, const char *owner)
{
	return !c->token || !c->token->owner || (owner && strcmp(c->token->owner, owner) == 0);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* ---- a device's logs ----------------------------------------------------------- */

static voucher_err devices_audit(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *serial = svc_admin_param(c, "serial");
	struct store_page page;
	struct store_audit *v = NULL;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if ((r = svc_admin_page_start(c, resp, "device-audit", &page)) != VOUCHER_OK)
		return r;
	r = store_audit_list(c->store, serial, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to read the audit log: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++) {
		char date[32] = "", *nonce = NULL;
		json_t *e;
		/* an owner sees the events of its own time only */
		if (!owner_allowed(c, v[i].owner))
			continue;
		voucher_time_format((time_t)v[i].logged, date, sizeof(date));
		if (v[i].nonce)
			nonce = masa_b64(v[i].nonce, v[i].nonce_len);
		e = json_pack("{s:I, s:s, s:s, s:o, s:s, s:o, s:s}", "id", (json_int_t)v[i].id,
		              "serial", v[i].serial, "date", date, "owner", str_or_null(v[i].owner),
		              "domainID", v[i].domain_id ? v[i].domain_id : "", "nonce",
		              str_or_null(nonce), "assertion",
		              v[i].assertion ? v[i].assertion : "");
		free(nonce);
		if (json_array_append_new(items, e) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	store_audit_list_free(v, n);
	return svc_admin_reply_page(c, resp, "device-audit", items, page.next);
}

/* One device's request log, or everybody's (serial NULL). */
static voucher_err requests_list(struct svc_admin_ctx *c, struct svc_resp *resp, const char *serial)
{
	struct store_page page;
	struct store_vreq *v = NULL;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if ((r = svc_admin_page_start(c, resp, "device-requests", &page)) != VOUCHER_OK)
		return r;
	r = store_vreq_list(c->store, serial, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to read the request log: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++) {
		char date[32] = "",
		     *nonce = v[i].nonce ? masa_b64(v[i].nonce, v[i].nonce_len) : NULL;
		json_t *e;
		voucher_time_format((time_t)v[i].logged, date, sizeof(date));
		e = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:i, s:o}", "id",
		              (json_int_t)v[i].id, "date", date, "request_id",
		              str_or_null(v[i].request_id), "peer", str_or_null(v[i].peer),
		              "signer", str_or_null(v[i].signer), "serial",
		              str_or_null(v[i].serial), "nonce", str_or_null(nonce), "media_type",
		              str_or_null(v[i].media_type), "disposition",
		              v[i].disposition ? v[i].disposition : "", "status", v[i].status,
		              "detail", str_or_null(v[i].detail));
		free(nonce);
		if (json_array_append_new(items, e) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	store_vreq_list_free(v, n);
	return svc_admin_reply_page(c, resp, "device-requests", items, page.next);
}

static voucher_err devices_requests(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	return requests_list(c, resp, svc_admin_param(c, "serial"));
}

static voucher_err requests_all(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	return requests_list(c, resp, NULL);
}

/* ---- nonceless vouchers ------------------------------------------------------- */

/* An operator (or an owner, for its own device) asks for a nonceless
 * voucher out of band: the MASA builds it from the device record, pinning
 * what the device's mode says, with expires-on from [masa]
 * nonceless_lifetime. */
static voucher_err vouchers_issue(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *serial = NULL, *issuer = NULL, *format = NULL;
	const struct svc_admin_field fields[] = {
	        {"serial", SVC_ADMIN_STR, true, false, SERIAL_MAX, &serial},
	        {"idevid_issuer", SVC_ADMIN_STR, false, true, 256, &issuer},
	        {"format", SVC_ADMIN_STR, false, false, 8, &format},
	};
	struct masa_app *app = c->req->app;
	struct masa_keys *k = NULL;
	struct masa_rvr rv;
	struct masa_fail f = {0};
	struct masa_voucher_fields vf;
	struct store_audit ev = {0};
	struct store_vreq log = {0};
	enum voucher_envelope env = VOUCHER_ENV_CMS;
	uint8_t *pin = NULL, *voucher = NULL;
	size_t voucher_len = 0;
	char err[STORE_ERRLEN + 64], *b64 = NULL, expires[32] = "";
	voucher_err r;

	memset(&rv, 0, sizeof(rv));
	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	if (format) {
		env = strcmp(format, "cms") == 0    ? VOUCHER_ENV_CMS
		      : strcmp(format, "cose") == 0 ? VOUCHER_ENV_COSE
		      : strcmp(format, "jws") == 0  ? VOUCHER_ENV_JWS
		                                    : VOUCHER_ENV_NONE;
		if (env == VOUCHER_ENV_NONE)
			return svc_admin_problem(resp, VOUCHER_EINVAL,
			                         "member 'format' must be cms, cose or jws");
	}
	if (!app || !(k = masa_app_get_keys(app)))
		return svc_admin_problem(resp, VOUCHER_E_CONFIG, "no voucher-signing key loaded");
	r = store_device_get(c->store, serial, issuer, &rv.device, c->err, sizeof(c->err));
	if (r == VOUCHER_OK && !owner_allowed(c, rv.device.owner))
		r = VOUCHER_E_NOT_FOUND;
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "device '%s': %s", serial,
		                      r == VOUCHER_E_NOT_FOUND ? "no such device" : c->err);
		goto out;
	}
	if (!rv.device.owner) {
		r = svc_admin_problem(resp, VOUCHER_E_FORBIDDEN,
		                      "device '%s' is not assigned to an owner", serial);
		goto out;
	}
	r = store_owner_get(c->store, rv.device.owner, &rv.owner, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "owner '%s': %s", rv.device.owner, c->err);
		goto out;
	}
	if (issuer &&
	    (r = masa_unb64(issuer, &rv.idevid_issuer, &rv.idevid_issuer_len)) != VOUCHER_OK) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL, "member 'idevid_issuer' is not base64");
		goto out;
	}
	rv.serial = brski_strdup(serial);
	rv.assertion = VOUCHER_ASSERTION_VERIFIED;
	/* est-domain and enroll-here devices are served by the cloud
	 * registrar; the others by their owner's registrar. */
	rv.via_cloud = rv.device.mode != STORE_MODE_REDIRECT;
	if (!rv.serial) {
		r = svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = masa_voucher_policy(k, &rv, &vf, &pin, &f)) != VOUCHER_OK) {
		r = svc_admin_problem(resp, f.err, "%s: %s", f.check, f.detail);
		goto out;
	}
	if ((r = masa_voucher_sign(k, &vf, env, &voucher, &voucher_len, err, sizeof(err))) !=
	    VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "%s", err);
		goto out;
	}
	ev.serial = rv.serial;
	ev.owner = rv.owner.name;
	ev.assertion = (char *)voucher_assertion_name(vf.assertion);
	if ((r = masa_domain_id(vf.pinned_domain_cert, vf.pinned_domain_cert_len, &ev.domain_id)) ==
	    VOUCHER_OK)
		r = store_audit_append(c->store, &ev, c->err, sizeof(c->err));
	free(ev.domain_id);
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to record the audit event: %s", c->err);
		goto out;
	}
	log.request_id = (char *)(c->req->request_id ? c->req->request_id : "");
	log.peer = "admin";
	log.serial = rv.serial;
	log.media_type = (char *)voucher_envelope_media_type(env);
	log.disposition = "accepted";
	log.status = 201;
	log.detail = "admin: nonceless voucher";
	if ((r = store_vreq_log(c->store, &log, c->err, sizeof(c->err))) != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to log the request: %s", c->err);
		goto out;
	}
	voucher_time_format(vf.expires_on, expires, sizeof(expires));
	if (!(b64 = masa_b64(voucher, voucher_len))) {
		r = svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
		goto out;
	}
	svc_admin_audit_set(c, NULL,
	                    json_pack("{s:s, s:s, s:s, s:s}", "serial", rv.serial, "owner",
	                              rv.owner.name, "media_type", voucher_envelope_media_type(env),
	                              "expires_on", expires));
	r = svc_admin_reply(resp, 201,
	                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial", rv.serial, "owner",
	                              rv.owner.name, "media_type", voucher_envelope_media_type(env),
	                              "expires_on", expires, "voucher", b64));
out:
	free(b64);
	free(voucher);
	free(pin);
	masa_rvr_clear(&rv);
	if (k)
		masa_app_put_keys(app, k);
	return r;
}

/* ---- the table ------------------------------------------------------------------ */

static const struct svc_admin_param device_key[] = {
        {"idevid_issuer", "base64 idevid-issuer, for a serial that is not unique"},
        {NULL, NULL},
};

static const struct svc_admin_route masa_routes[] = {
        {"GET", "/devices/{serial}/audit", STORE_SCOPE_READ, SVC_ADMIN_OWNER | SVC_ADMIN_PAGED,
         devices_audit, 200, "vouchers issued for the device (an owner sees its own)", NULL,
         "{items: [{id, serial, date, owner, domainID, nonce, assertion}], next}", NULL, 0, NULL},
        {"GET", "/devices/{serial}/requests", STORE_SCOPE_READ, SVC_ADMIN_PAGED, devices_requests,
         200, "voucher-requests for the device and their dispositions", NULL,
         "{items: [{id, date, request_id, peer, signer, serial, nonce, media_type, "
         "disposition, status, detail}], next}",
         device_key, 0, NULL},
        {"GET", "/requests", STORE_SCOPE_READ, SVC_ADMIN_PAGED, requests_all, 200,
         "every voucher-request and its disposition, oldest first", NULL,
         "{items: [{id, date, request_id, peer, signer, serial, nonce, media_type, "
         "disposition, status, detail}], next}",
         NULL, 0, NULL},
        {"POST", "/vouchers", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER | SVC_ADMIN_JSON, vouchers_issue,
         201, "issue a nonceless voucher for a device (expires-on from policy)",
         "{serial, idevid_issuer?, format?: cms|cose|jws}",
         "{serial, owner, media_type, expires_on, voucher: base64}", NULL, 0, NULL},
};

voucher_err masa_admin_table(struct svc_admin_route **out, size_t *n)
{
	return svc_admin_daemon_table(masa_routes, sizeof(masa_routes) / sizeof(masa_routes[0]),
	                              out, n);
}

voucher_err masa_admin_handle(const struct svc_req *req, struct svc_resp *resp)
{
	struct masa_app *app = req->app;

	return svc_admin_serve(app->admin_table, app->n_admin_table, svc_daemon_store(req->daemon),
	                       req, resp);
}
