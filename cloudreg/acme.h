/*
 * The ACME (RFC 8555) protocol client of cloudregd's ACME CA backend
 * (ca-acme.c), on libcurl (GnuTLS) and GnuTLS for the JWS.
 *
 * One struct acme_client per backend: the directory, an ES256 account key,
 * the account URL (kid) once registered, a pool of nonces and one libcurl
 * easy handle. Requests are serialised by a mutex, so every request of the
 * backend goes over one reused HTTPS connection (STYLE note 3) and the
 * nonce pool needs no further locking; the callers (enrollment workers)
 * wait for each other only for the duration of one HTTP exchange.
 *
 * Retries (uacme acme_post): a request is retried only for badNonce (with
 * the nonce of the error response, at most ACME_NONCE_RETRIES times) and
 * for rateLimited/503 with a Retry-After of at most ACME_SHORT_WAIT seconds.
 * Any other error answer is handed back with its problem document as the
 * server sent it (bounded), in err: "ACME server: 403
 * urn:ietf:params:acme:error:unauthorized: <detail>".
 *
 * Errors, chosen so that the caller can tell permanent from temporary:
 *   VOUCHER_E_PEER       the server refused with a 4xx problem document
 *                        (permanent for this request)
 *   VOUCHER_E_NETWORK    no answer, TLS failure, or a 5xx (temporary)
 *   VOUCHER_EAGAIN       rate limited for longer than we wait (temporary;
 *                        *retry_after says how long, when the call has one)
 *   VOUCHER_E_CONFLICT   finalize: the order is not ready (orderNotReady)
 *   VOUCHER_E_NOT_FOUND  acme_get_order: the server does not know the order (404)
 *   VOUCHER_E_UNAUTHENTICATED  the server does not know the account
 *                        (accountDoesNotExist): the kid is dropped, so the
 *                        next acme_register creates the account again
 *   VOUCHER_E_MALFORMED  an answer that is not what RFC 8555 describes
 *   VOUCHER_E_CRYPTO, VOUCHER_E_KEY, VOUCHER_ENOMEM
 */
#ifndef CREG_ACME_H
#define CREG_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

#include "common/buf.h"

#define ACME_MAX_RESPONSE  (256 * 1024) /* any ACME answer, certificate chains included */
#define ACME_MAX_URL       1024
#define ACME_MAX_AUTHZ     16 /* authorizations of one order */
#define ACME_MAX_CHALL     8  /* challenges of one authorization */
#define ACME_NONCE_POOL    8
#define ACME_NONCE_MAX     128 /* bytes of one Replay-Nonce */
#define ACME_NONCE_RETRIES 10
#define ACME_SHORT_WAIT    5 /* seconds: rateLimited waits we sit out */
#define ACME_MAX_IDENT     8 /* identifiers of one order */

/* A problem document (RFC 7807) as the server sent it, bounded. */
struct acme_problem {
	unsigned status; /* HTTP status, 0 when none */
	char type[160];  /* "urn:ietf:params:acme:error:badNonce", ... */
	char detail[512];
};

struct acme_opts {
	const char *directory;  /* https:// URL */
	const char *trust;      /* PEM bundle, or NULL for the system store */
	unsigned timeout;       /* seconds per HTTP exchange */
	const char *contact;    /* "mailto:..." or NULL */
	const char *eab_kid;    /* external account binding, or NULL */
	const uint8_t *eab_key; /* its HMAC key (raw bytes) */
	size_t eab_key_len;
};

struct acme_client;

/* key_pem: the account key (PEM, EC P-256) or NULL to generate one
 * (acme_key_pem then gives it to store). Nothing is sent yet. *out new. */
voucher_err acme_client_new(const struct acme_opts *o, const char *key_pem,
                            struct acme_client **out, char *err, size_t errlen);
void acme_client_free(struct acme_client *c); /* NULL ok */

/* The account key as PKCS#8 PEM (malloc'd, the caller zeroes and frees). */
voucher_err acme_key_pem(struct acme_client *c, char **pem);
/* base64url(SHA-256(JWK)) (RFC 7638), for key authorizations; owned by c. */
const char *acme_thumbprint(const struct acme_client *c);
/* A copy of the account URL (free it), or NULL before registration. */
char *acme_kid_dup(struct acme_client *c);
/* Use a known account URL (from the store). */
voucher_err acme_set_kid(struct acme_client *c, const char *kid);

/* Fetch the directory (once; later calls are no-ops). */
voucher_err acme_directory(struct acme_client *c, char *err, size_t errlen);
/* Whether the directory offers newAuthz (pre-authorization, RFC 8555 7.4.1). */
bool acme_has_new_authz(struct acme_client *c);

/* newAccount with the jwk (and the EAB when configured); afterwards the
 * client signs with the kid. An existing account for the key is fine (the
 * server answers 200 with its URL). */
voucher_err acme_register(struct acme_client *c, char *err, size_t errlen);

enum acme_status {
	ACME_S_UNKNOWN = 0,
	ACME_S_PENDING,
	ACME_S_READY,
	ACME_S_PROCESSING,
	ACME_S_VALID,
	ACME_S_INVALID,
	ACME_S_EXPIRED,
	ACME_S_DEACTIVATED,
	ACME_S_REVOKED,
};
enum acme_status acme_status_parse(const char *s);
const char *acme_status_name(enum acme_status s);

struct acme_order {
	enum acme_status status;
	char url[ACME_MAX_URL];
	char finalize[ACME_MAX_URL];
	char certificate[ACME_MAX_URL]; /* "" until valid */
	char authz[ACME_MAX_AUTHZ][ACME_MAX_URL];
	size_t n_authz;
	struct acme_problem error; /* the order's "error" member, if any */
	unsigned retry_after;      /* the response's Retry-After, 0 if none */
};

struct acme_challenge {
	char type[32];
	char url[ACME_MAX_URL];
	char token[256]; /* base64url, checked */
	enum acme_status status;
	struct acme_problem error;
};

struct acme_authz {
	enum acme_status status;
	char identifier[256]; /* dns value */
	bool wildcard;
	struct acme_challenge chall[ACME_MAX_CHALL];
	size_t n_chall;
	unsigned retry_after;
	int64_t expires; /* its "expires" (Unix seconds), 0 when absent or unreadable */
};

/* newOrder for the dns identifiers; o->url from Location. */
voucher_err acme_new_order(struct acme_client *c, const char *const *dns, size_t n,
                           struct acme_order *o, char *err, size_t errlen);
/* POST-as-GET of an order (url kept in o->url). */
voucher_err acme_get_order(struct acme_client *c, const char *url, struct acme_order *o, char *err,
                           size_t errlen);
/* newAuthz for one dns identifier (pre-authorization); *url new authz URL. */
voucher_err acme_new_authz(struct acme_client *c, const char *dns, char *url, size_t urllen,
                           struct acme_authz *a, char *err, size_t errlen);
voucher_err acme_get_authz(struct acme_client *c, const char *url, struct acme_authz *a, char *err,
                           size_t errlen);
/* Tell the server to validate a challenge (POST {}). */
voucher_err acme_challenge_respond(struct acme_client *c, const char *url,
                                   struct acme_challenge *ch, char *err, size_t errlen);
/* finalize with the CSR (DER) exactly as given. */
voucher_err acme_finalize(struct acme_client *c, struct acme_order *o, const uint8_t *csr,
                          size_t csr_len, char *err, size_t errlen);
/* Download the certificate asking for application/pkcs7-mime; a PEM chain
 * (servers that ignore Accept) is converted to certs-only PKCS#7. out gets
 * DER PKCS#7. */
voucher_err acme_download(struct acme_client *c, const char *url, struct brski_buf *out, char *err,
                          size_t errlen);

/* ---- pure helpers (unit-tested) ------------------------------------------ */

/* base64url without padding of len bytes, NUL-terminated, into out. */
voucher_err acme_b64url(const uint8_t *in, size_t len, struct brski_buf *out);
/* Decode base64url (padding optional) into out. VOUCHER_E_BAD_BASE64. */
voucher_err acme_b64url_decode(const char *in, size_t len, struct brski_buf *out);

/* Parse a problem document body (bounded copy of type and detail).
 * VOUCHER_E_MALFORMED when it is not a JSON object. */
voucher_err acme_problem_parse(const uint8_t *body, size_t len, unsigned status,
                               struct acme_problem *p);
/* "ACME server: 403 urn:...:unauthorized: detail" into out. */
void acme_problem_format(const struct acme_problem *p, char *out, size_t outlen);

/* Convert a PEM chain ("-----BEGIN CERTIFICATE-----" blocks, leaf first)
 * to a certs-only PKCS#7 SignedData (DER), certificates in the same order.
 * VOUCHER_E_MALFORMED when there is no certificate or one does not parse;
 * VOUCHER_E_TOO_LARGE over ACME_MAX_CHAIN certificates. */
#define ACME_MAX_CHAIN 8
voucher_err acme_pem_chain_to_pkcs7(const uint8_t *pem, size_t len, struct brski_buf *out,
                                    char *err, size_t errlen);
/* The certificates of a certs-only PKCS#7 (DER), in order, each malloc'd. */
voucher_err acme_pkcs7_certs(const uint8_t *der, size_t len, uint8_t **certs, size_t *lens,
                             size_t max, size_t *n, char *err, size_t errlen);

/* An RFC 3339 date-time as ACME writes it ("2026-11-30T07:41:12Z", with
 * optional fractional seconds and a "Z" or +hh:mm / -hh:mm offset) in Unix
 * seconds. VOUCHER_E_MALFORMED for anything else. */
voucher_err acme_time_parse(const char *s, int64_t *out);

/* keyAuthorization = token "." thumbprint (RFC 8555 8.1) into out. */
voucher_err acme_key_authz(const char *token, const char *thumbprint, char *out, size_t outlen);
/* The dns-01 TXT value: base64url(SHA-256(keyAuthorization)). */
voucher_err acme_dns01_value(const char *key_authz, char *out, size_t outlen);
/* A token is 1..255 base64url characters (what we accept and serve). */
bool acme_token_ok(const char *token);

/* The nonce pool, exposed for the unit test: a fixed ring of nonces seen in
 * Replay-Nonce headers; put rejects values that are not base64url or too
 * long; take returns false when empty. */
struct acme_nonces {
	char v[ACME_NONCE_POOL][ACME_NONCE_MAX + 1];
	size_t n;
};
bool acme_nonce_put(struct acme_nonces *p, const char *value, size_t len);
bool acme_nonce_take(struct acme_nonces *p, char *out, size_t outlen);

/* The JWS of one request (RFC 8555 6.2, RFC 7515 flattened JSON): alg
 * ES256; with kid NULL the protected header carries the jwk (newAccount),
 * else kid; payload NULL means POST-as-GET (empty payload). Exposed so the
 * unit test can verify the signature independently. */
voucher_err acme_jws(struct acme_client *c, const char *url, const char *nonce, const char *kid,
                     const char *payload, struct brski_buf *out);
/* The public JWK of the account key as canonical JSON (RFC 7638 order). */
const char *acme_jwk(const struct acme_client *c);

#endif
