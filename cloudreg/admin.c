/* cloudregd's admin routes on the framework (service/admin.h): the
 * framework's table, the owners and devices shared with masad
 * (service/admin-owners.c, the same store), then the telemetry query. */
#include <config.h>

#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <voucher/voucher.h>

#include "cloudreg/creg.h"
#include "service/admin.h"
#include "service/daemon.h"

/* Whether one of owner's devices (owner NULL: any device) has this
 * serial. */
static voucher_err owner_has_serial(struct svc_admin_ctx *c, const char *owner, const char *serial,
                                    bool *yes)
{
	struct store_page page = {0};
	voucher_err r;

	*yes = false;
	do {
		struct store_device *v = NULL;
		size_t n = 0;
		page.limit = STORE_LIST_MAX;
		r = store_device_list(c->store, owner, &page, &v, &n, c->err, sizeof(c->err));
		if (r != VOUCHER_OK)
			return r;
		for (size_t i = 0; i < n && !*yes; i++)
			*yes = strcmp(v[i].serial, serial) == 0;
		store_device_list_free(v, n);
		page.after = page.next;
	} while (!*yes && page.next != 0);
	return VOUCHER_OK;
}

/* Whether serial is known here at all when its first page of rows is
 * empty: a registered device (for any IDevID issuer). A serial with rows
 * is known even without a device record (an owner registrar logs the
 * pledges that reach it without registering them). When not known, the
 * answer is a 404 naming it, for every token. */
static bool serial_known(struct svc_admin_ctx *c, struct svc_resp *resp, const char *serial,
                         voucher_err *r)
{
	struct store_device d = {0};
	bool yes = false;

	*r = store_device_get(c->store, serial, NULL, &d, c->err, sizeof(c->err));
	store_device_clear(&d);
	if (*r == VOUCHER_OK)
		return true;
	/* Not an any-issuer record: one for a given issuer, if any. */
	if (*r == VOUCHER_E_NOT_FOUND)
		*r = owner_has_serial(c, NULL, serial, &yes);
	if (*r != VOUCHER_OK) {
		*r = svc_admin_problem(resp, *r, "failed to look the device up: %s", c->err);
		return false;
	}
	if (!yes)
		*r = svc_admin_problem(resp, VOUCHER_E_NOT_FOUND, "no device '%s'", serial);
	return yes;
}

/* Whether this request's token may see serial's rows: a token limited to
 * an owner sees only that owner's devices. When not, the answer is set in
 * resp and *r is what the handler returns. */
static bool serial_visible(struct svc_admin_ctx *c, struct svc_resp *resp, const char *serial,
                           voucher_err *r)
{
	bool yes = false;

	if (!c->token || !c->token->owner)
		return true;
	if ((*r = owner_has_serial(c, c->token->owner, serial, &yes)) != VOUCHER_OK) {
		*r = svc_admin_problem(resp, *r, "failed to list devices: %s", c->err);
		return false;
	}
	if (!yes)
		*r = svc_admin_problem(resp, VOUCHER_E_NOT_FOUND, "owner '%s' has no device '%s'",
		                       c->token->owner, serial);
	return yes;
}

static json_t *telemetry_json(const struct store_telemetry *t)
{
	json_error_t je;
	json_t *body = t->body ? json_loads(t->body, JSON_REJECT_DUPLICATES, &je) : NULL;

	return json_pack("{s:I, s:s, s:s, s:b, s:s?, s:o?, s:I}", "id", (json_int_t)t->id, "serial",
	                 t->serial, "kind",
	                 t->kind == STORE_TELEMETRY_ENROLL_STATUS ? "enrollstatus"
	                                                          : "voucher_status",
	                 "status", t->status, "reason", t->reason, "body", body, "logged",
	                 (json_int_t)t->logged);
}

static voucher_err telemetry_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *serial = svc_admin_param(c, "serial");
	struct store_page page = {0};
	struct store_telemetry *v = NULL;
	size_t n = 0;
	json_t *items;
	voucher_err r;

	if (!serial_visible(c, resp, serial, &r))
		return r;
	if ((r = svc_admin_page_start(c, resp, "telemetry", &page)) != VOUCHER_OK)
		return r;
	r = store_telemetry_list(c->store, serial, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to list telemetry: %s", c->err);
	if (n == 0 && page.after == 0 && !serial_known(c, resp, serial, &r)) {
		store_telemetry_list_free(v, n);
		return r;
	}
	items = json_array();
	for (size_t i = 0; items && i < n; i++)
		if (json_array_append_new(items, telemetry_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	store_telemetry_list_free(v, n);
	if (!items)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
	return svc_admin_reply_page(c, resp, "telemetry", items, page.next);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *preq_json(const struct store_preq *v)
{
	char date[32] = "";

	voucher_time_format((time_t)v->logged, date, sizeof(date));
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:s, s:i, s:o}", "id",
	                 (json_int_t)v->id, "date", date, "request_id", str_or_null(v->request_id),
	                 "peer", str_or_null(v->peer), "client_cert", str_or_null(v->client_cert),
	                 "serial", str_or_null(v->serial), "endpoint",
	                 v->endpoint ? v->endpoint : "", "media_type", str_or_null(v->media_type),
	                 "disposition", v->disposition ? v->disposition : "", "status", v->status,
	                 "detail", str_or_null(v->detail));
}

/* The request log, one client serialNumber's or all (serial NULL). */
static voucher_err requests_list(struct svc_admin_ctx *c, struct svc_resp *resp, const char *serial)
{
	struct store_page page = {0};
	struct store_preq *v = NULL;
	size_t n = 0;
	json_t *items;
	voucher_err r;

	if (serial && !serial_visible(c, resp, serial, &r))
		return r;
	if ((r = svc_admin_page_start(c, resp, "requests", &page)) != VOUCHER_OK)
		return r;
	r = store_preq_list(c->store, serial, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to read the request log: %s", c->err);
	if (serial && n == 0 && page.after == 0 && !serial_known(c, resp, serial, &r)) {
		store_preq_list_free(v, n);
		return r;
	}
	items = json_array();
	for (size_t i = 0; items && i < n; i++)
		if (json_array_append_new(items, preq_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	store_preq_list_free(v, n);
	if (!items)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
	return svc_admin_reply_page(c, resp, "requests", items, page.next);
}

static voucher_err devices_requests(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	return requests_list(c, resp, svc_admin_param(c, "serial"));
}

static voucher_err requests_all(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	return requests_list(c, resp, NULL);
}

#define PREQ_FIELDS                                                                                \
	"{items: [{id, date, request_id, peer, client_cert (hex SHA-256 of the TLS client "        \
	"certificate), serial (its serialNumber), endpoint, media_type, disposition (accepted, "   \
	"pending, redirected, or the check that failed), status, detail}], next: cursor (absent "  \
	"on the last page)}"

static const struct svc_admin_route creg_rows[] = {
        {.method = "GET",
         .path = "/devices/{serial}/telemetry",
         .scope = STORE_SCOPE_READ,
         .flags = SVC_ADMIN_OWNER | SVC_ADMIN_PAGED,
         .handler = telemetry_list,
         .status = 200,
         .summary = "voucher_status and enrollstatus reports a device sent, oldest first; 404 "
                    "when the serial is neither a registered device nor has any report",
         .response = "{items: [{id, serial, kind (voucher_status|enrollstatus), status, "
                     "reason, body (the JSON as sent), logged (Unix seconds)}], next: cursor "
                     "(absent on the last page)}"},
        {.method = "GET",
         .path = "/devices/{serial}/requests",
         .scope = STORE_SCOPE_READ,
         .flags = SVC_ADMIN_OWNER | SVC_ADMIN_PAGED,
         .handler = devices_requests,
         .status = 200,
         .summary = "pledge-facing requests made with this serialNumber's client certificate and "
                    "their dispositions, oldest first; 404 when the serial is neither a "
                    "registered device nor in the log",
         .response = PREQ_FIELDS},
        {.method = "GET",
         .path = "/requests",
         .scope = STORE_SCOPE_READ,
         .flags = SVC_ADMIN_PAGED,
         .handler = requests_all,
         .status = 200,
         .summary = "every pledge-facing request (requestvoucher, voucher_status, enrollstatus, "
                    "EST) and its disposition, oldest first",
         .response = PREQ_FIELDS},
};

voucher_err creg_admin_table(struct svc_admin_route **out, size_t *n)
{
	return svc_admin_daemon_table(creg_rows, sizeof(creg_rows) / sizeof(creg_rows[0]), out, n);
}

voucher_err creg_admin_handle(const struct svc_req *req, struct svc_resp *resp)
{
	struct creg_app *app = req->app;
	struct store *store = req->daemon ? svc_daemon_store(req->daemon) : app->store;

	return svc_admin_serve(app->admin_table, app->n_admin_table, store, req, resp);
}
