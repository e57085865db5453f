/*
 * The OpenAPI 3.0 document of the admin API, generated from the same route
 * table the dispatcher serves, so the two cannot drift apart.
 */
#include <config.h> /* the build's, not service/config.h */

#include <stdio.h>
#include <string.h>

#include "service/admin.h"

static json_t *problem_schema(void)
{
	return json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}}}",
	                 "type", "object", "required", "type", "title", "status", "properties",
	                 "type", "type", "string", "title", "type", "string", "status", "type",
	                 "integer", "detail", "type", "string", "code", "type", "string",
	                 "description", "stable machine-readable name of the problem");
}

static json_t *param(const char *name, const char *in, bool required, const char *desc,
                     const char *type)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", name, "in", in, "required",
	                 required, "description", desc, "schema", "type", type);
}

static int add(json_t *arr, json_t *v)
{
	return json_array_append_new(arr, v);
}

static json_t *operation(const struct svc_admin_route *rt)
{
	json_t *op, *params, *responses, *content, *ok;
	char opid[128], status[16];
	size_t o = 0;
	int bad = 0;

	/* operationId: method and path, e.g. delete_tokens_id */
	for (const char *p = rt->method; *p && o + 1 < sizeof(opid); p++)
		opid[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	for (const char *p = rt->path; *p && o + 1 < sizeof(opid); p++) {
		char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			opid[o++] = ch;
		else if (ch == '/' || ch == '.')
			opid[o++] = '_';
	}
	opid[o] = '\0';

	op = json_pack("{s:s, s:s, s:s}", "operationId", opid, "summary", rt->summary, "x-scope",
	               rt->flags & SVC_ADMIN_PUBLIC ? "none" : store_scope_name(rt->scope));
	params = json_array();
	responses = json_object();
	content = json_object();
	if (!op || !params || !responses || !content)
		goto fail;
	if (rt->flags & SVC_ADMIN_OWNER)
		bad |= json_object_set_new(op, "x-owner-scoped", json_true());
	bad |= json_object_set_new(op, "security",
	                           rt->flags & SVC_ADMIN_PUBLIC ? json_array()
	                                                        : json_pack("[{s:[]}]", "bearer"));
	/* Path parameters, in template order. */
	for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		char name[64];

		if (!close || (size_t)(close - p) >= sizeof(name))
			goto fail;
		snprintf(name, sizeof(name), "%.*s", (int)(close - p - 1), p + 1);
		bad |= add(params, param(name, "path", true, "record id", "string"));
	}
	if (rt->flags & SVC_ADMIN_PAGED) {
		bad |= add(params, param("limit", "query", false,
		                         "items per page, 1..1000 (default 100)", "integer"));
		bad |= add(params, param("cursor", "query", false,
		                         "opaque: the next value of the previous page", "string"));
	}
	for (const struct svc_admin_param *q = rt->query; q && q->name; q++)
		bad |= add(params, param(q->name, "query", false, q->description, "string"));
	if (json_array_size(params))
		bad |= json_object_set(op, "parameters", params);
	if (rt->request)
		bad |= json_object_set_new(op, "requestBody",
		                           json_pack("{s:b, s:s, s:{s:{s:{s:s}}}}", "required", 1,
		                                     "description", rt->request, "content",
		                                     "application/json", "schema", "type",
		                                     "object"));
	if (rt->produces) {
		char types[128];
		char *save = NULL;

		snprintf(types, sizeof(types), "%s", rt->produces);
		for (char *t = strtok_r(types, " ", &save); t; t = strtok_r(NULL, " ", &save))
			bad |= json_object_set_new(
			        content, t, json_pack("{s:{s:s}}", "schema", "type", "string"));
	} else {
		bad |= json_object_set_new(content, "application/json",
		                           json_pack("{s:{s:s}}", "schema", "type", "object"));
	}
	snprintf(status, sizeof(status), "%u", rt->status ? rt->status : 200);
	ok = json_pack("{s:s, s:O}", "description", rt->response, "content", content);
	bad |= json_object_set_new(responses, status, ok);
	bad |= json_object_set_new(responses, "default",
	                           json_pack("{s:s}", "$ref", "#/components/responses/Problem"));
	bad |= json_object_set(op, "responses", responses);
	json_decref(params);
	json_decref(responses);
	json_decref(content);
	if (bad)
		goto fail_op;
	return op;
fail:
	json_decref(params);
	json_decref(responses);
	json_decref(content);
fail_op:
	json_decref(op);
	return NULL;
}

voucher_err svc_admin_openapi(const struct svc_admin_route *routes, size_t n, json_t **out)
{
	json_t *doc, *paths;
	int bad = 0;

	*out = NULL;
	paths = json_object();
	doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:{s:{s:s, s:s}}, s:{s:o}, s:{s:{s:s, "
	                "s:{s:{s:{s:s}}}}}}}",
	                "openapi", "3.0.3", "info", "title", "brski-cloud admin API", "version",
	                PACKAGE_VERSION, "description",
	                "Bearer tokens with scopes read < write < admin; every error is "
	                "application/problem+json (RFC 9457). See docs/ADMIN.md.",
	                "components", "securitySchemes", "bearer", "type", "http", "scheme",
	                "bearer", "schemas", "Problem", problem_schema(), "responses", "Problem",
	                "description", "an error (RFC 9457 problem details)", "content",
	                SVC_ADMIN_PROBLEM_TYPE, "schema", "$ref", "#/components/schemas/Problem");
	if (!doc || !paths) {
		json_decref(doc);
		json_decref(paths);
		return VOUCHER_ENOMEM;
	}
	for (size_t i = 0; i < n && !bad; i++) {
		const struct svc_admin_route *rt = &routes[i];
		char full[256], method[16];
		json_t *item, *op;
		size_t k;

		snprintf(full, sizeof(full), "%s%s", SVC_ADMIN_PREFIX, rt->path);
		for (k = 0; rt->method[k] && k + 1 < sizeof(method); k++)
			method[k] = (char)(rt->method[k] >= 'A' && rt->method[k] <= 'Z'
			                           ? rt->method[k] - 'A' + 'a'
			                           : rt->method[k]);
		method[k] = '\0';
		item = json_object_get(paths, full);
		if (!item) {
			item = json_object();
			bad |= json_object_set_new(paths, full, item);
		}
		op = operation(rt);
		bad |= !op || !item;
		if (!bad)
			bad |= json_object_set_new(item, method, op);
		else
			json_decref(op);
	}
	bad |= json_object_set_new(doc, "paths", paths);
	if (bad) {
		json_decref(doc);
		return VOUCHER_ENOMEM;
	}
	*out = doc;
	return VOUCHER_OK;
}

voucher_err svc_admin_openapi_get(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	json_t *doc = NULL;
	voucher_err r = svc_admin_openapi(c->routes, c->n_routes, &doc);

	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to build the OpenAPI document");
	return svc_admin_reply(resp, 200, doc);
}
