/*
 * The HTTPS client of `brski admin` (tools/admin-client.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/compat.h"
#include "common/str.h"
#include "tools/admin-client.h"
#include "tools/brski.h"

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct brski_admin_client *cl = arg;

	/* returning less than given aborts the transfer (over the bound) */
	if (brski_buf_put(&cl->body, p, size * n) != VOUCHER_OK)
		return 0;
	return size * n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0)
		return;
	line += n;
	len -= n;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct brski_admin_client *cl = arg;

	header_value(p, size * n, "Link:", cl->link, sizeof(cl->link));
	header_value(p, size * n, "Content-Type:", cl->ctype, sizeof(cl->ctype));
	return size * n;
}

int brski_admin_client_init(struct brski_admin_client *cl, const char *url, const char *cacert,
                            const char *token)
{
	char auth[BRSKI_ADMIN_MAX_TOKEN + 32];
	size_t len = strlen(url);

	memset(cl, 0, sizeof(*cl));
	brski_buf_init(&cl->body, BRSKI_ADMIN_MAX_RESPONSE);
	while (len && url[len - 1] == '/')
		len--;
	if (!brski_str_startswith(url, "https://") || len >= sizeof(cl->origin)) {
		fprintf(stderr, "brski admin: --url must be an https:// origin, not '%s'\n", url);
		return BRSKI_EXIT_USAGE;
	}
	snprintf(cl->origin, sizeof(cl->origin), "%.*s", (int)len, url);
	cl->h = curl_easy_init();
	if (!cl->h)
		return BRSKI_EXIT_IO;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	cl->hdrs = curl_slist_append(NULL, auth);
	explicit_bzero(auth, sizeof(auth));
	if (!cl->hdrs)
		return BRSKI_EXIT_IO;
	curl_easy_setopt(cl->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(cl->h, CURLOPT_ERRORBUFFER, cl->errbuf);
	curl_easy_setopt(cl->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BRSKI_ADMIN_MAX_RESPONSE);
	curl_easy_setopt(cl->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cl->h, CURLOPT_WRITEDATA, cl);
	curl_easy_setopt(cl->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(cl->h, CURLOPT_HEADERDATA, cl);
	curl_easy_setopt(cl->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(cl->h, CURLOPT_TIMEOUT, 120L);
	/* --cacert: that CA only, not the system's as well. */
	if (cacert) {
		curl_easy_setopt(cl->h, CURLOPT_CAINFO, cacert);
		curl_easy_setopt(cl->h, CURLOPT_CAPATH, NULL);
	}
	return BRSKI_EXIT_OK;
}

void brski_admin_client_free(struct brski_admin_client *cl)
{
	if (cl->h)
		curl_easy_cleanup(cl->h);
	cl->h = NULL;
	curl_slist_free_all(cl->hdrs);
	cl->hdrs = NULL;
	brski_buf_free(&cl->body);
}

int brski_admin_client_do(struct brski_admin_client *cl, const char *method, const char *path,
                          const char *json)
{
	struct curl_slist *hdrs = cl->hdrs, *extra = NULL;
	char url[4096];
	CURLcode cc;

	if (snprintf(url, sizeof(url), "%s%s", cl->origin, path) >= (int)sizeof(url)) {
		fprintf(stderr, "brski admin: URL too long\n");
		return BRSKI_EXIT_USAGE;
	}
	brski_buf_reset(&cl->body);
	cl->link[0] = cl->ctype[0] = cl->errbuf[0] = '\0';
	cl->status = 0;
	if (json) {
		extra = curl_slist_append(NULL, "Content-Type: application/json");
		if (!extra)
			return BRSKI_EXIT_IO;
		extra->next = cl->hdrs;
		hdrs = extra;
	}
	curl_easy_setopt(cl->h, CURLOPT_URL, url);
	curl_easy_setopt(cl->h, CURLOPT_HTTPHEADER, hdrs);
	/* back to a plain GET first: the handle may have sent a body before */
	curl_easy_setopt(cl->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(cl->h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
	if (json) {
		curl_easy_setopt(cl->h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(cl->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	}
	cc = curl_easy_perform(cl->h);
	if (extra) {
		extra->next = NULL;
		curl_slist_free_all(extra);
	}
	/* the handle must not keep pointing at the freed extra header */
	curl_easy_setopt(cl->h, CURLOPT_HTTPHEADER, cl->hdrs);
	if (cc != CURLE_OK) {
		fprintf(stderr, "brski admin: %s %s failed: %s (%s)\n", method, url,
		        curl_easy_strerror(cc), cl->errbuf[0] ? cl->errbuf : "no detail");
		return BRSKI_EXIT_IO;
	}
	curl_easy_getinfo(cl->h, CURLINFO_RESPONSE_CODE, &cl->status);
	return BRSKI_EXIT_OK;
}

bool brski_admin_next_link(const struct brski_admin_client *cl, char *out, size_t len)
{
	const char *lt = strchr(cl->link, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (!lt || !gt || !strstr(gt, "rel=\"next\""))
		return false;
	lt++;
	/* only a path of the admin API: never another host */
	if ((size_t)(gt - lt) >= len || strncmp(lt, "/admin/v1/", 10) != 0)
		return false;
	snprintf(out, len, "%.*s", (int)(gt - lt), lt);
	return true;
}

int brski_admin_read_token(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		perror(path);
		return BRSKI_EXIT_IO;
	}
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	if (n == 0 || n >= len - 1 || strpbrk(out, "\r\n \t")) {
		explicit_bzero(out, len);
		fprintf(stderr, "brski admin: %s must hold one token on one line\n", path);
		return BRSKI_EXIT_USAGE;
	}
	return BRSKI_EXIT_OK;
}

int brski_admin_from_pki(const char *dir, bool cloudreg, json_t **manifest, const char **url,
                         const char **token_file, const char **cacert)
{
	char path[4096];
	json_error_t e;
	const char *ca = NULL, *tf = NULL, *masa = NULL, *creg = NULL;

	snprintf(path, sizeof(path), "%s/pki.json", dir);
	*manifest = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (!*manifest) {
		fprintf(stderr, "brski admin: cannot read %s (%s)\n", path, e.text);
		return BRSKI_EXIT_USAGE;
	}
	/* not strict: the manifest has much more than the admin part */
	if (json_unpack_ex(*manifest, &e, 0, "{s:s, s:{s:s, s:s, s?s}}", "tls_ca", &ca, "admin",
	                   "token_file", &tf, "masa_url", &masa, "cloudreg_url", &creg) != 0) {
		fprintf(stderr, "brski admin: %s: %s\n", path, e.text);
		return BRSKI_EXIT_USAGE;
	}
	if (cloudreg && !creg) {
		fprintf(stderr, "brski admin: %s has no admin.cloudreg_url\n", path);
		return BRSKI_EXIT_USAGE;
	}
	if (!*url)
		*url = cloudreg ? creg : masa;
	if (!*token_file)
		*token_file = tf;
	if (!*cacert)
		*cacert = ca;
	return BRSKI_EXIT_OK;
}

int brski_admin_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!s)
		return BRSKI_EXIT_IO;
	puts(s);
	free(s);
	return BRSKI_EXIT_OK;
}

int brski_admin_query_add(struct brski_admin_client *cl, char *buf, size_t len, const char *name,
                          const char *value)
{
	size_t used = strlen(buf);
	const char *sep = "";
	char *esc;
	int w;

	if (!value)
		return BRSKI_EXIT_OK;
	if (used && buf[0] == '/' && !strchr(buf, '?'))
		sep = "?";
	else if (used)
		sep = "&";
	if (!(esc = curl_easy_escape(cl->h, value, 0)))
		return BRSKI_EXIT_IO;
	w = snprintf(buf + used, len - used, "%s%s=%s", sep, name, esc);
	curl_free(esc);
	return w > 0 && (size_t)w < len - used ? BRSKI_EXIT_OK : BRSKI_EXIT_USAGE;
}

/* A JSON string member, or "" when absent. */
static const char *member_text(json_t *o, const char *name)
{
	const char *v = json_string_value(json_object_get(o, name));
	return v ? v : "";
}

int brski_admin_refused(const struct brski_admin_client *cl, const char *what)
{
	json_t *p = NULL, *row;
	size_t i;

	if (strncasecmp(cl->ctype, "application/problem+json", 24) == 0)
		p = json_loadb((const char *)cl->body.data, cl->body.len, 0, NULL);
	if (!p) {
		fprintf(stderr, "brski admin: %s: HTTP %ld: %.*s\n", what, cl->status,
		        (int)(cl->body.len > 512 ? 512 : cl->body.len),
		        cl->body.data ? (const char *)cl->body.data : "");
		return BRSKI_EXIT_BAD;
	}
	fprintf(stderr, "brski admin: %s: HTTP %ld %s: %s\n", what, cl->status,
	        member_text(p, "title"), member_text(p, "detail"));
	/* an import names each row it refused; a bounded number is shown */
	json_array_foreach(json_object_get(p, "errors"), i, row)
	{
		if (i == 50) {
			fprintf(stderr, "  ... and %zu more\n",
			        json_array_size(json_object_get(p, "errors")) - i);
			break;
		}
		fprintf(stderr, "  row %lld: %s\n",
		        (long long)json_integer_value(json_object_get(row, "row")),
		        member_text(row, "error"));
	}
	json_decref(p);
	return BRSKI_EXIT_BAD;
}

bool brski_admin_cmd_matches(const char *group, const char *name, int argc, char **argv, int *used)
{
	if (!group && argc >= 2 && strcmp(argv[1], name) == 0) {
		*used = 1;
		return true;
	}
	if (group && argc >= 3 && strcmp(argv[1], group) == 0 && strcmp(argv[2], name) == 0) {
		*used = 2;
		return true;
	}
	return false;
}
