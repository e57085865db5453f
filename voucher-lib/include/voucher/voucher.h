/*
 * The voucher data model: vouchers (ietf-voucher) and voucher-requests
 * (ietf-voucher-request), rfc8366bis revision 2025-12-18, with an optional
 * strict-legacy mode for RFC 8366 / RFC 8995.
 *
 * One object type, struct voucher_artifact, holds either kind. Its leaves
 * are read and written with typed accessors keyed by enum voucher_leaf.
 * Two codecs:
 *   JSON (RFC 7951): {"ietf-voucher:voucher": {...}}, validated by libyang
 *     against the YANG modules;
 *   CBOR (RFC 9254): {2451: {delta-SID: value, ...}}, SIDs read from the
 *     .sid files next to the modules; names and SIDs (and a mix) accepted
 *     on input, SIDs emitted.
 * Every parse and every print validates against the modules: an object that
 * does not validate is never printed.
 *
 * Schemas: the YANG directory is $BRSKI_YANG_DIR when set (ignored in
 * set-uid programs), else the compiled-in $(datadir)/brski-cloud/yang. One libyang context per
 * schema set (rfc8366bis; legacy) is created once, on first use or by voucher_lib_init(), and is
 * read-only afterwards.
 *
 * Thread-safety: all functions may be called from several threads at once,
 * provided each struct voucher_artifact is either used by one thread or
 * only read (const functions) by several.
 *
 * Ownership: functions returning `const` pointers lend memory owned by the
 * artifact; it stays valid until the leaf is changed or cleared or the
 * artifact is freed. Functions returning `uint8_t **out` allocate with
 * malloc(); the caller frees. Setters copy their arguments.
 *
 * Errors: functions return VOUCHER_OK or a negative voucher_err
 * (voucher/error.h). Parsers and printers also fill an optional
 * struct voucher_error_info naming the offending member.
 *
 * Signatures are over exact bytes: printing canonicalises nothing we were
 * given (timestamps stay as set), but a printed artifact is not the byte
 * string that was parsed. Use voucher_artifact_raw() to get the bytes an
 * artifact was parsed from when verifying or forwarding signed data.
 */
#ifndef VOUCHER_VOUCHER_H
#define VOUCHER_VOUCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <voucher/error.h>
#include <voucher/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum voucher_kind {
	VOUCHER_KIND_UNKNOWN = 0, /* as an `expect` argument: accept either */
	VOUCHER_KIND_VOUCHER = 1, /* ietf-voucher:voucher */
	VOUCHER_KIND_REQUEST = 2, /* ietf-voucher-request:voucher */
};

enum voucher_format {
	VOUCHER_FORMAT_UNKNOWN = 0,
	VOUCHER_FORMAT_JSON = 1,
	VOUCHER_FORMAT_CBOR = 2,
};

/* Every leaf of either module. A voucher has the leaves up to
 * VOUCHER_LEAF_EXTENSIONS; a voucher-request has all of them. */
enum voucher_leaf {
	VOUCHER_LEAF_CREATED_ON = 0,                /* date-and-time */
	VOUCHER_LEAF_EXPIRES_ON,                    /* date-and-time */
	VOUCHER_LEAF_ASSERTION,                     /* enum voucher_assertion */
	VOUCHER_LEAF_SERIAL_NUMBER,                 /* string, mandatory */
	VOUCHER_LEAF_IDEVID_ISSUER,                 /* binary */
	VOUCHER_LEAF_PINNED_DOMAIN_CERT,            /* binary */
	VOUCHER_LEAF_PINNED_DOMAIN_PUBK,            /* binary */
	VOUCHER_LEAF_PINNED_DOMAIN_PUBK_SHA256,     /* binary */
	VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS, /* boolean */
	VOUCHER_LEAF_NONCE,                         /* binary, 8..32 bytes */
	VOUCHER_LEAF_LAST_RENEWAL_DATE,             /* date-and-time */
	VOUCHER_LEAF_EST_DOMAIN,                    /* uri (string) */
	VOUCHER_LEAF_ADDITIONAL_CONFIGURATION_URL,  /* uri (string) */
	VOUCHER_LEAF_MANUFACTURER_PROPRIETARY,      /* binary */
	VOUCHER_LEAF_EXTENSIONS,                    /* leaf-list of strings */
	/* voucher-request only */
	VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST,            /* binary */
	VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT,                /* binary */
	VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK,                /* binary */
	VOUCHER_LEAF_PROXIMITY_REGISTRAR_PUBK_SHA256,         /* binary */
	VOUCHER_LEAF_AGENT_SIGNED_DATA,                       /* binary */
	VOUCHER_LEAF_AGENT_PROVIDED_PROXIMITY_REGISTRAR_CERT, /* binary */
	VOUCHER_LEAF_AGENT_SIGN_CERT,                         /* binary */
	VOUCHER_LEAF_COUNT
};

enum voucher_leaf_type {
	VOUCHER_TYPE_STRING = 1,   /* UTF-8 text (string, inet:uri) */
	VOUCHER_TYPE_BINARY = 2,   /* bytes; base64 in JSON, bstr in CBOR */
	VOUCHER_TYPE_DATETIME = 3, /* yang:date-and-time text */
	VOUCHER_TYPE_BOOLEAN = 4,
	VOUCHER_TYPE_ASSERTION = 5, /* enumeration */
	VOUCHER_TYPE_LEAFLIST = 6,  /* extensions: strings; decimal = SID */
};

/* The YANG enum values (also the CBOR encoding). */
enum voucher_assertion {
	VOUCHER_ASSERTION_VERIFIED = 0,
	VOUCHER_ASSERTION_LOGGED = 1,
	VOUCHER_ASSERTION_PROXIMITY = 2,
	VOUCHER_ASSERTION_AGENT_PROXIMITY = 3,
};

/* Parser and printer flags. Everything lenient is off by default and meant
 * only for interoperating with deployed peers (FACTS 2.4). */
enum {
	/* Validate against RFC 8366 / RFC 8995 instead of rfc8366bis:
	 * created-on, assertion and pinned-domain-cert mandatory in a
	 * voucher, nonce and expires-on exclusive, no bis-only leaves. */
	VOUCHER_F_LEGACY = 1u << 0,
	/* Input may be base64 (standard or base64url, padded or not,
	 * whitespace ignored) of the JSON or CBOR bytes. */
	VOUCHER_F_LENIENT_BASE64_BODY = 1u << 1,
	/* Accept an "ietf-voucher:voucher" root (or SID 2451) where a
	 * voucher-request is expected; it is read as a voucher-request. */
	VOUCHER_F_LENIENT_VOUCHER_ROOT = 1u << 2,
	/* With VOUCHER_F_LEGACY: accept a voucher without created-on. */
	VOUCHER_F_LENIENT_NO_CREATED_ON = 1u << 3,
	/* Accept a JSON nonce in unpadded base64url. */
	VOUCHER_F_LENIENT_NONCE_B64URL = 1u << 4,
	VOUCHER_F_LENIENT = VOUCHER_F_LENIENT_BASE64_BODY | VOUCHER_F_LENIENT_VOUCHER_ROOT |
	                    VOUCHER_F_LENIENT_NO_CREATED_ON | VOUCHER_F_LENIENT_NONCE_B64URL,
};

/* What went wrong, for a person: `member` names the offending leaf or
 * member ("" when the input as a whole is at fault), `message` is a full
 * sentence including the member. */
struct voucher_error_info {
	voucher_err code;
	char member[64];
	char message[256];
};

struct voucher_artifact;

/* ---- library ------------------------------------------------------------ */

/* Load the YANG modules and SID files and build both libyang contexts.
 * Optional: every function that needs them does this on first use (once,
 * thread-safe). Calling it at startup surfaces a broken installation early.
 * A failure is permanent for the process and returned by every later call
 * that needs the schemas. err may be NULL.
 * Errors: VOUCHER_E_CONFIG (modules or SID files missing or inconsistent),
 * VOUCHER_ENOMEM. */
VOUCHER_API voucher_err voucher_lib_init(struct voucher_error_info *err);

/* ---- leaves --------------------------------------------------------------- */

/* YANG name of a leaf ("serial-number"); NULL for an invalid value. */
VOUCHER_API const char *voucher_leaf_name(enum voucher_leaf leaf);
/* Leaf by YANG name; VOUCHER_LEAF_COUNT if there is none. */
VOUCHER_API enum voucher_leaf voucher_leaf_from_name(const char *name);
VOUCHER_API enum voucher_leaf_type voucher_leaf_type(enum voucher_leaf leaf);
/* Whether artifacts of this kind have the leaf. */
VOUCHER_API bool voucher_leaf_in_kind(enum voucher_leaf leaf, enum voucher_kind kind);
/* YANG name of an assertion value ("proximity"); NULL if invalid. */
VOUCHER_API const char *voucher_assertion_name(enum voucher_assertion a);

/* ---- objects ---------------------------------------------------------------- */

/* A new, empty artifact of the given kind. Errors: VOUCHER_EINVAL, VOUCHER_ENOMEM. */
VOUCHER_API voucher_err voucher_artifact_new(enum voucher_kind kind, struct voucher_artifact **out);
/* NULL is a no-op. Binary leaves are zeroed before release. */
VOUCHER_API void voucher_artifact_free(struct voucher_artifact *a);
/* A deep copy (without the parsed bytes). */
VOUCHER_API voucher_err voucher_artifact_dup(const struct voucher_artifact *a,
                                             struct voucher_artifact **out);
VOUCHER_API enum voucher_kind voucher_artifact_kind(const struct voucher_artifact *a);

/* Whether the leaf is set (for the leaf-list: has at least one entry). */
VOUCHER_API bool voucher_artifact_has(const struct voucher_artifact *a, enum voucher_leaf leaf);
/* Unset a leaf (no-op if unset). Errors: VOUCHER_EINVAL. */
VOUCHER_API voucher_err voucher_artifact_clear(struct voucher_artifact *a, enum voucher_leaf leaf);

/*
 * Typed accessors. Each checks that the leaf exists in the artifact's kind
 * and has the accessor's type (else VOUCHER_EINVAL). Getters return
 * VOUCHER_ENOENT when the leaf is unset and leave the outputs untouched.
 * Setters only check types; schema constraints (nonce length, URI,
 * timestamp syntax) are checked when the artifact is printed or validated.
 *   string:   VOUCHER_TYPE_STRING leaves; NUL-terminated UTF-8.
 *   datetime: VOUCHER_TYPE_DATETIME leaves as text, exactly as parsed/set.
 *   time:     VOUCHER_TYPE_DATETIME leaves as time_t (UTC); the setter
 *             writes "YYYY-MM-DDTHH:MM:SSZ".
 *   binary:   VOUCHER_TYPE_BINARY leaves; *data is NULL when len is 0.
 */
VOUCHER_API voucher_err voucher_artifact_get_string(const struct voucher_artifact *a,
                                                    enum voucher_leaf leaf, const char **out);
VOUCHER_API voucher_err voucher_artifact_set_string(struct voucher_artifact *a,
                                                    enum voucher_leaf leaf, const char *value);
VOUCHER_API voucher_err voucher_artifact_get_datetime(const struct voucher_artifact *a,
                                                      enum voucher_leaf leaf, const char **out);
VOUCHER_API voucher_err voucher_artifact_set_datetime(struct voucher_artifact *a,
                                                      enum voucher_leaf leaf, const char *value);
VOUCHER_API voucher_err voucher_artifact_get_time(const struct voucher_artifact *a,
                                                  enum voucher_leaf leaf, time_t *out);
VOUCHER_API voucher_err voucher_artifact_set_time(struct voucher_artifact *a,
                                                  enum voucher_leaf leaf, time_t t);
VOUCHER_API voucher_err voucher_artifact_get_binary(const struct voucher_artifact *a,
                                                    enum voucher_leaf leaf, const uint8_t **data,
                                                    size_t *len);
VOUCHER_API voucher_err voucher_artifact_set_binary(struct voucher_artifact *a,
                                                    enum voucher_leaf leaf, const uint8_t *data,
                                                    size_t len);
/* domain-cert-revocation-checks */
VOUCHER_API voucher_err voucher_artifact_get_bool(const struct voucher_artifact *a,
                                                  enum voucher_leaf leaf, bool *out);
VOUCHER_API voucher_err voucher_artifact_set_bool(struct voucher_artifact *a,
                                                  enum voucher_leaf leaf, bool value);
/* assertion (no leaf argument: there is one enum leaf). */
VOUCHER_API voucher_err voucher_artifact_get_assertion(const struct voucher_artifact *a,
                                                       enum voucher_assertion *out);
VOUCHER_API voucher_err voucher_artifact_set_assertion(struct voucher_artifact *a,
                                                       enum voucher_assertion value);
/* extensions: module names (JSON) or decimal SIDs (CBOR uint). */
VOUCHER_API size_t voucher_artifact_extension_count(const struct voucher_artifact *a);
/* NULL when i is out of range. */
VOUCHER_API const char *voucher_artifact_extension(const struct voucher_artifact *a, size_t i);
/* Append one entry. Errors: VOUCHER_EINVAL (empty), VOUCHER_EEXIST
 * (already listed: a leaf-list holds distinct values), VOUCHER_ENOMEM. */
VOUCHER_API voucher_err voucher_artifact_add_extension(struct voucher_artifact *a,
                                                       const char *value);

/* ---- timestamps ------------------------------------------------------------ */

/* Parse yang:date-and-time ("2016-10-07T19:31:42Z", "...42.598-04:00")
 * into UTC seconds (fraction dropped). Errors: VOUCHER_E_MALFORMED,
 * VOUCHER_ERANGE. */
VOUCHER_API voucher_err voucher_time_parse(const char *text, time_t *out);
/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes; 32 is
 * plenty). Errors: VOUCHER_ERANGE (year outside 0..9999 or buf too small). */
VOUCHER_API voucher_err voucher_time_format(time_t t, char *buf, size_t buflen);

/* ---- validation and codecs ----------------------------------------------- */

/* Validate the object against the modules (VOUCHER_F_LEGACY selects RFC
 * 8366 / RFC 8995). err may be NULL. Errors: as voucher_artifact_from_json. */
VOUCHER_API voucher_err voucher_artifact_validate(const struct voucher_artifact *a, unsigned flags,
                                                  struct voucher_error_info *err);

/*
 * Parse JSON. expect is the kind the caller wants, or VOUCHER_KIND_UNKNOWN
 * for either. flags: VOUCHER_F_*. On success *out is a new artifact (caller
 * frees) that remembers the input bytes (voucher_artifact_raw). On error
 * *out is NULL and err (may be NULL) says what and where.
 * Input bound: BRSKI_MAX_VOUCHER_REQUEST bytes, nesting 16; exactly one
 * top-level member; duplicate members rejected before libyang sees a byte.
 * Extension data members ("extension:<module>": {...}) are not modelled
 * and are rejected as unknown members; the "extensions" leaf-list is kept.
 * Errors: VOUCHER_E_TOO_LARGE, VOUCHER_E_TOO_DEEP, VOUCHER_E_MALFORMED (not
 * JSON, not one top-level object member, unknown root),
 * VOUCHER_E_DUPLICATE, VOUCHER_E_TRAILING_DATA, VOUCHER_E_UNKNOWN_MEMBER,
 * VOUCHER_E_BAD_TYPE (JSON type), VOUCHER_E_BAD_BASE64, VOUCHER_E_MISSING
 * (mandatory leaf), VOUCHER_E_SCHEMA (other constraint: length, pattern,
 * enum, must), VOUCHER_E_WRONG_KIND (a voucher where a request was
 * expected or the reverse), VOUCHER_E_CONFIG (schemas unusable),
 * VOUCHER_ENOMEM.
 */
VOUCHER_API voucher_err voucher_artifact_from_json(const uint8_t *in, size_t len,
                                                   enum voucher_kind expect, unsigned flags,
                                                   struct voucher_artifact **out,
                                                   struct voucher_error_info *err);
/* Print compact RFC 7951 JSON after validating (flags: VOUCHER_F_LEGACY).
 * Leaves appear in YANG order. *out is malloc'd and NUL-terminated (not
 * counted in *len). Errors: as validation. */
VOUCHER_API voucher_err voucher_artifact_to_json(const struct voucher_artifact *a, unsigned flags,
                                                 uint8_t **out, size_t *len,
                                                 struct voucher_error_info *err);

/* Parse RFC 9254 CBOR: outer key SID 2451/2501 or the qualified name; inner
 * keys delta SIDs, absolute SIDs as tag 47, or names, mixed freely.
 * Definite lengths only; duplicate keys (also a name and a SID for the same
 * leaf) and trailing bytes rejected. Same ownership, bounds and errors as
 * voucher_artifact_from_json. */
VOUCHER_API voucher_err voucher_artifact_from_cbor(const uint8_t *in, size_t len,
                                                   enum voucher_kind expect, unsigned flags,
                                                   struct voucher_artifact **out,
                                                   struct voucher_error_info *err);
/* Print CBOR with SIDs (delta-encoded, ascending) after validating. */
VOUCHER_API voucher_err voucher_artifact_to_cbor(const struct voucher_artifact *a, unsigned flags,
                                                 uint8_t **out, size_t *len,
                                                 struct voucher_error_info *err);

/* Parse either format, detected from the first byte. */
VOUCHER_API voucher_err voucher_artifact_parse(const uint8_t *in, size_t len,
                                               enum voucher_kind expect, unsigned flags,
                                               struct voucher_artifact **out,
                                               struct voucher_error_info *err);

/* Detect format and kind from the bytes without validating the content:
 * the JSON top-level member or the CBOR outer key. Either output may be
 * NULL. Errors: VOUCHER_E_MALFORMED (neither), VOUCHER_E_TOO_LARGE. */
VOUCHER_API voucher_err voucher_artifact_detect(const uint8_t *in, size_t len,
                                                enum voucher_format *format,
                                                enum voucher_kind *kind);

/* The bytes the artifact was parsed from (after base64-body decoding with
 * VOUCHER_F_LENIENT_BASE64_BODY), borrowed. VOUCHER_ENOENT for an
 * artifact built with voucher_artifact_new() or copied. format may be NULL. */
VOUCHER_API voucher_err voucher_artifact_raw(const struct voucher_artifact *a, const uint8_t **data,
                                             size_t *len, enum voucher_format *format);

#ifdef __cplusplus
}
#endif

#endif
