/* INI loader and validator: see config.h. */
#include <config.h> /* the build's, not service/config.h */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ini.h>

#include "common/str.h"
#include "service/config.h"

/* A configuration file and the PEM files it names are small; anything
 * bigger is a mistake, not a configuration. */
#define CONFIG_MAX_PEM (1024 * 1024)

struct slot {
	char *value; /* owned: as resolved (paths absolute) */
	unsigned line;
	const char *def; /* borrowed: schema default or override */
};

struct svc_config {
	char *path;
	char *dir;
	size_t n_sections;
	struct slot **slots; /* [section][item], as svc_cfg_schema */
	bool *present;
};

struct parse_ctx {
	struct svc_config *cfg;
	struct brski_buf *errors;
	FILE *fp;
	unsigned line;
	unsigned section_line; /* line of the last [section] header */
	unsigned long_line;    /* first line over INI_MAX_LINE, 0 if none */
	bool in_long_line;
	char last_unknown[128];
	unsigned n_errors;
};

static void add_error(struct parse_ctx *pc, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void add_error(struct parse_ctx *pc, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc->n_errors++;
	if (!pc->errors)
		return;
	if (line)
		brski_buf_printf(pc->errors, "%s:%u: %s\n", pc->cfg->path, line, msg);
	else
		brski_buf_printf(pc->errors, "%s: %s\n", pc->cfg->path, msg);
}

static int find_section(const char *name)
{
	for (int i = 0; svc_cfg_schema[i].name; i++)
		if (strcmp(svc_cfg_schema[i].name, name) == 0)
			return i;
	return -1;
}

static int find_item(int sec, const char *name)
{
	const struct svc_cfg_item *items = svc_cfg_schema[sec].items;

	for (int i = 0; items[i].name; i++)
		if (strcmp(items[i].name, name) == 0)
			return i;
	return -1;
}

/* fgets that counts lines and notices lines inih would split in two. */
static char *count_reader(char *str, int num, void *stream)
{
	struct parse_ctx *pc = stream;
	char *s = fgets(str, num, pc->fp);

	if (!s)
		return NULL;
	if (!pc->in_long_line)
		pc->line++;
	size_t len = strlen(s);
	bool complete = len > 0 && s[len - 1] == '\n';
	if (!complete && !feof(pc->fp)) {
		if (!pc->long_line)
			pc->long_line = pc->line;
		pc->in_long_line = true;
		/* Hand inih a comment so the pieces are not parsed as keys. */
		str[0] = ';';
		str[1] = '\0';
		return str;
	}
	if (pc->in_long_line) {
		pc->in_long_line = false;
		str[0] = ';';
		str[1] = '\0';
		return s;
	}
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[')
		pc->section_line = pc->line;
	return s;
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *pc = user;
	struct svc_config *cfg = pc->cfg;
	int sec, item;

	sec = find_section(section);
	if (sec < 0) {
		/* One message per unknown section header, not one per key. */
		if (strcmp(pc->last_unknown, section) != 0) {
			add_error(pc, pc->section_line ? pc->section_line : pc->line,
			          "unknown section [%s]", section);
			snprintf(pc->last_unknown, sizeof(pc->last_unknown), "%s", section);
		}
		return 1;
	}
	pc->last_unknown[0] = '\0';
	item = find_item(sec, name);
	if (item < 0) {
		add_error(pc, pc->line, "unknown key '%s' in [%s]", name, section);
		return 1;
	}
	struct slot *sl = &cfg->slots[sec][item];
	if (sl->line) {
		add_error(pc, pc->line, "duplicate key '%s' in [%s] (first set on line %u)", name,
		          section, sl->line);
		return 1;
	}
	sl->value = brski_strdup(value);
	if (!sl->value) {
		add_error(pc, pc->line, "out of memory");
		return 0;
	}
	sl->line = pc->line;
	cfg->present[sec] = true;
	return 1;
}

voucher_err svc_parse_hostport(const char *value, char *host, size_t hostlen, uint16_t *port)
{
	const char *h, *colon;
	size_t hlen;
	uint64_t p;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		if (!close || close[1] != ':')
			return VOUCHER_E_MALFORMED;
		h = value + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (!memchr(h, ':', hlen))
			return VOUCHER_E_MALFORMED;
	} else {
		colon = strrchr(value, ':');
		if (!colon)
			return VOUCHER_E_MALFORMED;
		h = value;
		hlen = (size_t)(colon - h);
		if (memchr(h, ':', hlen))
			return VOUCHER_E_MALFORMED; /* IPv6 needs brackets */
	}
	if (hlen == 0 || hlen >= hostlen)
		return VOUCHER_E_MALFORMED;
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '[' || c == ']' || c == '@')
			return VOUCHER_E_MALFORMED;
	}
	if (brski_str_to_u64(colon + 1, &p, 65535) != VOUCHER_OK || p == 0)
		return VOUCHER_ERANGE;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return VOUCHER_OK;
}

static voucher_err check_url(const char *value)
{
	const char *auth, *end;
	char hp[300], host[256];
	uint16_t port;

	if (!brski_str_startswith(value, "https://"))
		return VOUCHER_E_MALFORMED;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return VOUCHER_E_MALFORMED;
	auth = value + 8;
	end = strchr(auth, '/');
	size_t alen = end ? (size_t)(end - auth) : strlen(auth);
	if (alen == 0 || alen >= sizeof(hp) - 4 || memchr(auth, '@', alen) ||
	    memchr(auth, '?', alen) || memchr(auth, '#', alen))
		return VOUCHER_E_MALFORMED;
	memcpy(hp, auth, alen);
	hp[alen] = '\0';
	/* With a port it must be a valid one; without, add the default to
	 * reuse the host syntax check. */
	const char *rb = strrchr(hp, ']');
	const char *lc = strrchr(hp, ':');
	if (!lc || (rb && lc < rb))
		snprintf(hp + alen, sizeof(hp) - alen, ":443");
	return svc_parse_hostport(hp, host, sizeof(host), &port);
}

static voucher_err read_small_file(const char *path, gnutls_datum_t *out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	voucher_err r = VOUCHER_OK;

	out->data = NULL;
	out->size = 0;
	if (!fp) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return VOUCHER_E_CONFIG;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	if (st.st_size > CONFIG_MAX_PEM) {
		snprintf(err, errlen, "'%s' is larger than %d bytes", path, CONFIG_MAX_PEM);
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	out->data = gnutls_malloc((size_t)st.st_size + 1);
	if (!out->data) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	out->size = (unsigned)fread(out->data, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	out->data[out->size] = '\0';
out:
	if (r != VOUCHER_OK) {
		gnutls_free(out->data);
		out->data = NULL;
		out->size = 0;
	}
	fclose(fp);
	return r;
}

static voucher_err check_certs(const char *path, char *err, size_t errlen)
{
	gnutls_datum_t d;
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	int ret;
	voucher_err r = read_small_file(path, &d, err, errlen);

	if (r != VOUCHER_OK)
		return r;
	ret = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n == 0) {
		snprintf(err, errlen, "'%s' holds no PEM certificate that parses (%s)", path,
		         ret < 0 ? gnutls_strerror(ret) : "none found");
		r = VOUCHER_E_CONFIG;
	}
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	gnutls_free(d.data);
	return r;
}

static voucher_err check_key(const char *value, char *err, size_t errlen)
{
	gnutls_datum_t d;
	gnutls_x509_privkey_t pk = NULL;
	int ret;
	voucher_err r;

	if (brski_str_startswith(value, "pkcs11:")) {
		if (!gnutls_url_is_supported(value)) {
			snprintf(err, errlen, "PKCS#11 URIs are not supported by this GnuTLS");
			return VOUCHER_E_CONFIG;
		}
		return VOUCHER_OK;
	}
	r = read_small_file(value, &d, err, errlen);
	if (r != VOUCHER_OK)
		return r;
	ret = gnutls_x509_privkey_init(&pk);
	if (ret >= 0)
		ret = gnutls_x509_privkey_import2(pk, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (ret < 0) {
		snprintf(err, errlen, "'%s' holds no PEM private key that parses (%s)", value,
		         gnutls_strerror(ret));
		r = VOUCHER_E_CONFIG;
	}
	gnutls_x509_privkey_deinit(pk);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return r;
}

static bool is_db_uri(const char *v)
{
	return brski_str_startswith(v, "postgresql://") || brski_str_startswith(v, "postgres://");
}

static bool is_key_uri(const char *v)
{
	return brski_str_startswith(v, "pkcs11:");
}

static voucher_err check_database(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (is_db_uri(path))
		return VOUCHER_OK;
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "database '%s' is not a regular file", path);
			return VOUCHER_E_CONFIG;
		}
		if (access(path, R_OK | W_OK) != 0) {
			snprintf(err, errlen, "database '%s' is not readable and writable: %s",
			         path, strerror(errno));
			return VOUCHER_E_CONFIG;
		}
	}
	/* SQLite creates the file and its -wal/-shm companions beside it. */
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "database directory '%.400s' is not writable: %s", dir,
		         strerror(errno));
		return VOUCHER_E_CONFIG;
	}
	return VOUCHER_OK;
}

static char *resolve_path(const struct svc_config *cfg, const char *value)
{
	char *out;
	size_t n;

	if (value[0] == '/')
		return brski_strdup(value);
	n = strlen(cfg->dir) + 1 + strlen(value) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", cfg->dir, value);
	return out;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (brski_str_caseeq(v, yes[i])) {
			*out = true;
			return true;
		}
		if (brski_str_caseeq(v, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Check one value from the file; paths are resolved in place. */
static void validate_value(struct parse_ctx *pc, int sec, int it)
{
	const struct svc_cfg_item *item = &svc_cfg_schema[sec].items[it];
	const char *sname = svc_cfg_schema[sec].name;
	struct slot *sl = &pc->cfg->slots[sec][it];
	char err[768] = "";
	char host[256];
	uint16_t port;
	uint64_t num;
	bool b;
	voucher_err r = VOUCHER_OK;

	if (sl->value[0] == '\0') {
		add_error(pc, sl->line, "empty value for '%s' in [%s]", item->name, sname);
		return;
	}
	switch (item->type) {
	case SVC_CFG_STRING:
		for (const char *p = sl->value; *p; p++)
			if ((unsigned char)*p < 0x20)
				r = VOUCHER_E_MALFORMED;
		if (r != VOUCHER_OK)
			snprintf(err, sizeof(err), "control character in value");
		break;
	case SVC_CFG_INT:
		r = brski_str_to_u64(sl->value, &num, UINT64_MAX / 2);
		if (r != VOUCHER_OK || (int64_t)num < item->min || (int64_t)num > item->max) {
			snprintf(err, sizeof(err), "'%s' is not an integer in %lld..%lld",
			         sl->value, (long long)item->min, (long long)item->max);
			r = VOUCHER_E_CONFIG;
		}
		break;
	case SVC_CFG_ENUM: {
		size_t off = 0;
		char choices[256] = "";
		r = VOUCHER_E_CONFIG;
		for (size_t i = 0; item->enums[i]; i++) {
			if (strcmp(item->enums[i], sl->value) == 0)
				r = VOUCHER_OK;
			int w = snprintf(choices + off, sizeof(choices) - off, "%s%s",
			                 i ? ", " : "", item->enums[i]);
			if (w > 0 && (size_t)w < sizeof(choices) - off)
				off += (size_t)w;
		}
		if (r != VOUCHER_OK)
			snprintf(err, sizeof(err), "'%s' is not one of: %s", sl->value, choices);
		break;
	}
	case SVC_CFG_HOSTPORT:
		r = svc_parse_hostport(sl->value, host, sizeof(host), &port);
		if (r != VOUCHER_OK)
			snprintf(err, sizeof(err),
			         "'%s' is not host:port ([addr]:port for IPv6, port 1..65535)",
			         sl->value);
		break;
	case SVC_CFG_URL:
		r = check_url(sl->value);
		if (r != VOUCHER_OK)
			snprintf(err, sizeof(err), "'%s' is not an https:// URL", sl->value);
		break;
	case SVC_CFG_BOOL:
		if (!parse_bool(sl->value, &b)) {
			snprintf(err, sizeof(err), "'%s' is not a boolean (true/false)", sl->value);
			r = VOUCHER_E_CONFIG;
		}
		break;
	case SVC_CFG_PATH: {
		if ((item->flags & SVC_CFG_F_KEY) && is_key_uri(sl->value)) {
			r = check_key(sl->value, err, sizeof(err));
			break;
		}
		if ((item->flags & SVC_CFG_F_DATABASE) && is_db_uri(sl->value))
			break;
		char *abs = resolve_path(pc->cfg, sl->value);
		if (!abs) {
			snprintf(err, sizeof(err), "out of memory");
			r = VOUCHER_ENOMEM;
			break;
		}
		free(sl->value);
		sl->value = abs;
		if (item->flags & SVC_CFG_F_DATABASE)
			r = check_database(abs, err, sizeof(err));
		else if (item->flags & SVC_CFG_F_CERTS)
			r = check_certs(abs, err, sizeof(err));
		else if (item->flags & SVC_CFG_F_KEY)
			r = check_key(abs, err, sizeof(err));
		else if (item->flags & SVC_CFG_F_EXEC) {
			struct stat st;
			if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode) || access(abs, X_OK) != 0) {
				snprintf(err, sizeof(err), "'%s' is not an executable file", abs);
				r = VOUCHER_E_CONFIG;
			}
		} else {
			gnutls_datum_t d;
			r = read_small_file(abs, &d, err, sizeof(err));
			if (d.data)
				gnutls_memset(d.data, 0, d.size);
			gnutls_free(d.data);
		}
		break;
	}
	}
	if (r == VOUCHER_OK && item->check)
		r = item->check(sl->value, err, sizeof(err));
	if (r != VOUCHER_OK)
		add_error(pc, sl->line, "[%s] %s: %s", sname, item->name,
		          err[0] ? err : voucher_strerror(r));
}

static const char *effective(const struct svc_config *cfg, int sec, int it)
{
	const struct slot *sl = &cfg->slots[sec][it];

	return sl->value ? sl->value : sl->def;
}

static bool value_in(const char *value, const char *list)
{
	size_t n = strlen(value);

	for (const char *p = list; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, value, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static void check_required(struct parse_ctx *pc)
{
	struct svc_config *cfg = pc->cfg;

	for (int s = 0; svc_cfg_schema[s].name; s++) {
		const struct svc_cfg_item *items = svc_cfg_schema[s].items;
		for (int i = 0; items[i].name; i++) {
			const struct svc_cfg_cond *c = &items[i].required_when;
			bool required = false;
			char why[160] = "";

			if (effective(cfg, s, i))
				continue;
			if (items[i].flags & SVC_CFG_REQUIRED) {
				required = true;
			} else if (c->section) {
				bool same = c->section[0] == '\0';
				int cs = same ? s : find_section(c->section);
				int ci = cs >= 0 ? find_item(cs, c->key) : -1;
				if (ci < 0)
					abort(); /* schema error: caught by the unit test */
				const char *v = effective(cfg, cs, ci);
				if (same && !cfg->present[s])
					continue;
				required = v && (!c->values || value_in(v, c->values));
				if (c->values)
					snprintf(why, sizeof(why), " when [%s] %s = %s",
					         svc_cfg_schema[cs].name, c->key, v ? v : "");
				else
					snprintf(why, sizeof(why), " when [%s] %s is set",
					         svc_cfg_schema[cs].name, c->key);
			}
			if (required)
				add_error(pc, 0, "missing key '%s' in [%s] (required%s)",
				          items[i].name, svc_cfg_schema[s].name, why);
		}
	}
}

static voucher_err config_alloc(const char *path, const struct svc_cfg_default *overrides,
                                struct svc_config **out)
{
	struct svc_config *cfg = calloc(1, sizeof(*cfg));
	char real[PATH_MAX];

	if (!cfg)
		return VOUCHER_ENOMEM;
	while (svc_cfg_schema[cfg->n_sections].name)
		cfg->n_sections++;
	cfg->path = brski_strdup(path);
	cfg->slots = calloc(cfg->n_sections, sizeof(*cfg->slots));
	cfg->present = calloc(cfg->n_sections, sizeof(*cfg->present));
	if (!cfg->path || !cfg->slots || !cfg->present)
		goto nomem;
	for (size_t s = 0; s < cfg->n_sections; s++) {
		size_t n = 0;
		while (svc_cfg_schema[s].items[n].name)
			n++;
		cfg->slots[s] = calloc(n + 1, sizeof(**cfg->slots));
		if (!cfg->slots[s])
			goto nomem;
		for (size_t i = 0; i < n; i++)
			cfg->slots[s][i].def = svc_cfg_schema[s].items[i].def;
	}
	for (const struct svc_cfg_default *o = overrides; o && o->section; o++) {
		int s = find_section(o->section);
		int i = s >= 0 ? find_item(s, o->key) : -1;
		if (i < 0)
			abort(); /* a program asked for a key the schema lacks */
		cfg->slots[s][i].def = o->value;
	}
	/* Relative paths are relative to the file, wherever the daemon runs. */
	if (realpath(path, real)) {
		char *slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		cfg->dir = brski_strdup(real);
	} else {
		cfg->dir = brski_strdup(".");
	}
	if (!cfg->dir)
		goto nomem;
	*out = cfg;
	return VOUCHER_OK;
nomem:
	svc_config_free(cfg);
	return VOUCHER_ENOMEM;
}

voucher_err svc_config_load(const char *path, const struct svc_cfg_default *overrides,
                            struct svc_config **out, struct brski_buf *errors)
{
	struct parse_ctx pc = {0};
	struct svc_config *cfg = NULL;
	voucher_err r;
	int ret;

	*out = NULL;
	r = config_alloc(path, overrides, &cfg);
	if (r != VOUCHER_OK)
		return r;
	pc.cfg = cfg;
	pc.errors = errors;
	pc.fp = fopen(path, "r");
	if (!pc.fp) {
		int e = errno;
		if (errors)
			brski_buf_printf(errors, "%s: cannot open: %s\n", path, strerror(e));
		svc_config_free(cfg);
		return e == ENOENT ? VOUCHER_ENOENT : e == EACCES ? VOUCHER_EACCES : VOUCHER_EIO;
	}
	ret = ini_parse_stream(count_reader, &pc, config_ini_handler, &pc);
	fclose(pc.fp);
	if (ret > 0)
		add_error(&pc, (unsigned)ret, "syntax error (expected [section] or key = value)");
	else if (ret < 0)
		add_error(&pc, 0, "cannot parse (%s)", ret == -2 ? "out of memory" : "read error");
	if (pc.long_line)
		add_error(&pc, pc.long_line, "line longer than %d characters", INI_MAX_LINE - 2);
	for (size_t s = 0; s < cfg->n_sections; s++)
		for (size_t i = 0; svc_cfg_schema[s].items[i].name; i++)
			if (cfg->slots[s][i].value)
				validate_value(&pc, (int)s, (int)i);
	check_required(&pc);
	if (pc.n_errors) {
		svc_config_free(cfg);
		return VOUCHER_E_CONFIG;
	}
	*out = cfg;
	return VOUCHER_OK;
}

void svc_config_free(struct svc_config *cfg)
{
	if (!cfg)
		return;
	for (size_t s = 0; cfg->slots && s < cfg->n_sections; s++) {
		if (!cfg->slots[s])
			continue;
		for (size_t i = 0; svc_cfg_schema[s].items[i].name; i++)
			free(cfg->slots[s][i].value);
		free(cfg->slots[s]);
	}
	free(cfg->slots);
	free(cfg->present);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const char *svc_config_file(const struct svc_config *cfg)
{
	return cfg->path;
}

bool svc_config_has_section(const struct svc_config *cfg, const char *section)
{
	int s = find_section(section);

	if (s < 0)
		abort();
	return cfg->present[s];
}

static const struct slot *lookup(const struct svc_config *cfg, const char *section, const char *key,
                                 enum svc_cfg_type want, bool any_type)
{
	int s = find_section(section);
	int i = s >= 0 ? find_item(s, key) : -1;

	/* Asking for a key the schema lacks is a bug in the caller. */
	if (i < 0)
		abort();
	if (!any_type && svc_cfg_schema[s].items[i].type != want)
		abort();
	return &cfg->slots[s][i];
}

bool svc_config_is_set(const struct svc_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, SVC_CFG_STRING, true)->value != NULL;
}

unsigned svc_config_line(const struct svc_config *cfg, const char *section, const char *key)
{
	return lookup(cfg, section, key, SVC_CFG_STRING, true)->line;
}

const char *svc_config_str(const struct svc_config *cfg, const char *section, const char *key)
{
	const struct slot *sl = lookup(cfg, section, key, SVC_CFG_STRING, true);

	return sl->value ? sl->value : sl->def;
}

int64_t svc_config_int(const struct svc_config *cfg, const char *section, const char *key)
{
	const struct slot *sl = lookup(cfg, section, key, SVC_CFG_INT, false);
	const char *v = sl->value ? sl->value : sl->def;
	uint64_t n = 0;

	if (!v || brski_str_to_u64(v, &n, INT64_MAX) != VOUCHER_OK)
		return 0;
	return (int64_t)n;
}

bool svc_config_bool(const struct svc_config *cfg, const char *section, const char *key)
{
	const struct slot *sl = lookup(cfg, section, key, SVC_CFG_BOOL, false);
	const char *v = sl->value ? sl->value : sl->def;
	bool b = false;

	return v && parse_bool(v, &b) && b;
}

voucher_err svc_config_hostport(const struct svc_config *cfg, const char *section, const char *key,
                                char *host, size_t hostlen, uint16_t *port)
{
	const struct slot *sl = lookup(cfg, section, key, SVC_CFG_HOSTPORT, false);
	const char *v = sl->value ? sl->value : sl->def;

	if (!v)
		return VOUCHER_ENOENT;
	return svc_parse_hostport(v, host, hostlen, port);
}
