/*
 * Test PKI for the envelope unit tests (test_cose, test_jws): a CA and a
 * signer certificate issued by it, made with GnuTLS at test time (no keys
 * are committed) and written as PEM into a temporary directory so that
 * voucher_signer_load() and voucher_trust_add_file() read them like any
 * user would. Static functions only: each test includes this once.
 */
#ifndef TEST_SIGFIXTURE_H
#define TEST_SIGFIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/sign.h>

struct fx_id {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t der; /* the certificate, DER */
	char key_path[256];
	char crt_path[256];
};

struct fx_pki {
	char dir[64];
	struct fx_id ca, signer;
};

static void fx_die(const char *what, int rc)
{
	fprintf(stderr, "fixture: %s: %s\n", what, gnutls_strerror(rc));
	abort();
}

#define FX_CHECK(call)                                                                             \
	do {                                                                                       \
		int fx_rc_ = (call);                                                               \
		if (fx_rc_ < 0)                                                                    \
			fx_die(#call, fx_rc_);                                                     \
	} while (0)

static void fx_write(const char *path, const gnutls_datum_t *d)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(d->data, 1, d->size, f) != d->size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* A key of type pk and a certificate for it, signed by issuer (NULL: self). */
static void fx_make(struct fx_pki *p, struct fx_id *id, const char *name, gnutls_pk_algorithm_t pk,
                    const char *dn, const struct fx_id *issuer, int is_ca, long serial)
{
	unsigned bits = pk == GNUTLS_PK_EDDSA_ED25519
	                        ? GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519)
	                        : GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
	time_t now = time(NULL);
	unsigned char ser[8];
	unsigned char kid[64];
	size_t kid_len = sizeof(kid);
	const char *err = NULL;
	gnutls_datum_t pem;
	/* GnuTLS names Ed25519 signatures by SHA-512, the hash inside it. */
	gnutls_digest_algorithm_t dig =
	        pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512 : GNUTLS_DIG_SHA256;

	FX_CHECK(gnutls_x509_privkey_init(&id->key));
	FX_CHECK(gnutls_x509_privkey_generate(id->key, pk, bits, 0));
	FX_CHECK(gnutls_x509_crt_init(&id->crt));
	FX_CHECK(gnutls_x509_crt_set_version(id->crt, 3));
	for (size_t i = 0; i < sizeof(ser); i++)
		ser[i] = (unsigned char)(serial >> (8 * (sizeof(ser) - 1 - i)));
	ser[0] &= 0x7f;
	FX_CHECK(gnutls_x509_crt_set_serial(id->crt, ser, sizeof(ser)));
	FX_CHECK(gnutls_x509_crt_set_activation_time(id->crt, now - 3600));
	FX_CHECK(gnutls_x509_crt_set_expiration_time(id->crt, now + 30 * 86400));
	FX_CHECK(gnutls_x509_crt_set_dn(id->crt, dn, &err));
	FX_CHECK(gnutls_x509_crt_set_key(id->crt, id->key));
	FX_CHECK(gnutls_x509_crt_set_basic_constraints(id->crt, is_ca, -1));
	FX_CHECK(gnutls_x509_crt_set_key_usage(id->crt, is_ca ? GNUTLS_KEY_KEY_CERT_SIGN |
	                                                                GNUTLS_KEY_CRL_SIGN
	                                                      : GNUTLS_KEY_DIGITAL_SIGNATURE));
	FX_CHECK(gnutls_x509_crt_get_key_id(id->crt, 0, kid, &kid_len));
	FX_CHECK(gnutls_x509_crt_set_subject_key_id(id->crt, kid, kid_len));
	if (issuer == NULL) {
		FX_CHECK(gnutls_x509_crt_sign2(id->crt, id->crt, id->key, dig, 0));
	} else {
		kid_len = sizeof(kid);
		FX_CHECK(gnutls_x509_crt_get_key_id(issuer->crt, 0, kid, &kid_len));
		FX_CHECK(gnutls_x509_crt_set_authority_key_id(id->crt, kid, kid_len));
		FX_CHECK(gnutls_x509_crt_sign2(id->crt, issuer->crt, issuer->key, dig, 0));
	}
	FX_CHECK(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_DER, &id->der));
	snprintf(id->crt_path, sizeof(id->crt_path), "%s/%s.crt", p->dir, name);
	snprintf(id->key_path, sizeof(id->key_path), "%s/%s.key", p->dir, name);
	FX_CHECK(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &pem));
	fx_write(id->crt_path, &pem);
	gnutls_free(pem.data);
	FX_CHECK(gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_PEM, NULL,
	                                           GNUTLS_PKCS_PLAIN, &pem));
	fx_write(id->key_path, &pem);
	gnutls_free(pem.data);
}

/* A CA and a signer of key type pk; serial_base keeps serials distinct
 * between PKIs made in one test. */
static void fx_pki_new(struct fx_pki *p, gnutls_pk_algorithm_t pk, long serial_base)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/test-sig-XXXXXX");
	if (mkdtemp(p->dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	fx_make(p, &p->ca, "ca", pk, "CN=Test CA,O=brski-cloud tests", NULL, 1, serial_base);
	fx_make(p, &p->signer, "signer", pk, "CN=Test signer,O=brski-cloud tests", &p->ca, 0,
	        serial_base + 1);
}

static void fx_id_free(struct fx_id *id)
{
	if (id->crt_path[0] != 0)
		unlink(id->crt_path);
	if (id->key_path[0] != 0)
		unlink(id->key_path);
	gnutls_free(id->der.data);
	if (id->crt != NULL)
		gnutls_x509_crt_deinit(id->crt);
	if (id->key != NULL)
		gnutls_x509_privkey_deinit(id->key);
}

static void fx_pki_free(struct fx_pki *p)
{
	fx_id_free(&p->signer);
	fx_id_free(&p->ca);
	rmdir(p->dir);
}

/* Sign data with id's key the way COSE and JOSE want it: ES256 as r||s
 * (32 bytes each), Ed25519 as is. raw gets 64 bytes. */
static void fx_sign_raw(const struct fx_id *id, const unsigned char *data, size_t len,
                        unsigned char raw[64])
{
	gnutls_privkey_t pk;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)data, (unsigned)len};
	gnutls_datum_t sig = {NULL, 0};
	int algo = gnutls_x509_privkey_get_pk_algorithm(id->key);

	FX_CHECK(gnutls_privkey_init(&pk));
	FX_CHECK(gnutls_privkey_import_x509(pk, id->key, 0));
	if (algo == GNUTLS_PK_EDDSA_ED25519) {
		FX_CHECK(gnutls_privkey_sign_data2(pk, GNUTLS_SIGN_EDDSA_ED25519, 0, &d, &sig));
		if (sig.size != 64)
			abort();
		memcpy(raw, sig.data, 64);
	} else {
		gnutls_datum_t r, s;
		FX_CHECK(gnutls_privkey_sign_data2(pk, GNUTLS_SIGN_ECDSA_SHA256, 0, &d, &sig));
		FX_CHECK(gnutls_decode_rs_value(&sig, &r, &s));
		/* r and s may carry a leading zero or be short: right-align. */
		memset(raw, 0, 64);
		const unsigned char *rp = r.data, *sp = s.data;
		size_t rl = r.size, sl = s.size;
		while (rl > 32 && *rp == 0)
			rp++, rl--;
		while (sl > 32 && *sp == 0)
			sp++, sl--;
		memcpy(raw + 32 - rl, rp, rl);
		memcpy(raw + 64 - sl, sp, sl);
		gnutls_free(r.data);
		gnutls_free(s.data);
	}
	gnutls_free(sig.data);
	gnutls_privkey_deinit(pk);
}

/* The envelope tests' world: an ECDSA and an Ed25519 PKI whose signers
 * sign, and a third CA that anchors nothing of theirs. */
struct fx_env {
	struct fx_pki es, ed, other;
	struct voucher_signer *s_es, *s_ed;
	struct voucher_trust *t_es, *t_ed, *t_other;
};

/* A cmocka group setup; serial_base keeps each test's certificates
 * distinct (three consecutive hundreds are used). */
static int fx_env_setup(void **state, long serial_base)
{
	struct fx_env *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	fx_pki_new(&e->es, GNUTLS_PK_ECDSA, serial_base);
	fx_pki_new(&e->ed, GNUTLS_PK_EDDSA_ED25519, serial_base + 100);
	fx_pki_new(&e->other, GNUTLS_PK_ECDSA, serial_base + 200);
	*state = e;
	if (voucher_signer_load(&e->s_es, e->es.signer.key_path, e->es.signer.crt_path) !=
	            VOUCHER_OK ||
	    voucher_signer_load(&e->s_ed, e->ed.signer.key_path, e->ed.signer.crt_path) !=
	            VOUCHER_OK ||
	    voucher_trust_new(&e->t_es) != VOUCHER_OK ||
	    voucher_trust_add_file(e->t_es, e->es.ca.crt_path) != VOUCHER_OK ||
	    voucher_trust_new(&e->t_ed) != VOUCHER_OK ||
	    voucher_trust_add_file(e->t_ed, e->ed.ca.crt_path) != VOUCHER_OK ||
	    voucher_trust_new(&e->t_other) != VOUCHER_OK ||
	    voucher_trust_add_file(e->t_other, e->other.ca.crt_path) != VOUCHER_OK)
		return -1;
	return 0;
}

static int fx_env_teardown(void **state)
{
	struct fx_env *e = *state;
	if (e == NULL)
		return 0;
	voucher_signer_free(e->s_es);
	voucher_signer_free(e->s_ed);
	voucher_trust_free(e->t_es);
	voucher_trust_free(e->t_ed);
	voucher_trust_free(e->t_other);
	fx_pki_free(&e->es);
	fx_pki_free(&e->ed);
	fx_pki_free(&e->other);
	free(e);
	return 0;
}

#endif
