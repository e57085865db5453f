/*
 * Internals of the voucher data model shared by artifact.c (object),
 * yangctx.c (schemas, SIDs, libyang validation), json.c and cbor.c.
 */
#ifndef VL_MODEL_H
#define VL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/voucher.h>

#include "common/buf.h"

/* Bound on a serialized artifact (payload of a signed voucher or
 * voucher-request), on input and on output. */
#define VL_MAX_ARTIFACT                                                                            \
	(BRSKI_MAX_VOUCHER_REQUEST > BRSKI_MAX_VOUCHER ? BRSKI_MAX_VOUCHER_REQUEST                 \
	                                               : BRSKI_MAX_VOUCHER)
/* Nesting bound for JSON and CBOR: a voucher needs 3 levels. */
#define VL_MAX_DEPTH BRSKI_MAX_JSON_DEPTH

struct vl_value {
	bool set;
	uint8_t *data; /* string (NUL-terminated) or binary */
	size_t len;
	int ival;    /* boolean or assertion */
	char **list; /* extensions */
	size_t nlist;
};

struct voucher_artifact {
	enum voucher_kind kind;
	struct vl_value v[VOUCHER_LEAF_COUNT];
	uint8_t *raw; /* bytes parsed from, or NULL */
	size_t raw_len;
	enum voucher_format raw_format;
};

struct vl_leaf_def {
	const char *name;
	enum voucher_leaf_type type;
	bool request_only;
};
extern const struct vl_leaf_def vl_leaves[VOUCHER_LEAF_COUNT];

/* Top-level member names. */
#define VL_ROOT_VOUCHER "ietf-voucher:voucher"
#define VL_ROOT_REQUEST "ietf-voucher-request:voucher"
const char *vl_root_name(enum voucher_kind kind);
enum voucher_kind vl_root_kind(const char *name, size_t len);

/* ---- error info ---- */
voucher_err vl_err(struct voucher_error_info *e, voucher_err code, const char *member,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vl_err_clear(struct voucher_error_info *e);

/* ---- schemas (yangctx.c) ---- */
voucher_err vl_schemas_get(struct voucher_error_info *e);
/* Whether the schema selected by flags has the leaf in this kind. */
bool vl_schema_has_leaf(unsigned flags, enum voucher_kind kind, enum voucher_leaf leaf);
/* Assertion value for a YANG enum name in the selected schema; -1 if none. */
int vl_schema_assertion_value(unsigned flags, enum voucher_kind kind, const char *name);
bool vl_schema_has_assertion(unsigned flags, enum voucher_kind kind, int value);
/* Whether libyang's verdict on the selected schema is the same for any
 * valid base64 value of this binary leaf (no length restriction, no must
 * or when naming it): vl_json_print(VL_PRINT_FOR_SCHEMA) then prints a
 * placeholder for it. */
bool vl_schema_binary_opaque(unsigned flags, enum voucher_kind kind, enum voucher_leaf leaf);
/* SIDs (read from the .sid files). */
uint64_t vl_sid_root(enum voucher_kind kind);
uint64_t vl_sid_leaf(enum voucher_kind kind, enum voucher_leaf leaf);
/* Leaf whose absolute SID is sid in kind; VOUCHER_LEAF_COUNT if none. */
enum voucher_leaf vl_sid_to_leaf(enum voucher_kind kind, uint64_t sid);
/* Validate NUL-terminated RFC 7951 JSON text of one artifact of this kind
 * with libyang (strict parsing, full validation). */
voucher_err vl_schema_validate(unsigned flags, enum voucher_kind kind, const char *json,
                               struct voucher_error_info *e);

/* ---- object helpers (artifact.c) ---- */
voucher_err vl_set_raw(struct voucher_artifact *a, const uint8_t *in, size_t len,
                       enum voucher_format fmt);
/* Set a string-like leaf from a counted string that may not contain NUL. */
voucher_err vl_set_text(struct voucher_artifact *a, enum voucher_leaf leaf, const char *s,
                        size_t len);
voucher_err vl_set_bytes(struct voucher_artifact *a, enum voucher_leaf leaf, const uint8_t *p,
                         size_t len);

/* ---- JSON (json.c) ---- */
/* What vl_json_print prints. VL_PRINT_PLACEHOLDER_CREATED_ON: a created-on
 * is added where missing (legacy leniency, validation only).
 * VL_PRINT_FOR_SCHEMA: the text is only for vl_schema_validate with the
 * same flags; binary leaves vl_schema_binary_opaque() names get a
 * placeholder value. Neither may be used for text that leaves libvoucher. */
enum { VL_PRINT_PLACEHOLDER_CREATED_ON = 1u << 0, VL_PRINT_FOR_SCHEMA = 1u << 1 };
/* JSON text of the object; schema_flags (the VOUCHER_F_ flags) select the
 * schema for VL_PRINT_FOR_SCHEMA. */
voucher_err vl_json_print(const struct voucher_artifact *a, unsigned print, unsigned schema_flags,
                          char **out, size_t *len, struct voucher_error_info *e);
/* Decode an input given as base64 text (VOUCHER_F_LENIENT_BASE64_BODY). */
voucher_err vl_base64_body(const uint8_t *in, size_t len, struct brski_buf *out);
bool vl_looks_like_base64(const uint8_t *in, size_t len);

/* A codec's parser: voucher_artifact_from_json or voucher_artifact_from_cbor. */
typedef voucher_err (*vl_artifact_parser)(const uint8_t *in, size_t len, enum voucher_kind expect,
                                          unsigned flags, struct voucher_artifact **out,
                                          struct voucher_error_info *err);
/* The start both parsers share: clear err, check the arguments, load the
 * schemas and, with VOUCHER_F_LENIENT_BASE64_BODY, answer a body that looks
 * like base64 by decoding it and handing the result to parse (without that
 * flag; syntax names the expected encoding in the error). Returns true when
 * the call is answered, its result in *r; false when the caller goes on to
 * parse in as it is (*out is then NULL). */
bool vl_artifact_parse_prologue(const uint8_t *in, size_t len, enum voucher_kind expect,
                                unsigned flags, struct voucher_artifact **out,
                                struct voucher_error_info *err, vl_artifact_parser parse,
                                const char *syntax, voucher_err *r);
/* The start both encoders (voucher_artifact_to_json, _to_cbor) share:
 * clear err, check the arguments, empty the outputs and validate a with
 * flags. */
voucher_err vl_artifact_encode_prologue(const struct voucher_artifact *a, unsigned flags,
                                        uint8_t **out, size_t *len, struct voucher_error_info *err);

/* ---- CBOR (cbor.c) ---- */
/* Kind from the outer key of a CBOR artifact (no validation). */
voucher_err vl_cbor_detect(const uint8_t *in, size_t len, enum voucher_kind *kind);

#endif
