/*
 * The admin audit trail: GET /admin/v1/audit (pages of JSON) and
 * GET /admin/v1/audit/export (JSON lines or CSV). The rows themselves are
 * written by the dispatcher (admin.c) in the transaction of each write.
 *
 * Filters are applied here, to pages read from the store in id order: a
 * page scans at most AUDIT_SCAN rows, so a filter that matches rarely
 * yields short (even empty) pages with a next cursor rather than one
 * unbounded scan. Following next until it is absent visits every row once.
 */
#include <config.h> /* the build's, not service/config.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <voucher/voucher.h>

#include "common/str.h"
#include "service/admin.h"

/* Rows examined per request at most. */
#define AUDIT_SCAN (10 * STORE_LIST_MAX)
/* Bytes of one export answer at most; the rest follows the next link. */
#define AUDIT_EXPORT_MAX (8 * 1024 * 1024)

struct audit_filter {
	int64_t token_id; /* 0: any */
	const char *method;
	const char *route; /* path prefix */
	int64_t since, until;
};

/* since/until: Unix seconds, or the RFC 3339 date-time the audit rows
 * show (what an operator copies from one answer into the next query). */
static bool time_param(const char *v, int64_t *out)
{
	uint64_t u;
	time_t t;

	if (brski_str_to_u64(v, &u, INT64_MAX) == VOUCHER_OK) {
		*out = (int64_t)u;
		return true;
	}
	if (voucher_time_parse(v, &t) == VOUCHER_OK && t >= 0) {
		*out = (int64_t)t;
		return true;
	}
	return false;
}

static voucher_err filter_parse(const struct svc_admin_ctx *c, struct svc_resp *resp,
                                struct audit_filter *f)
{
	static const char *const times[] = {"since", "until"};
	int64_t *outs[] = {&f->since, &f->until};
	const char *v;
	uint64_t u;

	memset(f, 0, sizeof(*f));
	if ((v = svc_req_query(c->req, "token_id"))) {
		if (brski_str_to_u64(v, &u, INT64_MAX) != VOUCHER_OK)
			return svc_admin_problem(resp, VOUCHER_EINVAL,
			                         "token_id must be a non-negative decimal number");
		f->token_id = (int64_t)u;
	}
	for (size_t i = 0; i < 2; i++)
		if ((v = svc_req_query(c->req, times[i])) && !time_param(v, outs[i]))
			return svc_admin_problem(resp, VOUCHER_EINVAL,
			                         "%s must be Unix seconds or an RFC 3339 date-time "
			                         "such as 2026-11-23T08:00:00Z",
			                         times[i]);
	f->method = svc_req_query(c->req, "method");
	f->route = svc_req_query(c->req, "route");
	return VOUCHER_OK;
}

static bool filter_match(const struct audit_filter *f, const struct store_admin_audit *a)
{
	if (f->token_id && a->token_id != f->token_id)
		return false;
	if (f->method && (!a->method || strcmp(a->method, f->method) != 0))
		return false;
	if (f->route && (!a->route || !brski_str_startswith(a->route, f->route)))
		return false;
	if (f->since && a->logged < f->since)
		return false;
	if (f->until && a->logged > f->until)
		return false;
	return true;
}

/* The stored JSON text as JSON again (a string if it no longer parses). */
static json_t *stored_json(const char *text)
{
	json_t *j;

	if (!text)
		return json_null();
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	return j ? j : json_string(text);
}

static json_t *audit_json(const struct store_admin_audit *a)
{
	return json_pack("{s:I, s:I, s:o, s:o, s:s, s:s, s:i, s:o, s:o}", "id", (json_int_t)a->id,
	                 "time", (json_int_t)a->logged, "token_id",
	                 a->token_id ? json_integer((json_int_t)a->token_id) : json_null(),
	                 "request_id", a->request_id ? json_string(a->request_id) : json_null(),
	                 "method", a->method ? a->method : "", "route", a->route ? a->route : "",
	                 "status", a->status, "before", stored_json(a->before_json), "after",
	                 stored_json(a->after_json));
}

/*
 * Walk the rows after *after that match f, calling emit for each, until
 * emit says stop (a full page), the scan budget is spent, or the table
 * ends. *after becomes the id to go on from (0: nothing is left).
 */
typedef voucher_err (*emit_fn)(void *arg, const struct store_admin_audit *a, bool *stop);

static voucher_err audit_walk(struct svc_admin_ctx *c, const struct audit_filter *f, unsigned chunk,
                              int64_t *after, emit_fn emit, void *arg)
{
	size_t scanned = 0;
	voucher_err r = VOUCHER_OK;

	for (;;) {
		struct store_page page = {.after = *after, .limit = chunk};
		struct store_admin_audit *v = NULL;
		bool stop = false;
		size_t n = 0, i;

		r = store_admin_audit_list(c->store, &page, &v, &n, c->err, sizeof(c->err));
		if (r != VOUCHER_OK)
			return r;
		for (i = 0; i < n && !stop; i++) {
			scanned++;
			*after = v[i].id;
			if (filter_match(f, &v[i]) && (r = emit(arg, &v[i], &stop)) != VOUCHER_OK)
				break;
		}
		store_admin_audit_list_free(v, n);
		if (r != VOUCHER_OK)
			return r;
		/* Rows left in this page, or more pages: there is a next. */
		if (stop || scanned >= AUDIT_SCAN) {
			if (i == n && page.next == 0)
				*after = 0;
			return VOUCHER_OK;
		}
		if (page.next == 0) {
			*after = 0;
			return VOUCHER_OK;
		}
	}
}

struct list_state {
	json_t *items;
	unsigned limit;
};

static voucher_err list_emit(void *arg, const struct store_admin_audit *a, bool *stop)
{
	struct list_state *st = arg;

	if (json_array_append_new(st->items, audit_json(a)) != 0)
		return VOUCHER_ENOMEM;
	*stop = json_array_size(st->items) >= st->limit;
	return VOUCHER_OK;
}

voucher_err svc_admin_audit_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct audit_filter f;
	struct store_page page;
	struct list_state st;
	voucher_err r;

	if ((r = svc_admin_page_start(c, resp, "audit", &page)) != VOUCHER_OK ||
	    (r = filter_parse(c, resp, &f)) != VOUCHER_OK)
		return r;
	st.limit = page.limit;
	st.items = json_array();
	if (!st.items)
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
	r = audit_walk(c, &f, page.limit, &page.after, list_emit, &st);
	if (r != VOUCHER_OK) {
		json_decref(st.items);
		return svc_admin_problem(resp, r, "failed to read the audit log: %s", c->err);
	}
	return svc_admin_reply_page(c, resp, "audit", st.items, page.after);
}

/* ---- export ------------------------------------------------------------------------ */

struct export_state {
	struct brski_buf *out;
	bool csv;
	int64_t last; /* id of the last row written */
	bool full;    /* the next row did not fit */
};

/* RFC 4180: quote every field, double the quotes inside. */
static voucher_err csv_field(struct brski_buf *b, const char *s, bool last)
{
	voucher_err r = brski_buf_putc(b, '"');

	for (; r == VOUCHER_OK && s && *s; s++)
		r = *s == '"' ? brski_buf_puts(b, "\"\"") : brski_buf_putc(b, (uint8_t)*s);
	if (r == VOUCHER_OK)
		r = brski_buf_puts(b, last ? "\"\r\n" : "\",");
	return r;
}

static voucher_err csv_row(struct brski_buf *b, const struct store_admin_audit *a)
{
	char id[24], t[24], tok[24], st[16];
	voucher_err r;

	snprintf(id, sizeof(id), "%lld", (long long)a->id);
	snprintf(t, sizeof(t), "%lld", (long long)a->logged);
	snprintf(tok, sizeof(tok), "%lld", (long long)a->token_id);
	snprintf(st, sizeof(st), "%d", a->status);
	(void)((r = csv_field(b, id, false)) != VOUCHER_OK ||
	       (r = csv_field(b, t, false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->token_id ? tok : "", false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->request_id, false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->method, false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->route, false)) != VOUCHER_OK ||
	       (r = csv_field(b, st, false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->before_json, false)) != VOUCHER_OK ||
	       (r = csv_field(b, a->after_json, true)) != VOUCHER_OK);
	return r;
}

static voucher_err export_emit(void *arg, const struct store_admin_audit *a, bool *stop)
{
	struct export_state *st = arg;
	struct brski_buf line;
	voucher_err r;

	brski_buf_init(&line, AUDIT_EXPORT_MAX);
	if (st->csv) {
		r = csv_row(&line, a);
	} else {
		json_t *j = audit_json(a);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		json_decref(j);
		r = text ? brski_buf_printf(&line, "%s\n", text) : VOUCHER_ENOMEM;
		free(text);
	}
	if (r == VOUCHER_OK && st->out->len + line.len > AUDIT_EXPORT_MAX) {
		/* This row starts the next answer. */
		st->full = true;
		*stop = true;
		brski_buf_free(&line);
		return VOUCHER_OK;
	}
	if (r == VOUCHER_OK)
		r = brski_buf_put(st->out, line.data, line.len);
	brski_buf_free(&line);
	if (r == VOUCHER_OK)
		st->last = a->id;
	return r;
}

voucher_err svc_admin_audit_export(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *format = svc_req_query(c->req, "format");
	const char *cursor = svc_req_query(c->req, "cursor");
	struct export_state st = {0};
	struct store_page page;
	struct audit_filter f;
	voucher_err r;

	if (!format)
		format = "jsonl";
	if (strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0)
		return svc_admin_problem(resp, VOUCHER_EINVAL,
		                         "format must be \"jsonl\" or \"csv\", not \"%.32s\"",
		                         format);
	if ((r = svc_admin_page_start(c, resp, "audit", &page)) != VOUCHER_OK ||
	    (r = filter_parse(c, resp, &f)) != VOUCHER_OK)
		return r;
	st.csv = strcmp(format, "csv") == 0;
	st.out = &resp->body;
	brski_buf_reset(&resp->body);
	if (st.csv && !cursor)
		r = brski_buf_puts(&resp->body, "id,time,token_id,request_id,method,route,status,"
		                                "before,after\r\n");
	/* Whole table, one store page after another, until the answer is
	 * full: audit_walk's scan budget is per call, so call it again. */
	while (r == VOUCHER_OK && !st.full) {
		int64_t before = page.after;

		r = audit_walk(c, &f, STORE_LIST_MAX, &page.after, export_emit, &st);
		if (r != VOUCHER_OK || page.after == 0 || page.after == before)
			break;
	}
	if (r != VOUCHER_OK) {
		brski_buf_reset(&resp->body);
		return svc_admin_problem(resp, r, "failed to export the audit log: %s", c->err);
	}
	resp->status = 200;
	resp->content_type = st.csv ? "text/csv; charset=utf-8" : "application/jsonl";
	if (st.full) {
		char cur[96], link[256];

		svc_admin_cursor("audit", st.last, cur, sizeof(cur));
		snprintf(link, sizeof(link), "<%s?format=%s&cursor=%s>; rel=\"next\"", c->req->path,
		         format, cur);
		svc_resp_header(resp, "Link", link);
	}
	return VOUCHER_OK;
}
