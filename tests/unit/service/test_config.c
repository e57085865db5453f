/* The configuration loader and schema: every kind of bad value names its
 * file and line; the schema lists exactly the keys of docs/CONFIG.md. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/str.h"
#include "service/config.h"
#include "testcert.h"

static char dir[512];
static struct testcert ca, leaf;

static int setup(void **state)
{
	(void)state;
	if (testcert_tmpdir(dir, sizeof(dir)) != 0)
		return -1;
	if (testcert_make(&ca, NULL, dir, "ca", "test CA", true, 1) != 0 ||
	    testcert_make(&leaf, &ca, dir, "leaf", "leaf", false, 2) != 0)
		return -1;
	testcert_write(dir, "notpem.crt", "this is not a certificate\n", NULL, 0);
	testcert_write(dir, "token", "0123456789abcdef\n", NULL, 0);
	testcert_write(dir, "hook.sh", "#!/bin/sh\nexit 0\n", NULL, 0);
	char hook[600];
	snprintf(hook, sizeof(hook), "%s/hook.sh", dir);
	chmod(hook, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	testcert_free(&ca);
	testcert_free(&leaf);
	testcert_rmdir(dir);
	return 0;
}

/* A complete masad configuration; paths relative to the file. */
static const char *masa_conf = "; comment\n"
                               "[daemon]\n"
                               "role = masa\n"
                               "database = masa.db\n"
                               "\n"
                               "[brski]\n"
                               "listen = 127.0.0.1:8443\n"
                               "cert = leaf.crt\n"
                               "key = leaf.key\n"
                               "[admin]\n"
                               "listen = [::1]:9443\n"
                               "cert = leaf.crt\n"
                               "key = leaf.key\n"
                               "bootstrap_token_file = token\n"
                               "[masa]\n"
                               "sign_cert = leaf.crt\n"
                               "sign_key = leaf.key\n"
                               "manufacturer_ca = ca.crt\n";

static struct svc_config *load_text(const char *text, voucher_err want, const char *want_err)
{
	char path[600];
	struct brski_buf errors;
	struct svc_config *cfg = NULL;
	voucher_err r;

	assert_int_equal(testcert_write(dir, "test.conf", text, path, sizeof(path)), 0);
	brski_buf_init(&errors, 64 * 1024);
	r = svc_config_load(path, NULL, &cfg, &errors);
	if (r != want)
		fail_msg("load: %s, want %s; errors:\n%s", voucher_strerror(r),
		         voucher_strerror(want), brski_buf_str(&errors));
	if (want_err) {
		char expect[1200];
		const char *pct = strstr(want_err, "%s");
		/* "file:line: ..." exactly as an operator sees it. */
		if (pct)
			snprintf(expect, sizeof(expect), "%.*s%s%s", (int)(pct - want_err),
			         want_err, path, pct + 2);
		else
			snprintf(expect, sizeof(expect), "%s", want_err);
		if (!strstr(brski_buf_str(&errors), expect))
			fail_msg("errors lack '%s':\n%s", expect, brski_buf_str(&errors));
	}
	brski_buf_free(&errors);
	return cfg;
}

static void test_valid_and_getters(void **state)
{
	struct svc_config *cfg;
	char host[64], expect[600];
	uint16_t port;

	(void)state;
	cfg = load_text(masa_conf, VOUCHER_OK, NULL);
	assert_non_null(cfg);
	assert_string_equal(svc_config_str(cfg, "daemon", "role"), "masa");
	snprintf(expect, sizeof(expect), "%s/masa.db", dir);
	/* resolved against the file's directory (which may be a symlink) */
	assert_true(brski_str_startswith(svc_config_str(cfg, "daemon", "database"), "/"));
	assert_non_null(strstr(svc_config_str(cfg, "daemon", "database"), "/masa.db"));
	assert_non_null(strstr(svc_config_str(cfg, "brski", "cert"), "/leaf.crt"));
	/* defaults, including the ones that differ per listener */
	assert_string_equal(svc_config_str(cfg, "daemon", "log_level"), "info");
	assert_int_equal(svc_config_int(cfg, "daemon", "threads"), 0);
	assert_int_equal(svc_config_int(cfg, "daemon", "drain_timeout"), 10);
	assert_int_equal(svc_config_int(cfg, "brski", "max_body"), 65536);
	assert_int_equal(svc_config_int(cfg, "admin", "max_body"), 4194304);
	assert_string_equal(svc_config_str(cfg, "brski", "client_cert"), "request");
	assert_string_equal(svc_config_str(cfg, "admin", "client_cert"), "none");
	assert_string_equal(svc_config_str(cfg, "masa", "pinning"), "domain-ca");
	assert_int_equal(svc_config_int(cfg, "masa", "nonceless_lifetime"), 1200);
	assert_null(svc_config_str(cfg, "masa", "enroll_here_ca"));
	assert_true(svc_config_has_section(cfg, "masa"));
	assert_false(svc_config_has_section(cfg, "est"));
	assert_true(svc_config_is_set(cfg, "brski", "listen"));
	assert_false(svc_config_is_set(cfg, "est", "listen"));
	assert_int_equal(svc_config_line(cfg, "daemon", "database"), 4);
	assert_int_equal(svc_config_hostport(cfg, "brski", "listen", host, sizeof(host), &port),
	                 VOUCHER_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8443);
	assert_int_equal(svc_config_hostport(cfg, "admin", "listen", host, sizeof(host), &port),
	                 VOUCHER_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9443);
	assert_int_equal(svc_config_hostport(cfg, "est", "listen", host, sizeof(host), &port),
	                 VOUCHER_ENOENT);
	svc_config_free(cfg);
	svc_config_free(NULL);
}

static void test_program_default(void **state)
{
	const struct svc_cfg_default defs[] = {{"daemon", "role", "cloud"}, {NULL, NULL, NULL}};
	const char *text = "[daemon]\ndatabase = postgresql://u@localhost/brski\n"
	                   "[registrar]\ncert = leaf.crt\nkey = pkcs11:token=x;object=y\n"
	                   "manufacturer_ca = ca.crt\nmasa_trust = ca.crt\n"
	                   "masa_url = https://masa.example:9443/.well-known/brski\n";
	char path[600];
	struct svc_config *cfg = NULL;

	(void)state;
	testcert_write(dir, "prog.conf", text, path, sizeof(path));
	/* Without the program's default, role is required. */
	assert_int_equal(svc_config_load(path, NULL, &cfg, NULL), VOUCHER_E_CONFIG);
	assert_null(cfg);
	assert_int_equal(svc_config_load(path, defs, &cfg, NULL), VOUCHER_OK);
	assert_string_equal(svc_config_str(cfg, "daemon", "role"), "cloud");
	assert_false(svc_config_is_set(cfg, "daemon", "role"));
	/* URIs are kept as written, not resolved as paths. */
	assert_string_equal(svc_config_str(cfg, "daemon", "database"),
	                    "postgresql://u@localhost/brski");
	assert_string_equal(svc_config_str(cfg, "registrar", "key"), "pkcs11:token=x;object=y");
	svc_config_free(cfg);
}

/* Each case: a configuration text and the message expected for it, where
 * %s is the file's path. */
static void test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
	        {"[daemon]\nrole = masa\nbogus = 1\n", "%s:3: unknown key 'bogus' in [daemon]"},
	        {"[daemon]\nrole = masa\n\n[frobnicate]\na = 1\nb = 2\n",
	         "%s:4: unknown section [frobnicate]"},
	        {"[daemon]\nrole = masa\nrole = cloud\n",
	         "%s:3: duplicate key 'role' in [daemon] (first set on line 2)"},
	        {"[daemon]\nrole = admin\n",
	         "%s:2: [daemon] role: 'admin' is not one of: masa, cloud, registrar"},
	        {"[daemon]\nthreads = 257\n",
	         "%s:2: [daemon] threads: '257' is not an integer in 0..256"},
	        {"[daemon]\nthreads = -1\n",
	         "%s:2: [daemon] threads: '-1' is not an integer in 0..256"},
	        {"[daemon]\nthreads = 4x\n", "%s:2: [daemon] threads: '4x' is not an integer"},
	        {"[daemon]\ndrain_timeout = 601\n",
	         "%s:2: [daemon] drain_timeout: '601' is not an integer in 0..600"},
	        {"[daemon]\nlog_level = verbose\n",
	         "%s:2: [daemon] log_level: 'verbose' is not one of"},
	        {"[daemon]\nuser = no-such-user-here\n",
	         "%s:2: [daemon] user: no such user 'no-such-user-here'"},
	        {"[daemon]\ndatabase = nodir/x.db\n",
	         "%s:2: [daemon] database: database directory"},
	        {"[daemon]\ndatabase =\n", "%s:2: empty value for 'database' in [daemon]"},
	        {"[brski]\nlisten = 127.0.0.1\n",
	         "%s:2: [brski] listen: '127.0.0.1' is not host:port"},
	        {"[brski]\nlisten = ::1:443\n", "%s:2: [brski] listen: '::1:443' is not host:port"},
	        {"[brski]\nlisten = 127.0.0.1:0\n",
	         "%s:2: [brski] listen: '127.0.0.1:0' is not host:port"},
	        {"[brski]\nlisten = 127.0.0.1:65536\n", "is not host:port"},
	        {"[brski]\nlisten = 127.0.0.1:8443\n",
	         "%s: missing key 'cert' in [brski] (required when [brski] listen is set)"},
	        {"[brski]\nlisten = 127.0.0.1:8443\ncert = leaf.crt\n",
	         "%s: missing key 'key' in [brski]"},
	        {"[brski]\ncert = notpem.crt\n", "%s:2: [brski] cert: '"},
	        {"[brski]\ncert = missing.crt\n", "%s:2: [brski] cert: cannot read '"},
	        {"[brski]\nkey = leaf.crt\n", "holds no PEM private key"},
	        {"[brski]\nclient_cert = optional\n",
	         "'optional' is not one of: require, request, none"},
	        {"[brski]\nmax_body = 1023\n",
	         "%s:2: [brski] max_body: '1023' is not an integer in 1024..16777216"},
	        {"[admin]\nbootstrap_token_file = nothere\n",
	         "%s:2: [admin] bootstrap_token_file: cannot read"},
	        {"[daemon]\nrole = masa\n",
	         "%s: missing key 'sign_cert' in [masa] (required when [daemon] role = masa)"},
	        {"[daemon]\nrole = registrar\n", "%s: missing key 'masa_trust' in [registrar] "
	                                         "(required when [daemon] role = registrar)"},
	        {"[registrar]\nmasa_url = http://masa.example/\n",
	         "%s:2: [registrar] masa_url: 'http://masa.example/' is not an https:// URL"},
	        {"[registrar]\nmasa_url = https://\n", "is not an https:// URL"},
	        {"[registrar]\nmasa_url = https://a b/\n", "is not an https:// URL"},
	        {"[registrar]\nmasa_timeout = 0\n", "'0' is not an integer in 1..300"},
	        {"[registrar]\nmasa_retries = 11\n", "'11' is not an integer in 0..10"},
	        {"[registrar]\nretry_after = 86401\n", "'86401' is not an integer in 1..86400"},
	        {"[masa]\npinning = none\n", "'none' is not one of: domain-ca, registrar"},
	        {"[masa]\nnonceless_lifetime = 59\n", "'59' is not an integer in 60..31536000"},
	        {"[ca]\nbackend = local\n",
	         "%s: missing key 'cert' in [ca] (required when [ca] backend = local)"},
	        {"[ca]\nbackend = acme\n",
	         "%s: missing key 'directory' in [acme] (required when [ca] backend = acme)"},
	        {"[ca]\nbackend = acme\nvalidity_days = 3651\n",
	         "'3651' is not an integer in 1..3650"},
	        {"[ca]\nbackend = acme\nsubdomain = -bad.example\n", "is not a DNS name"},
	        {"[ca]\nbackend = acme\nsubdomain = a..example\n", "is not a DNS name"},
	        {"[acme]\nchallenge = tls-alpn-01\n", "is not one of: http-01, dns-01"},
	        {"[acme]\nchallenge = dns-01\n",
	         "%s: missing key 'dns_hook' in [acme] (required when [acme] challenge = dns-01)"},
	        {"[acme]\ndns_hook = token\n", "%s:2: [acme] dns_hook: '"},
	        {"[acme]\ncontact = admin@example.com\n", "is not a mailto: URI"},
	        {"[acme]\nhttp01_listen = :80\n", "is not host:port"},
	        {"[daemon]\nthis line has no equals sign\n", "%s:2: syntax error"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct svc_config *cfg = load_text(cases[i].text, VOUCHER_E_CONFIG, cases[i].err);
		assert_null(cfg);
	}
}

static void test_valid_values(void **state)
{
	static const char *const texts[] = {
	        "[daemon]\nrole = masa\nthreads = 256\ndrain_timeout = 0\nlog_level = debug\nuser "
	        "= root\n"
	        "database = /tmp/x.db\n[masa]\nsign_cert = leaf.crt\nsign_key = leaf.key\n"
	        "manufacturer_ca = ca.crt\n",
	        "[daemon]\nrole = cloud\ndatabase = postgres://h/db\n[registrar]\ncert = leaf.crt\n"
	        "key = leaf.key\nmanufacturer_ca = ca.crt\nmasa_trust = ca.crt\n"
	        "masa_url = https://[::1]:9443\n[ca]\nbackend = acme\n[acme]\n"
	        "directory = https://localhost:14000/dir\nchallenge = dns-01\ndns_hook = hook.sh\n"
	        "contact = mailto:ops@example.com\nhttp01_listen = localhost:5002\n"
	        "[est]\nlisten = localhost:8444\ncert = leaf.crt\nkey = leaf.key\nclient_cert = "
	        "require\n"
	        "max_body = 16777216\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct svc_config *cfg = load_text(texts[i], VOUCHER_OK, NULL);
		svc_config_free(cfg);
	}
}

static void test_long_line_and_missing_file(void **state)
{
	char text[600], path[700];
	struct brski_buf errors;
	struct svc_config *cfg = NULL;

	(void)state;
	/* A line inih would cut in two must not be read as two keys. */
	snprintf(text, sizeof(text), "[daemon]\nrole = masa\nuser = %0300d\n", 7);
	load_text(text, VOUCHER_E_CONFIG, "%s:3: line longer than");
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", dir);
	brski_buf_init(&errors, 4096);
	assert_int_equal(svc_config_load(path, NULL, &cfg, &errors), VOUCHER_ENOENT);
	assert_non_null(strstr(brski_buf_str(&errors), "does-not-exist.conf: cannot open"));
	brski_buf_free(&errors);
}

static void test_hostport(void **state)
{
	static const struct {
		const char *in;
		voucher_err r;
		const char *host;
		uint16_t port;
	} cases[] = {
	        {"127.0.0.1:443", VOUCHER_OK, "127.0.0.1", 443},
	        {"[2001:db8::1]:8443", VOUCHER_OK, "2001:db8::1", 8443},
	        {"host.example:1", VOUCHER_OK, "host.example", 1},
	        {"host.example:65535", VOUCHER_OK, "host.example", 65535},
	        {"host.example:65536", VOUCHER_ERANGE, NULL, 0},
	        {"host.example:0", VOUCHER_ERANGE, NULL, 0},
	        {"host.example:", VOUCHER_ERANGE, NULL, 0},
	        {"host.example:+1", VOUCHER_ERANGE, NULL, 0},
	        {":443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"2001:db8::1:443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"[127.0.0.1]:443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"[::1]443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"a b:443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"user@host:443", VOUCHER_E_MALFORMED, NULL, 0},
	        {"noport", VOUCHER_E_MALFORMED, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "";
		uint16_t port = 0;
		voucher_err r = svc_parse_hostport(cases[i].in, host, sizeof(host), &port);
		if (r != cases[i].r)
			fail_msg("'%s': %d, want %d", cases[i].in, r, cases[i].r);
		if (r == VOUCHER_OK) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

/* docs/CONFIG.md and svc_cfg_schema list the same sections and keys. */
static bool schema_has(const char *section, const char *key)
{
	for (size_t s = 0; svc_cfg_schema[s].name; s++) {
		if (strcmp(svc_cfg_schema[s].name, section) != 0)
			continue;
		for (size_t i = 0; svc_cfg_schema[s].items[i].name; i++)
			if (strcmp(svc_cfg_schema[s].items[i].name, key) == 0)
				return true;
	}
	return false;
}

static void test_schema_matches_docs(void **state)
{
	const char *top = getenv("top_srcdir");
	char path[1024], line[1024];
	char sections[8][32];
	size_t n_sections = 0, n_doc_keys = 0, n_schema_keys = 0;
	struct brski_buf documented, missing;
	FILE *fp;

	(void)state;
	if (!top)
		top = ".";
	brski_buf_init(&documented, 1 << 20);
	brski_buf_init(&missing, 1 << 20);
	snprintf(path, sizeof(path), "%s/docs/CONFIG.md", top);
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s (set top_srcdir)", path);
	while (fgets(line, sizeof(line), fp)) {
		if (brski_str_startswith(line, "## ")) {
			/* "## [daemon]" or "## Listeners: [brski], [est], [admin]";
			 * what follows a '(' is a remark ("when [ca] ..."). */
			char *paren = strchr(line, '(');
			if (paren)
				*paren = '\0';
			n_sections = 0;
			for (char *p = strchr(line, '['); p && n_sections < 8; p = strchr(p, '[')) {
				char *end = strchr(p, ']');
				if (!end)
					break;
				snprintf(sections[n_sections++], sizeof(sections[0]), "%.*s",
				         (int)(end - p - 1), p + 1);
				p = end;
			}
			continue;
		}
		char key[64];
		if (brski_str_startswith(line, "| ") &&
		    !brski_str_startswith(line, "| key | type |")) {
			const char *p = line + 2;
			size_t k = 0;
			while (*p && *p != ' ' && *p != '|' && k < sizeof(key) - 1)
				key[k++] = *p++;
			key[k] = '\0';
			for (size_t s = 0; s < n_sections; s++) {
				if (!schema_has(sections[s], key))
					fail_msg(
					        "docs/CONFIG.md lists [%s] %s; the schema lacks it",
					        sections[s], key);
				brski_buf_printf(&documented, "|[%s] %s|", sections[s], key);
				n_doc_keys++;
			}
			continue;
		}
		/* "`[est]` also configures ...:" then a table of that section's
		 * own keys. */
		if (brski_str_startswith(line, "`[") && strstr(line, "]` also configures")) {
			snprintf(sections[0], sizeof(sections[0]), "%.*s",
			         (int)(strchr(line, ']') - line - 2), line + 2);
			n_sections = 1;
			continue;
		}
		/* "`[admin]` also has `bootstrap_token_file` (path)" */
		const char *also = strstr(line, "` also has `");
		if (also && line[0] == '`' && line[1] == '[') {
			char sec[32];
			snprintf(sec, sizeof(sec), "%.*s", (int)(strchr(line, ']') - line - 2),
			         line + 2);
			also += strlen("` also has `");
			snprintf(key, sizeof(key), "%.*s", (int)(strchr(also, '`') - also), also);
			if (!schema_has(sec, key))
				fail_msg("docs/CONFIG.md lists [%s] %s; the schema lacks it", sec,
				         key);
			brski_buf_printf(&documented, "|[%s] %s|", sec, key);
			n_doc_keys++;
		}
	}
	fclose(fp);
	for (size_t s = 0; svc_cfg_schema[s].name; s++) {
		for (size_t i = 0; svc_cfg_schema[s].items[i].name; i++) {
			char pair[128];
			snprintf(pair, sizeof(pair), "|[%s] %s|", svc_cfg_schema[s].name,
			         svc_cfg_schema[s].items[i].name);
			if (!strstr(brski_buf_str(&documented), pair))
				brski_buf_printf(&missing, " %s", pair);
			n_schema_keys++;
		}
	}
	/* --check-config accepts exactly what the document lists. */
	if (missing.len)
		fail_msg(
		        "keys in the schema (service/config-schema.c) but not in docs/CONFIG.md:%s",
		        brski_buf_str(&missing));
	assert_int_equal(n_doc_keys, n_schema_keys);
	brski_buf_free(&documented);
	brski_buf_free(&missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_and_getters),
	        cmocka_unit_test(test_program_default),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_valid_values),
	        cmocka_unit_test(test_long_line_and_missing_file),
	        cmocka_unit_test(test_hostport),
	        cmocka_unit_test(test_schema_matches_docs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
