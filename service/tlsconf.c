/* TLS credentials, trust anchors and channel binding: see tlsconf.h. */
#include <config.h> /* the build's, not service/config.h */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include <voucher/x509.h>

#include "common/str.h"
#include "service/tlsconf.h"

#define MAX_PEM_FILE (1024 * 1024)

struct svc_creds {
	_Atomic unsigned refs;
	gnutls_pcert_st pcert[BRSKI_MAX_CERT_CHAIN];
	unsigned n;
	gnutls_privkey_t key;
	char serial[65];
};

struct svc_trust {
	_Atomic unsigned refs;
	gnutls_x509_trust_list_t list;
	size_t count;
	/* The same anchors in libvoucher, whose validations are cached
	 * (voucher_trust_check_chain): a chain that passed here passes the
	 * daemon's own check of the same chain against the same anchors (a
	 * pledge's voucher-request signer against the manufacturer CAs)
	 * without a second validation, and the other way round. NULL when
	 * it could not take every anchor: then only list is used. */
	struct voucher_trust *vt;
};

static voucher_err load_file(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
	int ret = gnutls_load_file(path, d);

	if (ret < 0) {
		snprintf(err, errlen, "cannot read '%s' (%s)", path, gnutls_strerror(ret));
		return VOUCHER_EIO;
	}
	if (d->size > MAX_PEM_FILE) {
		snprintf(err, errlen, "'%s' is larger than %d bytes", path, MAX_PEM_FILE);
		gnutls_free(d->data);
		d->data = NULL;
		return VOUCHER_E_TOO_LARGE;
	}
	return VOUCHER_OK;
}

static voucher_err key_matches(const struct svc_creds *c, char *err, size_t errlen)
{
	gnutls_pubkey_t pub = NULL;
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	voucher_err r = VOUCHER_OK;

	if (gnutls_pubkey_init(&pub) < 0)
		return VOUCHER_ENOMEM;
	/* A token may not expose the public half; then the handshake is the
	 * check. */
	if (gnutls_pubkey_import_privkey(pub, c->key, 0, 0) < 0)
		goto out;
	if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_pubkey_get_key_id(c->pcert[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0)
		goto out;
	if (alen != blen || memcmp(a, b, alen) != 0) {
		snprintf(err, errlen, "the private key does not belong to the first certificate");
		r = VOUCHER_E_KEY;
	}
out:
	gnutls_pubkey_deinit(pub);
	return r;
}

voucher_err svc_creds_load(const char *cert_path, const char *key, struct svc_creds **out,
                           char *err, size_t errlen)
{
	struct svc_creds *c = NULL;
	gnutls_datum_t certs = {NULL, 0}, keyd = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	int ret;
	voucher_err r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return VOUCHER_ENOMEM;
	atomic_init(&c->refs, 1);
	r = load_file(cert_path, &certs, err, errlen);
	if (r != VOUCHER_OK)
		goto out;
	c->n = BRSKI_MAX_CERT_CHAIN;
	ret = gnutls_pcert_list_import_x509_raw(c->pcert, &c->n, &certs, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || c->n == 0) {
		snprintf(err, errlen, "'%s': no usable certificate chain (%s)", cert_path,
		         ret < 0 ? gnutls_strerror(ret) : "empty");
		c->n = 0;
		r = VOUCHER_E_CERT;
		goto out;
	}
	if (gnutls_privkey_init(&c->key) < 0) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	if (brski_str_startswith(key, "pkcs11:")) {
		ret = gnutls_privkey_import_url(c->key, key, 0);
		if (ret < 0) {
			/* never echo the URI: it may carry pin-value */
			snprintf(err, errlen, "cannot use the PKCS#11 key (%s)",
			         gnutls_strerror(ret));
			r = VOUCHER_E_KEY;
			goto out;
		}
	} else {
		r = load_file(key, &keyd, err, errlen);
		if (r != VOUCHER_OK)
			goto out;
		ret = gnutls_privkey_import_x509_raw(c->key, &keyd, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (ret < 0) {
			snprintf(err, errlen, "'%s': no usable private key (%s)", key,
			         gnutls_strerror(ret));
			r = VOUCHER_E_KEY;
			goto out;
		}
	}
	r = key_matches(c, err, errlen);
	if (r != VOUCHER_OK)
		goto out;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &c->pcert[0].cert, GNUTLS_X509_FMT_DER) >= 0) {
		unsigned char ser[32];
		size_t sl = sizeof(ser);
		if (gnutls_x509_crt_get_serial(crt, ser, &sl) >= 0)
			for (size_t i = 0; i < sl && i * 2 + 2 < sizeof(c->serial); i++)
				snprintf(c->serial + i * 2, 3, "%02x", ser[i]);
	}
	*out = c;
	c = NULL;
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_free(certs.data);
	if (keyd.data) {
		gnutls_memset(keyd.data, 0, keyd.size);
		gnutls_free(keyd.data);
	}
	svc_creds_unref(c);
	return r;
}

struct svc_creds *svc_creds_ref(struct svc_creds *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void svc_creds_unref(struct svc_creds *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < c->n; i++)
		gnutls_pcert_deinit(&c->pcert[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

void svc_creds_get(struct svc_creds *c, gnutls_pcert_st **pcert, unsigned *n, gnutls_privkey_t *key)
{
	*pcert = c->pcert;
	*n = c->n;
	*key = c->key;
}

const char *svc_creds_serial(const struct svc_creds *c)
{
	return c->serial;
}

voucher_err svc_trust_new(struct svc_trust **out)
{
	struct svc_trust *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return VOUCHER_ENOMEM;
	if (gnutls_x509_trust_list_init(&t->list, 0) < 0) {
		free(t);
		return VOUCHER_ENOMEM;
	}
	if (voucher_trust_new(&t->vt) != VOUCHER_OK)
		t->vt = NULL;
	atomic_init(&t->refs, 1);
	*out = t;
	return VOUCHER_OK;
}

voucher_err svc_trust_add_pem(struct svc_trust *t, const uint8_t *pem, size_t len, char *err,
                              size_t errlen)
{
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	int ret;

	if (len > MAX_PEM_FILE) {
		snprintf(err, errlen, "PEM bundle larger than %d bytes", MAX_PEM_FILE);
		return VOUCHER_E_TOO_LARGE;
	}
	ret = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n == 0) {
		snprintf(err, errlen, "no certificate in the PEM bundle (%s)",
		         ret < 0 ? gnutls_strerror(ret) : "empty");
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		gnutls_free(list);
		return VOUCHER_E_CERT;
	}
	/* The list takes the certificates (and frees them with itself). */
	ret = gnutls_x509_trust_list_add_cas(t->list, list, n, 0);
	gnutls_free(list);
	if (ret < 0) {
		snprintf(err, errlen, "cannot add trust anchors (%s)", gnutls_strerror(ret));
		return VOUCHER_E_CERT;
	}
	t->count += n;
	if (t->vt && voucher_trust_add_pem(t->vt, pem, len) != VOUCHER_OK) {
		voucher_trust_free(t->vt);
		t->vt = NULL;
	}
	return VOUCHER_OK;
}

voucher_err svc_trust_add_file(struct svc_trust *t, const char *path, char *err, size_t errlen)
{
	gnutls_datum_t d = {NULL, 0};
	char sub[256];
	voucher_err r = load_file(path, &d, err, errlen);

	if (r != VOUCHER_OK)
		return r;
	r = svc_trust_add_pem(t, d.data, d.size, sub, sizeof(sub));
	if (r != VOUCHER_OK)
		snprintf(err, errlen, "'%s': %s", path, sub);
	gnutls_free(d.data);
	return r;
}

size_t svc_trust_count(const struct svc_trust *t)
{
	return t ? t->count : 0;
}

struct svc_trust *svc_trust_ref(struct svc_trust *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void svc_trust_unref(struct svc_trust *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	gnutls_x509_trust_list_deinit(t->list, 1);
	voucher_trust_free(t->vt);
	free(t);
}

voucher_err svc_trust_verify(const struct svc_trust *t, const struct svc_der *chain, size_t n,
                             char *reason, size_t reason_len)
{
	time_t from, until;

	return svc_trust_verify_window(t, chain, n, reason, reason_len, &from, &until);
}

voucher_err svc_trust_verify_window(const struct svc_trust *t, const struct svc_der *chain,
                                    size_t n, char *reason, size_t reason_len, time_t *from,
                                    time_t *until)
{
	gnutls_x509_crt_t crts[BRSKI_MAX_CERT_CHAIN] = {0};
	unsigned status = 0;
	size_t loaded = 0;
	gnutls_datum_t txt = {NULL, 0};
	voucher_err r = VOUCHER_OK;
	int ret;

	*from = 0;
	*until = 0;
	if (n == 0) {
		snprintf(reason, reason_len, "no certificate");
		return VOUCHER_E_UNAUTHENTICATED;
	}
	if (n > BRSKI_MAX_CERT_CHAIN) {
		snprintf(reason, reason_len, "chain of %zu certificates (at most %d)", n,
		         BRSKI_MAX_CERT_CHAIN);
		return VOUCHER_E_TOO_LARGE;
	}
	if (!t || t->count == 0) {
		snprintf(reason, reason_len, "no trust anchors for client certificates here");
		return VOUCHER_E_UNTRUSTED;
	}
	if (t->vt) {
		const uint8_t *der[BRSKI_MAX_CERT_CHAIN];
		size_t len[BRSKI_MAX_CERT_CHAIN];
		for (size_t i = 0; i < n; i++) {
			der[i] = chain[i].data;
			len[i] = chain[i].len;
		}
		/* A pass (often from the cache) is the answer; a failure
		 * is validated again below for its reason. */
		if (voucher_trust_check_chain(t->vt, der, len, n, from, until) == VOUCHER_OK)
			return VOUCHER_OK;
	}
	for (; loaded < n; loaded++) {
		gnutls_datum_t d = {(unsigned char *)chain[loaded].data,
		                    (unsigned)chain[loaded].len};
		if (gnutls_x509_crt_init(&crts[loaded]) < 0 ||
		    gnutls_x509_crt_import(crts[loaded], &d, GNUTLS_X509_FMT_DER) < 0) {
			snprintf(reason, reason_len, "certificate %zu of the chain does not parse",
			         loaded);
			r = VOUCHER_E_CERT;
			loaded++;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		time_t b = gnutls_x509_crt_get_activation_time(crts[i]);
		time_t a = gnutls_x509_crt_get_expiration_time(crts[i]);
		if (b == (time_t)-1 || a == (time_t)-1) {
			*from = *until = 0; /* unreadable: nothing to bound */
			break;
		}
		if (i == 0 || b > *from)
			*from = b;
		if (i == 0 || a < *until)
			*until = a;
	}
	ret = gnutls_x509_trust_list_verify_crt2(t->list, crts, (unsigned)n, NULL, 0, 0, &status,
	                                         NULL);
	if (ret < 0) {
		snprintf(reason, reason_len, "chain validation failed (%s)", gnutls_strerror(ret));
		r = VOUCHER_E_UNTRUSTED;
		goto out;
	}
	if (status) {
		r = (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		            ? VOUCHER_E_EXPIRED
		            : VOUCHER_E_UNTRUSTED;
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt,
		                                                 0) >= 0) {
			size_t l = strlen((const char *)txt.data);
			while (l && txt.data[l - 1] == ' ')
				l--;
			snprintf(reason, reason_len, "%.*s", (int)l, (const char *)txt.data);
		} else
			snprintf(reason, reason_len, "chain does not validate (status 0x%x)",
			         status);
		gnutls_free(txt.data);
	}
out:
	for (size_t i = 0; i < loaded; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return r;
}

voucher_err svc_tls_channel_binding(gnutls_session_t s, enum svc_cb_type *type, uint8_t *out,
                                    size_t cap, size_t *len)
{
	gnutls_datum_t cb = {NULL, 0};
	gnutls_channel_binding_t kind;
	int ret;

	*type = SVC_CB_NONE;
	*len = 0;
	/* tls-unique is undefined under TLS 1.3 (RFC 8446 C.5); RFC 9266
	 * defines tls-exporter for it. */
	if (gnutls_protocol_get_version(s) == GNUTLS_TLS1_3) {
		kind = GNUTLS_CB_TLS_EXPORTER;
		*type = SVC_CB_TLS_EXPORTER;
	} else {
		kind = GNUTLS_CB_TLS_UNIQUE;
		*type = SVC_CB_TLS_UNIQUE;
	}
	ret = gnutls_session_channel_binding(s, kind, &cb);
	if (ret < 0 || cb.size > cap) {
		*type = SVC_CB_NONE;
		gnutls_free(cb.data);
		return VOUCHER_ENOTSUP;
	}
	memcpy(out, cb.data, cb.size);
	*len = cb.size;
	gnutls_free(cb.data);
	return VOUCHER_OK;
}

int svc_tls_version(gnutls_session_t s)
{
	switch (gnutls_protocol_get_version(s)) {
	case GNUTLS_TLS1_2:
		return 0x0303;
	case GNUTLS_TLS1_3:
		return 0x0304;
	default:
		return 0;
	}
}

/* One DER TLV at *pos (bounded by end): its tag, and the value's offset
 * and length; *pos moves past it. -1 when it is not DER or runs past end.
 * Lengths of at most 3 bytes: a certificate is at most 16 MiB. */
static int der_next(const uint8_t *p, size_t *pos, size_t end, uint8_t *tag, size_t *voff,
                    size_t *vlen)
{
	size_t i = *pos, len = 0;

	if (i >= end || end - i < 2)
		return -1;
	*tag = p[i++];
	if (p[i] < 0x80) {
		len = p[i++];
	} else {
		size_t nb = p[i++] & 0x7f;
		if (nb == 0 || nb > 3 || end - i < nb)
			return -1;
		for (size_t k = 0; k < nb; k++)
			len = len << 8 | p[i++];
	}
	if (len > end - i)
		return -1;
	*voff = i;
	*vlen = len;
	*pos = i + len;
	return 0;
}

/* The subject Name (the whole TLV) of a DER certificate, found by walking
 * the TBSCertificate: -1 when the walk fails. */
static int subject_tlv(const uint8_t *p, size_t n, gnutls_datum_t *dn)
{
	size_t pos = 0, off, len, tend, start;
	uint8_t tag;

	if (der_next(p, &pos, n, &tag, &off, &len) < 0 || tag != 0x30)
		return -1; /* Certificate */
	pos = off;
	if (der_next(p, &pos, off + len, &tag, &off, &len) < 0 || tag != 0x30)
		return -1; /* tbsCertificate */
	pos = off;
	tend = off + len;
	if (der_next(p, &pos, tend, &tag, &off, &len) < 0)
		return -1;
	if (tag == 0xa0 && der_next(p, &pos, tend, &tag, &off, &len) < 0)
		return -1; /* [0] version, then serialNumber */
	if (tag != 0x02)
		return -1;
	for (int field = 0; field < 3; field++) /* signature, issuer, validity */
		if (der_next(p, &pos, tend, &tag, &off, &len) < 0 || tag != 0x30)
			return -1;
	start = pos;
	if (der_next(p, &pos, tend, &tag, &off, &len) < 0 || tag != 0x30)
		return -1;
	dn->data = (unsigned char *)p + start;
	dn->size = (unsigned)(pos - start);
	return 0;
}

void svc_tls_subject(const struct svc_der *cert, char *out, size_t outlen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)cert->data, (unsigned)cert->len};
	gnutls_datum_t raw = {NULL, 0}, dn = {NULL, 0};

	if (outlen)
		out[0] = '\0';
	/* The Name alone is decoded, not the whole certificate: the same
	 * string as gnutls_x509_crt_get_dn3 (both print with the same
	 * function) at a fraction of a certificate import, which perf put at
	 * 3 % of cloudregd's CPU per pledge. */
	if (subject_tlv(cert->data, cert->len, &raw) == 0) {
		if (gnutls_x509_rdn_get2(&raw, &dn, 0) >= 0)
			snprintf(out, outlen, "%.*s", (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
		return;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
		snprintf(out, outlen, "%.*s", (int)dn.size, (const char *)dn.data);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}
