/*
 * Fuzz target: the admin API's JSON request bodies, through the whole
 * dispatch (svc_admin_serve: body parsing with duplicate rejection, strict
 * unpacking, the handlers' own checks, the store write and its audit row)
 * on a SQLite store in a private temporary directory, authenticated with
 * the bootstrap token. The first input byte picks the route (every route
 * that takes a JSON body: tokens, owners, denied keys, CRLs, devices,
 * import, transfer), the rest is the body. Invariant, which aborts when
 * broken: every request ends with a status, and every error answer is
 * application/problem+json that parses as a JSON object.
 */
#include "config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/admin.h"
#include "service/route.h"
#include "service/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *method, *path;
} routes[] = {
        {"POST", "/admin/v1/tokens"},
        {"POST", "/admin/v1/owners"},
        {"PATCH", "/admin/v1/owners/example"},
        {"POST", "/admin/v1/owners/example/denied"},
        {"POST", "/admin/v1/owners/example/crls"},
        {"POST", "/admin/v1/devices"},
        {"POST", "/admin/v1/devices/import"},
        {"PATCH", "/admin/v1/devices/SN-1"},
        {"POST", "/admin/v1/devices/SN-1/transfer"},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static char dir[4096], db[4200], tokfile[4200];
static const char token[] = "00000000000000000000000000000000000000000000000000000000000f0220";
static struct store *store;
static struct svc_admin_route *table;
static size_t n_table;

static void cleanup(void)
{
	store_close(store);
	free(table);
	unlink(db);
	unlink(tokfile);
	rmdir(dir);
}

/* The store, the bootstrap token and the framework's routes followed by
 * the owners/devices routes, as cloudregd serves them. */
static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char err[STORE_ERRLEN];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/fuzz_admin.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/admin.db", dir);
	snprintf(tokfile, sizeof(tokfile), "%s/token", dir);
	if ((f = fopen(tokfile, "w")) == NULL)
		abort();
	fprintf(f, "%s\n", token);
	if (fclose(f) != 0)
		abort();
	if (store_open(db, &store, err, sizeof(err)) != VOUCHER_OK ||
	    svc_admin_bootstrap(store, tokfile, err, sizeof(err)) != VOUCHER_OK)
		abort();
	n_table = svc_admin_table_len + svc_admin_owner_routes_len;
	if ((table = calloc(n_table, sizeof(*table))) == NULL)
		abort();
	memcpy(table, svc_admin_table, svc_admin_table_len * sizeof(*table));
	memcpy(table + svc_admin_table_len, svc_admin_owner_routes,
	       svc_admin_owner_routes_len * sizeof(*table));
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char auth[sizeof(token) + 16];
	struct svc_kv headers[2];
	struct svc_req req;
	struct svc_resp resp;

	if (size < 1)
		return 0;
	if (store == NULL)
		setup();
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	headers[0] = (struct svc_kv){"Authorization", auth};
	headers[1] = (struct svc_kv){"Content-Type", "application/json"};
	memset(&req, 0, sizeof(req));
	req.method = routes[data[0] % N_ROUTES].method;
	req.path = routes[data[0] % N_ROUTES].path;
	req.headers = headers;
	req.n_headers = 2;
	req.body = data + 1;
	req.body_len = size - 1;
	req.request_id = "fuzz";
	svc_resp_init(&resp);
	svc_admin_serve(table, n_table, store, &req, &resp);
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status >= 400) {
		json_t *j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
		if (!json_is_object(j) || resp.content_type == NULL ||
		    strcmp(resp.content_type, SVC_ADMIN_PROBLEM_TYPE) != 0)
			abort();
		json_decref(j);
	}
	svc_resp_free(&resp);
	return 0;
}
