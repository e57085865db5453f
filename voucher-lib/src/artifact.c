/* The voucher_artifact object: leaf table, typed accessors, timestamps. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/compat.h"
#include "common/str.h"
#include "model.h"

/* Indexed by enum voucher_leaf; the order is the YANG order of the modules,
 * which is also the order leaves are printed in. yangctx.c checks at
 * context creation that this table and the compiled modules agree. */
const struct vl_leaf_def vl_leaves[VOUCHER_LEAF_COUNT] = {
        [VOUCHER_LEAF_CREATED_ON] = {"created-on", VOUCHER_TYPE_DATETIME, false},
        [VOUCHER_LEAF_EXPIRES_ON] = {"expires-on", VOUCHER_TYPE_DATETIME, false},
        [VOUCHER_LEAF_ASSERTION] = {"assertion", VOUCHER_TYPE_ASSERTION, false},
        [VOUCHER_LEAF_SERIAL_NUMBER] = {"serial-number", VOUCHER_TYPE_STRING, false},
        [VOUCHER_LEAF_IDEVID_ISSUER] = {"idevid-issuer", VOUCHER_TYPE_BINARY, false},
        [VOUCHER_LEAF_PINNED_DOMAIN_CERT] = {"pinned-domain-cert", VOUCHER_TYPE_BINARY, false},
        [VOUCHER_LEAF_PINNED_DOMAIN_PUBK] = {"pinned-domain-pubk", VOUCHER_TYPE_BINARY, false},
        [VOUCHER_LEAF_PINNED_DOMAIN_PUBK_SHA256] = {"pinned-domain-pubk-sha256",
                                                    VOUCHER_TYPE_BINARY, false},
        [VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS] = {"domain-cert-revocation-checks",
                                                        VOUCHER_TYPE_BOOLEAN, false},
        [VOUCHER_LEAF_NONCE] = {"nonce", VOUCHER_TYPE_BINARY, false},
        [VOUCHER_LEAF_LAST_RENEWAL_DATE] = {"last-renewal-date", VOUCHER_TYPE_DATETIME, false},
        [VOUCHER_LEAF_EST_DOMAIN] = {"est-domain", VOUCHER_TYPE_STRING, false},
        [VOUCHER_LEAF_ADDITIONAL_CONFIGURATION_URL] = {"additional-configuration-url",
                                                       VOUCHER_TYPE_STRING, false},
        [VOUCHER_LEAF_MANUFACTURER_PROPRIETARY] = {"manufacturer-proprietary", VOUCHER_TYPE_BINARY,
                                                   false},
        [VOUCHER_LEAF_EXTENSIONS] = {"extensions", VOUCHER_TYPE_LEAFLIST, false},
        [VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST] = {"prior-signed-voucher-request",
                                                       VOUCHER_TYPE_BINARY, true},
        [VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT] = {"proximity-registrar-cert", VOUCHER_TYPE_BINARY,
                                                   true},
        [VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK] = {"proximity-registrar-pubk", VOUCHER_TYPE_BINARY,
                                                   true},
        [VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK_SHA256] = {"proximity-registrar-pubk-sha256",
                                                          VOUCHER_TYPE_BINARY, true},
        [VOUCHER_LEAF_AGENT_SIGNED_DATA] = {"agent-signed-data", VOUCHER_TYPE_BINARY, true},
        [VOUCHER_LEAF_AGENT_PROVIDED_PROXIMITY_REGISTRAR_CERT] =
                {"agent-provided-proximity-registrar-cert", VOUCHER_TYPE_BINARY, true},
        [VOUCHER_LEAF_AGENT_SIGN_CERT] = {"agent-sign-cert", VOUCHER_TYPE_BINARY, true},
};

static const char *const assertion_names[] = {
        [VOUCHER_ASSERTION_VERIFIED] = "verified",
        [VOUCHER_ASSERTION_LOGGED] = "logged",
        [VOUCHER_ASSERTION_PROXIMITY] = "proximity",
        [VOUCHER_ASSERTION_AGENT_PROXIMITY] = "agent-proximity",
};

const char *vl_root_name(enum voucher_kind kind)
{
	return kind == VOUCHER_KIND_REQUEST ? VL_ROOT_REQUEST : VL_ROOT_VOUCHER;
}

enum voucher_kind vl_root_kind(const char *name, size_t len)
{
	if (len == strlen(VL_ROOT_VOUCHER) && memcmp(name, VL_ROOT_VOUCHER, len) == 0)
		return VOUCHER_KIND_VOUCHER;
	if (len == strlen(VL_ROOT_REQUEST) && memcmp(name, VL_ROOT_REQUEST, len) == 0)
		return VOUCHER_KIND_REQUEST;
	return VOUCHER_KIND_UNKNOWN;
}

/* ---- errors ---------------------------------------------------------------- */

void vl_err_clear(struct voucher_error_info *e)
{
	if (e == NULL)
		return;
	e->code = VOUCHER_OK;
	e->member[0] = 0;
	e->message[0] = 0;
}

voucher_err vl_err(struct voucher_error_info *e, voucher_err code, const char *member,
                   const char *fmt, ...)
{
	if (e == NULL)
		return code;
	e->code = code;
	snprintf(e->member, sizeof(e->member), "%s", member ? member : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- leaves -------------------------------------------------------------- */

static bool leaf_ok(enum voucher_leaf leaf)
{
	return (unsigned)leaf < VOUCHER_LEAF_COUNT;
}

const char *voucher_leaf_name(enum voucher_leaf leaf)
{
	return leaf_ok(leaf) ? vl_leaves[leaf].name : NULL;
}

enum voucher_leaf voucher_leaf_from_name(const char *name)
{
	if (name == NULL)
		return VOUCHER_LEAF_COUNT;
	for (int i = 0; i < VOUCHER_LEAF_COUNT; i++)
		if (strcmp(vl_leaves[i].name, name) == 0)
			return (enum voucher_leaf)i;
	return VOUCHER_LEAF_COUNT;
}

enum voucher_leaf_type voucher_leaf_type(enum voucher_leaf leaf)
{
	return leaf_ok(leaf) ? vl_leaves[leaf].type : 0;
}

bool voucher_leaf_in_kind(enum voucher_leaf leaf, enum voucher_kind kind)
{
	if (!leaf_ok(leaf))
		return false;
	if (kind == VOUCHER_KIND_REQUEST)
		return true;
	return kind == VOUCHER_KIND_VOUCHER && !vl_leaves[leaf].request_only;
}

const char *voucher_assertion_name(enum voucher_assertion a)
{
	if ((unsigned)a >= sizeof(assertion_names) / sizeof(assertion_names[0]))
		return NULL;
	return assertion_names[a];
}

/* ---- objects ------------------------------------------------------------- */

voucher_err voucher_artifact_new(enum voucher_kind kind, struct voucher_artifact **out)
{
	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if (kind != VOUCHER_KIND_VOUCHER && kind != VOUCHER_KIND_REQUEST)
		return VOUCHER_EINVAL;
	struct voucher_artifact *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return VOUCHER_ENOMEM;
	a->kind = kind;
	*out = a;
	return VOUCHER_OK;
}

static void value_free(struct vl_value *v)
{
	if (v->data != NULL)
		freezero(v->data, v->len);
	for (size_t i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

void voucher_artifact_free(struct voucher_artifact *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < VOUCHER_LEAF_COUNT; i++)
		value_free(&a->v[i]);
	if (a->raw != NULL)
		freezero(a->raw, a->raw_len);
	free(a);
}

enum voucher_kind voucher_artifact_kind(const struct voucher_artifact *a)
{
	return a ? a->kind : VOUCHER_KIND_UNKNOWN;
}

voucher_err voucher_artifact_dup(const struct voucher_artifact *a, struct voucher_artifact **out)
{
	if (a == NULL || out == NULL)
		return VOUCHER_EINVAL;
	struct voucher_artifact *c = NULL;
	voucher_err r = voucher_artifact_new(a->kind, &c);
	if (r != VOUCHER_OK)
		return r;
	for (int i = 0; i < VOUCHER_LEAF_COUNT; i++) {
		const struct vl_value *v = &a->v[i];
		if (!v->set)
			continue;
		c->v[i].set = true;
		c->v[i].ival = v->ival;
		if (v->data != NULL) {
			/* strings carry their NUL past len */
			size_t n = v->len + (vl_leaves[i].type == VOUCHER_TYPE_BINARY ? 0 : 1);
			if ((c->v[i].data = malloc(n)) == NULL)
				goto nomem;
			memcpy(c->v[i].data, v->data, n);
			c->v[i].len = v->len;
		}
		for (size_t j = 0; j < v->nlist; j++)
			if ((r = voucher_artifact_add_extension(c, v->list[j])) != VOUCHER_OK)
				goto fail;
	}
	*out = c;
	return VOUCHER_OK;
nomem:
	r = VOUCHER_ENOMEM;
fail:
	voucher_artifact_free(c);
	return r;
}

/* Check that leaf exists in a's kind and has type t. */
static voucher_err check_leaf(const struct voucher_artifact *a, enum voucher_leaf leaf,
                              enum voucher_leaf_type t)
{
	if (a == NULL || !voucher_leaf_in_kind(leaf, a->kind) || vl_leaves[leaf].type != t)
		return VOUCHER_EINVAL;
	return VOUCHER_OK;
}

bool voucher_artifact_has(const struct voucher_artifact *a, enum voucher_leaf leaf)
{
	return a != NULL && voucher_leaf_in_kind(leaf, a->kind) && a->v[leaf].set;
}

voucher_err voucher_artifact_clear(struct voucher_artifact *a, enum voucher_leaf leaf)
{
	if (a == NULL || !voucher_leaf_in_kind(leaf, a->kind))
		return VOUCHER_EINVAL;
	value_free(&a->v[leaf]);
	return VOUCHER_OK;
}

voucher_err vl_set_text(struct voucher_artifact *a, enum voucher_leaf leaf, const char *s,
                        size_t len)
{
	if (memchr(s, 0, len) != NULL)
		return VOUCHER_EINVAL;
	char *p = malloc(len + 1);
	if (p == NULL)
		return VOUCHER_ENOMEM;
	memcpy(p, s, len);
	p[len] = 0;
	value_free(&a->v[leaf]);
	a->v[leaf].set = true;
	a->v[leaf].data = (uint8_t *)p;
	a->v[leaf].len = len;
	return VOUCHER_OK;
}

voucher_err vl_set_bytes(struct voucher_artifact *a, enum voucher_leaf leaf, const uint8_t *p,
                         size_t len)
{
	uint8_t *c = NULL;
	if (len > 0) {
		if ((c = malloc(len)) == NULL)
			return VOUCHER_ENOMEM;
		memcpy(c, p, len);
	}
	value_free(&a->v[leaf]);
	a->v[leaf].set = true;
	a->v[leaf].data = c;
	a->v[leaf].len = len;
	return VOUCHER_OK;
}

static voucher_err get_text(const struct voucher_artifact *a, enum voucher_leaf leaf,
                            enum voucher_leaf_type t, const char **out)
{
	voucher_err r = check_leaf(a, leaf, t);
	if (r != VOUCHER_OK || out == NULL)
		return VOUCHER_EINVAL;
	if (!a->v[leaf].set)
		return VOUCHER_ENOENT;
	*out = (const char *)a->v[leaf].data;
	return VOUCHER_OK;
}

static voucher_err set_text(struct voucher_artifact *a, enum voucher_leaf leaf,
                            enum voucher_leaf_type t, const char *value)
{
	voucher_err r = check_leaf(a, leaf, t);
	if (r != VOUCHER_OK || value == NULL)
		return VOUCHER_EINVAL;
	return vl_set_text(a, leaf, value, strlen(value));
}

voucher_err voucher_artifact_get_string(const struct voucher_artifact *a, enum voucher_leaf leaf,
                                        const char **out)
{
	return get_text(a, leaf, VOUCHER_TYPE_STRING, out);
}

voucher_err voucher_artifact_set_string(struct voucher_artifact *a, enum voucher_leaf leaf,
                                        const char *value)
{
	return set_text(a, leaf, VOUCHER_TYPE_STRING, value);
}

voucher_err voucher_artifact_get_datetime(const struct voucher_artifact *a, enum voucher_leaf leaf,
                                          const char **out)
{
	return get_text(a, leaf, VOUCHER_TYPE_DATETIME, out);
}

voucher_err voucher_artifact_set_datetime(struct voucher_artifact *a, enum voucher_leaf leaf,
                                          const char *value)
{
	return set_text(a, leaf, VOUCHER_TYPE_DATETIME, value);
}

voucher_err voucher_artifact_get_time(const struct voucher_artifact *a, enum voucher_leaf leaf,
                                      time_t *out)
{
	const char *s = NULL;
	if (out == NULL)
		return VOUCHER_EINVAL;
	voucher_err r = get_text(a, leaf, VOUCHER_TYPE_DATETIME, &s);
	if (r != VOUCHER_OK)
		return r;
	return voucher_time_parse(s, out);
}

voucher_err voucher_artifact_set_time(struct voucher_artifact *a, enum voucher_leaf leaf, time_t t)
{
	char buf[32];
	voucher_err r = voucher_time_format(t, buf, sizeof(buf));
	if (r != VOUCHER_OK)
		return r;
	return set_text(a, leaf, VOUCHER_TYPE_DATETIME, buf);
}

voucher_err voucher_artifact_get_binary(const struct voucher_artifact *a, enum voucher_leaf leaf,
                                        const uint8_t **data, size_t *len)
{
	if (check_leaf(a, leaf, VOUCHER_TYPE_BINARY) != VOUCHER_OK || data == NULL || len == NULL)
		return VOUCHER_EINVAL;
	if (!a->v[leaf].set)
		return VOUCHER_ENOENT;
	*data = a->v[leaf].data;
	*len = a->v[leaf].len;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_set_binary(struct voucher_artifact *a, enum voucher_leaf leaf,
                                        const uint8_t *data, size_t len)
{
	if (check_leaf(a, leaf, VOUCHER_TYPE_BINARY) != VOUCHER_OK || (data == NULL && len > 0))
		return VOUCHER_EINVAL;
	return vl_set_bytes(a, leaf, data, len);
}

voucher_err voucher_artifact_get_bool(const struct voucher_artifact *a, enum voucher_leaf leaf,
                                      bool *out)
{
	if (check_leaf(a, leaf, VOUCHER_TYPE_BOOLEAN) != VOUCHER_OK || out == NULL)
		return VOUCHER_EINVAL;
	if (!a->v[leaf].set)
		return VOUCHER_ENOENT;
	*out = a->v[leaf].ival != 0;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_set_bool(struct voucher_artifact *a, enum voucher_leaf leaf,
                                      bool value)
{
	if (check_leaf(a, leaf, VOUCHER_TYPE_BOOLEAN) != VOUCHER_OK)
		return VOUCHER_EINVAL;
	value_free(&a->v[leaf]);
	a->v[leaf].set = true;
	a->v[leaf].ival = value ? 1 : 0;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_get_assertion(const struct voucher_artifact *a,
                                           enum voucher_assertion *out)
{
	if (a == NULL || out == NULL)
		return VOUCHER_EINVAL;
	if (!a->v[VOUCHER_LEAF_ASSERTION].set)
		return VOUCHER_ENOENT;
	*out = (enum voucher_assertion)a->v[VOUCHER_LEAF_ASSERTION].ival;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_set_assertion(struct voucher_artifact *a, enum voucher_assertion value)
{
	if (a == NULL || voucher_assertion_name(value) == NULL)
		return VOUCHER_EINVAL;
	value_free(&a->v[VOUCHER_LEAF_ASSERTION]);
	a->v[VOUCHER_LEAF_ASSERTION].set = true;
	a->v[VOUCHER_LEAF_ASSERTION].ival = (int)value;
	return VOUCHER_OK;
}

size_t voucher_artifact_extension_count(const struct voucher_artifact *a)
{
	return a ? a->v[VOUCHER_LEAF_EXTENSIONS].nlist : 0;
}

const char *voucher_artifact_extension(const struct voucher_artifact *a, size_t i)
{
	if (a == NULL || i >= a->v[VOUCHER_LEAF_EXTENSIONS].nlist)
		return NULL;
	return a->v[VOUCHER_LEAF_EXTENSIONS].list[i];
}

voucher_err voucher_artifact_add_extension(struct voucher_artifact *a, const char *value)
{
	if (a == NULL || value == NULL || value[0] == 0)
		return VOUCHER_EINVAL;
	struct vl_value *v = &a->v[VOUCHER_LEAF_EXTENSIONS];
	for (size_t i = 0; i < v->nlist; i++)
		if (strcmp(v->list[i], value) == 0)
			return VOUCHER_EEXIST;
	if (v->nlist >= VL_MAX_ARTIFACT)
		return VOUCHER_E_TOO_LARGE;
	char **l = realloc(v->list, (v->nlist + 1) * sizeof(*l));
	if (l == NULL)
		return VOUCHER_ENOMEM;
	v->list = l;
	if ((l[v->nlist] = brski_strdup(value)) == NULL)
		return VOUCHER_ENOMEM;
	v->nlist++;
	v->set = true;
	return VOUCHER_OK;
}

voucher_err vl_set_raw(struct voucher_artifact *a, const uint8_t *in, size_t len,
                       enum voucher_format fmt)
{
	uint8_t *c = malloc(len ? len : 1);
	if (c == NULL)
		return VOUCHER_ENOMEM;
	memcpy(c, in, len);
	if (a->raw != NULL)
		freezero(a->raw, a->raw_len);
	a->raw = c;
	a->raw_len = len;
	a->raw_format = fmt;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_raw(const struct voucher_artifact *a, const uint8_t **data,
                                 size_t *len, enum voucher_format *format)
{
	if (a == NULL || data == NULL || len == NULL)
		return VOUCHER_EINVAL;
	if (a->raw == NULL)
		return VOUCHER_ENOENT;
	*data = a->raw;
	*len = a->raw_len;
	if (format != NULL)
		*format = a->raw_format;
	return VOUCHER_OK;
}

/* ---- timestamps ---------------------------------------------------------- */

/* Exactly n digits at *p, value <= max. */
static bool digits(const char **p, int n, int max, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	if (v > max)
		return false;
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

voucher_err voucher_time_parse(const char *text, time_t *out)
{
	if (text == NULL || out == NULL)
		return VOUCHER_EINVAL;
	const char *p = text;
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
	if (!digits(&p, 4, 9999, &y) || !expect(&p, '-') || !digits(&p, 2, 12, &mo) ||
	    !expect(&p, '-') || !digits(&p, 2, 31, &d) || !expect(&p, 'T') ||
	    !digits(&p, 2, 23, &h) || !expect(&p, ':') || !digits(&p, 2, 59, &mi) ||
	    !expect(&p, ':') || !digits(&p, 2, 60, &s))
		return VOUCHER_E_MALFORMED;
	if (mo == 0 || d == 0)
		return VOUCHER_E_MALFORMED;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (d > mdays[mo - 1])
		return VOUCHER_E_MALFORMED;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return VOUCHER_E_MALFORMED;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return VOUCHER_E_MALFORMED;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (!digits(&p, 2, 23, &oh) || !expect(&p, ':') || !digits(&p, 2, 59, &om))
			return VOUCHER_E_MALFORMED;
	} else {
		return VOUCHER_E_MALFORMED;
	}
	if (*p != 0)
		return VOUCHER_E_MALFORMED;
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s == 60 ? 59 : s; /* a leap second is read as :59 */
	/* years 0..9999 always fit a 64-bit time_t; a 32-bit one spans less */
	if (sizeof(time_t) < 8 && (y < 1902 || y > 2037))
		return VOUCHER_ERANGE;
	time_t t = timegm(&tm);
	*out = t - sign * (time_t)(oh * 3600 + om * 60);
	return VOUCHER_OK;
}

voucher_err voucher_time_format(time_t t, char *buf, size_t buflen)
{
	struct tm tm;
	if (buf == NULL || gmtime_r(&t, &tm) == NULL)
		return VOUCHER_ERANGE;
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return VOUCHER_ERANGE;
	if (buflen < 21 || strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		return VOUCHER_ERANGE;
	return VOUCHER_OK;
}

/* ---- validation and dispatch --------------------------------------------- */

voucher_err voucher_artifact_validate(const struct voucher_artifact *a, unsigned flags,
                                      struct voucher_error_info *err)
{
	vl_err_clear(err);
	if (a == NULL)
		return vl_err(err, VOUCHER_EINVAL, NULL, "no artifact");
	voucher_err r = vl_schemas_get(err);
	if (r != VOUCHER_OK)
		return r;
	bool placeholder = (flags & VOUCHER_F_LEGACY) &&
	                   (flags & VOUCHER_F_LENIENT_NO_CREATED_ON) &&
	                   a->kind == VOUCHER_KIND_VOUCHER;
	char *json = NULL;
	size_t len = 0;
	unsigned print = VL_PRINT_FOR_SCHEMA | (placeholder ? VL_PRINT_PLACEHOLDER_CREATED_ON : 0u);
	if ((r = vl_json_print(a, print, flags, &json, &len, err)) != VOUCHER_OK)
		return r;
	r = vl_schema_validate(flags, a->kind, json, err);
	free(json);
	return r;
}

voucher_err voucher_artifact_parse(const uint8_t *in, size_t len, enum voucher_kind expect_kind,
                                   unsigned flags, struct voucher_artifact **out,
                                   struct voucher_error_info *err)
{
	enum voucher_format fmt = VOUCHER_FORMAT_UNKNOWN;
	if (out != NULL)
		*out = NULL;
	if (in == NULL && len > 0)
		return vl_err(err, VOUCHER_EINVAL, NULL, "no input");
	size_t i = 0;
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	if (i < len && in[i] == '{')
		fmt = VOUCHER_FORMAT_JSON;
	else if (i == 0 && len > 0 && (in[0] >> 5) == 5)
		fmt = VOUCHER_FORMAT_CBOR;
	if (fmt == VOUCHER_FORMAT_UNKNOWN && (flags & VOUCHER_F_LENIENT_BASE64_BODY) &&
	    vl_looks_like_base64(in, len)) {
		struct brski_buf b;
		brski_buf_init(&b, VL_MAX_ARTIFACT);
		voucher_err r = vl_base64_body(in, len, &b);
		if (r != VOUCHER_OK) {
			brski_buf_free(&b);
			return vl_err(err, r, NULL,
			              "body is neither JSON, CBOR nor base64 of them");
		}
		r = voucher_artifact_parse(b.data, b.len, expect_kind,
		                           flags & ~(unsigned)VOUCHER_F_LENIENT_BASE64_BODY, out,
		                           err);
		brski_buf_free(&b);
		return r;
	}
	if (fmt == VOUCHER_FORMAT_JSON)
		return voucher_artifact_from_json(in, len, expect_kind, flags, out, err);
	if (fmt == VOUCHER_FORMAT_CBOR)
		return voucher_artifact_from_cbor(in, len, expect_kind, flags, out, err);
	return vl_err(err, VOUCHER_E_MALFORMED, NULL,
	              "input is neither a JSON object nor a CBOR map");
}
