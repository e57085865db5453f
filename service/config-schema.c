/*
 * The configuration schema: one table per section of docs/CONFIG.md, in the
 * same order. tests/unit/service/test_config.c checks that this table and
 * the document list the same sections and keys.
 */
#include <config.h> /* the build's, not service/config.h */

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "common/str.h"
#include "service/config.h"

#define NONE                                                                                       \
	{                                                                                          \
		NULL, NULL, NULL                                                                   \
	}
/* Required when the key of the same section is set. */
#define WITH(key)                                                                                  \
	{                                                                                          \
		"", key, NULL                                                                      \
	}

static const char *const roles[] = {"masa", "cloud", "registrar", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const client_cert_modes[] = {"require", "request", "none", NULL};
static const char *const pinning_modes[] = {"domain-ca", "registrar", NULL};
static const char *const ca_backends[] = {"local", "acme", NULL};
static const char *const san_policies[] = {"auto", "subdomain", "csr", "none", NULL};
static const char *const challenges[] = {"http-01", "dns-01", NULL};

static voucher_err check_user(const char *value, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	/* The user must exist now: finding out after binding the sockets and
	 * loading the keys would be too late to refuse to start. */
	if (getpwnam_r(value, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(err, errlen, "no such user '%s'", value);
		return VOUCHER_E_CONFIG;
	}
	return VOUCHER_OK;
}

static voucher_err check_dns_name(const char *value, char *err, size_t errlen)
{
	size_t label = 0, total = strlen(value);

	if (total == 0 || total > 253)
		goto bad;
	for (const char *p = value;; p++) {
		char c = *p;
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				goto bad;
			if (c == '\0')
				break;
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || (c == '-' && label > 0);
		if (!ok)
			goto bad;
		label++;
	}
	return VOUCHER_OK;
bad:
	snprintf(err, errlen, "'%s' is not a DNS name (letters, digits, inner hyphens, dots)",
	         value);
	return VOUCHER_E_CONFIG;
}

static voucher_err check_mailto(const char *value, char *err, size_t errlen)
{
	const char *at;

	if (!brski_str_startswith(value, "mailto:") || !(at = strchr(value + 7, '@')) ||
	    at == value + 7 || at[1] == '\0' || strpbrk(value, " \t")) {
		snprintf(err, errlen, "'%s' is not a mailto: URI (mailto:name@example.com)", value);
		return VOUCHER_E_CONFIG;
	}
	return VOUCHER_OK;
}

static const struct svc_cfg_item daemon_items[] = {
        {"role", SVC_CFG_ENUM, 0, 0, NULL, roles, SVC_CFG_REQUIRED, NONE, NULL},
        {"database", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_REQUIRED | SVC_CFG_F_DATABASE, NONE,
         NULL},
        {"log_level", SVC_CFG_ENUM, 0, 0, "info", log_levels, 0, NONE, NULL},
        {"threads", SVC_CFG_INT, 0, 256, "0", NULL, 0, NONE, NULL},
        {"user", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, check_user},
        {"drain_timeout", SVC_CFG_INT, 0, 600, "10", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

/* [brski] and [est]; [admin] differs in defaults and one extra key. */
#define LISTENER_ITEMS(client_cert_default, max_body_default)                                       \
	{"listen", SVC_CFG_HOSTPORT, 0, 0, NULL, NULL, 0, NONE, NULL},                              \
	        {"cert",          SVC_CFG_PATH,         0,   0, NULL, NULL,                         \
	         SVC_CFG_F_CERTS, {"", "listen", NULL}, NULL},                                      \
	        {"key", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_KEY, {"", "listen", NULL}, NULL}, \
	        {"client_cert", SVC_CFG_ENUM, 0, 0, client_cert_default, client_cert_modes, 0,      \
	         NONE,          NULL},                                                              \
	{                                                                                           \
		"max_body", SVC_CFG_INT, 1024, 16777216, max_body_default, NULL, 0, NONE, NULL      \
	}

static const struct svc_cfg_item brski_items[] = {
        LISTENER_ITEMS("request", "65536"),
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

static const struct svc_cfg_item est_items[] = {
        LISTENER_ITEMS("request", "65536"),
        /* cloudregd's EST server (cloudreg/est.c, cloudreg/enroll.c) */
        {"workers", SVC_CFG_INT, 0, 64, "2", NULL, 0, NONE, NULL},
        {"job_lease", SVC_CFG_INT, 1, 3600, "60", NULL, 0, NONE, NULL},
        {"first_wait_ms", SVC_CFG_INT, 0, 30000, "2000", NULL, 0, NONE, NULL},
        {"retry_after", SVC_CFG_INT, 1, 3600, "5", NULL, 0, NONE, NULL},
        {"require_pop", SVC_CFG_BOOL, 0, 0, "false", NULL, 0, NONE, NULL},
        {"allowed_serials", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_FILE, NONE, NULL},
        {"basic_user", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"basic_password_file", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_FILE, WITH("basic_user"),
         NULL},
        {"csrattrs_oids", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"reenroll_ca", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {"serverkeygen", SVC_CFG_BOOL, 0, 0, "false", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

static const struct svc_cfg_item admin_items[] = {
        LISTENER_ITEMS("none", "4194304"),
        {"bootstrap_token_file", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_FILE, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

#define WHEN_MASA                                                                                  \
	{                                                                                          \
		"daemon", "role", "masa"                                                           \
	}
#define WHEN_REGISTRAR                                                                             \
	{                                                                                          \
		"daemon", "role", "cloud|registrar"                                                \
	}

static const struct svc_cfg_item masa_items[] = {
        {"sign_cert", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, WHEN_MASA, NULL},
        {"sign_key", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_KEY, WHEN_MASA, NULL},
        {"manufacturer_ca", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, WHEN_MASA, NULL},
        {"cloud_registrar_cert", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {"enroll_here_ca", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {"enroll_here_est_url", SVC_CFG_URL, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"pinning", SVC_CFG_ENUM, 0, 0, "domain-ca", pinning_modes, 0, NONE, NULL},
        {"nonceless_lifetime", SVC_CFG_INT, 60, 31536000, "1200", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

static const struct svc_cfg_item registrar_items[] = {
        {"cert", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, WHEN_REGISTRAR, NULL},
        {"key", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_KEY, WHEN_REGISTRAR, NULL},
        {"manufacturer_ca", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, WHEN_REGISTRAR, NULL},
        {"masa_trust", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, WHEN_REGISTRAR, NULL},
        {"masa_url", SVC_CFG_URL, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"masa_timeout", SVC_CFG_INT, 1, 300, "10", NULL, 0, NONE, NULL},
        {"masa_retries", SVC_CFG_INT, 0, 10, "2", NULL, 0, NONE, NULL},
        {"retry_after", SVC_CFG_INT, 1, 86400, "60", NULL, 0, NONE, NULL},
        {"domain_ca", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {"masa_max_inflight", SVC_CFG_INT, 1, 10000, "64", NULL, 0, NONE, NULL},
        /* cloudreg/mfr.c: per-manufacturer MASA URL and TLS anchors */
        {"manufacturers", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_FILE, NONE, NULL},
        /* cloudreg/pending.c: MASA calls that outlive their 202 */
        {"masa_pending", SVC_CFG_INT, 0, 3600, "120", NULL, 0, NONE, NULL},
        {"masa_pending_max", SVC_CFG_INT, 1, 1000000, "1024", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

static const struct svc_cfg_item ca_items[] = {
        {"backend", SVC_CFG_ENUM, 0, 0, "local", ca_backends, 0, NONE, NULL},
        {"cert", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, {"", "backend", "local"}, NULL},
        {"key", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_KEY, {"", "backend", "local"}, NULL},
        {"validity_days", SVC_CFG_INT, 1, 3650, "365", NULL, 0, NONE, NULL},
        {"subdomain", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, check_dns_name},
        {"eku", SVC_CFG_STRING, 0, 0, "clientAuth", NULL, 0, NONE, NULL},
        {"san_policy", SVC_CFG_ENUM, 0, 0, "auto", san_policies, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

static const struct svc_cfg_item acme_items[] = {
        {"directory", SVC_CFG_URL, 0, 0, NULL, NULL, 0, {"ca", "backend", "acme"}, NULL},
        {"trust", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {"challenge", SVC_CFG_ENUM, 0, 0, "http-01", challenges, 0, NONE, NULL},
        {"http01_listen", SVC_CFG_HOSTPORT, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"dns_hook",
         SVC_CFG_PATH,
         0,
         0,
         NULL,
         NULL,
         SVC_CFG_F_EXEC,
         {"", "challenge", "dns-01"},
         NULL},
        {"contact", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, check_mailto},
        /* cloudreg/ca-acme.c: external account binding, time limits */
        {"eab_kid", SVC_CFG_STRING, 0, 0, NULL, NULL, 0, NONE, NULL},
        {"eab_hmac_key", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_FILE, WITH("eab_kid"), NULL},
        {"timeout", SVC_CFG_INT, 1, 300, "30", NULL, 0, NONE, NULL},
        {"hook_timeout", SVC_CFG_INT, 1, 600, "60", NULL, 0, NONE, NULL},
        {"issue_wait", SVC_CFG_INT, 0, 300, "10", NULL, 0, NONE, NULL},
        {"poll_interval", SVC_CFG_INT, 1, 3600, "2", NULL, 0, NONE, NULL},
        /* cloudreg/ca-acme.c: the ACME CA's roots for EST cacerts */
        {"ca_roots", SVC_CFG_PATH, 0, 0, NULL, NULL, SVC_CFG_F_CERTS, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

/* service/ratelimit.c: token buckets per address, certificate and serial */
static const struct svc_cfg_item limits_items[] = {
        {"address_rate", SVC_CFG_INT, 0, 1000000, "10000", NULL, 0, NONE, NULL},
        {"address_burst", SVC_CFG_INT, 1, 1000000, "20000", NULL, 0, NONE, NULL},
        {"cert_rate", SVC_CFG_INT, 0, 1000000, "10000", NULL, 0, NONE, NULL},
        {"cert_burst", SVC_CFG_INT, 1, 1000000, "20000", NULL, 0, NONE, NULL},
        {"serial_rate", SVC_CFG_INT, 0, 1000000, "10", NULL, 0, NONE, NULL},
        {"serial_burst", SVC_CFG_INT, 1, 1000000, "20", NULL, 0, NONE, NULL},
        {"max_keys", SVC_CFG_INT, 1024, 16777216, "65536", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

/* service/store-sqlite.c: how the store reads its file */
static const struct svc_cfg_item store_items[] = {
        {"sqlite_mmap_mib", SVC_CFG_INT, 0, 1048576, "2048", NULL, 0, NONE, NULL},
        {NULL, 0, 0, 0, NULL, NULL, 0, NONE, NULL},
};

const struct svc_cfg_section svc_cfg_schema[] = {
        {"daemon", daemon_items}, {"brski", brski_items}, {"est", est_items},
        {"admin", admin_items},   {"masa", masa_items},   {"registrar", registrar_items},
        {"ca", ca_items},         {"acme", acme_items},   {"limits", limits_items},
        {"store", store_items},   {NULL, NULL},
};
