/*
 * CMS SignedData for application/voucher-cms+json (RFC 8366 section 5.4,
 * RFC 5652), built and parsed with libtasn1 from our own ASN.1 module
 * (cms.asn). gnutls_pkcs7_sign always writes eContentType id-data, and the
 * voucher wants id-ct-animaJSONVoucher, so we assemble the structure
 * ourselves and sign the DER signed attributes with gnutls_privkey.
 *
 * Verification takes the bytes received: the message digest is computed
 * over the eContent octets as carried, and the signature over the signed
 * attributes exactly as they were sent (with the SET tag put back, RFC 5652
 * section 5.4), never over a re-encoding.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <libtasn1.h>

#include <voucher/sign.h>

#include "common/buf.h"
#include "common/compat.h"
#include "envelope.h"

/* Generated from cms.asn by asn1Parser (see cms.inc). */
extern const asn1_static_node vl_cms_asn1_tab[];

#define OID_SIGNED_DATA    "1.2.840.113549.1.7.2"
#define OID_DATA           "1.2.840.113549.1.7.1"
#define OID_VOUCHER        "1.2.840.113549.1.9.16.1.40"
#define OID_CONTENT_TYPE   "1.2.840.113549.1.9.3"
#define OID_MESSAGE_DIGEST "1.2.840.113549.1.9.4"
#define OID_SIGNING_TIME   "1.2.840.113549.1.9.5"

/* DER of the two eContentType values we accept, as the content-type
 * attribute carries them. */
static const uint8_t der_oid_voucher[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                          0x0d, 0x01, 0x09, 0x10, 0x01, 0x28};
static const uint8_t der_oid_data[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                       0xf7, 0x0d, 0x01, 0x07, 0x01};
static const uint8_t der_null[] = {0x05, 0x00};

#define MAX_SIGNED_ATTRS 16
#define MAX_SIGNATURE    1024

static const struct {
	const char *oid;
	gnutls_digest_algorithm_t dig;
} digests[] = {
        {"2.16.840.1.101.3.4.2.1", GNUTLS_DIG_SHA256},
        {"2.16.840.1.101.3.4.2.2", GNUTLS_DIG_SHA384},
        {"2.16.840.1.101.3.4.2.3", GNUTLS_DIG_SHA512},
};

/* Signature algorithm OIDs; GNUTLS_DIG_UNKNOWN means "the hash named by
 * the SignerInfo's digestAlgorithm". */
static const struct {
	const char *oid;
	gnutls_pk_algorithm_t pk;
	gnutls_digest_algorithm_t dig;
} sigalgs[] = {
        {"1.2.840.10045.4.3.2", GNUTLS_PK_ECDSA, GNUTLS_DIG_SHA256},
        {"1.2.840.10045.4.3.3", GNUTLS_PK_ECDSA, GNUTLS_DIG_SHA384},
        {"1.2.840.10045.4.3.4", GNUTLS_PK_ECDSA, GNUTLS_DIG_SHA512},
        {"1.2.840.10045.2.1", GNUTLS_PK_ECDSA, GNUTLS_DIG_UNKNOWN},
        {"1.2.840.113549.1.1.1", GNUTLS_PK_RSA, GNUTLS_DIG_UNKNOWN},
        {"1.2.840.113549.1.1.11", GNUTLS_PK_RSA, GNUTLS_DIG_SHA256},
        {"1.2.840.113549.1.1.12", GNUTLS_PK_RSA, GNUTLS_DIG_SHA384},
        {"1.2.840.113549.1.1.13", GNUTLS_PK_RSA, GNUTLS_DIG_SHA512},
        {"1.3.101.112", GNUTLS_PK_EDDSA_ED25519, GNUTLS_DIG_UNKNOWN},
};

/* ---- the ASN.1 definitions, parsed once per process ---------------------- */

static asn1_node cms_defs;
static int cms_defs_rc = ASN1_GENERIC_ERROR;
static pthread_once_t cms_defs_once = PTHREAD_ONCE_INIT;

static void cms_defs_init(void)
{
	char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	cms_defs_rc = asn1_array2tree(vl_cms_asn1_tab, &cms_defs, err);
}

/* Process-wide, read-only after the first call: the definitions tree is
 * never freed (like GnuTLS's own pkix tree). */
static voucher_err defs(asn1_node *out)
{
	pthread_once(&cms_defs_once, cms_defs_init);
	*out = cms_defs;
	return cms_defs_rc == ASN1_SUCCESS ? VOUCHER_OK : VOUCHER_E_CRYPTO;
}

static voucher_err asn_err(int rc, voucher_err fallback)
{
	if (rc == ASN1_SUCCESS)
		return VOUCHER_OK;
	if (rc == ASN1_MEM_ALLOC_ERROR)
		return VOUCHER_ENOMEM;
	return fallback;
}

static const char *digest_oid(gnutls_digest_algorithm_t dig)
{
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (digests[i].dig == dig)
			return digests[i].oid;
	return NULL;
}

/* ---- signing --------------------------------------------------------------- */

/* DER of the signing time: UTCTime through 2049, GeneralizedTime after
 * (RFC 5652 section 11.3). */
static voucher_err signing_time(uint8_t *buf, size_t *len)
{
	time_t now = time(NULL);
	struct tm tm;
	char s[20];

	if (gmtime_r(&now, &tm) == NULL)
		return VOUCHER_E_CRYPTO;
	int year = tm.tm_year + 1900;
	int n;
	if (year >= 1950 && year < 2050)
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
		             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
		             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n <= 0 || (size_t)n >= sizeof(s))
		return VOUCHER_E_CRYPTO;
	buf[0] = (year >= 1950 && year < 2050) ? 0x17 : 0x18;
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, s, (size_t)n);
	*len = 2 + (size_t)n;
	return VOUCHER_OK;
}

struct attr {
	const char *oid;
	const uint8_t *val; /* DER TLV */
	size_t len;
};

/* Append the attributes to the SET OF Attribute at name in node. */
static voucher_err write_attrs(asn1_node node, const char *name, const struct attr *a, size_t n)
{
	char path[128];
	int rc = ASN1_SUCCESS;
	/* Children of the top node are named without a leading dot. */
	const char *dot = *name ? "." : "";

	for (size_t i = 0; i < n && rc == ASN1_SUCCESS; i++) {
		if ((rc = asn1_write_value(node, name, "NEW", 1)) != ASN1_SUCCESS)
			break;
		snprintf(path, sizeof(path), "%s%s?LAST.attrType", name, dot);
		if ((rc = asn1_write_value(node, path, a[i].oid, 1)) != ASN1_SUCCESS)
			break;
		snprintf(path, sizeof(path), "%s%s?LAST.attrValues", name, dot);
		if ((rc = asn1_write_value(node, path, "NEW", 1)) != ASN1_SUCCESS)
			break;
		snprintf(path, sizeof(path), "%s%s?LAST.attrValues.?LAST", name, dot);
		rc = asn1_write_value(node, path, a[i].val, (int)a[i].len);
	}
	return asn_err(rc, VOUCHER_E_CRYPTO);
}

/* DER-encode node (or its part name) into a malloc'd buffer. */
static voucher_err encode(asn1_node node, const char *name, uint8_t **out, size_t *out_len)
{
	char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	int len = 0;

	*out = NULL;
	*out_len = 0;
	int rc = asn1_der_coding(node, name, NULL, &len, err);
	if (rc != ASN1_MEM_ERROR || len <= 0)
		return asn_err(rc, VOUCHER_E_CRYPTO);
	uint8_t *buf = malloc((size_t)len);
	if (buf == NULL)
		return VOUCHER_ENOMEM;
	rc = asn1_der_coding(node, name, buf, &len, err);
	if (rc != ASN1_SUCCESS) {
		free(buf);
		return asn_err(rc, VOUCHER_E_CRYPTO);
	}
	*out = buf;
	*out_len = (size_t)len;
	return VOUCHER_OK;
}

/* signatureAlgorithm for the signer's key: the classic CMS choices that
 * OpenSSL writes and every verifier reads. */
static void sigalg_for(gnutls_pk_algorithm_t pk, const char **oid, const uint8_t **params,
                       size_t *params_len)
{
	*params = NULL;
	*params_len = 0;
	switch (pk) {
	case GNUTLS_PK_ECDSA:
		*oid = "1.2.840.10045.4.3.2"; /* ecdsa-with-SHA256 */
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		*oid = "1.3.101.112";
		break;
	default:
		*oid = "1.2.840.113549.1.1.11"; /* sha256WithRSAEncryption */
		*params = der_null;
		*params_len = sizeof(der_null);
		break;
	}
}

voucher_err vl_cms_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                        uint8_t **out, size_t *out_len)
{
	asn1_node d = NULL, ci = NULL;
	uint8_t md[64 + 2], st[20], *attrs_der = NULL;
	size_t md_len, st_len = 0, attrs_len = 0;
	gnutls_datum_t sig = {NULL, 0}, issuer = {NULL, 0};
	uint8_t serial[64];
	size_t serial_len = sizeof(serial);
	voucher_err err;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((err = defs(&d)) != VOUCHER_OK)
		return err;
	gnutls_pk_algorithm_t pk = vl_signer_pk(s, NULL);
	/* RFC 8419 section 3: with signed attributes, Ed25519 uses SHA-512
	 * for the message digest. Everything else: SHA-256. */
	gnutls_digest_algorithm_t dig =
	        pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512 : GNUTLS_DIG_SHA256;
	md_len = gnutls_hash_get_len(dig);
	md[0] = 0x04;
	md[1] = (uint8_t)md_len;
	if ((rc = gnutls_hash_fast(dig, payload, payload_len, md + 2)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	if ((err = signing_time(st, &st_len)) != VOUCHER_OK)
		return err;
	const struct attr a[] = {
	        {OID_CONTENT_TYPE, der_oid_voucher, sizeof(der_oid_voucher)},
	        {OID_SIGNING_TIME, st, st_len},
	        {OID_MESSAGE_DIGEST, md, md_len + 2},
	};

	gnutls_x509_crt_t leaf = vl_signer_chain_crt(s, 0);
	if ((rc = gnutls_x509_crt_get_raw_issuer_dn(leaf, &issuer)) < 0 ||
	    (rc = gnutls_x509_crt_get_serial(leaf, serial, &serial_len)) < 0) {
		err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		goto out;
	}

	const char *sig_oid;
	const uint8_t *sig_params;
	size_t sig_params_len;
	sigalg_for(pk, &sig_oid, &sig_params, &sig_params_len);

	err = VOUCHER_E_CRYPTO;
	if ((rc = asn1_create_element(d, "VoucherCMS.SignedContentInfo", &ci)) != ASN1_SUCCESS)
		goto asn;
#define W(name, val, len)                                                                          \
	do {                                                                                       \
		if ((rc = asn1_write_value(ci, name, val, (int)(len))) != ASN1_SUCCESS)            \
			goto asn;                                                                  \
	} while (0)
	W("contentType", OID_SIGNED_DATA, 1);
	/* v3: eContentType is not id-data (RFC 5652 section 5.1). */
	W("content.version", "3", 0);
	W("content.digestAlgorithms", "NEW", 1);
	W("content.digestAlgorithms.?LAST.algorithm", digest_oid(dig), 1);
	W("content.digestAlgorithms.?LAST.parameters", NULL, 0);
	W("content.encapContentInfo.eContentType", OID_VOUCHER, 1);
	W("content.encapContentInfo.eContent", payload_len ? payload : (const uint8_t *)"",
	  payload_len);
	for (size_t i = 0; i < vl_signer_chain_len(s); i++) {
		const gnutls_datum_t *c = vl_signer_chain_der(s, i);
		W("content.certificates", "NEW", 1);
		W("content.certificates.?LAST", c->data, c->size);
	}
	W("content.crls", NULL, 0);
	W("content.signerInfos", "NEW", 1);
	/* issuerAndSerialNumber, hence SignerInfo v1. */
	W("content.signerInfos.?LAST.version", "1", 0);
	W("content.signerInfos.?LAST.sid", "issuerAndSerialNumber", 1);
	W("content.signerInfos.?LAST.sid.issuerAndSerialNumber.issuer", issuer.data, issuer.size);
	W("content.signerInfos.?LAST.sid.issuerAndSerialNumber.serialNumber", serial, serial_len);
	W("content.signerInfos.?LAST.digestAlgorithm.algorithm", digest_oid(dig), 1);
	W("content.signerInfos.?LAST.digestAlgorithm.parameters", NULL, 0);
	W("content.signerInfos.?LAST.signatureAlgorithm.algorithm", sig_oid, 1);
	W("content.signerInfos.?LAST.signatureAlgorithm.parameters", sig_params, sig_params_len);
	W("content.signerInfos.?LAST.unsignedAttrs", NULL, 0);
	if ((err = write_attrs(ci, "content.signerInfos.?LAST.signedAttrs", a, 3)) != VOUCHER_OK)
		goto out;
	/* The signature covers the DER of the signed attributes with the SET
	 * tag instead of [0] IMPLICIT (RFC 5652 section 5.4); libtasn1 sorts
	 * the SET OF as DER wants. */
	if ((err = encode(ci, "content.signerInfos.?LAST.signedAttrs", &attrs_der, &attrs_len)) !=
	    VOUCHER_OK)
		goto out;
	if (attrs_len < 2 || attrs_der[0] != 0xa0) {
		err = VOUCHER_E_CRYPTO;
		goto out;
	}
	attrs_der[0] = 0x31;
	if ((err = vl_signer_sign(s, dig, attrs_der, attrs_len, &sig)) != VOUCHER_OK)
		goto out;
	W("content.signerInfos.?LAST.signature", sig.data, sig.size);
#undef W
	err = encode(ci, "", out, out_len);
	goto out;
asn:
	err = asn_err(rc, VOUCHER_E_CRYPTO);
out:
	asn1_delete_structure(&ci);
	free(attrs_der);
	gnutls_free(sig.data);
	gnutls_free(issuer.data);
	return err;
}

/* ---- verification ---------------------------------------------------------- */

/* Read a value of at most max bytes into a malloc'd buffer. */
static voucher_err read_alloc(asn1_node node, const char *name, size_t max, uint8_t **out,
                              size_t *out_len)
{
	int len = 0;

	*out = NULL;
	*out_len = 0;
	int rc = asn1_read_value(node, name, NULL, &len);
	if (rc == ASN1_ELEMENT_NOT_FOUND || rc == ASN1_VALUE_NOT_FOUND)
		return VOUCHER_E_MISSING;
	if (rc != ASN1_MEM_ERROR && rc != ASN1_SUCCESS)
		return asn_err(rc, VOUCHER_E_MALFORMED);
	if (len < 0 || (size_t)len > max)
		return VOUCHER_E_TOO_LARGE;
	uint8_t *buf = malloc(len ? (size_t)len : 1);
	if (buf == NULL)
		return VOUCHER_ENOMEM;
	if (len > 0 && (rc = asn1_read_value(node, name, buf, &len)) != ASN1_SUCCESS) {
		free(buf);
		return asn_err(rc, VOUCHER_E_MALFORMED);
	}
	*out = buf;
	*out_len = (size_t)len;
	return VOUCHER_OK;
}

/* Read a value into a fixed buffer (OIDs come back NUL-terminated). */
static voucher_err read_fixed(asn1_node node, const char *name, void *buf, int size, int *len)
{
	*len = size;
	int rc = asn1_read_value(node, name, buf, len);
	if (rc == ASN1_ELEMENT_NOT_FOUND || rc == ASN1_VALUE_NOT_FOUND)
		return VOUCHER_E_MISSING;
	if (rc == ASN1_MEM_ERROR)
		return VOUCHER_E_MALFORMED;
	return asn_err(rc, VOUCHER_E_MALFORMED);
}

static voucher_err count(asn1_node node, const char *name, int *n)
{
	*n = 0;
	int rc = asn1_number_of_elements(node, name, n);
	if (rc == ASN1_ELEMENT_NOT_FOUND) {
		*n = 0;
		return VOUCHER_OK;
	}
	return asn_err(rc, VOUCHER_E_MALFORMED);
}

/* A small INTEGER (version fields). */
static voucher_err read_small_int(asn1_node node, const char *name, int *v)
{
	uint8_t b[4];
	int len;
	voucher_err err = read_fixed(node, name, b, sizeof(b), &len);
	if (err != VOUCHER_OK)
		return err;
	if (len != 1)
		return VOUCHER_E_MALFORMED;
	*v = b[0];
	return VOUCHER_OK;
}

static voucher_err lookup_digest(asn1_node node, const char *name, gnutls_digest_algorithm_t *dig)
{
	char oid[64];
	int len;
	voucher_err err = read_fixed(node, name, oid, sizeof(oid), &len);
	if (err == VOUCHER_E_MALFORMED)
		return VOUCHER_E_UNSUPPORTED_ALG;
	if (err != VOUCHER_OK)
		return err;
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		if (strcmp(oid, digests[i].oid) == 0) {
			*dig = digests[i].dig;
			return VOUCHER_OK;
		}
	return VOUCHER_E_UNSUPPORTED_ALG;
}

static voucher_err lookup_sigalg(asn1_node node, const char *name, gnutls_digest_algorithm_t dig,
                                 gnutls_sign_algorithm_t *algo)
{
	char oid[64];
	int len;
	voucher_err err = read_fixed(node, name, oid, sizeof(oid), &len);
	if (err == VOUCHER_E_MALFORMED)
		return VOUCHER_E_UNSUPPORTED_ALG;
	if (err != VOUCHER_OK)
		return err;
	for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++) {
		if (strcmp(oid, sigalgs[i].oid) != 0)
			continue;
		if (sigalgs[i].pk == GNUTLS_PK_EDDSA_ED25519) {
			*algo = GNUTLS_SIGN_EDDSA_ED25519;
			return VOUCHER_OK;
		}
		gnutls_digest_algorithm_t h =
		        sigalgs[i].dig != GNUTLS_DIG_UNKNOWN ? sigalgs[i].dig : dig;
		*algo = gnutls_pk_to_sign(sigalgs[i].pk, h);
		return *algo == GNUTLS_SIGN_UNKNOWN ? VOUCHER_E_UNSUPPORTED_ALG : VOUCHER_OK;
	}
	return VOUCHER_E_UNSUPPORTED_ALG;
}

/* SignedData.digestAlgorithms lists what the signers used (RFC 5652
 * section 5.1); it is not signed, so insist it agrees with the SignerInfo. */
static voucher_err check_digest_listed(asn1_node ci, gnutls_digest_algorithm_t dig)
{
	char path[64];
	int n;
	voucher_err err = count(ci, "content.digestAlgorithms", &n);
	if (err != VOUCHER_OK)
		return err;
	if (n > 8)
		return VOUCHER_E_TOO_LARGE;
	for (int i = 1; i <= n; i++) {
		gnutls_digest_algorithm_t d = GNUTLS_DIG_UNKNOWN;
		snprintf(path, sizeof(path), "content.digestAlgorithms.?%d.algorithm", i);
		err = lookup_digest(ci, path, &d);
		if (err == VOUCHER_OK && d == dig)
			return VOUCHER_OK;
		if (err != VOUCHER_OK && err != VOUCHER_E_UNSUPPORTED_ALG)
			return err;
	}
	return VOUCHER_E_MALFORMED;
}

struct certs {
	size_t n;
	gnutls_datum_t der[BRSKI_MAX_CERT_CHAIN]; /* malloc'd */
};

static void certs_free(struct certs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->der[i].data);
	c->n = 0;
}

static voucher_err read_certs(asn1_node ci, struct certs *c)
{
	char path[64];
	int n;
	voucher_err err = count(ci, "content.certificates", &n);
	if (err != VOUCHER_OK)
		return err;
	if (n > BRSKI_MAX_CERT_CHAIN)
		return VOUCHER_E_TOO_LARGE;
	for (int i = 1; i <= n; i++) {
		uint8_t *der;
		size_t len;
		snprintf(path, sizeof(path), "content.certificates.?%d", i);
		if ((err = read_alloc(ci, path, VL_MAX_CERT, &der, &len)) != VOUCHER_OK)
			return err;
		/* CertificateChoices: only plain certificates (a SEQUENCE);
		 * attribute and other certificates are not ours to use. */
		if (len == 0 || der[0] != 0x30) {
			free(der);
			continue;
		}
		c->der[c->n].data = der;
		c->der[c->n].size = (unsigned)len;
		c->n++;
	}
	return VOUCHER_OK;
}

/* A view into the bytes of a DER certificate. */
struct span {
	const uint8_t *p;
	size_t len;
};

/* Read the TLV at *pos (bounded by end): its tag, the whole TLV and its
 * value. -1 when it runs past end or the length is not DER. */
static int next_tlv(const uint8_t *in, size_t *pos, size_t end, uint8_t *tag, struct span *tlv,
                    struct span *val)
{
	int ll = 0;
	if (*pos >= end || end - *pos < 2 || end - *pos > INT32_MAX)
		return -1;
	long l = asn1_get_length_der(in + *pos + 1, (int)(end - *pos - 1), &ll);
	if (l < 0 || (size_t)l > end - *pos - 1 - (size_t)ll)
		return -1;
	*tag = in[*pos];
	size_t hdr = 1 + (size_t)ll;
	tlv->p = in + *pos;
	tlv->len = hdr + (size_t)l;
	val->p = in + *pos + hdr;
	val->len = (size_t)l;
	*pos += tlv->len;
	return 0;
}

/* The issuer Name (TLV), serialNumber (INTEGER contents) and
 * SubjectPublicKeyInfo (TLV) of a DER certificate, found by walking its
 * TBSCertificate rather than by a full parse: on the hot path the chain
 * was validated before (and a full parse happens in vl_chain_verify when
 * it was not). */
static int crt_fields(const gnutls_datum_t *der, struct span *issuer, struct span *serial,
                      struct span *spki)
{
	struct span tlv, val;
	uint8_t tag;
	size_t pos = 0;

	if (next_tlv(der->data, &pos, der->size, &tag, &tlv, &val) < 0 || tag != 0x30)
		return -1;
	size_t cpos = (size_t)(val.p - der->data), cend = cpos + val.len;
	if (next_tlv(der->data, &cpos, cend, &tag, &tlv, &val) < 0 || tag != 0x30)
		return -1; /* tbsCertificate */
	size_t tpos = (size_t)(val.p - der->data), tend = tpos + val.len;
	if (next_tlv(der->data, &tpos, tend, &tag, &tlv, &val) < 0)
		return -1;
	if (tag == 0xa0 && next_tlv(der->data, &tpos, tend, &tag, &tlv, &val) < 0)
		return -1; /* [0] version, then serialNumber */
	if (tag != 0x02)
		return -1;
	*serial = val;
	if (next_tlv(der->data, &tpos, tend, &tag, &tlv, &val) < 0 || tag != 0x30)
		return -1; /* signature */
	if (next_tlv(der->data, &tpos, tend, &tag, issuer, &val) < 0 || tag != 0x30)
		return -1;
	if (next_tlv(der->data, &tpos, tend, &tag, &tlv, &val) < 0 || tag != 0x30)
		return -1; /* validity */
	if (next_tlv(der->data, &tpos, tend, &tag, &tlv, &val) < 0 || tag != 0x30)
		return -1; /* subject */
	if (next_tlv(der->data, &tpos, tend, &tag, spki, &val) < 0 || tag != 0x30)
		return -1;
	return 0;
}

static int span_eq(const struct span *a, const uint8_t *b, size_t blen)
{
	return a->len == blen && memcmp(a->p, b, blen) == 0;
}

/* Find the certificate the SignerIdentifier names and import its public
 * key into *pub (caller deinits). */
static voucher_err find_signer(asn1_node ci, const struct certs *c, size_t *idx,
                               gnutls_pubkey_t *pub)
{
	const char *sid = "content.signerInfos.?1.sid";
	char choice[64], path[96];
	uint8_t *want_a = NULL, *want_b = NULL;
	size_t la = 0, lb = 0;
	int len, rc;
	struct span spki = {NULL, 0};
	voucher_err err = read_fixed(ci, sid, choice, sizeof(choice), &len);
	if (err != VOUCHER_OK)
		return err;
	int by_ski = strcmp(choice, "subjectKeyIdentifier") == 0;
	if (by_ski) {
		snprintf(path, sizeof(path), "%s.subjectKeyIdentifier", sid);
		if ((err = read_alloc(ci, path, 64, &want_a, &la)) != VOUCHER_OK)
			return err;
	} else if (strcmp(choice, "issuerAndSerialNumber") == 0) {
		snprintf(path, sizeof(path), "%s.issuerAndSerialNumber.issuer", sid);
		if ((err = read_alloc(ci, path, 4096, &want_a, &la)) != VOUCHER_OK)
			return err;
		snprintf(path, sizeof(path), "%s.issuerAndSerialNumber.serialNumber", sid);
		if ((err = read_alloc(ci, path, 64, &want_b, &lb)) != VOUCHER_OK) {
			free(want_a);
			return err;
		}
	} else {
		return VOUCHER_E_MALFORMED;
	}
	/* Not carried: we have nothing to verify with. */
	err = VOUCHER_E_CERT;
	for (size_t i = 0; i < c->n && err == VOUCHER_E_CERT; i++) {
		if (by_ski) {
			gnutls_x509_crt_t crt = NULL;
			uint8_t ski[64];
			size_t sl = sizeof(ski);
			unsigned crit;
			if (vl_crt_from_der(c->der[i].data, c->der[i].size, &crt) != VOUCHER_OK)
				continue;
			if (gnutls_x509_crt_get_subject_key_id(crt, ski, &sl, &crit) >= 0 &&
			    sl == la && memcmp(ski, want_a, la) == 0) {
				*idx = i;
				err = vl_crt_pubkey(crt, pub);
			}
			gnutls_x509_crt_deinit(crt);
		} else {
			struct span issuer, serial;
			if (crt_fields(&c->der[i], &issuer, &serial, &spki) < 0)
				continue;
			if (span_eq(&issuer, want_a, la) && span_eq(&serial, want_b, lb)) {
				*idx = i;
				gnutls_datum_t d = {(unsigned char *)spki.p, (unsigned)spki.len};
				if ((rc = gnutls_pubkey_init(pub)) < 0) {
					err = vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
				} else if ((rc = gnutls_pubkey_import(*pub, &d,
				                                      GNUTLS_X509_FMT_DER)) < 0) {
					gnutls_pubkey_deinit(*pub);
					*pub = NULL;
					err = vl_gnutls_err(rc, VOUCHER_E_CERT);
				} else {
					err = VOUCHER_OK;
				}
			}
		}
	}
	free(want_a);
	free(want_b);
	return err;
}

/* Check the signed attributes: present (rfc8366bis), one content-type equal
 * to eContentType, one message-digest equal to the digest of eContent. */
static voucher_err check_attrs(asn1_node ci, const uint8_t *ct_der, size_t ct_len,
                               const uint8_t *digest, size_t digest_len)
{
	const char *base = "content.signerInfos.?1.signedAttrs";
	char path[128], oid[64];
	int n, len, vals;
	int seen_ct = 0, seen_md = 0;
	voucher_err err = count(ci, base, &n);
	if (err != VOUCHER_OK)
		return err;
	if (n == 0)
		return VOUCHER_E_NO_SIGNED_ATTRS;
	if (n > MAX_SIGNED_ATTRS)
		return VOUCHER_E_TOO_LARGE;
	for (int i = 1; i <= n; i++) {
		snprintf(path, sizeof(path), "%s.?%d.attrType", base, i);
		if ((err = read_fixed(ci, path, oid, sizeof(oid), &len)) != VOUCHER_OK)
			return err == VOUCHER_E_MISSING ? VOUCHER_E_MALFORMED : err;
		int is_ct = strcmp(oid, OID_CONTENT_TYPE) == 0;
		int is_md = strcmp(oid, OID_MESSAGE_DIGEST) == 0;
		if (!is_ct && !is_md)
			continue;
		if ((is_ct && seen_ct++) || (is_md && seen_md++))
			return VOUCHER_E_DUPLICATE;
		snprintf(path, sizeof(path), "%s.?%d.attrValues", base, i);
		if ((err = count(ci, path, &vals)) != VOUCHER_OK)
			return err;
		if (vals != 1) /* RFC 5652 section 11.1, 11.2: exactly one */
			return VOUCHER_E_MALFORMED;
		uint8_t v[80];
		snprintf(path, sizeof(path), "%s.?%d.attrValues.?1", base, i);
		if ((err = read_fixed(ci, path, v, sizeof(v), &len)) != VOUCHER_OK)
			return err == VOUCHER_E_MISSING ? VOUCHER_E_MALFORMED : err;
		if (is_ct && ((size_t)len != ct_len || memcmp(v, ct_der, ct_len) != 0))
			return VOUCHER_E_CONTENT_TYPE;
		if (is_md && ((size_t)len != digest_len + 2 || v[0] != 0x04 || v[1] != digest_len ||
		              timingsafe_bcmp(v + 2, digest, digest_len) != 0))
			return VOUCHER_E_SIG_INVALID; /* the content was changed */
	}
	if (!seen_ct || !seen_md)
		return VOUCHER_E_MISSING;
	return VOUCHER_OK;
}

/* The outer TLV must cover the input exactly. */
static voucher_err check_outer(const uint8_t *in, size_t len)
{
	int ll = 0;
	if (len < 2 || in[0] != 0x30)
		return VOUCHER_E_MALFORMED;
	long l = asn1_get_length_der(in + 1, (int)len - 1, &ll);
	if (l < 0)
		return VOUCHER_E_MALFORMED;
	if ((size_t)l + 1 + (size_t)ll < len)
		return VOUCHER_E_TRAILING_DATA;
	return VOUCHER_OK;
}

#define MAX_DER_DEPTH 24

/* Every constructed element is exactly filled by its children, all lengths
 * are definite and minimal. libtasn1 does not check that an EXPLICIT
 * wrapper's length agrees with what it wraps, so we walk the whole TLV
 * tree first (iteratively: the depth is the sender's choice). */
static voucher_err check_der_nesting(const uint8_t *in, size_t len)
{
	size_t ends[MAX_DER_DEPTH];
	size_t depth = 0, pos = 0;

	while (pos < len) {
		while (depth > 0 && pos == ends[depth - 1])
			depth--;
		if (depth == 0 && pos != 0)
			return VOUCHER_E_TRAILING_DATA;
		size_t limit = depth ? ends[depth - 1] : len;
		if (limit - pos < 2 || (in[pos] & 0x1f) == 0x1f)
			return VOUCHER_E_MALFORMED; /* no multi-byte tags in CMS */
		uint8_t b = in[pos + 1];
		size_t hdr, vlen;
		if (b < 0x80) {
			hdr = 2;
			vlen = b;
		} else {
			size_t nb = b & 0x7f;
			if (nb == 0 || nb > 3 || limit - pos < 2 + nb || in[pos + 2] == 0)
				return VOUCHER_E_MALFORMED; /* indefinite, huge or padded */
			vlen = 0;
			for (size_t i = 0; i < nb; i++)
				vlen = vlen << 8 | in[pos + 2 + i];
			if (vlen < 0x80)
				return VOUCHER_E_MALFORMED; /* not minimal */
			hdr = 2 + nb;
		}
		if (vlen > limit - pos - hdr)
			return VOUCHER_E_MALFORMED;
		size_t end = pos + hdr + vlen;
		if (in[pos] & 0x20) {
			if (depth == MAX_DER_DEPTH)
				return VOUCHER_E_TOO_DEEP;
			ends[depth++] = end;
			pos += hdr;
		} else {
			pos = end;
		}
	}
	for (size_t i = 0; i < depth; i++)
		if (ends[i] != len)
			return VOUCHER_E_MALFORMED;
	return VOUCHER_OK;
}

voucher_err vl_cms_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                          struct voucher_verified **out)
{
	asn1_node d = NULL, ci = NULL;
	struct certs c = {0};
	struct voucher_verified *v = NULL;
	uint8_t *content = NULL, *sig = NULL, *attrs = NULL;
	size_t content_len = 0, sig_len = 0, attrs_len = 0, signer = 0;
	gnutls_pubkey_t pub = NULL;
	gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
	gnutls_sign_algorithm_t algo = GNUTLS_SIGN_UNKNOWN;
	char oid[64], errbuf[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	uint8_t digest[64];
	int olen, ver, n;
	voucher_err err;

	*out = NULL;
	if (len > VL_MAX_ENVELOPE)
		return VOUCHER_E_TOO_LARGE;
	if ((err = check_outer(in, len)) != VOUCHER_OK ||
	    (err = check_der_nesting(in, len)) != VOUCHER_OK)
		return err;
	if ((err = defs(&d)) != VOUCHER_OK)
		return err;
	if ((err = asn_err(asn1_create_element(d, "VoucherCMS.SignedContentInfo", &ci),
	                   VOUCHER_E_CRYPTO)) != VOUCHER_OK)
		return err;
	int used = (int)len;
	int rc = asn1_der_decoding2(&ci, in, &used,
	                            ASN1_DECODE_FLAG_ALLOW_PADDING | ASN1_DECODE_FLAG_STRICT_DER,
	                            errbuf);
	if (rc != ASN1_SUCCESS) {
		err = asn_err(rc, VOUCHER_E_MALFORMED);
		goto out;
	}
	if ((size_t)used != len) {
		err = VOUCHER_E_TRAILING_DATA;
		goto out;
	}
	if ((err = read_fixed(ci, "contentType", oid, sizeof(oid), &olen)) != VOUCHER_OK)
		goto out;
	if (strcmp(oid, OID_SIGNED_DATA) != 0) {
		err = VOUCHER_E_CONTENT_TYPE;
		goto out;
	}
	/* v1 (PKCS#7 style, what deployed peers send) and v3 (RFC 5652). */
	if ((err = read_small_int(ci, "content.version", &ver)) != VOUCHER_OK)
		goto out;
	if (ver != 1 && ver != 3) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	if ((err = read_fixed(ci, "content.encapContentInfo.eContentType", oid, sizeof(oid),
	                      &olen)) != VOUCHER_OK)
		goto out;
	const uint8_t *ct_der;
	size_t ct_len;
	int id_data = 0;
	if (strcmp(oid, OID_VOUCHER) == 0) {
		ct_der = der_oid_voucher;
		ct_len = sizeof(der_oid_voucher);
	} else if (strcmp(oid, OID_DATA) == 0) {
		ct_der = der_oid_data;
		ct_len = sizeof(der_oid_data);
		id_data = 1;
	} else {
		err = VOUCHER_E_CONTENT_TYPE;
		goto out;
	}
	/* Detached content has nothing for us to return: refuse it. */
	if ((err = read_alloc(ci, "content.encapContentInfo.eContent", VL_MAX_ENVELOPE, &content,
	                      &content_len)) != VOUCHER_OK)
		goto out;
	if ((err = read_certs(ci, &c)) != VOUCHER_OK)
		goto out;
	if ((err = count(ci, "content.signerInfos", &n)) != VOUCHER_OK)
		goto out;
	if (n != 1) {
		err = n == 0 ? VOUCHER_E_MISSING : VOUCHER_E_MALFORMED;
		goto out;
	}
	if ((err = read_small_int(ci, "content.signerInfos.?1.version", &ver)) != VOUCHER_OK)
		goto out;
	if (ver != 1 && ver != 3) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	if ((err = lookup_digest(ci, "content.signerInfos.?1.digestAlgorithm.algorithm", &dig)) !=
	            VOUCHER_OK ||
	    (err = lookup_sigalg(ci, "content.signerInfos.?1.signatureAlgorithm.algorithm", dig,
	                         &algo)) != VOUCHER_OK)
		goto out;
	if ((err = check_digest_listed(ci, dig)) != VOUCHER_OK)
		goto out;
	if ((rc = gnutls_hash_fast(dig, content, content_len, digest)) < 0) {
		err = vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
		goto out;
	}
	if ((err = check_attrs(ci, ct_der, ct_len, digest, gnutls_hash_get_len(dig))) != VOUCHER_OK)
		goto out;
	if ((err = read_alloc(ci, "content.signerInfos.?1.signature", MAX_SIGNATURE, &sig,
	                      &sig_len)) != VOUCHER_OK)
		goto out;
	/* The signed attributes as received, with the SET tag instead of
	 * [0] IMPLICIT (RFC 5652 section 5.4). */
	int start = 0, end = 0;
	rc = asn1_der_decoding_startEnd(ci, in, (int)len, "content.signerInfos.?1.signedAttrs",
	                                &start, &end);
	if (rc != ASN1_SUCCESS || start < 0 || end < start || (size_t)end >= len) {
		err = asn_err(rc, VOUCHER_E_MALFORMED);
		goto out;
	}
	attrs_len = (size_t)(end - start) + 1;
	if ((attrs = malloc(attrs_len)) == NULL) {
		err = VOUCHER_ENOMEM;
		goto out;
	}
	memcpy(attrs, in + start, attrs_len);
	if (attrs[0] != 0xa0) {
		err = VOUCHER_E_MALFORMED;
		goto out;
	}
	attrs[0] = 0x31;
	if ((err = find_signer(ci, &c, &signer, &pub)) != VOUCHER_OK)
		goto out;
	if ((err = vl_verify_data(pub, algo, attrs, attrs_len, sig, sig_len)) != VOUCHER_OK)
		goto out;
	if ((err = vl_verified_new(VOUCHER_ENV_CMS, &v)) != VOUCHER_OK)
		goto out;
	v->cms_id_data = id_data;
	/* Hand the content over rather than copying it. */
	v->payload = content;
	v->payload_len = content_len;
	content = NULL;
	if ((err = vl_chain_verify(trust, &c.der[signer], c.der, c.n, v)) != VOUCHER_OK)
		goto out;
	*out = v;
	v = NULL;
	err = VOUCHER_OK;
out:
	voucher_verified_free(v);
	gnutls_pubkey_deinit(pub);
	certs_free(&c);
	free(content);
	free(sig);
	free(attrs);
	asn1_delete_structure(&ci);
	return err;
}
