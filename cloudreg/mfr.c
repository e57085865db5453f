/* Per-manufacturer MASA settings (creg.h): the file named by [registrar]
 * manufacturers, one INI section per manufacturer, and the choice of the
 * manufacturer that issued a pledge's IDevID.
 *
 * The file is separate from the daemon's configuration because its
 * sections repeat (one per manufacturer, named by the operator); its keys
 * are documented in docs/CONFIG.md next to [registrar]. It is read at start
 * and on SIGHUP with the rest of the registrar's keys. */
#include <config.h>

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/creg.h"
#include "common/str.h"

/* A registrar serves a handful of manufacturers; the bound keeps a mistaken
 * file (or a generated one gone wrong) from costing a verification per
 * section on every pledge request. */
#define CREG_MFR_MAX 64

struct creg_mfr {
	char *name;
	char *ca;         /* PEM file: the CA(s) that issue this manufacturer's IDevIDs */
	char *masa_url;   /* NULL: the IDevID's MASA URL extension (or [registrar] masa_url) */
	char *masa_trust; /* NULL: [registrar] masa_trust */
	unsigned line;    /* of the section header, for messages */
	gnutls_x509_trust_list_t tl;
};

struct creg_mfrs {
	size_t n;
	struct creg_mfr m[CREG_MFR_MAX];
};

const char *creg_mfr_name(const struct creg_mfr *m)
{
	return m ? m->name : NULL;
}

const char *creg_mfr_masa_url(const struct creg_mfr *m)
{
	return m ? m->masa_url : NULL;
}

const char *creg_mfr_masa_trust(const struct creg_mfr *m)
{
	return m ? m->masa_trust : NULL;
}

void creg_mfrs_free(struct creg_mfrs *ms)
{
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct creg_mfr *m = &ms->m[i];
		free(m->name);
		free(m->ca);
		free(m->masa_url);
		free(m->masa_trust);
		if (m->tl)
			gnutls_x509_trust_list_deinit(m->tl, 1);
	}
	free(ms);
}

struct parse_ctx {
	const char *path;
	char dir[4096]; /* the file's directory, for relative paths */
	FILE *fp;
	unsigned line;
	unsigned section_line;
	bool long_line;
	struct creg_mfrs *ms;
	char *err;
	size_t errlen;
	voucher_err r;
};

static int perr(struct parse_ctx *pc, voucher_err r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int perr(struct parse_ctx *pc, voucher_err r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first problem is the one reported. */
	if (pc->r == VOUCHER_OK) {
		snprintf(pc->err, pc->errlen, "%s:%u: %s", pc->path, pc->line, msg);
		pc->r = r;
	}
	return 0;
}

/* fgets that counts lines (inih's plain API reports only the first error
 * line) and refuses lines inih would cut in two. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *pc = stream;
	char *s = fgets(str, num, pc->fp);
	size_t len;
	const char *p;

	if (!s)
		return NULL;
	pc->line++;
	len = strlen(s);
	if (len > 0 && s[len - 1] != '\n' && !feof(pc->fp)) {
		pc->long_line = true;
		return NULL;
	}
	for (p = s; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[')
		pc->section_line = pc->line;
	return s;
}

static char *resolve(const struct parse_ctx *pc, const char *value)
{
	size_t n;
	char *s;

	if (value[0] == '/' || pc->dir[0] == '\0')
		return brski_strdup(value);
	n = strlen(pc->dir) + 1 + strlen(value) + 1;
	if (!(s = malloc(n)))
		return NULL;
	snprintf(s, n, "%s/%s", pc->dir, value);
	return s;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *pc = user;
	struct creg_mfrs *ms = pc->ms;
	struct creg_mfr *m = ms->n ? &ms->m[ms->n - 1] : NULL;
	char **slot;
	char *v;

	if (pc->r != VOUCHER_OK)
		return 0;
	if (section[0] == '\0')
		return perr(pc, VOUCHER_E_CONFIG,
		            "'%s' outside a [manufacturer] section (each section names one "
		            "manufacturer)",
		            name);
	if (!m || strcmp(m->name, section) != 0) {
		for (size_t i = 0; i < ms->n; i++)
			if (strcmp(ms->m[i].name, section) == 0)
				return perr(pc, VOUCHER_E_CONFIG,
				            "manufacturer [%s] is already defined at line %u",
				            section, ms->m[i].line);
		if (ms->n == CREG_MFR_MAX)
			return perr(pc, VOUCHER_E_CONFIG, "more than %d manufacturers",
			            CREG_MFR_MAX);
		m = &ms->m[ms->n++];
		m->line = pc->section_line;
		if (!(m->name = brski_strdup(section)))
			return perr(pc, VOUCHER_ENOMEM, "out of memory");
	}
	if (strcmp(name, "ca") == 0)
		slot = &m->ca;
	else if (strcmp(name, "masa_url") == 0)
		slot = &m->masa_url;
	else if (strcmp(name, "masa_trust") == 0)
		slot = &m->masa_trust;
	else
		return perr(pc, VOUCHER_E_CONFIG,
		            "unknown key '%s' in [%s] (ca, masa_url, masa_trust)", name, section);
	if (*slot)
		return perr(pc, VOUCHER_E_CONFIG, "'%s' is set twice in [%s]", name, section);
	if (value[0] == '\0')
		return perr(pc, VOUCHER_E_CONFIG, "'%s' in [%s] is empty", name, section);
	if (slot == &m->masa_url) {
		char *ep = NULL;
		/* The same rule the MASA client applies, checked now. */
		if (creg_masa_endpoint(value, &ep) != VOUCHER_OK)
			return perr(pc, VOUCHER_E_CONFIG,
			            "masa_url '%.200s' in [%s] is not an https:// URL", value,
			            section);
		free(ep);
		v = brski_strdup(value);
	} else {
		v = resolve(pc, value);
	}
	if (!v)
		return perr(pc, VOUCHER_ENOMEM, "out of memory");
	*slot = v;
	return 1;
}

/* The certificates of a PEM file, with GnuTLS (a CA bundle may hold more
 * than an IDevID chain's bound). */
struct pem_list {
	gnutls_x509_crt_t *crt;
	unsigned n;
};

static void pem_list_free(struct pem_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		gnutls_x509_crt_deinit(l->crt[i]);
	gnutls_free(l->crt);
	l->crt = NULL;
	l->n = 0;
}

static int pem_list_load(struct pem_list *l, const char *path)
{
	gnutls_datum_t d = {NULL, 0};
	int g;

	l->crt = NULL;
	l->n = 0;
	if ((g = gnutls_load_file(path, &d)) < 0)
		return g;
	g = gnutls_x509_crt_list_import2(&l->crt, &l->n, &d, GNUTLS_X509_FMT_PEM, 0);
	gnutls_free(d.data);
	if (g < 0) {
		l->crt = NULL;
		l->n = 0;
		return g;
	}
	return l->n ? 0 : GNUTLS_E_NO_CERTIFICATE_FOUND;
}

/* Every certificate of the manufacturer's ca must be one of the
 * [registrar] manufacturer_ca certificates: the TLS listener authenticates
 * pledges with that bundle, so a CA only listed here would never see a
 * pledge. */
static voucher_err check_in_bundle(const struct creg_mfr *m, const struct pem_list *mine,
                                   const struct pem_list *bundle, const char *bundle_path,
                                   char *err, size_t errlen)
{
	for (unsigned i = 0; i < mine->n; i++) {
		bool found = false;
		for (unsigned j = 0; j < bundle->n && !found; j++)
			found = gnutls_x509_crt_equals(mine->crt[i], bundle->crt[j]) != 0;
		if (!found) {
			snprintf(err, errlen,
			         "manufacturer [%s] ca %s: certificate %u is not in [registrar] "
			         "manufacturer_ca %s (pledges are authenticated with that bundle; "
			         "add it there too)",
			         m->name, m->ca, i + 1, bundle_path);
			return VOUCHER_E_CONFIG;
		}
	}
	return VOUCHER_OK;
}

static voucher_err finish_one(struct creg_mfr *m, const struct pem_list *bundle,
                              const char *bundle_path, const char *path, char *err, size_t errlen)
{
	struct pem_list mine = {NULL, 0};
	voucher_err r;
	int g;

	if (!m->ca) {
		snprintf(err, errlen, "%s:%u: manufacturer [%s] has no 'ca'", path, m->line,
		         m->name);
		return VOUCHER_E_CONFIG;
	}
	if ((g = pem_list_load(&mine, m->ca)) < 0) {
		snprintf(err, errlen, "manufacturer [%s]: failed to load ca %s (%s)", m->name,
		         m->ca, gnutls_strerror(g));
		return VOUCHER_E_CONFIG;
	}
	r = check_in_bundle(m, &mine, bundle, bundle_path, err, errlen);
	pem_list_free(&mine);
	if (r != VOUCHER_OK)
		return r;
	if (m->masa_trust) {
		/* libcurl reads it per connection; a broken file should stop
		 * the start, not fail every pledge of this manufacturer. */
		if ((g = pem_list_load(&mine, m->masa_trust)) < 0) {
			snprintf(err, errlen,
			         "manufacturer [%s]: failed to load masa_trust %s (%s)", m->name,
			         m->masa_trust, gnutls_strerror(g));
			return VOUCHER_E_CONFIG;
		}
		pem_list_free(&mine);
	}
	if (gnutls_x509_trust_list_init(&m->tl, 0) < 0) {
		m->tl = NULL;
		snprintf(err, errlen, "out of memory");
		return VOUCHER_ENOMEM;
	}
	g = gnutls_x509_trust_list_add_trust_file(m->tl, m->ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	if (g <= 0) {
		snprintf(err, errlen, "manufacturer [%s]: ca %s holds no usable certificate (%s)",
		         m->name, m->ca, g < 0 ? gnutls_strerror(g) : "none found");
		return VOUCHER_E_CONFIG;
	}
	return VOUCHER_OK;
}

voucher_err creg_mfrs_load(const char *path, const char *bundle_path, struct creg_mfrs **out,
                           char *err, size_t errlen)
{
	struct parse_ctx pc = {0};
	struct pem_list bundle = {NULL, 0};
	const char *slash;
	voucher_err r;
	int ret, g;

	*out = NULL;
	pc.path = path;
	pc.err = err;
	pc.errlen = errlen;
	if ((slash = strrchr(path, '/')) != NULL)
		snprintf(pc.dir, sizeof(pc.dir), "%.*s", (int)(slash - path), path);
	if (slash == path)
		snprintf(pc.dir, sizeof(pc.dir), "/");
	if (!(pc.ms = calloc(1, sizeof(*pc.ms))))
		return VOUCHER_ENOMEM;
	if (!(pc.fp = fopen(path, "r"))) {
		int e = errno;
		snprintf(err, errlen, "[registrar] manufacturers %s: cannot open (%s)", path,
		         strerror(e));
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	ret = ini_parse_stream(reader, &pc, on_key, &pc);
	fclose(pc.fp);
	if (pc.r != VOUCHER_OK) {
		r = pc.r;
		goto out;
	}
	if (pc.long_line) {
		snprintf(err, errlen, "%s:%u: line longer than %d characters", path, pc.line,
		         INI_MAX_LINE - 2);
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	if (ret != 0) {
		snprintf(err, errlen,
		         "%s:%d: syntax error (expected [manufacturer] or key = value)", path,
		         ret > 0 ? ret : 0);
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	if (pc.ms->n == 0) {
		snprintf(err, errlen, "%s: no [manufacturer] section", path);
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	if ((g = pem_list_load(&bundle, bundle_path)) < 0) {
		snprintf(err, errlen, "failed to load [registrar] manufacturer_ca %s (%s)",
		         bundle_path, gnutls_strerror(g));
		r = VOUCHER_E_CONFIG;
		goto out;
	}
	for (size_t i = 0; i < pc.ms->n; i++)
		if ((r = finish_one(&pc.ms->m[i], &bundle, bundle_path, path, err, errlen)) !=
		    VOUCHER_OK)
			goto out;
	*out = pc.ms;
	pc.ms = NULL;
	r = VOUCHER_OK;
out:
	pem_list_free(&bundle);
	creg_mfrs_free(pc.ms);
	return r;
}

const struct creg_mfr *creg_mfrs_select(const struct creg_mfrs *ms, uint8_t *const *chain,
                                        const size_t *chain_len, size_t n)
{
	gnutls_x509_crt_t crts[8];
	const struct creg_mfr *found = NULL;
	size_t nc = 0;

	if (!ms || n == 0)
		return NULL;
	/* The pledge's carried chain: its IDevID first, then whatever
	 * intermediates it sent (bounded; an IDevID chain is short). */
	for (size_t i = 0; i < n && nc < sizeof(crts) / sizeof(crts[0]); i++) {
		gnutls_datum_t d = {chain[i], (unsigned)chain_len[i]};
		if (gnutls_x509_crt_init(&crts[nc]) < 0)
			break;
		if (gnutls_x509_crt_import(crts[nc], &d, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[nc]);
			break;
		}
		nc++;
	}
	/* The first manufacturer whose CA the chain verifies to: a signature
	 * check, not a name match, so a CA with another's subject cannot
	 * steer a pledge to its MASA. Validity was checked already. */
	for (size_t i = 0; i < ms->n && nc > 0 && !found; i++) {
		unsigned status = 0;
		if (gnutls_x509_trust_list_verify_crt(
		            ms->m[i].tl, crts, (unsigned)nc,
		            GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
		                    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
		            &status, NULL) == 0 &&
		    status == 0)
			found = &ms->m[i];
	}
	for (size_t i = 0; i < nc; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return found;
}
