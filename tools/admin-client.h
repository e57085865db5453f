/*
 * The HTTPS client both `brski admin` command tables share
 * (tools/cmd-admin.c: tokens and audit; tools/cmd-admin-masa.c: the
 * MASA's records): one libcurl easy handle per run carrying the bearer
 * token, the answer kept in a bounded buffer, and the connection settings
 * read from a token file or from pki.json.
 */
#ifndef BRSKI_TOOL_ADMIN_CLIENT_H
#define BRSKI_TOOL_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"

/* Largest answer accepted: an export part is at most 8 MiB. */
#define BRSKI_ADMIN_MAX_RESPONSE (64 * 1024 * 1024)
/* Longest bearer token a token file may hold. */
#define BRSKI_ADMIN_MAX_TOKEN 512

struct brski_admin_client {
	CURL *h;
	struct curl_slist *hdrs; /* the Authorization header */
	char origin[512];        /* https://host:port, no trailing slash */
	char errbuf[CURL_ERROR_SIZE];
	struct brski_buf body; /* the last answer's body */
	char link[1024];       /* its Link header, "" if none */
	char ctype[128];       /* its Content-Type, "" if none */
	long status;           /* its HTTP status */
};

/* Set up cl for the admin origin url (https only), verified with cacert
 * (NULL: the system's CAs), sending token. Returns a BRSKI_EXIT_ code;
 * brski_admin_client_free(cl) is needed whatever it returns. */
int brski_admin_client_init(struct brski_admin_client *cl, const char *url, const char *cacert,
                            const char *token);
void brski_admin_client_free(struct brski_admin_client *cl);

/* One request; path is absolute ("/admin/v1/..."), json the body or NULL.
 * Returns an exit code: OK for any HTTP answer (look at cl->status). */
int brski_admin_client_do(struct brski_admin_client *cl, const char *method, const char *path,
                          const char *json);

/* The path of the last answer's Link rel="next" on the same admin API (never
 * another host) into out, or false when there is none. */
bool brski_admin_next_link(const struct brski_admin_client *cl, char *out, size_t len);

/* Read the bearer token of path (one token on one line) into out. */
int brski_admin_read_token(const char *path, char *out, size_t len);

/* Fill the unset ones of *url, *token_file and *cacert from DIR/pki.json
 * (admin.masa_url, or admin.cloudreg_url when cloudreg; admin.token_file;
 * tls_ca). The strings point into *manifest, which the caller frees with
 * json_decref (also on failure). */
int brski_admin_from_pki(const char *dir, bool cloudreg, json_t **manifest, const char **url,
                         const char **token_file, const char **cacert);

/* Print j indented, in its order, on standard output. */
int brski_admin_print_json(json_t *j);

/* Append "name=value" (value URL-escaped) to buf when value is set. The
 * separator follows what buf holds: none when empty, '?' after a path
 * ("/admin/v1/devices"), '&' after a query or a path that has one.
 * Returns BRSKI_EXIT_OK, BRSKI_EXIT_USAGE when it does not fit in len, or
 * BRSKI_EXIT_IO when out of memory. */
int brski_admin_query_add(struct brski_admin_client *cl, char *buf, size_t len, const char *name,
                          const char *value);

/* The daemon refused the last request: print "brski admin: what: HTTP
 * status" with the problem's title and detail, and each per-row error of
 * an import, or the start of a body that is not a problem. Returns
 * BRSKI_EXIT_BAD. */
int brski_admin_refused(const struct brski_admin_client *cl, const char *what);

/* Whether argv names the command group/name ("brski admin GROUP NAME", or
 * "brski admin NAME" when group is NULL); *used is how many words it took. */
bool brski_admin_cmd_matches(const char *group, const char *name, int argc, char **argv, int *used);

#endif
