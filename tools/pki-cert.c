/*
 * brski pki: keys and certificates, written once for every profile.
 *
 * A profile row says what kind of certificate it is; pki_cred_issue() turns
 * a row plus a subject into a signed certificate with the GnuTLS X.509 API.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/compat.h"
#include "tools/pki.h"

/* X.520 serialNumber: the pledge identity in an IDevID subject (RFC 8995 2.3.1). */
#define OID_X520_SERIAL_NUMBER "2.5.4.5"
/* id-pe-masa-url (RFC 8995 2.3.2). */
#define OID_MASA_URL "1.3.6.1.5.5.7.1.32"
/* id-kp-cmcRA: marks a registrar (RFC 8995 5.5, RFC 6402). */
#define OID_KP_CMC_RA "1.3.6.1.5.5.7.3.28"

#define DAY          (24 * 60 * 60)
#define BACKDATE     (60 * 60)
#define SERIAL_BYTES 16
#define KEY_ID_MAX   64
#define MASA_URL_MAX 255 /* bounded so the DER length fits two bytes */

voucher_err pki_fail(struct pki_err *err, voucher_err r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return r;
}

static const struct {
	const char *name;
	const char *label;
	gnutls_pk_algorithm_t pk;
	unsigned bits;
	/* Hash for certificate signatures; EdDSA hashes internally, and
	 * GNUTLS_DIG_UNKNOWN lets GnuTLS pick the one that belongs to it. */
	gnutls_digest_algorithm_t dig;
} key_types[] = {
        [PKI_KEY_P256] = {"p256", "ECDSA P-256", GNUTLS_PK_ECDSA,
                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), GNUTLS_DIG_SHA256},
        [PKI_KEY_P384] = {"p384", "ECDSA P-384", GNUTLS_PK_ECDSA,
                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), GNUTLS_DIG_SHA384},
        [PKI_KEY_ED25519] = {"ed25519", "Ed25519", GNUTLS_PK_EDDSA_ED25519,
                             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), GNUTLS_DIG_UNKNOWN},
        [PKI_KEY_RSA2048] = {"rsa2048", "RSA 2048", GNUTLS_PK_RSA, 2048, GNUTLS_DIG_SHA256},
};

voucher_err pki_key_type_parse(const char *s, enum pki_key_type *out)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		if (strcmp(s, key_types[i].name) == 0) {
			*out = (enum pki_key_type)i;
			return VOUCHER_OK;
		}
	}
	return VOUCHER_EINVAL;
}

const char *pki_key_type_label(enum pki_key_type kt)
{
	return key_types[kt].label;
}

/* keyUsage, EKUs, SANs and lifetime per profile. */
#define MAX_EKU 3
static const struct {
	bool ca;
	unsigned key_usage;
	const char *eku[MAX_EKU];
	bool loopback_san; /* IP:127.0.0.1 and DNS:localhost */
	unsigned days;     /* 0: no well-defined expiration (9999-12-31) */
} profiles[] = {
        [PKI_PROFILE_ROOT_CA] =
                {true, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, {NULL}, false, 3650},
        /* 802.1AR asks for notAfter 99991231235959Z on an IDevID, which must
         * outlive any support contract. RFC 8995 2.3 recommends no usage
         * restrictions on an IDevID, so it gets no EKU; keyUsage names only
         * digitalSignature, which covers all an IDevID does (TLS client
         * authentication, signing voucher-requests), like every other leaf. */
        [PKI_PROFILE_IDEVID] = {false, GNUTLS_KEY_DIGITAL_SIGNATURE, {NULL}, false, 0},
        [PKI_PROFILE_SERVER] =
                {false, GNUTLS_KEY_DIGITAL_SIGNATURE, {GNUTLS_KP_TLS_WWW_SERVER}, true, 730},
        /* A registrar's certificate is its TLS server certificate toward
         * pledges, its TLS client certificate toward the MASA, and signs its
         * voucher-requests. */
        [PKI_PROFILE_REGISTRAR] = {false,
                                   GNUTLS_KEY_DIGITAL_SIGNATURE,
                                   {OID_KP_CMC_RA, GNUTLS_KP_TLS_WWW_SERVER,
                                    GNUTLS_KP_TLS_WWW_CLIENT},
                                   true,
                                   730},
        [PKI_PROFILE_SIGNER] = {false, GNUTLS_KEY_DIGITAL_SIGNATURE, {NULL}, false, 730},
};

void pki_cred_free(struct pki_cred *c)
{
	if (c == NULL)
		return;
	if (c->key != NULL)
		gnutls_privkey_deinit(c->key);
	if (c->xkey != NULL)
		gnutls_x509_privkey_deinit(c->xkey);
	if (c->crt != NULL)
		gnutls_x509_crt_deinit(c->crt);
	free(c);
}

static voucher_err gnutls_fail(struct pki_err *err, int g, const char *what, const char *cn)
{
	return pki_fail(err, VOUCHER_E_CRYPTO, "failed to %s for '%s' (GnuTLS: %s)", what, cn,
	                gnutls_strerror(g));
}

static voucher_err make_key(struct pki_cred *c, enum pki_key_type kt, const char *cn,
                            struct pki_err *err)
{
	int g;
	if ((g = gnutls_x509_privkey_init(&c->xkey)) < 0 ||
	    (g = gnutls_x509_privkey_generate2(c->xkey, key_types[kt].pk, key_types[kt].bits, 0,
	                                       NULL, 0)) < 0)
		return gnutls_fail(err, g, "generate a key", cn);
	/* No GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE: c->xkey stays ours, for export. */
	if ((g = gnutls_privkey_init(&c->key)) < 0 ||
	    (g = gnutls_privkey_import_x509(c->key, c->xkey, 0)) < 0)
		return gnutls_fail(err, g, "use the new key", cn);
	return VOUCHER_OK;
}

/* A positive serial of SERIAL_BYTES with a non-zero first octet, so that its
 * DER INTEGER is exactly that long (RFC 5280 4.1.2.2: at most 20 octets). */
static voucher_err set_serial(gnutls_x509_crt_t crt, const char *cn, struct pki_err *err)
{
	uint8_t serial[SERIAL_BYTES];
	int g = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	if (g < 0)
		return gnutls_fail(err, g, "draw a serial number", cn);
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	if ((g = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0)
		return gnutls_fail(err, g, "set the serial number", cn);
	return VOUCHER_OK;
}

/* The extension value is the DER of MASAURLSyntax ::= IA5String. GnuTLS has
 * no generic IA5String encoder, and the TLV is three fields, so build it. */
static voucher_err set_masa_url(gnutls_x509_crt_t crt, const char *authority, const char *cn,
                                struct pki_err *err)
{
	size_t n = strlen(authority);
	if (n == 0 || n > MASA_URL_MAX)
		return pki_fail(err, VOUCHER_EINVAL, "MASA URL '%s' must be 1..%d characters",
		                authority, MASA_URL_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)authority[i] < 0x21 || (unsigned char)authority[i] > 0x7e)
			return pki_fail(err, VOUCHER_EINVAL,
			                "MASA URL '%s' must be printable ASCII (IA5String)",
			                authority);
	uint8_t der[3 + MASA_URL_MAX];
	size_t off = 0;
	der[off++] = 0x16; /* IA5String */
	if (n >= 0x80)
		der[off++] = 0x81; /* long form, one length octet */
	der[off++] = (uint8_t)n;
	memcpy(der + off, authority, n);
	int g = gnutls_x509_crt_set_extension_by_oid(crt, OID_MASA_URL, der, off + n, 0);
	if (g < 0)
		return gnutls_fail(err, g, "set the MASA URL extension", cn);
	return VOUCHER_OK;
}

static voucher_err set_subject(gnutls_x509_crt_t crt, const struct pki_subject *s,
                               struct pki_err *err)
{
	const struct {
		const char *oid;
		const char *value;
	} rdns[] = {
	        {GNUTLS_OID_X520_ORGANIZATION_NAME, s->org},
	        {GNUTLS_OID_X520_COMMON_NAME, s->cn},
	        {OID_X520_SERIAL_NUMBER, s->serial_number},
	};
	for (size_t i = 0; i < sizeof(rdns) / sizeof(rdns[0]); i++) {
		if (rdns[i].value == NULL)
			continue;
		int g = gnutls_x509_crt_set_dn_by_oid(crt, rdns[i].oid, 0, rdns[i].value,
		                                      (unsigned)strlen(rdns[i].value));
		if (g < 0)
			return gnutls_fail(err, g, "set the subject", s->cn);
	}
	return VOUCHER_OK;
}

static voucher_err set_loopback_san(gnutls_x509_crt_t crt, const char *cn, struct pki_err *err)
{
	static const uint8_t ip[4] = {127, 0, 0, 1};
	static const char dns[] = "localhost";
	int g;
	if ((g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, sizeof(ip),
	                                              GNUTLS_FSAN_APPEND)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns, sizeof(dns) - 1,
	                                              GNUTLS_FSAN_APPEND)) < 0)
		return gnutls_fail(err, g, "set subjectAltName", cn);
	return VOUCHER_OK;
}

/* SKI from the new key (SHA-1, RFC 5280 4.2.1.2 method 1); AKI = the
 * issuer's SKI, also for the IDevID, whose AKI is the RFC 8366bis
 * idevid-issuer. */
static voucher_err set_key_ids(struct pki_cred *c, const struct pki_cred *issuer, const char *cn,
                               struct pki_err *err)
{
	uint8_t id[KEY_ID_MAX];
	size_t n = sizeof(id);
	unsigned critical = 0;
	int g = gnutls_x509_privkey_get_key_id(c->xkey, GNUTLS_KEYID_USE_SHA1, id, &n);
	if (g < 0 || (g = gnutls_x509_crt_set_subject_key_id(c->crt, id, n)) < 0)
		return gnutls_fail(err, g, "set the subject key identifier", cn);
	if (issuer == NULL)
		return VOUCHER_OK;
	n = sizeof(id);
	g = gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &n, &critical);
	if (g < 0 || (g = gnutls_x509_crt_set_authority_key_id(c->crt, id, n)) < 0)
		return gnutls_fail(err, g, "set the authority key identifier", cn);
	return VOUCHER_OK;
}

/* GnuTLS documents that a certificate just signed is not fully usable (for
 * example as an issuer) until exported and imported again. */
static voucher_err reload(struct pki_cred *c, const char *cn, struct pki_err *err)
{
	gnutls_datum_t der = {NULL, 0};
	gnutls_x509_crt_t fresh = NULL;
	int g = gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &der);
	if (g >= 0 && (g = gnutls_x509_crt_init(&fresh)) >= 0)
		g = gnutls_x509_crt_import(fresh, &der, GNUTLS_X509_FMT_DER);
	gnutls_free(der.data);
	if (g < 0) {
		if (fresh != NULL)
			gnutls_x509_crt_deinit(fresh);
		return gnutls_fail(err, g, "re-read the signed certificate", cn);
	}
	gnutls_x509_crt_deinit(c->crt);
	c->crt = fresh;
	return VOUCHER_OK;
}

voucher_err pki_cred_issue(enum pki_profile profile, const struct pki_subject *subj,
                           enum pki_key_type kt, const struct pki_cred *issuer, time_t now,
                           struct pki_cred **out, struct pki_err *err)
{
	const char *cn = subj->cn;
	struct pki_cred *c = NULL;
	voucher_err r;
	int g;

	*out = NULL;
	if ((issuer == NULL) != (profile == PKI_PROFILE_ROOT_CA))
		return pki_fail(err, VOUCHER_EINVAL, "'%s': only a root CA is self-signed", cn);
	if ((profile == PKI_PROFILE_IDEVID) !=
	    (subj->serial_number != NULL && subj->masa_authority != NULL))
		return pki_fail(err, VOUCHER_EINVAL,
		                "'%s': an IDevID, and only an IDevID, has a serialNumber and "
		                "a MASA URL",
		                cn);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return pki_fail(err, VOUCHER_ENOMEM, "out of memory issuing '%s'", cn);
	if ((r = make_key(c, kt, cn, err)) != VOUCHER_OK)
		goto out;
	if ((g = gnutls_x509_crt_init(&c->crt)) < 0 ||
	    (g = gnutls_x509_crt_set_version(c->crt, 3)) < 0 ||
	    (g = gnutls_x509_crt_set_key(c->crt, c->xkey)) < 0) {
		r = gnutls_fail(err, g, "start the certificate", cn);
		goto out;
	}
	if ((r = set_subject(c->crt, subj, err)) != VOUCHER_OK ||
	    (r = set_serial(c->crt, cn, err)) != VOUCHER_OK ||
	    (r = set_key_ids(c, issuer, cn, err)) != VOUCHER_OK)
		goto out;

	/* (time_t)-1 is GnuTLS's "no well-defined expiration": 99991231235959Z. */
	time_t not_after = profiles[profile].days == 0 ? (time_t)-1
	                                               : now + (time_t)profiles[profile].days * DAY;
	if ((g = gnutls_x509_crt_set_activation_time(c->crt, now - BACKDATE)) < 0 ||
	    (g = gnutls_x509_crt_set_expiration_time(c->crt, not_after)) < 0) {
		r = gnutls_fail(err, g, "set the validity", cn);
		goto out;
	}
	if ((g = gnutls_x509_crt_set_basic_constraints(c->crt, profiles[profile].ca, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(c->crt, profiles[profile].key_usage)) < 0) {
		r = gnutls_fail(err, g, "set basicConstraints and keyUsage", cn);
		goto out;
	}
	for (size_t i = 0; i < MAX_EKU && profiles[profile].eku[i] != NULL; i++) {
		g = gnutls_x509_crt_set_key_purpose_oid(c->crt, profiles[profile].eku[i], 0);
		if (g < 0) {
			r = gnutls_fail(err, g, "set extendedKeyUsage", cn);
			goto out;
		}
	}
	if (profiles[profile].loopback_san && (r = set_loopback_san(c->crt, cn, err)) != VOUCHER_OK)
		goto out;
	if (subj->masa_authority != NULL &&
	    (r = set_masa_url(c->crt, subj->masa_authority, cn, err)) != VOUCHER_OK)
		goto out;

	const struct pki_cred *signer = issuer != NULL ? issuer : c;
	g = gnutls_x509_crt_privkey_sign(c->crt, signer->crt, signer->key, key_types[kt].dig, 0);
	if (g < 0) {
		r = gnutls_fail(err, g, "sign the certificate", cn);
		goto out;
	}
	if ((r = reload(c, cn, err)) != VOUCHER_OK)
		goto out;
	*out = c;
	c = NULL;
	r = VOUCHER_OK;
out:
	pki_cred_free(c);
	return r;
}

static voucher_err export_crt(const struct pki_cred *c, gnutls_datum_t *pem, struct pki_err *err)
{
	int g = gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_PEM, pem);
	if (g < 0)
		return pki_fail(err, VOUCHER_E_CRYPTO,
		                "failed to encode a certificate (GnuTLS: %s)", gnutls_strerror(g));
	return VOUCHER_OK;
}

voucher_err pki_cred_write(const struct pki_cred *c, const struct pki_cred *issuer,
                           const struct pki_files *f, struct pki_err *err)
{
	gnutls_datum_t leaf = {NULL, 0}, up = {NULL, 0}, key = {NULL, 0};
	uint8_t *chain = NULL;
	size_t chain_len = 0;
	voucher_err r;
	int g;

	if ((f->chain[0] != '\0') != (issuer != NULL))
		return pki_fail(err, VOUCHER_EINVAL, "%s: a chain file needs its issuer", f->crt);
	if ((r = export_crt(c, &leaf, err)) != VOUCHER_OK ||
	    (r = pki_write_file(f->crt, leaf.data, leaf.size, 0644, err)) != VOUCHER_OK)
		goto out;
	if (issuer != NULL) {
		if ((r = export_crt(issuer, &up, err)) != VOUCHER_OK)
			goto out;
		chain_len = (size_t)leaf.size + up.size;
		chain = malloc(chain_len);
		if (chain == NULL) {
			r = pki_fail(err, VOUCHER_ENOMEM, "out of memory writing %s", f->chain);
			goto out;
		}
		memcpy(chain, leaf.data, leaf.size);
		memcpy(chain + leaf.size, up.data, up.size);
		if ((r = pki_write_file(f->chain, chain, chain_len, 0644, err)) != VOUCHER_OK)
			goto out;
	}
	/* PKCS#8 is what GnuTLS, OpenSSL and curl all read without hints. */
	g = gnutls_x509_privkey_export2_pkcs8(c->xkey, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
	                                      &key);
	if (g < 0) {
		r = pki_fail(err, VOUCHER_E_CRYPTO, "failed to encode the key for %s (GnuTLS: %s)",
		             f->key, gnutls_strerror(g));
		goto out;
	}
	r = pki_write_file(f->key, key.data, key.size, 0600, err);
out:
	if (key.data != NULL) {
		explicit_bzero(key.data, key.size);
		gnutls_free(key.data);
	}
	gnutls_free(leaf.data);
	gnutls_free(up.data);
	free(chain);
	return r;
}

void pki_cred_not_after(const struct pki_cred *c, char out[16])
{
	time_t t = gnutls_x509_crt_get_expiration_time(c->crt);
	struct tm tm;
	/* 9999-12-31 does not fit a 32-bit time_t; GnuTLS then returns -1. */
	if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL || strftime(out, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 16, "9999-12-31");
}
