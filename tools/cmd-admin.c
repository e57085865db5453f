/*
 * brski admin: a client of the admin REST API (docs/ADMIN.md) over HTTPS
 * with libcurl. One easy handle serves every request of a run, so pages
 * and export parts reuse one connection.
 *
 * Where to connect and how: --url, --token-file and --cacert, or --pki DIR
 * to take them from DIR/pki.json (admin.masa_url, or admin.cloudreg_url
 * with --cloudreg; admin.token_file; tls_ca). Explicit options win.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"
#include "tools/admin-client.h"
#include "tools/brski.h"

#define ADM_PAGE 500

enum {
	C_CREATE = 1 << 0,
	C_LIST = 1 << 1,
	C_REVOKE = 1 << 2,
	C_ALIST = 1 << 3,
	C_EXPORT = 1 << 4,
	C_WHOAMI = 1 << 5,
	C_ALL = 0x3f,
};

enum {
	OPT_URL = 1,
	OPT_TOKEN_FILE,
	OPT_CACERT,
	OPT_PKI,
	OPT_CLOUDREG,
	OPT_NAME,
	OPT_SCOPE,
	OPT_OWNER,
	OPT_TOKEN_ONLY,
	OPT_JSON,
	OPT_TOKEN_ID,
	OPT_METHOD,
	OPT_ROUTE,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_FORMAT,
	OPT_OUTPUT,
	OPT_HELP,
};

/* Options of every admin command; getopt's table and --help come from it. */
static const struct adm_opt {
	const char *name;
	const char *arg; /* NULL: a flag */
	int id;
	unsigned cmds;
	const char *help;
} adm_opts[] = {
        {"url", "URL", OPT_URL, C_ALL, "admin origin of a daemon, https://host:port"},
        {"token-file", "FILE", OPT_TOKEN_FILE, C_ALL, "file holding the bearer token"},
        {"cacert", "FILE", OPT_CACERT, C_ALL, "PEM bundle that verifies the daemon"},
        {"pki", "DIR", OPT_PKI, C_ALL,
         "take url (admin.masa_url), token file and CA from DIR/pki.json"},
        {"cloudreg", NULL, OPT_CLOUDREG, C_ALL, "with --pki: use admin.cloudreg_url"},
        {"name", "NAME", OPT_NAME, C_CREATE, "name of the new token (required)"},
        {"scope", "SCOPE", OPT_SCOPE, C_CREATE, "read, write or admin (required)"},
        {"owner", "OWNER", OPT_OWNER, C_CREATE, "limit the token to one owner's records"},
        {"token-only", NULL, OPT_TOKEN_ONLY, C_CREATE, "print only the new token's text"},
        {"json", NULL, OPT_JSON, C_LIST | C_ALIST | C_WHOAMI, "print JSON instead of a table"},
        {"token-id", "ID", OPT_TOKEN_ID, C_ALIST | C_EXPORT, "only changes made with token ID"},
        {"method", "METHOD", OPT_METHOD, C_ALIST | C_EXPORT, "only this HTTP method"},
        {"route", "PREFIX", OPT_ROUTE, C_ALIST | C_EXPORT, "only paths starting with PREFIX"},
        {"since", "TIME", OPT_SINCE, C_ALIST | C_EXPORT,
         "only rows at or after TIME (Unix s or RFC 3339)"},
        {"until", "TIME", OPT_UNTIL, C_ALIST | C_EXPORT,
         "only rows at or before TIME (Unix s or RFC 3339)"},
        {"format", "FMT", OPT_FORMAT, C_EXPORT, "jsonl (default) or csv"},
        {"output", "FILE", OPT_OUTPUT, C_EXPORT, "write to FILE instead of standard output"},
        {"help", NULL, OPT_HELP, C_ALL, "show this help"},
};
#define N_ADM_OPTS (sizeof(adm_opts) / sizeof(adm_opts[0]))

static const struct adm_cmd {
	const char *group; /* "token", "audit" or NULL */
	const char *name;
	unsigned bit;
	const char *args; /* positional, for the usage line */
	const char *summary;
} adm_cmds[] = {
        {"token", "create", C_CREATE, "", "create a token (its text is shown once)"},
        {"token", "list", C_LIST, "", "list every token, revoked ones included"},
        {"token", "revoke", C_REVOKE, " ID", "revoke token ID"},
        {"audit", "list", C_ALIST, "", "the admin audit trail, filtered"},
        {"audit", "export", C_EXPORT, "", "export the audit trail as JSON lines or CSV"},
        {NULL, "whoami", C_WHOAMI, "", "the token in use"},
};

struct adm_args {
	const char *url, *token_file, *cacert, *pki;
	bool cloudreg, token_only, json;
	const char *name, *scope, *owner;
	const char *token_id, *method, *route, *since, *until, *format, *output;
	/* from pki.json, owned */
	json_t *manifest;
};

/* ---- answers ------------------------------------------------------------------ */

/* Say why an answer is an error: the problem's fields, or the text as
 * sent (bounded). Returns the exit code for a refused request. */
/* The JSON answer of a successful request, or NULL after reporting. */
static json_t *answer_json(const struct brski_admin_client *cl, const char *what)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)cl->body.data, cl->body.len, 0, &e);

	if (!j)
		fprintf(stderr, "brski admin: %s: the answer is not JSON (%s)\n", what, e.text);
	return j;
}

/* ---- configuration ----------------------------------------------------------------- */

static void usage(const struct adm_cmd *c, FILE *out)
{
	if (!c) {
		fprintf(out, "usage: brski admin <command> [options]\n\ncommands:\n");
		for (size_t i = 0; i < sizeof(adm_cmds) / sizeof(adm_cmds[0]); i++) {
			char name[32];
			snprintf(name, sizeof(name), "%s%s%s%s",
			         adm_cmds[i].group ? adm_cmds[i].group : "",
			         adm_cmds[i].group ? " " : "", adm_cmds[i].name, adm_cmds[i].args);
			fprintf(out, "  %-16s %s\n", name, adm_cmds[i].summary);
		}
		brski_admin_masa_usage(out);
		fprintf(out,
		        "\n'brski admin <command> --help' lists its options. Exit status: 0 ok, "
		        "1 the daemon refused\n(its problem detail is printed), 2 usage, 3 "
		        "network or I/O.\n");
		return;
	}
	fprintf(out, "usage: brski admin %s%s%s%s [options]\n\n%s\n\noptions:\n",
	        c->group ? c->group : "", c->group ? " " : "", c->name, c->args, c->summary);
	for (size_t i = 0; i < N_ADM_OPTS; i++) {
		char lhs[40];
		if (!(adm_opts[i].cmds & c->bit))
			continue;
		snprintf(lhs, sizeof(lhs), "--%s%s%s", adm_opts[i].name, adm_opts[i].arg ? " " : "",
		         adm_opts[i].arg ? adm_opts[i].arg : "");
		fprintf(out, "  %-22s %s\n", lhs, adm_opts[i].help);
	}
}

/* ---- commands ------------------------------------------------------------------------- */

static void print_time(FILE *out, json_t *t)
{
	char buf[32];
	time_t v;
	struct tm tm;

	if (!json_is_integer(t)) {
		fprintf(out, "%-20s ", "-");
		return;
	}
	v = (time_t)json_integer_value(t);
	gmtime_r(&v, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(out, "%-20s ", buf);
}

static int cmd_whoami(struct brski_admin_client *cl, const struct adm_args *a)
{
	json_t *j;
	int rc = brski_admin_client_do(cl, "GET", "/admin/v1/whoami", NULL);

	if (rc != BRSKI_EXIT_OK)
		return rc;
	if (cl->status != 200)
		return brski_admin_refused(cl, "whoami");
	if (!(j = answer_json(cl, "whoami")))
		return BRSKI_EXIT_BAD;
	if (a->json) {
		rc = brski_admin_print_json(j);
	} else {
		const char *owner = json_string_value(json_object_get(j, "owner"));
		printf("token %lld \"%s\", scope %s%s%s\n",
		       (long long)json_integer_value(json_object_get(j, "id")),
		       json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "scope")), owner ? ", owner " : "",
		       owner ? owner : "");
	}
	json_decref(j);
	return rc;
}

static int cmd_create(struct brski_admin_client *cl, const struct adm_args *a)
{
	json_t *req, *j;
	char *body;
	int rc;

	if (!a->name || !a->scope) {
		fprintf(stderr, "brski admin token create: --name and --scope are required\n");
		return BRSKI_EXIT_USAGE;
	}
	req = json_pack("{s:s, s:s}", "name", a->name, "scope", a->scope);
	if (req && a->owner)
		json_object_set_new(req, "owner", json_string(a->owner));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return BRSKI_EXIT_IO;
	rc = brski_admin_client_do(cl, "POST", "/admin/v1/tokens", body);
	free(body);
	if (rc != BRSKI_EXIT_OK)
		return rc;
	if (cl->status != 201)
		return brski_admin_refused(cl, "token create");
	if (!(j = answer_json(cl, "token create")))
		return BRSKI_EXIT_BAD;
	if (a->token_only)
		puts(json_string_value(json_object_get(j, "token")));
	else
		rc = brski_admin_print_json(j);
	json_decref(j);
	return rc;
}

static int cmd_revoke(struct brski_admin_client *cl, const struct adm_args *a, const char *id)
{
	char path[128];
	uint64_t u;
	int rc;

	if (!id || brski_str_to_u64(id, &u, INT64_MAX) != VOUCHER_OK) {
		fprintf(stderr, "brski admin token revoke: give the token's id (a number)\n");
		return BRSKI_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/admin/v1/tokens/%llu", (unsigned long long)u);
	rc = brski_admin_client_do(cl, "DELETE", path, NULL);
	if (rc != BRSKI_EXIT_OK)
		return rc;
	if (cl->status != 200)
		return brski_admin_refused(cl, "token revoke");
	printf("token %llu revoked\n", (unsigned long long)u);
	(void)a;
	return BRSKI_EXIT_OK;
}

static int filters(struct brski_admin_client *cl, const struct adm_args *a, char *q, size_t len)
{
	if (brski_admin_query_add(cl, q, len, "token_id", a->token_id) ||
	    brski_admin_query_add(cl, q, len, "method", a->method) ||
	    brski_admin_query_add(cl, q, len, "route", a->route) ||
	    brski_admin_query_add(cl, q, len, "since", a->since) ||
	    brski_admin_query_add(cl, q, len, "until", a->until)) {
		fprintf(stderr, "brski admin: filters too long\n");
		return BRSKI_EXIT_USAGE;
	}
	return BRSKI_EXIT_OK;
}

/* Every page of a list, its items appended to all. */
static int fetch_all(struct brski_admin_client *cl, const char *first, const char *what,
                     json_t *all)
{
	char path[1200];
	int rc, pages = 0;

	snprintf(path, sizeof(path), "%s", first);
	for (;;) {
		json_t *j;
		if ((rc = brski_admin_client_do(cl, "GET", path, NULL)) != BRSKI_EXIT_OK)
			return rc;
		if (cl->status != 200)
			return brski_admin_refused(cl, what);
		if (!(j = answer_json(cl, what)))
			return BRSKI_EXIT_BAD;
		json_array_extend(all, json_object_get(j, "items"));
		json_decref(j);
		/* a bound on a misbehaving server that links in circles */
		if (!brski_admin_next_link(cl, path, sizeof(path)) || ++pages > 1000000)
			return BRSKI_EXIT_OK;
	}
}

static int cmd_list(struct brski_admin_client *cl, const struct adm_args *a)
{
	json_t *all = json_array(), *it;
	char path[64];
	size_t i;
	int rc;

	if (!all)
		return BRSKI_EXIT_IO;
	snprintf(path, sizeof(path), "/admin/v1/tokens?limit=%d", ADM_PAGE);
	rc = fetch_all(cl, path, "token list", all);
	if (rc == BRSKI_EXIT_OK && a->json) {
		rc = brski_admin_print_json(all);
	} else if (rc == BRSKI_EXIT_OK) {
		printf("%-6s %-24s %-6s %-16s %-20s %s\n", "ID", "NAME", "SCOPE", "OWNER",
		       "CREATED", "REVOKED");
		json_array_foreach(all, i, it)
		{
			const char *owner = json_string_value(json_object_get(it, "owner"));
			printf("%-6lld %-24s %-6s %-16s ",
			       (long long)json_integer_value(json_object_get(it, "id")),
			       json_string_value(json_object_get(it, "name")),
			       json_string_value(json_object_get(it, "scope")),
			       owner ? owner : "-");
			print_time(stdout, json_object_get(it, "created"));
			print_time(stdout, json_object_get(it, "revoked"));
			putchar('\n');
		}
	}
	json_decref(all);
	return rc;
}

static int cmd_audit_list(struct brski_admin_client *cl, const struct adm_args *a)
{
	json_t *all = json_array(), *it;
	char q[1024] = "", path[1200];
	size_t i;
	int rc;

	if (!all)
		return BRSKI_EXIT_IO;
	if ((rc = filters(cl, a, q, sizeof(q))) != BRSKI_EXIT_OK) {
		json_decref(all);
		return rc;
	}
	snprintf(path, sizeof(path), "/admin/v1/audit?limit=%d%s%s", ADM_PAGE, q[0] ? "&" : "", q);
	rc = fetch_all(cl, path, "audit list", all);
	if (rc == BRSKI_EXIT_OK && a->json) {
		rc = brski_admin_print_json(all);
	} else if (rc == BRSKI_EXIT_OK) {
		printf("%-6s %-20s %-6s %-7s %-6s %s\n", "ID", "TIME", "TOKEN", "METHOD", "STATUS",
		       "ROUTE");
		json_array_foreach(all, i, it)
		{
			json_t *tok = json_object_get(it, "token_id");
			printf("%-6lld ", (long long)json_integer_value(json_object_get(it, "id")));
			print_time(stdout, json_object_get(it, "time"));
			if (json_is_integer(tok))
				printf("%-6lld ", (long long)json_integer_value(tok));
			else
				printf("%-6s ", "-");
			printf("%-7s %-6lld %s\n", json_string_value(json_object_get(it, "method")),
			       (long long)json_integer_value(json_object_get(it, "status")),
			       json_string_value(json_object_get(it, "route")));
		}
	}
	json_decref(all);
	return rc;
}

static int cmd_export(struct brski_admin_client *cl, const struct adm_args *a)
{
	const char *format = a->format ? a->format : "jsonl";
	char q[1024] = "", path[1200];
	FILE *out = stdout;
	int rc, parts = 0;

	if (strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0) {
		fprintf(stderr, "brski admin audit export: --format is jsonl or csv\n");
		return BRSKI_EXIT_USAGE;
	}
	if ((rc = filters(cl, a, q, sizeof(q))) != BRSKI_EXIT_OK)
		return rc;
	if (a->output && !(out = fopen(a->output, "we"))) {
		perror(a->output);
		return BRSKI_EXIT_IO;
	}
	snprintf(path, sizeof(path), "/admin/v1/audit/export?format=%s%s%s", format,
	         q[0] ? "&" : "", q);
	for (;;) {
		if ((rc = brski_admin_client_do(cl, "GET", path, NULL)) != BRSKI_EXIT_OK)
			break;
		if (cl->status != 200) {
			rc = brski_admin_refused(cl, "audit export");
			break;
		}
		if (cl->body.len && fwrite(cl->body.data, 1, cl->body.len, out) != cl->body.len) {
			perror(a->output ? a->output : "stdout");
			rc = BRSKI_EXIT_IO;
			break;
		}
		/* the next part's link carries the cursor; the filters are
		 * ours to repeat */
		if (!brski_admin_next_link(cl, path, sizeof(path) - strlen(q) - 2) ||
		    ++parts > 1000000)
			break;
		if (q[0]) {
			size_t used = strlen(path);
			snprintf(path + used, sizeof(path) - used, "&%s", q);
		}
	}
	if (out != stdout && fclose(out) != 0 && rc == BRSKI_EXIT_OK) {
		perror(a->output);
		rc = BRSKI_EXIT_IO;
	}
	return rc;
}

/* ---- entry --------------------------------------------------------------------------- */

static const struct adm_cmd *find_cmd(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < sizeof(adm_cmds) / sizeof(adm_cmds[0]); i++) {
		if (brski_admin_cmd_matches(adm_cmds[i].group, adm_cmds[i].name, argc, argv, used))
			return &adm_cmds[i];
	}
	return NULL;
}

static int parse(const struct adm_cmd *c, int argc, char **argv, struct adm_args *a)
{
	struct option longopts[N_ADM_OPTS + 1];

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < N_ADM_OPTS; i++) {
		longopts[i].name = adm_opts[i].name;
		longopts[i].has_arg = adm_opts[i].arg ? required_argument : no_argument;
		longopts[i].val = adm_opts[i].id;
	}
	optind = 0; /* glibc: start afresh, permuting */
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, ":", longopts, NULL);
		size_t k;

		if (o == -1)
			break;
		if (o == '?' || o == ':') {
			fprintf(stderr, "brski admin: %s '%s'\n",
			        o == ':' ? "missing value for" : "unknown option",
			        argv[optind - 1]);
			return BRSKI_EXIT_USAGE;
		}
		for (k = 0; k < N_ADM_OPTS && adm_opts[k].id != o; k++)
			;
		if (k == N_ADM_OPTS || !(adm_opts[k].cmds & c->bit)) {
			fprintf(stderr, "brski admin: this command takes no --%s\n",
			        k < N_ADM_OPTS ? adm_opts[k].name : "?");
			return BRSKI_EXIT_USAGE;
		}
		switch (o) {
		case OPT_URL:
			a->url = optarg;
			break;
		case OPT_TOKEN_FILE:
			a->token_file = optarg;
			break;
		case OPT_CACERT:
			a->cacert = optarg;
			break;
		case OPT_PKI:
			a->pki = optarg;
			break;
		case OPT_CLOUDREG:
			a->cloudreg = true;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_SCOPE:
			a->scope = optarg;
			break;
		case OPT_OWNER:
			a->owner = optarg;
			break;
		case OPT_TOKEN_ONLY:
			a->token_only = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TOKEN_ID:
			a->token_id = optarg;
			break;
		case OPT_METHOD:
			a->method = optarg;
			break;
		case OPT_ROUTE:
			a->route = optarg;
			break;
		case OPT_SINCE:
			a->since = optarg;
			break;
		case OPT_UNTIL:
			a->until = optarg;
			break;
		case OPT_FORMAT:
			a->format = optarg;
			break;
		case OPT_OUTPUT:
			a->output = optarg;
			break;
		case OPT_HELP:
			usage(c, stdout);
			return -1;
		default:
			break;
		}
	}
	return BRSKI_EXIT_OK;
}

int brski_cmd_admin(int argc, char **argv)
{
	const struct adm_cmd *c;
	struct adm_args a = {0};
	struct brski_admin_client cl;
	char token[BRSKI_ADMIN_MAX_TOKEN + 2];
	int used = 0, rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	                  strcmp(argv[1], "help") == 0)) {
		usage(NULL, stdout);
		return BRSKI_EXIT_OK;
	}
	c = find_cmd(argc, argv, &used);
	if (!c && brski_admin_masa_handles(argc, argv))
		return brski_cmd_admin_masa(argc, argv);
	if (!c) {
		fprintf(stderr, "brski admin: unknown or missing command\n");
		usage(NULL, stderr);
		return BRSKI_EXIT_USAGE;
	}
	/* getopt sees "<command> [options] [args]" */
	argc -= used;
	argv += used;
	rc = parse(c, argc, argv, &a);
	if (rc < 0)
		return BRSKI_EXIT_OK;
	if (rc != BRSKI_EXIT_OK)
		return rc;
	if (c->bit == C_REVOKE ? optind != argc - 1 : optind != argc) {
		fprintf(stderr, "brski admin: unexpected arguments (see --help)\n");
		return BRSKI_EXIT_USAGE;
	}
	if (a.pki && (rc = brski_admin_from_pki(a.pki, a.cloudreg, &a.manifest, &a.url,
	                                        &a.token_file, &a.cacert)) != BRSKI_EXIT_OK)
		goto out;
	if (!a.url || !a.token_file) {
		fprintf(stderr, "brski admin: give --url and --token-file, or --pki DIR\n");
		rc = BRSKI_EXIT_USAGE;
		goto out;
	}
	if ((rc = brski_admin_read_token(a.token_file, token, sizeof(token))) != BRSKI_EXIT_OK)
		goto out;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = brski_admin_client_init(&cl, a.url, a.cacert, token);
	explicit_bzero(token, sizeof(token));
	if (rc == BRSKI_EXIT_OK) {
		switch (c->bit) {
		case C_CREATE:
			rc = cmd_create(&cl, &a);
			break;
		case C_LIST:
			rc = cmd_list(&cl, &a);
			break;
		case C_REVOKE:
			rc = cmd_revoke(&cl, &a, argv[optind]);
			break;
		case C_ALIST:
			rc = cmd_audit_list(&cl, &a);
			break;
		case C_EXPORT:
			rc = cmd_export(&cl, &a);
			break;
		default:
			rc = cmd_whoami(&cl, &a);
			break;
		}
	}
	brski_admin_client_free(&cl);
	curl_global_cleanup();
out:
	json_decref(a.manifest);
	return rc;
}
