/* Test certificates made with GnuTLS (see testpki.h). */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testpki.h"

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ < 0)                                                                       \
			fail_msg("%s: %s", #expr, gnutls_strerror(rc_));                           \
	} while (0)

static unsigned serial_counter;

void tp_make(struct tp_cert *out, gnutls_pk_algorithm_t pk, unsigned curve_bits, const char *cn,
             const struct tp_cert *issuer, const struct tp_opts *opts)
{
	static const struct tp_opts none;
	const struct tp_opts *o = opts ? opts : &none;
	time_t now = time(NULL);
	unsigned bits = pk == GNUTLS_PK_RSA ? 2048
	                : pk == GNUTLS_PK_ECDSA
	                        ? (curve_bits ? curve_bits
	                                      : GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1))
	                        : 0;
	uint8_t serial[8];

	memset(out, 0, sizeof(*out));
	CHECK(gnutls_x509_privkey_init(&out->key));
	CHECK(gnutls_x509_privkey_generate2(out->key, pk, bits, 0, NULL, 0));
	CHECK(gnutls_x509_crt_init(&out->crt));
	CHECK(gnutls_x509_crt_set_version(out->crt, 3));
	serial_counter++;
	serial[0] = 0x01;
	for (int i = 1; i < 8; i++)
		serial[i] = (uint8_t)((serial_counter + (unsigned)now) >> (8 * (i % 4)));
	CHECK(gnutls_x509_crt_set_serial(out->crt, serial, sizeof(serial)));
	CHECK(gnutls_x509_crt_set_activation_time(out->crt,
	                                          o->not_before ? o->not_before : now - 3600));
	CHECK(gnutls_x509_crt_set_expiration_time(out->crt, o->not_after ? o->not_after
	                                                                 : now + 10 * 365 * 86400));
	CHECK(gnutls_x509_crt_set_dn_by_oid(out->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                    (unsigned)strlen(cn)));
	if (o->serial_number)
		CHECK(gnutls_x509_crt_set_dn_by_oid(out->crt, "2.5.4.5", 0, o->serial_number,
		                                    (unsigned)strlen(o->serial_number)));
	CHECK(gnutls_x509_crt_set_key(out->crt, out->key));
	if (o->ca) {
		CHECK(gnutls_x509_crt_set_basic_constraints(out->crt, 1, -1));
		CHECK(gnutls_x509_crt_set_key_usage(out->crt, GNUTLS_KEY_KEY_CERT_SIGN |
		                                                      GNUTLS_KEY_CRL_SIGN));
	} else {
		CHECK(gnutls_x509_crt_set_basic_constraints(out->crt, 0, -1));
		CHECK(gnutls_x509_crt_set_key_usage(out->crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
	}
	if (o->cmcra) {
		CHECK(gnutls_x509_crt_set_key_purpose_oid(out->crt, "1.3.6.1.5.5.7.3.28", 0));
		CHECK(gnutls_x509_crt_set_key_purpose_oid(out->crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
		CHECK(gnutls_x509_crt_set_key_purpose_oid(out->crt, GNUTLS_KP_TLS_WWW_CLIENT, 0));
	}
	if (o->masa_url) {
		uint8_t ext[256];
		size_t n = strlen(o->masa_url);
		if (n > 200)
			fail_msg("masa_url too long");
		ext[0] = 0x16; /* IA5String */
		ext[1] = (uint8_t)n;
		memcpy(ext + 2, o->masa_url, n);
		gnutls_datum_t d = {ext, (unsigned)(n + 2)};
		CHECK(gnutls_x509_crt_set_extension_by_oid(out->crt, "1.3.6.1.5.5.7.1.32", d.data,
		                                           d.size, 0));
	}
	if (!o->no_ski) {
		uint8_t id[64];
		size_t idlen = sizeof(id);
		CHECK(gnutls_x509_privkey_get_key_id(out->key, GNUTLS_KEYID_USE_SHA1, id, &idlen));
		CHECK(gnutls_x509_crt_set_subject_key_id(out->crt, id, idlen));
	}
	if (issuer) {
		uint8_t aki[64];
		size_t akilen = sizeof(aki);
		unsigned crit = 0;
		if (gnutls_x509_crt_get_subject_key_id(issuer->crt, aki, &akilen, &crit) >= 0)
			CHECK(gnutls_x509_crt_set_authority_key_id(out->crt, aki, akilen));
		CHECK(gnutls_x509_crt_sign2(out->crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256,
		                            0));
	} else {
		CHECK(gnutls_x509_crt_sign2(out->crt, out->crt, out->key, GNUTLS_DIG_SHA256, 0));
	}
	CHECK(gnutls_x509_crt_export2(out->crt, GNUTLS_X509_FMT_DER, &out->der));
}

void tp_free(struct tp_cert *c)
{
	if (c == NULL)
		return;
	gnutls_x509_privkey_deinit(c->key);
	gnutls_x509_crt_deinit(c->crt);
	gnutls_free(c->der.data);
	memset(c, 0, sizeof(*c));
}

char *tp_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	snprintf(tmpl, sizeof(tmpl), "%s/vl-test-XXXXXX", base && *base ? base : "/tmp");
	char *d = mkdtemp(tmpl);
	if (d == NULL)
		fail_msg("mkdtemp failed");
	return strdup(d);
}

void tp_rmdir(char *dir)
{
	if (dir == NULL)
		return;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char p[1024];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

static char *write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	if (path == NULL)
		fail_msg("out of memory");
	snprintf(path, strlen(dir) + strlen(name) + 2, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fail_msg("cannot write %s", path);
	return path;
}

char *tp_write_key(const char *dir, const char *name, const struct tp_cert *c)
{
	gnutls_datum_t pem = {NULL, 0};
	CHECK(gnutls_x509_privkey_export2_pkcs8(c->key, GNUTLS_X509_FMT_PEM, NULL,
	                                        GNUTLS_PKCS_PLAIN, &pem));
	char *p = write_file(dir, name, pem.data, pem.size);
	gnutls_free(pem.data);
	return p;
}

char *tp_write_chain(const char *dir, const char *name, const struct tp_cert *const *certs,
                     size_t n)
{
	size_t cap = 1, len = 0;
	char *all = calloc(1, 1);
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t pem = {NULL, 0};
		CHECK(gnutls_x509_crt_export2(certs[i]->crt, GNUTLS_X509_FMT_PEM, &pem));
		cap += pem.size;
		all = realloc(all, cap);
		if (all == NULL)
			fail_msg("out of memory");
		memcpy(all + len, pem.data, pem.size);
		len += pem.size;
		gnutls_free(pem.data);
	}
	char *p = write_file(dir, name, all, len);
	free(all);
	return p;
}
