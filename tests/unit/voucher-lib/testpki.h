/*
 * testpki: certificates and keys made in memory with GnuTLS for the
 * libvoucher unit tests (no committed keys). Failures abort the test via
 * cmocka's fail_msg, so callers need not check.
 */
#ifndef TESTPKI_H
#define TESTPKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

struct tp_opts {
	int ca;                       /* basicConstraints CA:TRUE, keyCertSign */
	const char *serial_number;    /* subject serialNumber (2.5.4.5) */
	const char *masa_url;         /* id-pe-masa-url IA5String value */
	int cmcra;                    /* EKU id-kp-cmcRA (+ serverAuth, clientAuth) */
	int no_ski;                   /* leave out the Subject Key Identifier */
	time_t not_before, not_after; /* 0: one hour ago / in ten years */
};

struct tp_cert {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t der; /* DER of crt */
};

/* Make a key of type pk (GNUTLS_PK_ECDSA: P-256 unless curve_bits asks for
 * P-384; GNUTLS_PK_EDDSA_ED25519; GNUTLS_PK_RSA: 2048 bits) and a
 * certificate for it named cn, signed by issuer (NULL: self-signed). */
void tp_make(struct tp_cert *out, gnutls_pk_algorithm_t pk, unsigned curve_bits, const char *cn,
             const struct tp_cert *issuer, const struct tp_opts *opts);
void tp_free(struct tp_cert *c);

/* A fresh private directory (removed by tp_rmdir). */
char *tp_tmpdir(void);
void tp_rmdir(char *dir);
/* Write dir/name; returns a malloc'd path. */
char *tp_write_key(const char *dir, const char *name, const struct tp_cert *c);
char *tp_write_chain(const char *dir, const char *name, const struct tp_cert *const *certs,
                     size_t n);

#endif
