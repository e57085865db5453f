/*
 * JSON codec (RFC 7951). Untrusted input goes through jansson first:
 * size and nesting bounds, duplicate members and exactly one top-level
 * member are checked before libyang sees a byte, because libyang 2.1.30
 * loops forever on some inputs (the same top-level member twice, several
 * top-level siblings). libyang then validates our own re-serialisation of
 * the parsed members, never the caller's bytes (binary members whose
 * value the schema never looks at are printed as a placeholder for that:
 * vl_schema_binary_opaque).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "common/str.h"
#include "model.h"

/* Nesting depth of JSON text, counted outside strings; stops early. */
static voucher_err check_depth(const uint8_t *in, size_t len)
{
	size_t depth = 0;
	bool str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == '"') {
			str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > VL_MAX_DEPTH)
				return VOUCHER_E_TOO_DEEP;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return VOUCHER_OK;
}

/* jansson reports a duplicate member by position only: name it from the
 * last string literal that ends before that position. */
static void last_key_before(const uint8_t *in, size_t len, size_t pos, char *out, size_t outlen)
{
	size_t end = pos < len ? pos : len;
	snprintf(out, outlen, "?");
	while (end > 0 && in[end - 1] != '"')
		end--;
	if (end == 0)
		return;
	size_t start = end - 1;
	while (start > 0 && !(in[start - 1] == '"' && (start < 2 || in[start - 2] != '\\')))
		start--;
	if (start == 0)
		return;
	size_t n = end - 1 - start;
	snprintf(out, outlen, "%.*s", (int)(n < outlen - 1 ? n : outlen - 1),
	         (const char *)in + start);
}

static const char *json_type_name(const json_t *v)
{
	if (v == NULL)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Parse bounded JSON text into a jansson tree holding exactly one
 * top-level member. Shared by the parser and voucher_artifact_detect(). */
static voucher_err load_bounded(const uint8_t *in, size_t len, json_t **root, const char **key,
                                json_t **value, struct voucher_error_info *e)
{
	*root = NULL;
	if (len > VL_MAX_ARTIFACT)
		return vl_err(e, VOUCHER_E_TOO_LARGE, NULL, "JSON of %zu bytes exceeds %u bytes",
		              len, (unsigned)VL_MAX_ARTIFACT);
	if (check_depth(in, len) != VOUCHER_OK)
		return vl_err(e, VOUCHER_E_TOO_DEEP, NULL, "JSON nested deeper than %d levels",
		              VL_MAX_DEPTH);
	json_error_t jerr;
	json_t *r = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL) {
		voucher_err code = VOUCHER_E_MALFORMED;
		if (json_error_code(&jerr) == json_error_duplicate_key) {
			char dup[64];
			last_key_before(in, len, (size_t)jerr.position, dup, sizeof(dup));
			return vl_err(e, VOUCHER_E_DUPLICATE, dup, "%s: duplicate member (byte %d)",
			              dup, jerr.position);
		} else if (json_error_code(&jerr) == json_error_end_of_input_expected)
			code = VOUCHER_E_TRAILING_DATA;
		return vl_err(e, code, NULL, "JSON at byte %d: %s", jerr.position, jerr.text);
	}
	if (!json_is_object(r) || json_object_size(r) != 1) {
		size_t n = json_is_object(r) ? json_object_size(r) : 0;
		json_decref(r);
		return vl_err(e, VOUCHER_E_MALFORMED, NULL,
		              "expected a JSON object with exactly one member, got %zu", n);
	}
	void *iter = json_object_iter(r);
	*key = json_object_iter_key(iter);
	*value = json_object_iter_value(iter);
	*root = r;
	return VOUCHER_OK;
}

bool vl_looks_like_base64(const uint8_t *in, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/' || c == '-' || c == '_' || c == '=')
			n++;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return false;
	}
	return n > 0;
}

/* Deployed peers send bodies in base64, wrapped or not, with either
 * alphabet and with or without padding. Normalise to unpadded base64url
 * and decode strictly. */
voucher_err vl_base64_body(const uint8_t *in, size_t len, struct brski_buf *out)
{
	struct brski_buf t;
	voucher_err r = VOUCHER_OK;
	brski_buf_init(&t, VL_MAX_ARTIFACT * 2);
	for (size_t i = 0; i < len && r == VOUCHER_OK; i++) {
		uint8_t c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=')
			continue;
		r = brski_buf_putc(&t, c == '+' ? '-' : c == '/' ? '_' : c);
	}
	if (r == VOUCHER_OK)
		r = vl_b64_decode(out, brski_buf_str(&t), t.len, VL_B64_URL);
	brski_buf_free(&t);
	return r;
}

bool vl_artifact_parse_prologue(const uint8_t *in, size_t len, enum voucher_kind expect,
                                unsigned flags, struct voucher_artifact **out,
                                struct voucher_error_info *err, vl_artifact_parser parse,
                                const char *syntax, voucher_err *r)
{
	vl_err_clear(err);
	if (out == NULL || (in == NULL && len > 0)) {
		*r = vl_err(err, VOUCHER_EINVAL, NULL, "invalid arguments");
		return true;
	}
	*out = NULL;
	if ((*r = vl_schemas_get(err)) != VOUCHER_OK)
		return true;
	if ((flags & VOUCHER_F_LENIENT_BASE64_BODY) && vl_looks_like_base64(in, len)) {
		struct brski_buf b;
		brski_buf_init(&b, VL_MAX_ARTIFACT);
		*r = vl_base64_body(in, len, &b);
		if (*r == VOUCHER_OK)
			*r = parse(b.data, b.len, expect,
			           flags & ~(unsigned)VOUCHER_F_LENIENT_BASE64_BODY, out, err);
		else
			vl_err(err, *r, NULL, "body is neither %s nor base64 of %s", syntax,
			       syntax);
		brski_buf_free(&b);
		return true;
	}
	return false;
}

/* Decode a binary member: padded standard base64 (RFC 7951), or, for the
 * nonce with VOUCHER_F_LENIENT_NONCE_B64URL, unpadded base64url. */
static voucher_err decode_binary(struct voucher_artifact *a, enum voucher_leaf leaf, const char *s,
                                 size_t n, unsigned flags, struct voucher_error_info *e)
{
	struct brski_buf b;
	brski_buf_init(&b, VL_MAX_ARTIFACT);
	voucher_err r = vl_b64_decode(&b, s, n, VL_B64_STD);
	if (r == VOUCHER_E_BAD_BASE64 && leaf == VOUCHER_LEAF_NONCE &&
	    (flags & VOUCHER_F_LENIENT_NONCE_B64URL)) {
		brski_buf_reset(&b);
		r = vl_b64_decode(&b, s, n, VL_B64_URL);
	}
	if (r == VOUCHER_OK)
		r = vl_set_bytes(a, leaf, b.data, b.len);
	brski_buf_free(&b);
	if (r == VOUCHER_E_BAD_BASE64)
		return vl_err(e, r, vl_leaves[leaf].name, "%s: not valid base64 (RFC 4648, padded)",
		              vl_leaves[leaf].name);
	if (r != VOUCHER_OK)
		return vl_err(e, r, vl_leaves[leaf].name, "%s: %s", vl_leaves[leaf].name,
		              voucher_strerror(r));
	return VOUCHER_OK;
}

static voucher_err bad_type(struct voucher_error_info *e, const char *name, const char *want,
                            const json_t *v)
{
	return vl_err(e, VOUCHER_E_BAD_TYPE, name, "%s: expected %s, got %s", name, want,
	              json_type_name(v));
}

/* Fill one leaf from its JSON member. The JSON types are checked here so
 * that the error names the member and the type; value constraints are
 * left to libyang. */
static voucher_err fill_member(struct voucher_artifact *a, const char *name, json_t *v,
                               unsigned flags, struct voucher_error_info *e)
{
	enum voucher_leaf leaf = voucher_leaf_from_name(name);
	if (leaf == VOUCHER_LEAF_COUNT || !voucher_leaf_in_kind(leaf, a->kind) ||
	    !vl_schema_has_leaf(flags, a->kind, leaf))
		return vl_err(e, VOUCHER_E_UNKNOWN_MEMBER, name, "%s: not a member of %s%s", name,
		              vl_root_name(a->kind),
		              (flags & VOUCHER_F_LEGACY) ? " (RFC 8366/8995)" : "");
	voucher_err r = VOUCHER_OK;
	switch (vl_leaves[leaf].type) {
	case VOUCHER_TYPE_STRING:
	case VOUCHER_TYPE_DATETIME:
		if (!json_is_string(v))
			return bad_type(e, name, "a string", v);
		r = vl_set_text(a, leaf, json_string_value(v), json_string_length(v));
		break;
	case VOUCHER_TYPE_BINARY:
		if (!json_is_string(v))
			return bad_type(e, name, "a base64 string", v);
		return decode_binary(a, leaf, json_string_value(v), json_string_length(v), flags,
		                     e);
	case VOUCHER_TYPE_BOOLEAN:
		if (!json_is_boolean(v))
			return bad_type(e, name, "true or false", v);
		return voucher_artifact_set_bool(a, leaf, json_is_true(v));
	case VOUCHER_TYPE_ASSERTION: {
		if (!json_is_string(v))
			return bad_type(e, name, "a string", v);
		int val = vl_schema_assertion_value(flags, a->kind, json_string_value(v));
		if (val < 0)
			return vl_err(e, VOUCHER_E_SCHEMA, name,
			              "%s: invalid enumeration value \"%.64s\"", name,
			              json_string_value(v));
		return voucher_artifact_set_assertion(a, (enum voucher_assertion)val);
	}
	case VOUCHER_TYPE_LEAFLIST: {
		if (!json_is_array(v))
			return bad_type(e, name, "an array of strings", v);
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x))
				return bad_type(e, name, "an array of strings", x);
			r = voucher_artifact_add_extension(a, json_string_value(x));
			if (r == VOUCHER_EEXIST)
				return vl_err(e, VOUCHER_E_DUPLICATE, name,
				              "%s: \"%.64s\" listed twice", name,
				              json_string_value(x));
			if (r == VOUCHER_EINVAL)
				return vl_err(e, VOUCHER_E_SCHEMA, name, "%s: empty entry", name);
			if (r != VOUCHER_OK)
				break;
		}
		break;
	}
	}
	if (r == VOUCHER_EINVAL)
		return vl_err(e, VOUCHER_E_BAD_TYPE, name, "%s: string contains NUL", name);
	if (r != VOUCHER_OK)
		return vl_err(e, r, name, "%s: %s", name, voucher_strerror(r));
	return VOUCHER_OK;
}

/* Resolve the kind of the root against what the caller expects. */
static voucher_err resolve_kind(enum voucher_kind got, enum voucher_kind expect, unsigned flags,
                                const char *root, enum voucher_kind *out,
                                struct voucher_error_info *e)
{
	if (got == VOUCHER_KIND_UNKNOWN)
		return vl_err(e, VOUCHER_E_UNKNOWN_MEMBER, root,
		              "%s: not a voucher or voucher-request", root);
	if (expect == VOUCHER_KIND_UNKNOWN || expect == got) {
		*out = got;
		return VOUCHER_OK;
	}
	if (expect == VOUCHER_KIND_REQUEST && got == VOUCHER_KIND_VOUCHER &&
	    (flags & VOUCHER_F_LENIENT_VOUCHER_ROOT)) {
		*out = VOUCHER_KIND_REQUEST;
		return VOUCHER_OK;
	}
	return vl_err(e, VOUCHER_E_WRONG_KIND, root, "%s: expected %s", root,
	              expect == VOUCHER_KIND_VOUCHER ? "a voucher" : "a voucher-request");
}

voucher_err voucher_artifact_from_json(const uint8_t *in, size_t len, enum voucher_kind expect,
                                       unsigned flags, struct voucher_artifact **out,
                                       struct voucher_error_info *err)
{
	json_t *root = NULL, *body = NULL;
	const char *key = NULL;
	struct voucher_artifact *a = NULL;
	enum voucher_kind kind = VOUCHER_KIND_UNKNOWN;
	voucher_err r;

	if (vl_artifact_parse_prologue(in, len, expect, flags, out, err, voucher_artifact_from_json,
	                               "JSON", &r))
		return r;
	if ((r = load_bounded(in, len, &root, &key, &body, err)) != VOUCHER_OK)
		return r;
	if ((r = resolve_kind(vl_root_kind(key, strlen(key)), expect, flags, key, &kind, err)) !=
	    VOUCHER_OK)
		goto out;
	if (!json_is_object(body)) {
		r = bad_type(err, key, "an object", body);
		goto out;
	}
	if ((r = voucher_artifact_new(kind, &a)) != VOUCHER_OK) {
		vl_err(err, r, NULL, "out of memory");
		goto out;
	}
	const char *name;
	json_t *v;
	json_object_foreach(body, name, v)
	{
		if ((r = fill_member(a, name, v, flags, err)) != VOUCHER_OK)
			goto out;
	}
	if ((r = voucher_artifact_validate(a, flags, err)) != VOUCHER_OK)
		goto out;
	if ((r = vl_set_raw(a, in, len, VOUCHER_FORMAT_JSON)) != VOUCHER_OK) {
		vl_err(err, r, NULL, "out of memory");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	voucher_artifact_free(a);
	json_decref(root);
	return r;
}

/* ---- printing ---- */

static voucher_err put_member(json_t *obj, const char *name, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, name, v) != 0)
		return VOUCHER_ENOMEM;
	return VOUCHER_OK;
}

static json_t *binary_to_json(const struct vl_value *v, voucher_err *r)
{
	struct brski_buf b;
	brski_buf_init(&b, VL_MAX_ARTIFACT * 2);
	*r = vl_b64_encode(&b, v->data, v->len, VL_B64_STD);
	json_t *s = *r == VOUCHER_OK ? json_stringn(brski_buf_str(&b), b.len) : NULL;
	if (*r == VOUCHER_OK && s == NULL)
		*r = VOUCHER_ENOMEM;
	brski_buf_free(&b);
	return s;
}

voucher_err vl_json_print(const struct voucher_artifact *a, unsigned print, unsigned schema_flags,
                          char **out, size_t *len, struct voucher_error_info *e)
{
	bool placeholder_created_on = (print & VL_PRINT_PLACEHOLDER_CREATED_ON) != 0;
	bool for_schema = (print & VL_PRINT_FOR_SCHEMA) != 0;
	voucher_err r = VOUCHER_OK;
	json_t *root = json_object(), *body = json_object();
	const char *name = "";
	*out = NULL;
	if (root == NULL || body == NULL || json_object_set(root, vl_root_name(a->kind), body)) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	for (int l = 0; l < VOUCHER_LEAF_COUNT && r == VOUCHER_OK; l++) {
		const struct vl_value *v = &a->v[l];
		name = vl_leaves[l].name;
		if (l == VOUCHER_LEAF_CREATED_ON && !v->set && placeholder_created_on) {
			r = put_member(body, name, json_string("1970-01-01T00:00:00Z"));
			continue;
		}
		if (!v->set || !voucher_leaf_in_kind((enum voucher_leaf)l, a->kind))
			continue;
		json_t *j = NULL;
		switch (vl_leaves[l].type) {
		case VOUCHER_TYPE_STRING:
		case VOUCHER_TYPE_DATETIME:
			j = json_stringn((const char *)v->data, v->len);
			if (j == NULL) {
				r = vl_err(e, VOUCHER_E_BAD_TYPE, name, "%s: not valid UTF-8",
				           name);
				goto out;
			}
			break;
		case VOUCHER_TYPE_BINARY:
			/* one byte, valid base64: see vl_schema_binary_opaque */
			if (for_schema &&
			    vl_schema_binary_opaque(schema_flags, a->kind, (enum voucher_leaf)l)) {
				j = json_string("AA==");
				break;
			}
			if ((j = binary_to_json(v, &r)) == NULL)
				goto out;
			break;
		case VOUCHER_TYPE_BOOLEAN:
			j = json_boolean(v->ival);
			break;
		case VOUCHER_TYPE_ASSERTION:
			j = json_string(voucher_assertion_name((enum voucher_assertion)v->ival));
			break;
		case VOUCHER_TYPE_LEAFLIST:
			if ((j = json_array()) == NULL)
				break;
			for (size_t i = 0; i < v->nlist; i++)
				if (json_array_append_new(j, json_string(v->list[i])) != 0) {
					json_decref(j);
					j = NULL;
					break;
				}
			break;
		}
		r = put_member(body, name, j);
	}
	if (r != VOUCHER_OK)
		goto out;
	char *s = json_dumps(root, JSON_COMPACT);
	if (s == NULL) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	*out = s;
	*len = strlen(s);
out:
	json_decref(body);
	json_decref(root);
	if (r != VOUCHER_OK && (e == NULL || e->code == VOUCHER_OK))
		vl_err(e, r, name, "printing %s: %s", name, voucher_strerror(r));
	return r;
}

voucher_err vl_artifact_encode_prologue(const struct voucher_artifact *a, unsigned flags,
                                        uint8_t **out, size_t *len, struct voucher_error_info *err)
{
	vl_err_clear(err);
	if (a == NULL || out == NULL || len == NULL)
		return vl_err(err, VOUCHER_EINVAL, NULL, "invalid arguments");
	*out = NULL;
	*len = 0;
	return voucher_artifact_validate(a, flags, err);
}

voucher_err voucher_artifact_to_json(const struct voucher_artifact *a, unsigned flags,
                                     uint8_t **out, size_t *len, struct voucher_error_info *err)
{
	voucher_err r = vl_artifact_encode_prologue(a, flags, out, len, err);
	if (r != VOUCHER_OK)
		return r;
	char *s = NULL;
	size_t n = 0;
	if ((r = vl_json_print(a, 0, flags, &s, &n, err)) != VOUCHER_OK)
		return r;
	if (n > VL_MAX_ARTIFACT) {
		free(s);
		return vl_err(err, VOUCHER_E_TOO_LARGE, NULL, "JSON of %zu bytes exceeds %u bytes",
		              n, (unsigned)VL_MAX_ARTIFACT);
	}
	*out = (uint8_t *)s;
	*len = n;
	return VOUCHER_OK;
}

voucher_err voucher_artifact_detect(const uint8_t *in, size_t len, enum voucher_format *format,
                                    enum voucher_kind *kind)
{
	enum voucher_kind k = VOUCHER_KIND_UNKNOWN;
	enum voucher_format f = VOUCHER_FORMAT_UNKNOWN;
	voucher_err r = VOUCHER_E_MALFORMED;
	if (in == NULL || len == 0)
		return VOUCHER_E_MALFORMED;
	size_t i = 0;
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	if (i < len && in[i] == '{') {
		json_t *root = NULL, *body = NULL;
		const char *key = NULL;
		r = load_bounded(in, len, &root, &key, &body, NULL);
		if (r == VOUCHER_OK) {
			k = vl_root_kind(key, strlen(key));
			f = VOUCHER_FORMAT_JSON;
			if (k == VOUCHER_KIND_UNKNOWN)
				r = VOUCHER_E_MALFORMED;
		}
		json_decref(root);
	} else {
		/* CBOR keys are SIDs: the SID tables load with the schemas. */
		r = vl_schemas_get(NULL);
		if (r == VOUCHER_OK)
			r = vl_cbor_detect(in, len, &k);
		f = VOUCHER_FORMAT_CBOR;
	}
	if (r != VOUCHER_OK)
		return r;
	if (format != NULL)
		*format = f;
	if (kind != NULL)
		*kind = k;
	return VOUCHER_OK;
}
