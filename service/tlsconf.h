/*
 * TLS material for the HTTPS listeners, in GnuTLS terms but without
 * libmicrohttpd: server credentials (chain + key from files or a PKCS#11
 * URI), sets of trust anchors for client certificates, and channel
 * binding. Credentials and trust sets are immutable once built and
 * reference-counted, so a listener can swap in new ones (SIGHUP, admin API)
 * while connections still use the old ones; the last user frees them.
 */
#ifndef SVC_TLSCONF_H
#define SVC_TLSCONF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "service/route.h"

/* TLS 1.2 and 1.3 only, ECDHE, AEAD ciphers only. */
#define SVC_TLS_PRIORITY                                                                           \
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:+AES-256-GCM:+AES-128-GCM:"        \
	"+CHACHA20-POLY1305:+AEAD:+SIGN-ALL:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:+GROUP-X25519:+GROUP-" \
	"SECP256R1:+GROUP-SECP384R1:"                                                              \
	"+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE"

struct svc_creds;

/* Load a PEM chain (leaf first, at most BRSKI_MAX_CERT_CHAIN) and its key
 * (PEM file, or a pkcs11: URI through p11-kit). Checks that the key belongs
 * to the leaf. *out has one reference. VOUCHER_E_CERT / VOUCHER_E_KEY with a
 * message in err. */
voucher_err svc_creds_load(const char *cert_path, const char *key, struct svc_creds **out,
                           char *err, size_t errlen);
struct svc_creds *svc_creds_ref(struct svc_creds *c);
void svc_creds_unref(struct svc_creds *c); /* NULL ok */
/* The chain and key as GnuTLS wants them for a certificate callback;
 * valid while the caller holds a reference. */
void svc_creds_get(struct svc_creds *c, gnutls_pcert_st **pcert, unsigned *n,
                   gnutls_privkey_t *key);
/* Serial number of the leaf as lowercase hex (for logs). */
const char *svc_creds_serial(const struct svc_creds *c);

struct svc_trust;

/* An empty set with one reference. */
voucher_err svc_trust_new(struct svc_trust **out);
/* Add every certificate of a PEM bundle (file). Only while the set is not
 * shared yet. */
voucher_err svc_trust_add_file(struct svc_trust *t, const char *path, char *err, size_t errlen);
voucher_err svc_trust_add_pem(struct svc_trust *t, const uint8_t *pem, size_t len, char *err,
                              size_t errlen);
size_t svc_trust_count(const struct svc_trust *t);
struct svc_trust *svc_trust_ref(struct svc_trust *t);
void svc_trust_unref(struct svc_trust *t); /* NULL ok */
/* Whether the chain (leaf first, then intermediates in any order)
 * validates to an anchor of t now. VOUCHER_E_UNTRUSTED / VOUCHER_E_EXPIRED /
 * VOUCHER_E_CERT with a reason a person can read. Thread-safe. */
voucher_err svc_trust_verify(const struct svc_trust *t, const struct svc_der *chain, size_t n,
                             char *reason, size_t reason_len);
/* The same, and the window in which the answer holds as far as time goes:
 * *from is the latest notBefore and *until the earliest notAfter of the
 * chain's certificates (both 0 when they could not be read: then the
 * answer is not to be kept). The anchors of t never change once t is
 * shared (a reload makes a new svc_trust), so the same chain against the
 * same t gets the same answer while from <= now <= until: service/http.c
 * keeps it per TLS connection on that basis. */
voucher_err svc_trust_verify_window(const struct svc_trust *t, const struct svc_der *chain,
                                    size_t n, char *reason, size_t reason_len, time_t *from,
                                    time_t *until);

/* Channel binding of an established session: tls-unique under TLS 1.2,
 * tls-exporter (RFC 9266) under TLS 1.3. Copies at most cap bytes to out.
 * VOUCHER_ENOTSUP when the session has none (handshake not complete). */
voucher_err svc_tls_channel_binding(gnutls_session_t s, enum svc_cb_type *type, uint8_t *out,
                                    size_t cap, size_t *len);
/* 0x0303 / 0x0304 for TLS 1.2 / 1.3, 0 otherwise. */
int svc_tls_version(gnutls_session_t s);
/* Subject DN (RFC 4514) of a DER certificate into out ("" if it does not
 * parse). */
void svc_tls_subject(const struct svc_der *cert, char *out, size_t outlen);

#endif
