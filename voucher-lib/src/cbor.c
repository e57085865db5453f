/*
 * CBOR codec (RFC 9254, YANG-CBOR with SIDs; cBRSKI payloads).
 *
 * {2451: {1: 2, 11: "JADA123456789", ...}}: the outer key is the absolute
 * SID of the container (or its qualified name), inner keys are SID deltas
 * from it, absolute SIDs under tag 47, or names. SIDs come from the .sid
 * files (yangctx.c), never from this file.
 *
 * Untrusted bytes are first walked by a small iterative scanner that
 * bounds nesting, rejects indefinite lengths and finds trailing bytes, so
 * libcbor (whose item release recurses) only sees shallow, complete input.
 * The decoded members are validated by libyang through the JSON form.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "model.h"

#define TAG_SID 47 /* RFC 9254: absolute SID where a delta is expected */

/* Well-formedness, definite lengths, depth <= VL_MAX_DEPTH, no trailing
 * bytes. Iterative: remain[d] counts the items still due at depth d. */
static voucher_err scan(const uint8_t *p, size_t len, struct voucher_error_info *e)
{
	uint64_t remain[VL_MAX_DEPTH + 2];
	int depth = 0;
	size_t pos = 0;
	remain[0] = 1;
	for (;;) {
		while (depth >= 0 && remain[depth] == 0)
			depth--;
		if (depth < 0)
			break;
		remain[depth]--;
		if (pos >= len)
			return vl_err(e, VOUCHER_E_MALFORMED, NULL, "CBOR truncated at byte %zu",
			              pos);
		uint8_t ib = p[pos++];
		unsigned mt = ib >> 5, ai = ib & 31;
		uint64_t val = ai;
		if (ai >= 24 && ai <= 27) {
			size_t n = (size_t)1 << (ai - 24);
			if (len - pos < n)
				return vl_err(e, VOUCHER_E_MALFORMED, NULL,
				              "CBOR truncated at byte %zu", pos);
			val = 0;
			for (size_t i = 0; i < n; i++)
				val = val << 8 | p[pos++];
		} else if (ai == 31) {
			return vl_err(e, VOUCHER_E_MALFORMED, NULL,
			              "CBOR indefinite-length item at byte %zu is not accepted",
			              pos - 1);
		} else if (ai > 27) {
			return vl_err(e, VOUCHER_E_MALFORMED, NULL,
			              "CBOR reserved value at byte %zu", pos - 1);
		}
		switch (mt) {
		case 2:
		case 3:
			if (val > len - pos)
				return vl_err(e, VOUCHER_E_MALFORMED, NULL,
				              "CBOR string at byte %zu runs past the end", pos);
			pos += (size_t)val;
			break;
		case 4:
		case 5:
		case 6: {
			/* Every item takes at least one byte: a count larger than
			 * what is left cannot be satisfied. */
			uint64_t items = mt == 6 ? 1 : val;
			if (mt == 5 && val > (len - pos) / 2)
				return vl_err(e, VOUCHER_E_MALFORMED, NULL,
				              "CBOR map at byte %zu runs past the end", pos);
			if (mt == 5)
				items = val * 2;
			if (items > len - pos)
				return vl_err(e, VOUCHER_E_MALFORMED, NULL,
				              "CBOR item at byte %zu runs past the end", pos);
			if (depth + 1 > VL_MAX_DEPTH)
				return vl_err(e, VOUCHER_E_TOO_DEEP, NULL,
				              "CBOR nested deeper than %d levels", VL_MAX_DEPTH);
			remain[++depth] = items;
			break;
		}
		default:
			break;
		}
	}
	if (pos != len)
		return vl_err(e, VOUCHER_E_TRAILING_DATA, NULL, "%zu bytes after the CBOR item",
		              len - pos);
	return VOUCHER_OK;
}

static voucher_err load(const uint8_t *in, size_t len, cbor_item_t **item,
                        struct voucher_error_info *e)
{
	*item = NULL;
	if (len > VL_MAX_ARTIFACT)
		return vl_err(e, VOUCHER_E_TOO_LARGE, NULL, "CBOR of %zu bytes exceeds %u bytes",
		              len, (unsigned)VL_MAX_ARTIFACT);
	voucher_err r = scan(in, len, e);
	if (r != VOUCHER_OK)
		return r;
	struct cbor_load_result res;
	cbor_item_t *it = cbor_load(in, len, &res);
	if (it == NULL || res.error.code != CBOR_ERR_NONE || res.read != len) {
		if (it != NULL)
			cbor_decref(&it);
		if (res.error.code == CBOR_ERR_MEMERROR)
			return vl_err(e, VOUCHER_ENOMEM, NULL, "out of memory decoding CBOR");
		return vl_err(e, VOUCHER_E_MALFORMED, NULL, "CBOR does not decode (at byte %zu)",
		              res.error.position);
	}
	if (!cbor_isa_map(it) || cbor_map_size(it) != 1) {
		cbor_decref(&it);
		return vl_err(e, VOUCHER_E_MALFORMED, NULL,
		              "expected a CBOR map with exactly one entry");
	}
	*item = it;
	return VOUCHER_OK;
}

/* Kind named by the outer key: the container SID or qualified name. */
static enum voucher_kind outer_kind(const cbor_item_t *key, char *what, size_t whatlen)
{
	if (cbor_isa_uint(key)) {
		uint64_t sid = cbor_get_int(key);
		snprintf(what, whatlen, "SID %" PRIu64, sid);
		for (int k = VOUCHER_KIND_VOUCHER; k <= VOUCHER_KIND_REQUEST; k++)
			if (vl_sid_root((enum voucher_kind)k) == sid)
				return (enum voucher_kind)k;
	} else if (cbor_isa_string(key) && cbor_string_is_definite(key)) {
		size_t n = cbor_string_length(key);
		const char *s = (const char *)cbor_string_handle(key);
		snprintf(what, whatlen, "%.*s", (int)(n < 60 ? n : 60), s);
		return vl_root_kind(s, n);
	} else {
		snprintf(what, whatlen, "(outer key of CBOR type %d)", (int)cbor_typeof(key));
	}
	return VOUCHER_KIND_UNKNOWN;
}

voucher_err vl_cbor_detect(const uint8_t *in, size_t len, enum voucher_kind *kind)
{
	cbor_item_t *it = NULL;
	voucher_err r = load(in, len, &it, NULL);
	if (r != VOUCHER_OK)
		return r;
	char what[64];
	*kind = outer_kind(cbor_map_handle(it)[0].key, what, sizeof(what));
	cbor_decref(&it);
	return *kind == VOUCHER_KIND_UNKNOWN ? VOUCHER_E_MALFORMED : VOUCHER_OK;
}

/* Resolve an inner key to a leaf of root_kind (the kind the SIDs belong
 * to). what receives a printable form of the key for messages. */
static enum voucher_leaf key_to_leaf(const cbor_item_t *key, enum voucher_kind root_kind,
                                     char *what, size_t whatlen)
{
	uint64_t base = vl_sid_root(root_kind);
	if (cbor_isa_uint(key)) {
		uint64_t d = cbor_get_int(key);
		snprintf(what, whatlen, "SID delta %" PRIu64, d);
		if (d > UINT64_MAX - base)
			return VOUCHER_LEAF_COUNT;
		return vl_sid_to_leaf(root_kind, base + d);
	}
	if (cbor_isa_tag(key) && cbor_tag_value(key) == TAG_SID) {
		cbor_item_t *t = cbor_tag_item(key);
		enum voucher_leaf l = VOUCHER_LEAF_COUNT;
		snprintf(what, whatlen, "tagged SID");
		if (cbor_isa_uint(t)) {
			snprintf(what, whatlen, "SID %" PRIu64, cbor_get_int(t));
			l = vl_sid_to_leaf(root_kind, cbor_get_int(t));
		}
		cbor_decref(&t);
		return l;
	}
	if (cbor_isa_string(key) && cbor_string_is_definite(key)) {
		size_t n = cbor_string_length(key);
		const char *s = (const char *)cbor_string_handle(key);
		snprintf(what, whatlen, "%.*s", (int)(n < 60 ? n : 60), s);
		/* A qualified name must use the container's own module. */
		const char *root = vl_root_name(root_kind);
		size_t mlen = (size_t)(strchr(root, ':') - root);
		const char *colon = memchr(s, ':', n);
		if (colon != NULL) {
			if ((size_t)(colon - s) != mlen || memcmp(s, root, mlen) != 0)
				return VOUCHER_LEAF_COUNT;
			n -= mlen + 1;
			s = colon + 1;
		}
		char name[64];
		if (n >= sizeof(name) || memchr(s, 0, n) != NULL)
			return VOUCHER_LEAF_COUNT;
		memcpy(name, s, n);
		name[n] = 0;
		enum voucher_leaf l = voucher_leaf_from_name(name);
		return voucher_leaf_in_kind(l, root_kind) ? l : VOUCHER_LEAF_COUNT;
	}
	snprintf(what, whatlen, "(key of CBOR type %d)", (int)cbor_typeof(key));
	return VOUCHER_LEAF_COUNT;
}

static voucher_err bad_type(struct voucher_error_info *e, const char *name, const char *want)
{
	return vl_err(e, VOUCHER_E_BAD_TYPE, name, "%s: expected %s", name, want);
}

static voucher_err fill_leaf(struct voucher_artifact *a, enum voucher_leaf leaf,
                             const cbor_item_t *v, unsigned flags, struct voucher_error_info *e)
{
	const char *name = vl_leaves[leaf].name;
	voucher_err r = VOUCHER_OK;
	switch (vl_leaves[leaf].type) {
	case VOUCHER_TYPE_STRING:
	case VOUCHER_TYPE_DATETIME:
		if (!cbor_isa_string(v) || !cbor_string_is_definite(v))
			return bad_type(e, name, "a text string");
		r = vl_set_text(a, leaf, (const char *)cbor_string_handle(v),
		                cbor_string_length(v));
		if (r == VOUCHER_EINVAL)
			return vl_err(e, VOUCHER_E_BAD_TYPE, name, "%s: text contains NUL", name);
		break;
	case VOUCHER_TYPE_BINARY:
		if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
			return bad_type(e, name, "a byte string");
		r = vl_set_bytes(a, leaf, cbor_bytestring_handle(v), cbor_bytestring_length(v));
		break;
	case VOUCHER_TYPE_BOOLEAN:
		/* cbor_is_bool asserts on a float: only simple values may ask. */
		if (!cbor_isa_float_ctrl(v) || cbor_float_get_width(v) != CBOR_FLOAT_0 ||
		    !cbor_is_bool(v))
			return bad_type(e, name, "true or false");
		r = voucher_artifact_set_bool(a, leaf, cbor_get_bool(v));
		break;
	case VOUCHER_TYPE_ASSERTION: {
		if (!cbor_isa_uint(v))
			return bad_type(e, name, "an unsigned integer (enum value)");
		uint64_t x = cbor_get_int(v);
		if (x > 3 || !vl_schema_has_assertion(flags, a->kind, (int)x))
			return vl_err(e, VOUCHER_E_SCHEMA, name,
			              "%s: invalid enumeration value %" PRIu64, name, x);
		r = voucher_artifact_set_assertion(a, (enum voucher_assertion)x);
		break;
	}
	case VOUCHER_TYPE_LEAFLIST: {
		if (!cbor_isa_array(v) || !cbor_array_is_definite(v))
			return bad_type(e, name, "an array");
		cbor_item_t **xs = cbor_array_handle(v);
		for (size_t i = 0; i < cbor_array_size(v) && r == VOUCHER_OK; i++) {
			char buf[64];
			if (cbor_isa_uint(xs[i])) {
				snprintf(buf, sizeof(buf), "%" PRIu64, cbor_get_int(xs[i]));
			} else if (cbor_isa_string(xs[i]) && cbor_string_is_definite(xs[i])) {
				size_t n = cbor_string_length(xs[i]);
				if (n >= sizeof(buf) ||
				    memchr(cbor_string_handle(xs[i]), 0, n) != NULL)
					return vl_err(e, VOUCHER_E_SCHEMA, name,
					              "%s: entry too long or contains NUL", name);
				memcpy(buf, cbor_string_handle(xs[i]), n);
				buf[n] = 0;
			} else {
				return bad_type(e, name, "an array of SIDs or text strings");
			}
			r = voucher_artifact_add_extension(a, buf);
			if (r == VOUCHER_EEXIST)
				return vl_err(e, VOUCHER_E_DUPLICATE, name,
				              "%s: \"%s\" listed twice", name, buf);
			if (r == VOUCHER_EINVAL)
				return vl_err(e, VOUCHER_E_SCHEMA, name, "%s: empty entry", name);
		}
		break;
	}
	}
	if (r != VOUCHER_OK)
		return vl_err(e, r, name, "%s: %s", name, voucher_strerror(r));
	return VOUCHER_OK;
}

voucher_err voucher_artifact_from_cbor(const uint8_t *in, size_t len, enum voucher_kind expect,
                                       unsigned flags, struct voucher_artifact **out,
                                       struct voucher_error_info *err)
{
	cbor_item_t *root = NULL;
	struct voucher_artifact *a = NULL;
	voucher_err r;
	char what[64];

	if (vl_artifact_parse_prologue(in, len, expect, flags, out, err, voucher_artifact_from_cbor,
	                               "CBOR", &r))
		return r;
	if ((r = load(in, len, &root, err)) != VOUCHER_OK)
		return r;
	struct cbor_pair *top = cbor_map_handle(root);
	enum voucher_kind root_kind = outer_kind(top[0].key, what, sizeof(what));
	enum voucher_kind kind = VOUCHER_KIND_UNKNOWN;
	if (root_kind == VOUCHER_KIND_UNKNOWN) {
		r = vl_err(err, VOUCHER_E_UNKNOWN_MEMBER, what,
		           "%s: not a voucher or voucher-request", what);
		goto out;
	}
	if (expect == VOUCHER_KIND_UNKNOWN || expect == root_kind) {
		kind = root_kind;
	} else if (expect == VOUCHER_KIND_REQUEST && (flags & VOUCHER_F_LENIENT_VOUCHER_ROOT)) {
		kind = VOUCHER_KIND_REQUEST;
	} else {
		r = vl_err(err, VOUCHER_E_WRONG_KIND, vl_root_name(root_kind), "%s: expected %s",
		           vl_root_name(root_kind),
		           expect == VOUCHER_KIND_VOUCHER ? "a voucher" : "a voucher-request");
		goto out;
	}
	const cbor_item_t *body = top[0].value;
	if (!cbor_isa_map(body)) {
		r = bad_type(err, vl_root_name(root_kind), "a map");
		goto out;
	}
	if ((r = voucher_artifact_new(kind, &a)) != VOUCHER_OK) {
		vl_err(err, r, NULL, "out of memory");
		goto out;
	}
	bool seen[VOUCHER_LEAF_COUNT] = {false};
	struct cbor_pair *pairs = cbor_map_handle(body);
	for (size_t i = 0; i < cbor_map_size(body); i++) {
		enum voucher_leaf leaf = key_to_leaf(pairs[i].key, root_kind, what, sizeof(what));
		if (leaf == VOUCHER_LEAF_COUNT || !voucher_leaf_in_kind(leaf, kind) ||
		    !vl_schema_has_leaf(flags, kind, leaf)) {
			r = vl_err(err, VOUCHER_E_UNKNOWN_MEMBER, what, "%s: not a member of %s%s",
			           what, vl_root_name(root_kind),
			           (flags & VOUCHER_F_LEGACY) ? " (RFC 8366/8995)" : "");
			goto out;
		}
		/* Catches the same key twice and a name and a SID for one leaf. */
		if (seen[leaf]) {
			r = vl_err(err, VOUCHER_E_DUPLICATE, vl_leaves[leaf].name,
			           "%s: given more than once", vl_leaves[leaf].name);
			goto out;
		}
		seen[leaf] = true;
		if ((r = fill_leaf(a, leaf, pairs[i].value, flags, err)) != VOUCHER_OK)
			goto out;
	}
	if ((r = voucher_artifact_validate(a, flags, err)) != VOUCHER_OK)
		goto out;
	if ((r = vl_set_raw(a, in, len, VOUCHER_FORMAT_CBOR)) != VOUCHER_OK) {
		vl_err(err, r, NULL, "out of memory");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	voucher_artifact_free(a);
	if (root != NULL)
		cbor_decref(&root);
	return r;
}

/* ---- printing ---- */

static cbor_item_t *build_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

/* Add k: v to map and drop our references; false if anything failed. */
static bool map_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
	bool ok = k != NULL && v != NULL && cbor_map_add(map, (struct cbor_pair){k, v});
	if (k != NULL)
		cbor_decref(&k);
	if (v != NULL)
		cbor_decref(&v);
	return ok;
}

/* An extension entry: a decimal number that fits uint64 is a SID, as the
 * union (uint64 first) resolves it; anything else is a module name. */
static cbor_item_t *build_extension(const char *s)
{
	uint64_t sid = 0;
	bool num = s[0] >= '1' && s[0] <= '9';
	for (const char *p = s; num && *p; p++) {
		if (*p < '0' || *p > '9' || sid > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			num = false;
		else
			sid = sid * 10 + (uint64_t)(*p - '0');
	}
	if (num || strcmp(s, "0") == 0)
		return build_uint(sid);
	return cbor_build_stringn(s, strlen(s));
}

static cbor_item_t *build_value(const struct voucher_artifact *a, int l)
{
	const struct vl_value *v = &a->v[l];
	switch (vl_leaves[l].type) {
	case VOUCHER_TYPE_STRING:
	case VOUCHER_TYPE_DATETIME:
		return cbor_build_stringn((const char *)v->data, v->len);
	case VOUCHER_TYPE_BINARY:
		return cbor_build_bytestring(v->data, v->len);
	case VOUCHER_TYPE_BOOLEAN:
		return cbor_build_bool(v->ival != 0);
	case VOUCHER_TYPE_ASSERTION:
		return build_uint((uint64_t)v->ival);
	case VOUCHER_TYPE_LEAFLIST: {
		cbor_item_t *arr = cbor_new_definite_array(v->nlist);
		for (size_t i = 0; arr != NULL && i < v->nlist; i++) {
			cbor_item_t *x = build_extension(v->list[i]);
			bool ok = x != NULL && cbor_array_push(arr, x);
			if (x != NULL)
				cbor_decref(&x);
			if (!ok)
				cbor_decref(&arr);
		}
		return arr;
	}
	}
	return NULL;
}

voucher_err voucher_artifact_to_cbor(const struct voucher_artifact *a, unsigned flags,
                                     uint8_t **out, size_t *len, struct voucher_error_info *err)
{
	voucher_err r = vl_artifact_encode_prologue(a, flags, out, len, err);
	if (r != VOUCHER_OK)
		return r;
	/* Ascending SID order: deterministic, and what the examples show. */
	int order[VOUCHER_LEAF_COUNT];
	size_t n = 0;
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++) {
		if (!a->v[l].set || !voucher_leaf_in_kind((enum voucher_leaf)l, a->kind))
			continue;
		size_t j = n++;
		while (j > 0 && vl_sid_leaf(a->kind, (enum voucher_leaf)order[j - 1]) >
		                        vl_sid_leaf(a->kind, (enum voucher_leaf)l)) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = l;
	}
	uint64_t base = vl_sid_root(a->kind);
	cbor_item_t *root = cbor_new_definite_map(1), *body = cbor_new_definite_map(n);
	bool ok = root != NULL && body != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = map_put(body,
		             build_uint(vl_sid_leaf(a->kind, (enum voucher_leaf)order[i]) - base),
		             build_value(a, order[i]));
	if (ok) {
		ok = map_put(root, build_uint(base), body);
		body = NULL; /* map_put dropped our reference */
	}
	unsigned char *buf = NULL;
	size_t bufsize = 0, written = 0;
	if (ok)
		written = cbor_serialize_alloc(root, &buf, &bufsize);
	if (body != NULL)
		cbor_decref(&body);
	if (root != NULL)
		cbor_decref(&root);
	if (!ok || written == 0) {
		free(buf);
		return vl_err(err, VOUCHER_ENOMEM, NULL, "out of memory encoding CBOR");
	}
	if (written > VL_MAX_ARTIFACT) {
		free(buf);
		return vl_err(err, VOUCHER_E_TOO_LARGE, NULL, "CBOR of %zu bytes exceeds %u bytes",
		              written, (unsigned)VL_MAX_ARTIFACT);
	}
	*out = buf;
	*len = written;
	return VOUCHER_OK;
}
