/*
 * brski admin owner|device|voucher|requests: the MASA's admin routes
 * (masa/admin.c), and cloudregd's telemetry and request log
 * (cloudreg/admin.c), from the command line. Each command is one row of a
 * table: its method, its path (positional arguments are escaped into it),
 * the options it takes and how they become the JSON body. Answers are
 * printed as JSON; lists follow Link rel="next" to the end.
 *
 * Connection options as for the other admin commands: --url, --token-file,
 * --cacert, or --pki DIR (admin.masa_url, admin.token_file, tls_ca of
 * DIR/pki.json; with --cloudreg, or for a command only cloudregd serves,
 * admin.cloudreg_url). Where a member may be cleared, the value "none"
 * sends JSON null.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"
#include "tools/admin-client.h"
#include "tools/brski.h"
#include "tools/util.h"

#define AM_MAX_FILE (16 * 1024 * 1024)

enum {
	O_URL = 1,
	O_TOKEN_FILE,
	O_CACERT,
	O_PKI,
	O_OWNER,
	O_MODE,
	O_DOMAIN_CA,
	O_REGISTRAR_URL,
	O_EST_URL,
	O_EST_PIN,
	O_ENROLL_HERE,
	O_ACU,
	O_ISSUER,
	O_CERT,
	O_REASON,
	O_CRL,
	O_FORMAT,
	O_OUT,
	O_CSV,
	O_CLOUDREG,
	O_HELP,
	O_COUNT
};

/* Bits of the options a command takes (1 << O_x). */
#define B(o)   (1u << (o))
#define B_CONN (B(O_URL) | B(O_TOKEN_FILE) | B(O_CACERT) | B(O_PKI) | B(O_HELP))
/* Not an option: the route is cloudregd's only, so --pki takes
 * admin.cloudreg_url without --cloudreg. */
#define B_CREG_ONLY (1u << 31)

static const struct am_opt {
	const char *name;
	const char *arg;
	int id;
	const char *help;
} am_opts[] = {
        {"url", "URL", O_URL, "admin origin of masad (or cloudregd), https://host:port"},
        {"token-file", "FILE", O_TOKEN_FILE, "file holding the bearer token"},
        {"cacert", "FILE", O_CACERT, "PEM bundle that verifies the daemon"},
        {"pki", "DIR", O_PKI, "take url, token file and CA from DIR/pki.json"},
        {"owner", "NAME", O_OWNER, "owner name (\"none\": no owner)"},
        {"mode", "MODE", O_MODE, "redirect, est-domain or enroll-here"},
        {"domain-ca", "FILE", O_DOMAIN_CA, "the owner's domain CA certificate (PEM)"},
        {"registrar-url", "URL", O_REGISTRAR_URL, "the owner registrar's URL (\"none\" clears)"},
        {"est-url", "URL", O_EST_URL, "the owner's EST server (\"none\" clears)"},
        {"est-pin", "FILE", O_EST_PIN, "certificate pinned for est-domain (PEM; \"none\" clears)"},
        {"enroll-here", "BOOL", O_ENROLL_HERE, "true or false"},
        {"additional-configuration-url", "URL", O_ACU,
         "additional-configuration-url (\"none\" clears)"},
        {"idevid-issuer", "B64", O_ISSUER, "base64 idevid-issuer, for serials that are not unique"},
        {"cert", "FILE", O_CERT, "registrar certificate to deny (PEM)"},
        {"reason", "TEXT", O_REASON, "why it is denied"},
        {"crl", "FILE", O_CRL, "CRL signed by the owner's domain CA (PEM)"},
        {"format", "FMT", O_FORMAT, "voucher format: cms (default), cose or jws"},
        {"out", "FILE", O_OUT, "write the voucher (binary) to FILE"},
        {"csv", NULL, O_CSV, "the import file is CSV (default: by its .csv suffix)"},
        {"cloudreg", NULL, O_CLOUDREG, "ask cloudregd (with --pki: admin.cloudreg_url)"},
        {"help", NULL, O_HELP, "show this help"},
};
#define N_AM_OPTS (sizeof(am_opts) / sizeof(am_opts[0]))

struct am_args {
	const char *v[O_COUNT]; /* option values; flags are "1" */
	const char *pos[2];
	json_t *manifest;
};

struct am_cmd;
typedef int (*am_body_fn)(const struct am_cmd *c, const struct am_args *a, json_t **body);

static const struct am_cmd {
	const char *group;
	const char *name;
	const char *args; /* positional, for usage; their count is nargs */
	int nargs;
	const char *method;
	const char *path; /* "%s" for each positional (escaped) */
	unsigned opts;
	am_body_fn body;
	bool list;
	const char *summary;
} am_cmds[];

/* ---- body builders -------------------------------------------------------- */

static int read_file(const char *path, char **out)
{
	struct brski_buf b;
	voucher_err e;

	*out = NULL;
	brski_buf_init(&b, AM_MAX_FILE);
	e = brski_read_file(path, false, &b);
	if (e == VOUCHER_OK)
		e = brski_buf_putc(&b, 0);
	if (e == VOUCHER_OK)
		*out = (char *)brski_buf_take(&b, NULL);
	brski_buf_free(&b);
	if (e == VOUCHER_E_TOO_LARGE) {
		fprintf(stderr, "brski admin: %s is too large\n", path);
		return BRSKI_EXIT_USAGE;
	}
	if (e != VOUCHER_OK) {
		fprintf(stderr, "brski admin: cannot read %s (%s)\n", path, voucher_strerror(e));
		return BRSKI_EXIT_IO;
	}
	return *out ? BRSKI_EXIT_OK : BRSKI_EXIT_IO;
}

/* Set member from an option: a string, "none" as null when nullable, a
 * file's contents when is_file. */
static int set_opt(json_t *o, const char *member, const char *v, bool nullable, bool is_file)
{
	char *text = NULL;
	int rc;

	if (!v)
		return BRSKI_EXIT_OK;
	if (nullable && strcmp(v, "none") == 0)
		return json_object_set_new(o, member, json_null()) ? BRSKI_EXIT_IO : BRSKI_EXIT_OK;
	if (!is_file)
		return json_object_set_new(o, member, json_string(v)) ? BRSKI_EXIT_IO
		                                                      : BRSKI_EXIT_OK;
	if ((rc = read_file(v, &text)) != BRSKI_EXIT_OK)
		return rc;
	rc = json_object_set_new(o, member, json_string(text)) ? BRSKI_EXIT_IO : BRSKI_EXIT_OK;
	free(text);
	return rc;
}

static int set_bool(json_t *o, const char *member, const char *v)
{
	if (!v)
		return BRSKI_EXIT_OK;
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		fprintf(stderr, "brski admin: --%s takes true or false\n", member);
		return BRSKI_EXIT_USAGE;
	}
	return json_object_set_new(o, member, json_boolean(strcmp(v, "true") == 0)) ? BRSKI_EXIT_IO
	                                                                            : BRSKI_EXIT_OK;
}

/* The owner members of create (nullable false) and update (true). */
static int owner_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	bool create = strcmp(c->method, "POST") == 0;
	json_t *o = json_object();
	int rc;

	*body = NULL;
	if (!o)
		return BRSKI_EXIT_IO;
	if (create && (!a->v[O_DOMAIN_CA])) {
		json_decref(o);
		fprintf(stderr, "brski admin owner create: --domain-ca is required\n");
		return BRSKI_EXIT_USAGE;
	}
	if ((create && (rc = set_opt(o, "name", a->pos[0], false, false))) ||
	    (rc = set_opt(o, "domain_ca", a->v[O_DOMAIN_CA], false, true)) ||
	    (rc = set_opt(o, "registrar_url", a->v[O_REGISTRAR_URL], !create, false)) ||
	    (rc = set_opt(o, "est_url", a->v[O_EST_URL], !create, false)) ||
	    (rc = set_opt(o, "est_pin", a->v[O_EST_PIN], !create, true)) ||
	    (rc = set_bool(o, "enroll_here", a->v[O_ENROLL_HERE]))) {
		json_decref(o);
		return rc;
	}
	*body = o;
	return BRSKI_EXIT_OK;
}

static int device_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	bool create = strcmp(c->method, "POST") == 0;
	json_t *o = json_object();
	int rc;

	*body = NULL;
	if (!o)
		return BRSKI_EXIT_IO;
	if ((create && (rc = set_opt(o, "serial", a->pos[0], false, false))) ||
	    (rc = set_opt(o, "owner", a->v[O_OWNER], true, false)) ||
	    (rc = set_opt(o, "mode", a->v[O_MODE], false, false)) ||
	    (rc = set_opt(o, "additional_configuration_url", a->v[O_ACU], true, false)) ||
	    (create && (rc = set_opt(o, "idevid_issuer", a->v[O_ISSUER], false, false)))) {
		json_decref(o);
		return rc;
	}
	*body = o;
	return BRSKI_EXIT_OK;
}

static int transfer_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	(void)c;
	*body = NULL;
	if (!a->v[O_OWNER]) {
		fprintf(stderr,
		        "brski admin device transfer: --owner NAME (or none) is required\n");
		return BRSKI_EXIT_USAGE;
	}
	*body = json_object();
	return *body ? set_opt(*body, "owner", a->v[O_OWNER], true, false) : BRSKI_EXIT_IO;
}

static int deny_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	int rc;

	(void)c;
	*body = NULL;
	if (!a->v[O_CERT]) {
		fprintf(stderr, "brski admin owner deny: --cert FILE is required\n");
		return BRSKI_EXIT_USAGE;
	}
	if (!(*body = json_object()))
		return BRSKI_EXIT_IO;
	if ((rc = set_opt(*body, "cert", a->v[O_CERT], false, true)) ||
	    (rc = set_opt(*body, "reason", a->v[O_REASON], false, false)))
		return rc;
	return BRSKI_EXIT_OK;
}

static int crl_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	(void)c;
	*body = NULL;
	if (!a->v[O_CRL]) {
		fprintf(stderr, "brski admin owner crl-add: --crl FILE is required\n");
		return BRSKI_EXIT_USAGE;
	}
	*body = json_object();
	return *body ? set_opt(*body, "crl", a->v[O_CRL], false, true) : BRSKI_EXIT_IO;
}

/* The import file as {"devices": [...]} (JSON: an array, or an object
 * with "devices") or {"csv": text}. */
static int import_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	const char *path = a->pos[0];
	size_t n = strlen(path);
	bool csv = a->v[O_CSV] || (n > 4 && strcasecmp(path + n - 4, ".csv") == 0);
	char *text = NULL;
	json_error_t e;
	json_t *j;
	int rc;

	(void)c;
	*body = NULL;
	if ((rc = read_file(path, &text)) != BRSKI_EXIT_OK)
		return rc;
	if (csv) {
		*body = json_pack("{s:s}", "csv", text);
		free(text);
		return *body ? BRSKI_EXIT_OK : BRSKI_EXIT_IO;
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	free(text);
	if (!j) {
		fprintf(stderr, "brski admin device import: %s line %d: %s\n", path, e.line,
		        e.text);
		return BRSKI_EXIT_USAGE;
	}
	if (json_is_array(j)) {
		*body = json_pack("{s:o}", "devices", j);
		return *body ? BRSKI_EXIT_OK : BRSKI_EXIT_IO;
	}
	*body = j; /* an object: sent as it is, the daemon checks it */
	return BRSKI_EXIT_OK;
}

static int voucher_body(const struct am_cmd *c, const struct am_args *a, json_t **body)
{
	int rc;

	(void)c;
	if (!(*body = json_object()))
		return BRSKI_EXIT_IO;
	if ((rc = set_opt(*body, "serial", a->pos[0], false, false)) ||
	    (rc = set_opt(*body, "idevid_issuer", a->v[O_ISSUER], false, false)) ||
	    (rc = set_opt(*body, "format", a->v[O_FORMAT], false, false)))
		return rc;
	return BRSKI_EXIT_OK;
}

#define OWNER_OPTS                                                                                 \
	(B(O_DOMAIN_CA) | B(O_REGISTRAR_URL) | B(O_EST_URL) | B(O_EST_PIN) | B(O_ENROLL_HERE))
#define KEY_OPTS B(O_ISSUER)

static const struct am_cmd am_cmds[] = {
        {"owner", "create", " NAME", 1, "POST", "/owners", OWNER_OPTS, owner_body, false,
         "create an owner (--domain-ca required)"},
        {"owner", "list", "", 0, "GET", "/owners", 0, NULL, true, "list owners"},
        {"owner", "get", " NAME", 1, "GET", "/owners/%s", 0, NULL, false, "show an owner"},
        {"owner", "update", " NAME", 1, "PATCH", "/owners/%s", OWNER_OPTS, owner_body, false,
         "change an owner (an owner's token: --registrar-url, --est-pin)"},
        {"owner", "delete", " NAME", 1, "DELETE", "/owners/%s", 0, NULL, false,
         "delete an owner without devices"},
        {"owner", "deny", " NAME", 1, "POST", "/owners/%s/denied", B(O_CERT) | B(O_REASON),
         deny_body, false, "refuse a registrar certificate (--cert)"},
        {"owner", "undeny", " NAME SHA256", 2, "DELETE", "/owners/%s/denied/%s", 0, NULL, false,
         "lift a denial"},
        {"owner", "crl-add", " NAME", 1, "POST", "/owners/%s/crls", B(O_CRL), crl_body, false,
         "upload a CRL (--crl)"},
        {"owner", "crl-list", " NAME", 1, "GET", "/owners/%s/crls", 0, NULL, true,
         "the owner's CRLs"},
        {"owner", "crl-delete", " NAME ID", 2, "DELETE", "/owners/%s/crls/%s", 0, NULL, false,
         "remove a CRL"},
        {"device", "create", " SERIAL", 1, "POST", "/devices",
         B(O_OWNER) | B(O_MODE) | B(O_ACU) | B(O_ISSUER), device_body, false,
         "create a device (owner and mode optional)"},
        {"device", "list", "", 0, "GET", "/devices", B(O_OWNER) | B(O_MODE), NULL, true,
         "list devices (--owner, --mode filter)"},
        {"device", "get", " SERIAL", 1, "GET", "/devices/%s", KEY_OPTS, NULL, false,
         "show a device: owner and mode"},
        {"device", "update", " SERIAL", 1, "PATCH", "/devices/%s",
         KEY_OPTS | B(O_OWNER) | B(O_MODE) | B(O_ACU), device_body, false,
         "change mode or additional-configuration-url"},
        {"device", "delete", " SERIAL", 1, "DELETE", "/devices/%s", KEY_OPTS, NULL, false,
         "delete a device"},
        {"device", "transfer", " SERIAL", 1, "POST", "/devices/%s/transfer", KEY_OPTS | B(O_OWNER),
         transfer_body, false, "transfer ownership (--owner NAME|none); history stays"},
        {"device", "import", " FILE", 1, "POST", "/devices/import", B(O_CSV), import_body, false,
         "bulk import from JSON or CSV, all or nothing"},
        {"device", "audit", " SERIAL", 1, "GET", "/devices/%s/audit", 0, NULL, true,
         "vouchers issued for the device"},
        {"device", "requests", " SERIAL", 1, "GET", "/devices/%s/requests",
         KEY_OPTS | B(O_CLOUDREG), NULL, true,
         "voucher-requests for the device and their dispositions (--cloudreg: "
         "cloudregd's log of the device's pledge-facing requests)"},
        {"device", "telemetry", " SERIAL", 1, "GET", "/devices/%s/telemetry",
         B(O_CLOUDREG) | B_CREG_ONLY, NULL, true,
         "voucher_status and enrollstatus reports of the device (cloudregd)"},
        {"voucher", "issue", " SERIAL", 1, "POST", "/vouchers",
         B(O_ISSUER) | B(O_FORMAT) | B(O_OUT), voucher_body, false,
         "issue a nonceless voucher (--out FILE writes it)"},
        {NULL, "requests", "", 0, "GET", "/requests", B(O_CLOUDREG), NULL, true,
         "every voucher-request and its disposition (--cloudreg: every pledge-facing "
         "request cloudregd logged)"},
};
#define N_AM_CMDS (sizeof(am_cmds) / sizeof(am_cmds[0]))

/* ---- HTTP ------------------------------------------------------------------- */

/* Write the voucher of an issue answer to path. */
static int write_voucher(json_t *j, const char *path)
{
	const char *b64 = json_string_value(json_object_get(j, "voucher"));
	gnutls_datum_t in, out = {NULL, 0};
	FILE *f;
	int rc = BRSKI_EXIT_OK;

	if (!b64) {
		fprintf(stderr, "brski admin voucher issue: the answer has no voucher\n");
		return BRSKI_EXIT_BAD;
	}
	in.data = (unsigned char *)b64;
	in.size = (unsigned)strlen(b64);
	if (gnutls_base64_decode2(&in, &out) < 0) {
		fprintf(stderr, "brski admin voucher issue: the voucher is not base64\n");
		return BRSKI_EXIT_BAD;
	}
	if (!(f = fopen(path, "we")) || fwrite(out.data, 1, out.size, f) != out.size) {
		perror(path);
		rc = BRSKI_EXIT_IO;
	}
	if (f && fclose(f) != 0 && rc == BRSKI_EXIT_OK) {
		perror(path);
		rc = BRSKI_EXIT_IO;
	}
	gnutls_free(out.data);
	return rc;
}

/* ---- running one command ---------------------------------------------------------- */

/* "/admin/v1" + tmpl with each "%s" replaced by the next of args. */
static int fill_path(char *out, size_t len, const char *tmpl, char *const args[2])
{
	struct brski_buf b;
	size_t next = 0;
	int rc = BRSKI_EXIT_OK;

	brski_buf_init(&b, len - 1);
	if (brski_buf_puts(&b, "/admin/v1") != VOUCHER_OK)
		rc = BRSKI_EXIT_USAGE;
	for (const char *t = tmpl; rc == BRSKI_EXIT_OK && *t; t++) {
		voucher_err r;
		if (t[0] == '%' && t[1] == 's' && next < 2 && args[next]) {
			r = brski_buf_puts(&b, args[next++]);
			t++;
		} else {
			r = brski_buf_putc(&b, (uint8_t)*t);
		}
		if (r != VOUCHER_OK)
			rc = BRSKI_EXIT_USAGE;
	}
	if (rc == BRSKI_EXIT_OK)
		snprintf(out, len, "%s", brski_buf_str(&b));
	else
		fprintf(stderr, "brski admin: the path is too long\n");
	brski_buf_free(&b);
	return rc;
}

static int am_run(struct brski_admin_client *cl, const struct am_cmd *c, const struct am_args *a)
{
	char path[2048], *esc[2] = {NULL, NULL}, *text = NULL;
	json_t *body = NULL, *j = NULL, *all = NULL;
	int rc = BRSKI_EXIT_IO;

	for (int i = 0; i < c->nargs; i++)
		if (!(esc[i] = curl_easy_escape(cl->h, a->pos[i], 0)))
			goto out;
	if ((rc = fill_path(path, sizeof(path), c->path, esc)) != BRSKI_EXIT_OK)
		goto out;
	/* the record's key, for a path that names one device */
	if ((c->opts & KEY_OPTS) && !a->v[O_CLOUDREG] && strstr(c->path, "%s") &&
	    (rc = brski_admin_query_add(cl, path, sizeof(path), "idevid_issuer", a->v[O_ISSUER])))
		goto out;
	if (c->list && strcmp(c->path, "/devices") == 0 &&
	    ((rc = brski_admin_query_add(cl, path, sizeof(path), "owner", a->v[O_OWNER])) ||
	     (rc = brski_admin_query_add(cl, path, sizeof(path), "mode", a->v[O_MODE]))))
		goto out;
	if (c->list && (rc = brski_admin_query_add(cl, path, sizeof(path), "limit", "500")))
		goto out;
	if (c->body) {
		if ((rc = c->body(c, a, &body)) != BRSKI_EXIT_OK)
			goto out;
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			rc = BRSKI_EXIT_IO;
			goto out;
		}
	}
	if (c->list && !(all = json_array()))
		goto out;
	for (unsigned pages = 0;; pages++) {
		json_error_t e;
		if ((rc = brski_admin_client_do(cl, c->method, path, text)) != BRSKI_EXIT_OK)
			goto out;
		if (cl->status < 200 || cl->status > 299) {
			rc = brski_admin_refused(cl, c->name);
			goto out;
		}
		j = json_loadb((const char *)cl->body.data, cl->body.len, 0, &e);
		if (!j) {
			fprintf(stderr, "brski admin: the answer is not JSON (%s)\n", e.text);
			rc = BRSKI_EXIT_BAD;
			goto out;
		}
		if (!c->list)
			break;
		json_array_extend(all, json_object_get(j, "items"));
		json_decref(j);
		j = NULL;
		if (!brski_admin_next_link(cl, path, sizeof(path)) || pages > 1000000)
			break;
	}
	if (c->list)
		rc = brski_admin_print_json(all);
	else if (a->v[O_OUT])
		rc = write_voucher(j, a->v[O_OUT]);
	else
		rc = brski_admin_print_json(j);
out:
	curl_free(esc[0]);
	curl_free(esc[1]);
	free(text);
	json_decref(body);
	json_decref(j);
	json_decref(all);
	return rc;
}

/* ---- entry -------------------------------------------------------------------------- */

static void am_usage(const struct am_cmd *c, FILE *out)
{
	fprintf(out, "usage: brski admin %s%s%s%s [options]\n\n%s\n\noptions:\n",
	        c->group ? c->group : "", c->group ? " " : "", c->name, c->args, c->summary);
	for (size_t i = 0; i < N_AM_OPTS; i++) {
		char lhs[48];
		if (!((c->opts | B_CONN) & B(am_opts[i].id)))
			continue;
		snprintf(lhs, sizeof(lhs), "--%s%s%s", am_opts[i].name, am_opts[i].arg ? " " : "",
		         am_opts[i].arg ? am_opts[i].arg : "");
		fprintf(out, "  %-38s %s\n", lhs, am_opts[i].help);
	}
}

void brski_admin_masa_usage(FILE *out)
{
	for (size_t i = 0; i < N_AM_CMDS; i++) {
		char name[48];
		snprintf(name, sizeof(name), "%s%s%s%s", am_cmds[i].group ? am_cmds[i].group : "",
		         am_cmds[i].group ? " " : "", am_cmds[i].name, am_cmds[i].args);
		fprintf(out, "  %-24s %s\n", name, am_cmds[i].summary);
	}
}

static const struct am_cmd *am_find(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < N_AM_CMDS; i++) {
		if (brski_admin_cmd_matches(am_cmds[i].group, am_cmds[i].name, argc, argv, used))
			return &am_cmds[i];
	}
	return NULL;
}

bool brski_admin_masa_handles(int argc, char **argv)
{
	int used;
	return am_find(argc, argv, &used) != NULL;
}

static int am_parse(const struct am_cmd *c, int argc, char **argv, struct am_args *a)
{
	struct option longopts[N_AM_OPTS + 1];

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < N_AM_OPTS; i++) {
		longopts[i].name = am_opts[i].name;
		longopts[i].has_arg = am_opts[i].arg ? required_argument : no_argument;
		longopts[i].val = am_opts[i].id;
	}
	optind = 0;
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, ":", longopts, NULL);
		if (o == -1)
			break;
		if (o == '?' || o == ':') {
			fprintf(stderr, "brski admin: %s '%s'\n",
			        o == ':' ? "missing value for" : "unknown option",
			        argv[optind - 1]);
			return BRSKI_EXIT_USAGE;
		}
		if (o <= 0 || o >= O_COUNT || !((c->opts | B_CONN) & B(o))) {
			fprintf(stderr,
			        "brski admin: this command takes no such option (see --help)\n");
			return BRSKI_EXIT_USAGE;
		}
		if (o == O_HELP) {
			am_usage(c, stdout);
			return -1;
		}
		a->v[o] = optarg ? optarg : "1";
	}
	if (argc - optind != c->nargs) {
		fprintf(stderr, "brski admin: expected%s (see --help)\n",
		        c->nargs ? c->args : " no arguments");
		return BRSKI_EXIT_USAGE;
	}
	for (int i = 0; i < c->nargs; i++)
		a->pos[i] = argv[optind + i];
	return BRSKI_EXIT_OK;
}

int brski_cmd_admin_masa(int argc, char **argv)
{
	const struct am_cmd *c;
	struct am_args a;
	struct brski_admin_client cl;
	char token[BRSKI_ADMIN_MAX_TOKEN + 2];
	int used = 0, rc;

	memset(&a, 0, sizeof(a));
	if (!(c = am_find(argc, argv, &used)))
		return BRSKI_EXIT_USAGE;
	argc -= used;
	argv += used;
	rc = am_parse(c, argc, argv, &a);
	if (rc < 0)
		return BRSKI_EXIT_OK;
	if (rc != BRSKI_EXIT_OK)
		return rc;
	if (c->opts & B_CREG_ONLY)
		a.v[O_CLOUDREG] = "1";
	if (a.v[O_CLOUDREG] && a.v[O_ISSUER]) {
		fprintf(stderr, "brski admin: --idevid-issuer is for masad's records, not with "
		                "--cloudreg\n");
		rc = BRSKI_EXIT_USAGE;
		goto out;
	}
	if (a.v[O_PKI] && (rc = brski_admin_from_pki(a.v[O_PKI], a.v[O_CLOUDREG] != NULL,
	                                             &a.manifest, &a.v[O_URL], &a.v[O_TOKEN_FILE],
	                                             &a.v[O_CACERT])) != BRSKI_EXIT_OK)
		goto out;
	if (!a.v[O_URL] || !a.v[O_TOKEN_FILE]) {
		fprintf(stderr, "brski admin: give --url and --token-file, or --pki DIR\n");
		rc = BRSKI_EXIT_USAGE;
		goto out;
	}
	if ((rc = brski_admin_read_token(a.v[O_TOKEN_FILE], token, sizeof(token))) != BRSKI_EXIT_OK)
		goto out;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = brski_admin_client_init(&cl, a.v[O_URL], a.v[O_CACERT], token);
	explicit_bzero(token, sizeof(token));
	if (rc == BRSKI_EXIT_OK)
		rc = am_run(&cl, c, &a);
	brski_admin_client_free(&cl);
	curl_global_cleanup();
out:
	json_decref(a.manifest);
	return rc;
}
