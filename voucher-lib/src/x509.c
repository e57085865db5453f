/* X.509 helpers (voucher/x509.h) and the shared certificate/signature
 * helpers of the envelope back ends (envelope.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <libtasn1.h>

#include <voucher/x509.h>

#include "common/buf.h"
#include "common/compat.h"
#include "envelope.h"

#define OID_SERIAL_NUMBER "2.5.4.5"
#define OID_MASA_URL      "1.3.6.1.5.5.7.1.32"
#define OID_AKI           "2.5.29.35"
#define OID_KP_CMCRA      "1.3.6.1.5.5.7.3.28"
#define MAX_SERIAL_LEN    64
#define MAX_URL_LEN       2048
#define MAX_CHAIN_INPUT   (1024 * 1024)

voucher_err vl_gnutls_err(int rc, voucher_err fallback)
{
	if (rc >= 0)
		return VOUCHER_OK;
	if (rc == GNUTLS_E_MEMORY_ERROR)
		return VOUCHER_ENOMEM;
	return fallback;
}

voucher_err vl_crt_from_der(const uint8_t *der, size_t len, gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	int rc;

	*out = NULL;
	if (der == NULL || len == 0)
		return VOUCHER_EINVAL;
	if (len > VL_MAX_CERT)
		return VOUCHER_E_TOO_LARGE;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		gnutls_x509_crt_deinit(crt);
		return vl_gnutls_err(rc, VOUCHER_E_CERT);
	}
	*out = crt;
	return VOUCHER_OK;
}

voucher_err vl_crt_pubkey(gnutls_x509_crt_t crt, gnutls_pubkey_t *out)
{
	gnutls_pubkey_t pub = NULL;
	int rc;

	*out = NULL;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	if ((rc = gnutls_pubkey_import_x509(pub, crt, 0)) < 0) {
		gnutls_pubkey_deinit(pub);
		return vl_gnutls_err(rc, VOUCHER_E_CERT);
	}
	*out = pub;
	return VOUCHER_OK;
}

/* The signature algorithms we accept from peers, whatever GnuTLS's own
 * defaults: the curves and digests the BRSKI drafts use, RSA >= 2048. */
static int sign_algo_allowed(gnutls_pubkey_t pub, gnutls_sign_algorithm_t algo)
{
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);

	switch (algo) {
	case GNUTLS_SIGN_ECDSA_SHA256:
	case GNUTLS_SIGN_ECDSA_SHA384:
	case GNUTLS_SIGN_ECDSA_SHA512: {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		if (pk != GNUTLS_PK_ECDSA ||
		    gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0) < 0)
			return 0;
		return vl_ecdsa_coord_len(curve) != 0;
	}
	case GNUTLS_SIGN_EDDSA_ED25519:
		return pk == GNUTLS_PK_EDDSA_ED25519;
	case GNUTLS_SIGN_RSA_SHA256:
	case GNUTLS_SIGN_RSA_SHA384:
	case GNUTLS_SIGN_RSA_SHA512:
	case GNUTLS_SIGN_RSA_PSS_SHA256:
	case GNUTLS_SIGN_RSA_PSS_SHA384:
	case GNUTLS_SIGN_RSA_PSS_SHA512:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA256:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA384:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA512:
		return (pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_RSA_PSS) && bits >= 2048;
	default:
		return 0;
	}
}

voucher_err vl_verify_data(gnutls_pubkey_t pub, gnutls_sign_algorithm_t algo, const uint8_t *data,
                           size_t len, const uint8_t *sig, size_t sig_len)
{
	if (!sign_algo_allowed(pub, algo))
		return VOUCHER_E_UNSUPPORTED_ALG;
	if (sig_len == 0 || sig_len > 2048)
		return VOUCHER_E_SIG_INVALID;
	gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
	gnutls_datum_t s = {(unsigned char *)sig, (unsigned)sig_len};
	int rc = gnutls_pubkey_verify_data2(pub, algo, 0, &d, &s);
	if (rc >= 0)
		return VOUCHER_OK;
	switch (rc) {
	case GNUTLS_E_MEMORY_ERROR:
		return VOUCHER_ENOMEM;
	case GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM:
	case GNUTLS_E_INCOMPATIBLE_SIG_WITH_KEY:
	case GNUTLS_E_CONSTRAINT_ERROR:
		return VOUCHER_E_UNSUPPORTED_ALG;
	default:
		/* GNUTLS_E_PK_SIG_VERIFY_FAILED, and a signature that does not
		 * even decode: either way it does not verify. */
		return VOUCHER_E_SIG_INVALID;
	}
}

size_t vl_ecdsa_coord_len(gnutls_ecc_curve_t curve)
{
	switch (curve) {
	case GNUTLS_ECC_CURVE_SECP256R1:
		return 32;
	case GNUTLS_ECC_CURVE_SECP384R1:
		return 48;
	case GNUTLS_ECC_CURVE_SECP521R1:
		return 66;
	default:
		return 0;
	}
}

/* Copy a big-endian unsigned integer into a field of n bytes, dropping
 * leading zeros (DER INTEGERs carry one for the sign) and left-padding. */
static int put_coord(const gnutls_datum_t *v, uint8_t *dst, size_t n)
{
	const uint8_t *p = v->data;
	size_t len = v->size;

	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	if (len > n)
		return -1;
	memset(dst, 0, n - len);
	if (len)
		memcpy(dst + (n - len), p, len);
	return 0;
}

voucher_err vl_ecdsa_der_to_raw(const gnutls_datum_t *der, size_t coord_len, uint8_t *raw)
{
	gnutls_datum_t r = {NULL, 0}, s = {NULL, 0};
	voucher_err err = VOUCHER_E_MALFORMED;

	if (coord_len == 0 || coord_len > 66)
		return VOUCHER_EINVAL;
	int rc = gnutls_decode_rs_value(der, &r, &s);
	if (rc < 0)
		return vl_gnutls_err(rc, VOUCHER_E_MALFORMED);
	if (put_coord(&r, raw, coord_len) < 0 || put_coord(&s, raw + coord_len, coord_len) < 0)
		goto out;
	err = VOUCHER_OK;
out:
	gnutls_free(r.data);
	gnutls_free(s.data);
	return err;
}

voucher_err vl_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, gnutls_datum_t *der)
{
	der->data = NULL;
	der->size = 0;
	if (raw_len == 0 || raw_len % 2 != 0 || raw_len > 2 * 66)
		return VOUCHER_E_MALFORMED;
	gnutls_datum_t r = {(unsigned char *)raw, (unsigned)(raw_len / 2)};
	gnutls_datum_t s = {(unsigned char *)raw + raw_len / 2, (unsigned)(raw_len / 2)};
	/* gnutls_encode_rs_value treats r and s as unsigned and adds the
	 * leading zero a DER INTEGER needs. */
	int rc = gnutls_encode_rs_value(der, &r, &s);
	return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
}

/* ---- memo of certificate facts -------------------------------------------
 * The helpers below read one fact each from a DER certificate. masad asks
 * them about the same certificates on every request (the registrar's
 * chain: its key hashes for the proximity check, its EKU; the owner's
 * domain CA: its SKI), and parsing a certificate with GnuTLS (libtasn1)
 * costs more than the fact: perf put these parses at 8 % of masad's CPU
 * per voucher. Every fact here is a function of the DER bytes alone (no
 * time, no trust anchors, no revocation), so they are remembered keyed by
 * the SHA-256 of the exact DER, all facts of a certificate from one parse.
 * Bounded (FACTS_SLOTS entries, direct-mapped, newest wins), guarded by a
 * mutex, results that came from running out of memory never kept. */
#define FACTS_SLOTS   256
#define FACTS_MAX_AKI 200
#define FACTS_MAX_URL 256

struct facts {
	uint8_t key[32];
	int used;
	voucher_err serial_err;
	char serial[MAX_SERIAL_LEN + 1];
	voucher_err aki_err;
	int aki_big; /* longer than FACTS_MAX_AKI: not kept, computed per call */
	uint8_t aki[FACTS_MAX_AKI];
	size_t aki_len;
	voucher_err cmcra_err;
	voucher_err spki_err;
	uint8_t spki_sha256[32];
	voucher_err ski_err;
	uint8_t ski[64];
	size_t ski_len;
	voucher_err url_err;
	int url_big; /* longer than FACTS_MAX_URL: not kept, computed per call */
	char url[FACTS_MAX_URL + 1];
};

static struct facts facts_slots[FACTS_SLOTS];
static struct voucher_trust_stats facts_st;
static pthread_mutex_t facts_lock = PTHREAD_MUTEX_INITIALIZER;

static voucher_err crt_serial(gnutls_x509_crt_t crt, char *out);
static voucher_err crt_idevid_issuer(gnutls_x509_crt_t crt, uint8_t **out, size_t *out_len);
static voucher_err crt_cmcra(gnutls_x509_crt_t crt);
static voucher_err crt_spki_sha256(gnutls_x509_crt_t crt, uint8_t out[32]);
static voucher_err crt_ski(gnutls_x509_crt_t crt, uint8_t buf[64], size_t *len);
static voucher_err crt_masa_url(gnutls_x509_crt_t crt, char **out);

/* Read every fact of crt into f (f->key set) and keep them unless one
 * came from running out of memory or a failing hash. */
static void facts_fill(gnutls_x509_crt_t crt, struct facts *f, struct facts *slot)
{
	uint8_t *aki = NULL;

	f->serial_err = crt_serial(crt, f->serial);
	f->aki_err = crt_idevid_issuer(crt, &aki, &f->aki_len);
	if (f->aki_err == VOUCHER_OK && f->aki_len > FACTS_MAX_AKI)
		f->aki_big = 1;
	else if (f->aki_err == VOUCHER_OK)
		memcpy(f->aki, aki, f->aki_len);
	free(aki);
	f->cmcra_err = crt_cmcra(crt);
	f->spki_err = crt_spki_sha256(crt, f->spki_sha256);
	f->ski_err = crt_ski(crt, f->ski, &f->ski_len);
	char *url = NULL;
	f->url_err = crt_masa_url(crt, &url);
	if (f->url_err == VOUCHER_OK && strlen(url) > FACTS_MAX_URL)
		f->url_big = 1;
	else if (f->url_err == VOUCHER_OK)
		memcpy(f->url, url, strlen(url) + 1);
	free(url);
	f->used = 1;
	if (f->serial_err != VOUCHER_ENOMEM && f->aki_err != VOUCHER_ENOMEM &&
	    f->cmcra_err != VOUCHER_ENOMEM && f->spki_err != VOUCHER_ENOMEM &&
	    f->ski_err != VOUCHER_ENOMEM && f->url_err != VOUCHER_ENOMEM &&
	    f->spki_err != VOUCHER_E_CRYPTO && f->aki_err != VOUCHER_E_CRYPTO) {
		pthread_mutex_lock(&facts_lock);
		*slot = *f;
		pthread_mutex_unlock(&facts_lock);
	}
}

static struct facts *facts_slot(const uint8_t key[32])
{
	return &facts_slots[((size_t)key[0] << 8 | key[1]) % FACTS_SLOTS];
}

void vl_x509_facts_prime(const uint8_t *der, size_t len, gnutls_x509_crt_t crt)
{
	struct facts f;
	int have;

	memset(&f, 0, sizeof(f));
	if (der == NULL || len == 0 || len > VL_MAX_CERT || crt == NULL ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, f.key) < 0)
		return;
	struct facts *slot = facts_slot(f.key);
	pthread_mutex_lock(&facts_lock);
	have = slot->used && memcmp(slot->key, f.key, 32) == 0;
	pthread_mutex_unlock(&facts_lock);
	if (!have)
		facts_fill(crt, &f, slot);
}

/* The facts of the certificate der into *f, from the memo or from one
 * parse. Fails as vl_crt_from_der does when der does not parse. */
static voucher_err facts_get(const uint8_t *der, size_t len, struct facts *f)
{
	gnutls_x509_crt_t crt = NULL;
	voucher_err err;
	int rc;

	memset(f, 0, sizeof(*f));
	if (der == NULL || len == 0)
		return VOUCHER_EINVAL;
	if (len > VL_MAX_CERT)
		return VOUCHER_E_TOO_LARGE;
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, f->key)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	struct facts *slot = facts_slot(f->key);
	pthread_mutex_lock(&facts_lock);
	if (slot->used && memcmp(slot->key, f->key, 32) == 0) {
		*f = *slot;
		facts_st.hits++;
		pthread_mutex_unlock(&facts_lock);
		return VOUCHER_OK;
	}
	facts_st.misses++;
	pthread_mutex_unlock(&facts_lock);

	if ((err = vl_crt_from_der(der, len, &crt)) != VOUCHER_OK) {
		pthread_mutex_lock(&facts_lock);
		facts_st.failures++;
		pthread_mutex_unlock(&facts_lock);
		return err;
	}
	facts_fill(crt, f, slot);
	gnutls_x509_crt_deinit(crt);
	return VOUCHER_OK;
}

void voucher_x509_cache_stats(struct voucher_trust_stats *st)
{
	pthread_mutex_lock(&facts_lock);
	*st = facts_st;
	st->entries = 0;
	for (size_t i = 0; i < FACTS_SLOTS; i++)
		st->entries += facts_slots[i].used != 0;
	pthread_mutex_unlock(&facts_lock);
}

/* ---- public helpers ----------------------------------------------------- */

static int printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* The serialNumber attribute of the subject, into buf (MAX_SERIAL_LEN + 1). */
static voucher_err crt_serial(gnutls_x509_crt_t crt, char *out)
{
	char buf[MAX_SERIAL_LEN * 4 + 1];
	size_t size = sizeof(buf);

	/* raw_flag 0: the attribute's string value, not its DER. */
	int rc = gnutls_x509_crt_get_dn_by_oid(crt, OID_SERIAL_NUMBER, 0, 0, buf, &size);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return VOUCHER_E_NOT_FOUND;
	if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
		return VOUCHER_E_MALFORMED;
	if (rc < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CERT);
	if (size == 0 || size > MAX_SERIAL_LEN || strlen(buf) != size ||
	    !printable((const uint8_t *)buf, size))
		return VOUCHER_E_MALFORMED;
	memcpy(out, buf, size + 1);
	return VOUCHER_OK;
}

voucher_err voucher_x509_serial_number(const uint8_t *der, size_t len, char **out)
{
	struct facts f;
	voucher_err err;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if ((err = facts_get(der, len, &f)) != VOUCHER_OK)
		return err;
	if (f.serial_err != VOUCHER_OK)
		return f.serial_err;
	if ((*out = strdup(f.serial)) == NULL)
		return VOUCHER_ENOMEM;
	return VOUCHER_OK;
}

/* The MASA URL of crt (see voucher_x509_masa_url) into *out (malloc'd). */
static voucher_err crt_masa_url(gnutls_x509_crt_t crt, char **out)
{
	gnutls_datum_t ext = {NULL, 0};
	unsigned critical = 0;
	voucher_err err;
	struct brski_buf b;

	brski_buf_init(&b, MAX_URL_LEN + 64);
	*out = NULL;
	int rc = gnutls_x509_crt_get_extension_by_oid2(crt, OID_MASA_URL, 0, &ext, &critical);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		err = VOUCHER_E_NOT_FOUND;
		goto out;
	}
	if (rc < 0) {
		err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		goto out;
	}
	/* extnValue holds MASAURLSyntax ::= IA5String (tag 22). */
	int len_len = 0;
	if (ext.size < 2 || ext.data[0] != 0x16) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	long l = asn1_get_length_der(ext.data + 1, (int)ext.size - 1, &len_len);
	if (l <= 0 || l > MAX_URL_LEN || (size_t)l + 1 + (size_t)len_len != ext.size) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	const uint8_t *v = ext.data + 1 + len_len;
	size_t vlen = (size_t)l;
	if (!printable(v, vlen) || memchr(v, ' ', vlen) != NULL) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	if (memchr(v, '/', vlen) == NULL) {
		/* RFC 8995 2.3.2: usually only the authority. */
		if ((err = brski_buf_puts(&b, "https://")) != VOUCHER_OK ||
		    (err = brski_buf_put(&b, v, vlen)) != VOUCHER_OK ||
		    (err = brski_buf_puts(&b, "/.well-known/brski")) != VOUCHER_OK)
			goto out;
	} else if ((err = brski_buf_put(&b, v, vlen)) != VOUCHER_OK) {
		goto out;
	}
	*out = (char *)brski_buf_take(&b, NULL);
	err = VOUCHER_OK;
out:
	brski_buf_free(&b);
	gnutls_free(ext.data);
	return err;
}

voucher_err voucher_x509_masa_url(const uint8_t *der, size_t len, char **out)
{
	gnutls_x509_crt_t crt = NULL;
	struct facts f;
	voucher_err err;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if ((err = facts_get(der, len, &f)) != VOUCHER_OK)
		return err;
	if (!f.url_big) {
		if (f.url_err != VOUCHER_OK)
			return f.url_err;
		return (*out = strdup(f.url)) != NULL ? VOUCHER_OK : VOUCHER_ENOMEM;
	}
	/* Too long for the memo: computed again. */
	if ((err = vl_crt_from_der(der, len, &crt)) != VOUCHER_OK)
		return err;
	err = crt_masa_url(crt, out);
	gnutls_x509_crt_deinit(crt);
	return err;
}

/* The DER SubjectPublicKeyInfo of crt into *spki (gnutls_free). */
static voucher_err crt_spki(gnutls_x509_crt_t crt, gnutls_datum_t *spki)
{
	gnutls_pubkey_t pub = NULL;
	voucher_err err = vl_crt_pubkey(crt, &pub);
	if (err != VOUCHER_OK)
		return err;
	int rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, spki);
	gnutls_pubkey_deinit(pub);
	return vl_gnutls_err(rc, VOUCHER_E_CERT);
}

/* Read one DER TLV header at p (n bytes left): *tag, *hdr (header bytes),
 * *vlen (value bytes). -1 when malformed or running past n. */
static int tlv(const uint8_t *p, size_t n, uint8_t *tag, size_t *hdr, size_t *vlen)
{
	int ll = 0;
	if (n < 2 || n > INT32_MAX)
		return -1;
	long l = asn1_get_length_der(p + 1, (int)(n - 1), &ll);
	if (l < 0 || (size_t)l > n - 1 - (size_t)ll)
		return -1;
	*tag = p[0];
	*hdr = 1 + (size_t)ll;
	*vlen = (size_t)l;
	return 0;
}

/* The idevid-issuer of crt (see voucher_x509_idevid_issuer) into *out
 * (malloc'd). */
static voucher_err crt_idevid_issuer(gnutls_x509_crt_t crt, uint8_t **out, size_t *out_len)
{
	gnutls_datum_t ext = {NULL, 0}, spki = {NULL, 0};
	unsigned critical = 0;
	uint8_t *res = NULL;
	size_t res_len = 0;
	voucher_err err;

	*out = NULL;
	*out_len = 0;
	int rc = gnutls_x509_crt_get_extension_by_oid2(crt, OID_AKI, 0, &ext, &critical);
	if (rc >= 0) {
		/* Wrap the AuthorityKeyIdentifier DER back into its extnValue
		 * OCTET STRING, as rfc8366bis wants the whole TLV. */
		if (ext.size == 0 || ext.size > 4096) {
			err = VOUCHER_E_CERT;
			goto out;
		}
		uint8_t hdr[4];
		size_t hl;
		hdr[0] = 0x04;
		if (ext.size < 0x80) {
			hdr[1] = (uint8_t)ext.size;
			hl = 2;
		} else if (ext.size < 0x100) {
			hdr[1] = 0x81;
			hdr[2] = (uint8_t)ext.size;
			hl = 3;
		} else {
			hdr[1] = 0x82;
			hdr[2] = (uint8_t)(ext.size >> 8);
			hdr[3] = (uint8_t)ext.size;
			hl = 4;
		}
		res_len = hl + ext.size;
		if ((res = malloc(res_len)) == NULL) {
			err = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(res, hdr, hl);
		memcpy(res + hl, ext.data, ext.size);
	} else if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT
		 * STRING value, without tag, length and unused-bits count. */
		uint8_t tag;
		size_t hdr, vlen, off;
		if ((err = crt_spki(crt, &spki)) != VOUCHER_OK)
			goto out;
		err = VOUCHER_E_CERT;
		if (tlv(spki.data, spki.size, &tag, &hdr, &vlen) < 0 || tag != 0x30)
			goto out;
		off = hdr;
		size_t alg_hdr, alg_len;
		if (tlv(spki.data + off, spki.size - off, &tag, &alg_hdr, &alg_len) < 0 ||
		    tag != 0x30)
			goto out;
		off += alg_hdr + alg_len;
		size_t bs_hdr, bs_len;
		if (off >= spki.size ||
		    tlv(spki.data + off, spki.size - off, &tag, &bs_hdr, &bs_len) < 0 ||
		    tag != 0x03 || bs_len < 1)
			goto out;
		const uint8_t *key = spki.data + off + bs_hdr + 1;
		size_t key_len = bs_len - 1;
		static const uint8_t prefix[] = {0x04, 0x18, 0x30, 0x16, 0x80, 0x14};
		res_len = sizeof(prefix) + 20;
		if ((res = malloc(res_len)) == NULL) {
			err = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(res, prefix, sizeof(prefix));
		rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, key, key_len, res + sizeof(prefix));
		if (rc < 0) {
			err = vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
			goto out;
		}
	} else {
		err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		goto out;
	}
	*out = res;
	*out_len = res_len;
	res = NULL;
	err = VOUCHER_OK;
out:
	free(res);
	gnutls_free(ext.data);
	gnutls_free(spki.data);
	return err;
}

voucher_err voucher_x509_idevid_issuer(const uint8_t *der, size_t len, uint8_t **out,
                                       size_t *out_len)
{
	gnutls_x509_crt_t crt = NULL;
	struct facts f;
	voucher_err err;

	if (out == NULL || out_len == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	*out_len = 0;
	if ((err = facts_get(der, len, &f)) != VOUCHER_OK)
		return err;
	if (!f.aki_big) {
		if (f.aki_err != VOUCHER_OK)
			return f.aki_err;
		if ((*out = malloc(f.aki_len)) == NULL)
			return VOUCHER_ENOMEM;
		memcpy(*out, f.aki, f.aki_len);
		*out_len = f.aki_len;
		return VOUCHER_OK;
	}
	/* Too long for the memo: computed again. */
	if ((err = vl_crt_from_der(der, len, &crt)) != VOUCHER_OK)
		return err;
	err = crt_idevid_issuer(crt, out, out_len);
	gnutls_x509_crt_deinit(crt);
	return err;
}

static voucher_err crt_cmcra(gnutls_x509_crt_t crt)
{
	voucher_err err = VOUCHER_E_NOT_REGISTRAR;
	for (unsigned i = 0; i < 64; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* not an OID we know, whatever it is */
		if (rc < 0) {
			err = vl_gnutls_err(rc, VOUCHER_E_CERT);
			break;
		}
		if (strcmp(oid, OID_KP_CMCRA) == 0) {
			err = VOUCHER_OK;
			break;
		}
	}
	return err;
}

voucher_err voucher_x509_check_cmcra(const uint8_t *der, size_t len)
{
	struct facts f;
	voucher_err err = facts_get(der, len, &f);
	return err != VOUCHER_OK ? err : f.cmcra_err;
}

voucher_err voucher_x509_spki(const uint8_t *der, size_t len, uint8_t **out, size_t *out_len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t spki = {NULL, 0};
	voucher_err err;

	if (out == NULL || out_len == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	*out_len = 0;
	if ((err = vl_crt_from_der(der, len, &crt)) != VOUCHER_OK)
		return err;
	if ((err = crt_spki(crt, &spki)) != VOUCHER_OK)
		goto out;
	if ((*out = malloc(spki.size)) == NULL) {
		err = VOUCHER_ENOMEM;
		goto out;
	}
	memcpy(*out, spki.data, spki.size);
	*out_len = spki.size;
out:
	gnutls_free(spki.data);
	gnutls_x509_crt_deinit(crt);
	return err;
}

static voucher_err crt_spki_sha256(gnutls_x509_crt_t crt, uint8_t out[32])
{
	gnutls_datum_t spki = {NULL, 0};
	voucher_err err;

	if ((err = crt_spki(crt, &spki)) != VOUCHER_OK)
		return err;
	int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, out);
	gnutls_free(spki.data);
	return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
}

voucher_err voucher_x509_spki_sha256(const uint8_t *der, size_t len, uint8_t out[32])
{
	struct facts f;
	voucher_err err;

	if (out == NULL)
		return VOUCHER_EINVAL;
	if ((err = facts_get(der, len, &f)) != VOUCHER_OK)
		return err;
	if (f.spki_err == VOUCHER_OK)
		memcpy(out, f.spki_sha256, 32);
	return f.spki_err;
}

static voucher_err crt_ski(gnutls_x509_crt_t crt, uint8_t buf[64], size_t *len)
{
	size_t size = 64;
	unsigned critical = 0;

	*len = 0;
	int rc = gnutls_x509_crt_get_subject_key_id(crt, buf, &size, &critical);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return VOUCHER_E_NOT_FOUND;
	if (rc < 0 || size == 0)
		return rc == GNUTLS_E_MEMORY_ERROR ? VOUCHER_ENOMEM : VOUCHER_E_CERT;
	*len = size;
	return VOUCHER_OK;
}

voucher_err voucher_x509_ski(const uint8_t *der, size_t len, uint8_t **out, size_t *out_len)
{
	struct facts f;
	voucher_err err;

	if (out == NULL || out_len == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	*out_len = 0;
	if ((err = facts_get(der, len, &f)) != VOUCHER_OK)
		return err;
	if (f.ski_err != VOUCHER_OK)
		return f.ski_err;
	if ((*out = malloc(f.ski_len)) == NULL)
		return VOUCHER_ENOMEM;
	memcpy(*out, f.ski, f.ski_len);
	*out_len = f.ski_len;
	return VOUCHER_OK;
}

/* ---- chains ------------------------------------------------------------- */

void voucher_x509_chain_free(struct voucher_x509_chain *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->len; i++)
		free(c->der[i]);
	free(c->der);
	free(c->der_len);
	free(c);
}

static voucher_err chain_append(struct voucher_x509_chain *c, const uint8_t *der, size_t len)
{
	if (c->len >= BRSKI_MAX_CERT_CHAIN)
		return VOUCHER_E_TOO_LARGE;
	if (len > VL_MAX_CERT)
		return VOUCHER_E_TOO_LARGE;
	uint8_t *copy = malloc(len);
	if (copy == NULL)
		return VOUCHER_ENOMEM;
	memcpy(copy, der, len);
	c->der[c->len] = copy;
	c->der_len[c->len] = len;
	c->len++;
	return VOUCHER_OK;
}

voucher_err voucher_x509_chain_load_mem(const uint8_t *data, size_t len,
                                        struct voucher_x509_chain **out)
{
	struct voucher_x509_chain *c = NULL;
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	voucher_err err;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if (data == NULL || len == 0)
		return VOUCHER_E_CERT;
	if (len > MAX_CHAIN_INPUT)
		return VOUCHER_E_TOO_LARGE;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->der = calloc(BRSKI_MAX_CERT_CHAIN, sizeof(*c->der))) == NULL ||
	    (c->der_len = calloc(BRSKI_MAX_CERT_CHAIN, sizeof(*c->der_len))) == NULL) {
		err = VOUCHER_ENOMEM;
		goto out;
	}
	if (data[0] == 0x30) {
		/* A single DER certificate; it must be the whole input. */
		gnutls_x509_crt_t crt = NULL;
		uint8_t tag;
		size_t hdr, vlen;
		if (tlv(data, len, &tag, &hdr, &vlen) < 0) {
			err = VOUCHER_E_CERT;
			goto out;
		}
		if (hdr + vlen != len) {
			err = VOUCHER_E_TRAILING_DATA;
			goto out;
		}
		if ((err = vl_crt_from_der(data, len, &crt)) != VOUCHER_OK)
			goto out;
		gnutls_x509_crt_deinit(crt);
		err = chain_append(c, data, len);
		goto out;
	}
	gnutls_datum_t d = {(unsigned char *)data, (unsigned)len};
	int rc = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		goto out;
	}
	if (n == 0) {
		err = VOUCHER_E_CERT;
		goto out;
	}
	err = VOUCHER_OK;
	for (unsigned i = 0; i < n && err == VOUCHER_OK; i++) {
		gnutls_datum_t der = {NULL, 0};
		rc = gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_DER, &der);
		if (rc < 0)
			err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		else
			err = chain_append(c, der.data, der.size);
		gnutls_free(der.data);
	}
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	if (err == VOUCHER_OK) {
		*out = c;
		c = NULL;
	}
	voucher_x509_chain_free(c);
	return err;
}

voucher_err vl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	struct brski_buf b;
	uint8_t chunk[4096];
	voucher_err err = VOUCHER_OK;
	int fd;

	*out = NULL;
	*out_len = 0;
	if (path == NULL)
		return VOUCHER_EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	brski_buf_init(&b, max);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		if ((err = brski_buf_put(&b, chunk, (size_t)r)) != VOUCHER_OK)
			break;
	}
	close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	if (err == VOUCHER_OK && b.len == 0)
		err = VOUCHER_E_MALFORMED;
	if (err == VOUCHER_OK)
		*out = brski_buf_take(&b, out_len);
	brski_buf_free(&b);
	return err;
}

voucher_err voucher_x509_chain_load_file(const char *path, struct voucher_x509_chain **out)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	voucher_err err = vl_read_file(path, MAX_CHAIN_INPUT, &data, &len);
	if (err == VOUCHER_OK)
		err = voucher_x509_chain_load_mem(data, len, out);
	free(data);
	return err;
}
