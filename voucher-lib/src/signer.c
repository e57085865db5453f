/* Signers: a private key (PEM/DER file or PKCS#11 URI) and its chain,
 * loaded once and shared read-only by every envelope back end. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "common/compat.h"
#include "common/str.h"
#include "envelope.h"

#define MAX_KEY_FILE (64 * 1024)

struct voucher_signer {
	gnutls_privkey_t key;
	gnutls_pk_algorithm_t pk;
	gnutls_ecc_curve_t curve;
	size_t n;
	gnutls_datum_t *der;    /* n DER certificates, leaf first (malloc'd data) */
	gnutls_x509_crt_t *crt; /* the same, parsed */
	int token;              /* key lives on a PKCS#11 token */
	pthread_mutex_t lock;   /* serialises token operations */
};

void voucher_signer_free(struct voucher_signer *s)
{
	if (s == NULL)
		return;
	gnutls_privkey_deinit(s->key);
	for (size_t i = 0; i < s->n; i++) {
		free(s->der[i].data);
		gnutls_x509_crt_deinit(s->crt[i]);
	}
	free(s->der);
	free(s->crt);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static voucher_err load_key(struct voucher_signer *s, const char *key)
{
	uint8_t *data = NULL;
	size_t len = 0;
	voucher_err err;
	int rc;

	if ((rc = gnutls_privkey_init(&s->key)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	if (brski_str_startswith(key, "pkcs11:")) {
		/* GnuTLS loads the p11-kit modules on first use; the PIN comes
		 * from the URI's pin-value or pin-source. */
		s->token = 1;
		rc = gnutls_privkey_import_url(s->key, key, 0);
		return vl_gnutls_err(rc, VOUCHER_E_KEY);
	}
	if ((err = vl_read_file(key, MAX_KEY_FILE, &data, &len)) != VOUCHER_OK)
		return err;
	gnutls_datum_t d = {data, (unsigned)len};
	rc = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0)
		rc = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_DER, NULL, 0);
	freezero(data, len);
	return vl_gnutls_err(rc, VOUCHER_E_KEY);
}

static voucher_err load_chain(struct voucher_signer *s, const char *path)
{
	struct voucher_x509_chain *c = NULL;
	voucher_err err = voucher_x509_chain_load_file(path, &c);
	if (err != VOUCHER_OK)
		return err;
	if ((s->der = calloc(c->len, sizeof(*s->der))) == NULL ||
	    (s->crt = calloc(c->len, sizeof(*s->crt))) == NULL) {
		err = VOUCHER_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->len; i++) {
		if ((err = vl_crt_from_der(c->der[i], c->der_len[i], &s->crt[i])) != VOUCHER_OK) {
			gnutls_x509_crt_deinit(s->crt[i]);
			s->crt[i] = NULL;
			goto out;
		}
		/* Take the DER copy over from the chain. */
		s->der[i].data = c->der[i];
		s->der[i].size = (unsigned)c->der_len[i];
		c->der[i] = NULL;
		s->n++;
	}
out:
	voucher_x509_chain_free(c);
	return err;
}

/* The leaf certificate must hold the public half of the key. A test
 * signature proves it for every kind of key, including token keys whose
 * public half GnuTLS cannot always read back. */
static voucher_err check_pair(struct voucher_signer *s)
{
	static const uint8_t probe[] = "libvoucher signer key/certificate pair check";
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t sig = {NULL, 0};
	voucher_err err;

	if ((err = vl_signer_sign(s, GNUTLS_DIG_SHA256, probe, sizeof(probe), &sig)) != VOUCHER_OK)
		return err;
	if ((err = vl_crt_pubkey(s->crt[0], &pub)) != VOUCHER_OK)
		goto out;
	err = vl_verify_data(pub, vl_signer_sign_algorithm(s, GNUTLS_DIG_SHA256), probe,
	                     sizeof(probe), sig.data, sig.size);
	if (err == VOUCHER_E_SIG_INVALID || err == VOUCHER_E_UNSUPPORTED_ALG)
		err = VOUCHER_E_KEY;
out:
	gnutls_free(sig.data);
	gnutls_pubkey_deinit(pub);
	return err;
}

voucher_err voucher_signer_load(struct voucher_signer **out, const char *key,
                                const char *cert_chain)
{
	struct voucher_signer *s = NULL;
	voucher_err err;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if (key == NULL || cert_chain == NULL)
		return VOUCHER_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VOUCHER_ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return VOUCHER_ENOMEM;
	}
	if ((err = load_key(s, key)) != VOUCHER_OK ||
	    (err = load_chain(s, cert_chain)) != VOUCHER_OK)
		goto out;
	unsigned bits = 0;
	s->pk = (gnutls_pk_algorithm_t)gnutls_privkey_get_pk_algorithm(s->key, &bits);
	s->curve = GNUTLS_ECC_CURVE_INVALID;
	switch (s->pk) {
	case GNUTLS_PK_ECDSA: {
		gnutls_pubkey_t pub = NULL;
		if ((err = vl_crt_pubkey(s->crt[0], &pub)) != VOUCHER_OK)
			goto out;
		int rc = gnutls_pubkey_export_ecc_raw2(pub, &s->curve, NULL, NULL, 0);
		gnutls_pubkey_deinit(pub);
		if (rc < 0 || (s->curve != GNUTLS_ECC_CURVE_SECP256R1 &&
		               s->curve != GNUTLS_ECC_CURVE_SECP384R1)) {
			err = VOUCHER_E_UNSUPPORTED_ALG;
			goto out;
		}
		break;
	}
	case GNUTLS_PK_EDDSA_ED25519:
		break;
	case GNUTLS_PK_RSA:
		if (bits < 2048) {
			err = VOUCHER_E_UNSUPPORTED_ALG;
			goto out;
		}
		break;
	default:
		err = VOUCHER_E_UNSUPPORTED_ALG;
		goto out;
	}
	if ((err = check_pair(s)) != VOUCHER_OK)
		goto out;
	*out = s;
	s = NULL;
	err = VOUCHER_OK;
out:
	voucher_signer_free(s);
	return err;
}

gnutls_privkey_t vl_signer_privkey(const struct voucher_signer *s)
{
	return s->key;
}

gnutls_pk_algorithm_t vl_signer_pk(const struct voucher_signer *s, gnutls_ecc_curve_t *curve)
{
	if (curve != NULL)
		*curve = s->curve;
	return s->pk;
}

size_t vl_signer_chain_len(const struct voucher_signer *s)
{
	return s->n;
}

const gnutls_datum_t *vl_signer_chain_der(const struct voucher_signer *s, size_t i)
{
	return i < s->n ? &s->der[i] : NULL;
}

gnutls_x509_crt_t vl_signer_chain_crt(const struct voucher_signer *s, size_t i)
{
	return i < s->n ? s->crt[i] : NULL;
}

gnutls_sign_algorithm_t vl_signer_sign_algorithm(const struct voucher_signer *s,
                                                 gnutls_digest_algorithm_t dig)
{
	switch (s->pk) {
	case GNUTLS_PK_EDDSA_ED25519:
		return GNUTLS_SIGN_EDDSA_ED25519;
	case GNUTLS_PK_ECDSA:
		switch (dig) {
		case GNUTLS_DIG_SHA256:
			return GNUTLS_SIGN_ECDSA_SHA256;
		case GNUTLS_DIG_SHA384:
			return GNUTLS_SIGN_ECDSA_SHA384;
		case GNUTLS_DIG_SHA512:
			return GNUTLS_SIGN_ECDSA_SHA512;
		default:
			return GNUTLS_SIGN_UNKNOWN;
		}
	case GNUTLS_PK_RSA:
		switch (dig) {
		case GNUTLS_DIG_SHA256:
			return GNUTLS_SIGN_RSA_SHA256;
		case GNUTLS_DIG_SHA384:
			return GNUTLS_SIGN_RSA_SHA384;
		case GNUTLS_DIG_SHA512:
			return GNUTLS_SIGN_RSA_SHA512;
		default:
			return GNUTLS_SIGN_UNKNOWN;
		}
	default:
		return GNUTLS_SIGN_UNKNOWN;
	}
}

voucher_err vl_signer_sign(const struct voucher_signer *s, gnutls_digest_algorithm_t dig,
                           const uint8_t *data, size_t len, gnutls_datum_t *sig)
{
	sig->data = NULL;
	sig->size = 0;
	gnutls_sign_algorithm_t algo = vl_signer_sign_algorithm(s, dig);
	if (algo == GNUTLS_SIGN_UNKNOWN)
		return VOUCHER_E_UNSUPPORTED_ALG;
	gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
	/* A token session is not safe to share between threads; a software
	 * key is, so only token keys pay for the lock. */
	pthread_mutex_t *lock = s->token ? (pthread_mutex_t *)&s->lock : NULL;
	if (lock)
		pthread_mutex_lock(lock);
	int rc = gnutls_privkey_sign_data2(s->key, algo, 0, &d, sig);
	if (lock)
		pthread_mutex_unlock(lock);
	return vl_gnutls_err(rc, VOUCHER_E_KEY);
}
