/*
 * libvoucher error codes.
 *
 * One error space for the library and everything built on it: 0 is success,
 * negative values are errors. Values from -1 to -999 are negated errno codes;
 * domain codes start at -1000. Codes are append-only: never renumber or reuse
 * one, retire it instead.
 */
#ifndef VOUCHER_ERROR_H
#define VOUCHER_ERROR_H

#include <errno.h>

#include <voucher/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int voucher_err;

enum {
	VOUCHER_OK = 0,
	VOUCHER_ENOMEM = -ENOMEM,
	VOUCHER_EINVAL = -EINVAL,
	VOUCHER_ENOENT = -ENOENT,
	VOUCHER_EIO = -EIO,
	VOUCHER_EEXIST = -EEXIST,
	VOUCHER_ERANGE = -ERANGE,
	VOUCHER_EACCES = -EACCES,
	VOUCHER_ENOTSUP = -ENOTSUP,
	VOUCHER_ETIMEDOUT = -ETIMEDOUT,
	VOUCHER_EAGAIN = -EAGAIN,

	/* domain codes: append only */
	VOUCHER_E_MALFORMED = -1000,        /* input does not parse */
	VOUCHER_E_TRAILING_DATA = -1001,    /* bytes after a complete object */
	VOUCHER_E_TOO_LARGE = -1002,        /* input over a configured bound */
	VOUCHER_E_TOO_DEEP = -1003,         /* nesting over the bound */
	VOUCHER_E_DUPLICATE = -1004,        /* duplicate JSON member or CBOR key */
	VOUCHER_E_SCHEMA = -1005,           /* YANG validation failed */
	VOUCHER_E_UNKNOWN_MEMBER = -1006,   /* member not in the schema */
	VOUCHER_E_BAD_TYPE = -1007,         /* member has the wrong type */
	VOUCHER_E_MISSING = -1008,          /* mandatory member absent */
	VOUCHER_E_BAD_BASE64 = -1009,       /* invalid base64 */
	VOUCHER_E_SIG_INVALID = -1010,      /* signature does not verify */
	VOUCHER_E_UNTRUSTED = -1011,        /* signer does not chain to a trust anchor */
	VOUCHER_E_EXPIRED = -1012,          /* certificate or voucher expired */
	VOUCHER_E_NONCE_MISMATCH = -1013,   /* nonces differ */
	VOUCHER_E_PIN_MISMATCH = -1014,     /* pinned key or certificate differs */
	VOUCHER_E_SERIAL_MISMATCH = -1015,  /* serial numbers differ */
	VOUCHER_E_NOT_REGISTRAR = -1016,    /* signer lacks id-kp-cmcRA */
	VOUCHER_E_UNSUPPORTED_ALG = -1017,  /* algorithm not on the allow-list */
	VOUCHER_E_CRYPTO = -1018,           /* crypto library failure */
	VOUCHER_E_CERT = -1019,             /* certificate unusable */
	VOUCHER_E_NO_SIGNED_ATTRS = -1020,  /* CMS SignerInfo without signed attributes */
	VOUCHER_E_CONTENT_TYPE = -1021,     /* unexpected eContentType or media type */
	VOUCHER_E_CONFIG = -1022,           /* configuration error */
	VOUCHER_E_STORE = -1023,            /* store (database) failure */
	VOUCHER_E_NOT_FOUND = -1024,        /* record not found */
	VOUCHER_E_CONFLICT = -1025,         /* record conflicts with an existing one */
	VOUCHER_E_REVOKED = -1026,          /* certificate revoked */
	VOUCHER_E_NETWORK = -1027,          /* peer unreachable or protocol error */
	VOUCHER_E_PEER = -1028,             /* peer answered with an error */
	VOUCHER_E_FORBIDDEN = -1029,        /* authenticated but not authorised */
	VOUCHER_E_UNAUTHENTICATED = -1030,  /* credentials missing */
	VOUCHER_E_KEY = -1031,              /* private key unusable */
	VOUCHER_E_UNKNOWN_CRITICAL = -1032, /* critical header parameter not understood */
	VOUCHER_E_WRONG_KIND =
	        -1033, /* a voucher where a voucher-request was expected, or the reverse */
	VOUCHER_E_NOT_ACCEPTABLE = -1034, /* no acceptable response type (HTTP 406) */
	VOUCHER_E_RATE_LIMITED = -1035,   /* too many requests (HTTP 429) */
};

/*
 * A short English message for an error code. Never returns NULL; unknown
 * codes give a generic message. Thread-safe.
 */
VOUCHER_API const char *voucher_strerror(voucher_err err);

#ifdef __cplusplus
}
#endif

#endif
