/*
 * X.509 helpers for BRSKI: the pledge identity and the MASA URL from an
 * IDevID, idevid-issuer, the registrar EKU, key hashes, loading certificate
 * chains, and trust-list cache statistics.
 *
 * Every function takes a certificate as DER bytes (borrowed), is
 * thread-safe and keeps no state. Outputs are set only on success.
 */
#ifndef VOUCHER_X509_H
#define VOUCHER_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <voucher/error.h>
#include <voucher/export.h>
#include <voucher/sign.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The pledge serial number: the X520SerialNumber attribute (2.5.4.5) of the
 * subject DN (not the certificate serial). *out is a malloc'd string (caller
 * frees), at most 64 characters. VOUCHER_E_CERT if der does not parse,
 * VOUCHER_E_NOT_FOUND if the subject has no serialNumber,
 * VOUCHER_E_MALFORMED if it is empty, too long or not printable. */
VOUCHER_API voucher_err voucher_x509_serial_number(const uint8_t *der, size_t len, char **out);

/* The MASA URL extension (id-pe-masa-url 1.3.6.1.5.5.7.1.32, IA5String).
 * A bare authority ("masa.example:9443", no '/') becomes
 * "https://masa.example:9443/.well-known/brski"; a value with a '/' is
 * returned as written. *out is malloc'd (caller frees).
 * VOUCHER_E_NOT_FOUND without the extension, VOUCHER_E_MALFORMED if it is
 * not a non-empty printable IA5String. */
VOUCHER_API voucher_err voucher_x509_masa_url(const uint8_t *der, size_t len, char **out);

/* idevid-issuer for a registrar voucher-request (rfc8366bis): the whole
 * Authority Key Identifier extnValue as an OCTET STRING TLV (for a 20-byte
 * key id: 04 18 30 16 80 14 <20 bytes>, 26 bytes). Without an AKI the same
 * structure is synthesized from the SHA-1 of the certificate's public key
 * (RFC 5280 4.2.1.2 method 1). *out is malloc'd (caller frees). */
VOUCHER_API voucher_err voucher_x509_idevid_issuer(const uint8_t *der, size_t len, uint8_t **out,
                                                   size_t *out_len);

/* VOUCHER_OK when the certificate's extended key usage lists id-kp-cmcRA
 * (1.3.6.1.5.5.7.3.28), VOUCHER_E_NOT_REGISTRAR when it does not (or has no
 * EKU), VOUCHER_E_CERT when der does not parse. */
VOUCHER_API voucher_err voucher_x509_check_cmcra(const uint8_t *der, size_t len);

/* SHA-256 of the DER SubjectPublicKeyInfo (the RFC 7469 pin). */
VOUCHER_API voucher_err voucher_x509_spki_sha256(const uint8_t *der, size_t len, uint8_t out[32]);
/* The DER SubjectPublicKeyInfo. *out is malloc'd (caller frees). */
VOUCHER_API voucher_err voucher_x509_spki(const uint8_t *der, size_t len, uint8_t **out,
                                          size_t *out_len);
/* The Subject Key Identifier (the key id bytes). *out is malloc'd (caller
 * frees). VOUCHER_E_NOT_FOUND without the extension. */
VOUCHER_API voucher_err voucher_x509_ski(const uint8_t *der, size_t len, uint8_t **out,
                                         size_t *out_len);

/* A list of DER certificates, in the order they were read. */
struct voucher_x509_chain {
	size_t len;
	uint8_t **der; /* each malloc'd */
	size_t *der_len;
};
/* Load certificates from memory: one or more PEM "CERTIFICATE" blocks, or a
 * single DER certificate. At most BRSKI_MAX_CERT_CHAIN (8) certificates of at
 * most 16 KiB each; the whole input at most 1 MiB. *out is new (free with
 * voucher_x509_chain_free). VOUCHER_E_CERT when a certificate does not
 * parse or nothing is found, VOUCHER_E_TOO_LARGE over the bounds. */
VOUCHER_API voucher_err voucher_x509_chain_load_mem(const uint8_t *data, size_t len,
                                                    struct voucher_x509_chain **out);
/* The same from a file (PEM or DER). VOUCHER_ENOENT / VOUCHER_EACCES /
 * VOUCHER_EIO when it cannot be read. */
VOUCHER_API voucher_err voucher_x509_chain_load_file(const char *path,
                                                     struct voucher_x509_chain **out);
VOUCHER_API void voucher_x509_chain_free(struct voucher_x509_chain *c);

/* ---- trust-list chain-validation cache ---------------------------------
 * A voucher_trust remembers successful chain validations, keyed by the
 * SHA-256 of the path's DER, for as long as every certificate of the path
 * is within its validity. Bounded (VOUCHER_TRUST_CACHE_SLOTS entries,
 * newest wins a slot) and protected by a mutex. */
#define VOUCHER_TRUST_CACHE_SLOTS 256
struct voucher_trust_stats {
	uint64_t hits;     /* validations answered from the cache */
	uint64_t misses;   /* validations done in full (and cached if they passed) */
	uint64_t failures; /* full validations that failed (never cached) */
	size_t entries;    /* slots in use now */
};
/* A snapshot of the counters. Thread-safe. */
VOUCHER_API void voucher_trust_stats(const struct voucher_trust *t, struct voucher_trust_stats *st);
/* Turn the cache on (the default) or off; off also empties it. Call before
 * the list is shared between threads. */
VOUCHER_API void voucher_trust_set_cache(struct voucher_trust *t, int enabled);
/* The counters of the process-wide cache of validations made without a
 * trust list (voucher_verify with trust NULL: the farthest carried
 * certificate is a temporary anchor). Same rules as a trust list's cache:
 * keyed by the exact carried DER, kept while every certificate of the
 * path is within its validity, failures never kept. Thread-safe. */
VOUCHER_API void voucher_trust_temporary_stats(struct voucher_trust_stats *st);
/* The counters of the process-wide cache shared by every trust list: a
 * validation against one list answers for another list that holds the
 * same anchor (by the SHA-256 of its DER) as its only anchor with that
 * subject Name. Thread-safe. */
VOUCHER_API void voucher_trust_shared_stats(struct voucher_trust_stats *st);
/* Validate a certificate chain (der[0] the leaf, then the others in any
 * order, at most BRSKI_MAX_CERT_CHAIN) against t now, as voucher_verify
 * validates a signer's chain, through the same caches. On success
 * *not_before / *not_after bound the time in which the answer holds (the
 * latest notBefore and the earliest notAfter on the path); 0 otherwise.
 * VOUCHER_E_UNTRUSTED, VOUCHER_E_EXPIRED, VOUCHER_E_CERT as voucher_verify. */
VOUCHER_API voucher_err voucher_trust_check_chain(const struct voucher_trust *t,
                                                  const uint8_t *const *der, const size_t *der_len,
                                                  size_t n, time_t *not_before, time_t *not_after);
/* The counters of the memo behind voucher_x509_serial_number, _masa_url, _idevid_issuer,
 * _check_cmcra, _spki_sha256 and _ski: what those read from a certificate
 * depends on its DER alone, so it is kept by the SHA-256 of the DER (all of
 * it from one parse; at most 256 certificates). hits and misses count
 * lookups, failures the certificates that did not parse. Thread-safe. */
VOUCHER_API void voucher_x509_cache_stats(struct voucher_trust_stats *st);

#ifdef __cplusplus
}
#endif

#endif
