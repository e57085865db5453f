/* Test certificates made in-process with GnuTLS (no committed keys). */
#ifndef TESTCERT_H
#define TESTCERT_H

#include <stdbool.h>

#include <gnutls/x509.h>

struct testcert {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	char cert_path[512]; /* PEM certificate (leaf first, then issuer if any) */
	char key_path[512];  /* PEM private key */
};

/* Make a P-256 key and a certificate for cn, signed by issuer (NULL:
 * self-signed). ca makes a CA certificate; otherwise a TLS server and client
 * certificate for 127.0.0.1 / localhost. serial is the serial number.
 * Writes cert_path/key_path as DIR/NAME.crt and DIR/NAME.key. Returns 0. */
int testcert_make(struct testcert *tc, const struct testcert *issuer, const char *dir,
                  const char *name, const char *cn, bool ca, unsigned serial);
void testcert_free(struct testcert *tc);

/* A new temporary directory (mkdtemp) in out. Returns 0. */
int testcert_tmpdir(char *out, size_t len);
/* Remove the files and the directory made for the tests (rm -r of dir). */
void testcert_rmdir(const char *dir);
/* Write text to DIR/NAME; path to out. Returns 0. */
int testcert_write(const char *dir, const char *name, const char *text, char *out, size_t len);

#endif
