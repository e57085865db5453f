/* EST body encodings (RFC 8951 base64), PKCS#10 checks on GnuTLS, and the
 * csrattrs body (RFC 7030 4.5.2) in both directions. Shared by cloudregd
 * and brski pledge, so it uses only common/ and GnuTLS. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cloudreg/est.h"
#include "common/compat.h"
#include "common/str.h"

/* ---- base64 ---------------------------------------------------------------- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

voucher_err creg_b64_decode_body(const uint8_t *in, size_t len, struct brski_buf *out)
{
	uint32_t acc = 0;
	unsigned n = 0, pad = 0;
	voucher_err e;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		int v;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			/* Padding only completes the last group. */
			if (n < 2 || n + pad >= 4)
				return VOUCHER_E_BAD_BASE64;
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0)
			return VOUCHER_E_BAD_BASE64;
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			uint8_t b[3] = {(uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc};
			if ((e = brski_buf_put(out, b, 3)) != VOUCHER_OK)
				return e;
			acc = 0;
			n = 0;
		}
	}
	if (n == 0 && pad == 0)
		return out->len ? VOUCHER_OK : VOUCHER_E_BAD_BASE64;
	if (n + pad != 4)
		return VOUCHER_E_BAD_BASE64;
	if (n == 2) {
		uint8_t b = (uint8_t)(acc >> 4);
		if (acc & 0xf)
			return VOUCHER_E_BAD_BASE64;
		return brski_buf_put(out, &b, 1);
	}
	{
		uint8_t b[2] = {(uint8_t)(acc >> 10), (uint8_t)(acc >> 2)};
		if (acc & 0x3)
			return VOUCHER_E_BAD_BASE64;
		return brski_buf_put(out, b, 2);
	}
}

voucher_err creg_b64_encode_body(const uint8_t *in, size_t len, struct brski_buf *out)
{
	unsigned col = 0;
	voucher_err e;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		char q[4];
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		q[0] = b64chars[v >> 18 & 63];
		q[1] = b64chars[v >> 12 & 63];
		q[2] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		q[3] = i + 2 < len ? b64chars[v & 63] : '=';
		if ((e = brski_buf_put(out, q, 4)) != VOUCHER_OK)
			return e;
		col += 4;
		if (col == 64 || i + 3 >= len) {
			if ((e = brski_buf_putc(out, '\n')) != VOUCHER_OK)
				return e;
			col = 0;
		}
	}
	return VOUCHER_OK;
}

/* ---- PKCS#10 ------------------------------------------------------------------ */

void creg_csr_clear(struct creg_csr *c)
{
	if (!c)
		return;
	free(c->subject);
	free(c->subject_serial);
	for (size_t i = 0; i < c->n_dns; i++)
		free(c->dns[i]);
	free(c->challenge);
	memset(c, 0, sizeof(*c));
}

static voucher_err bad(char *err, size_t errlen, const char *what, int g)
{
	snprintf(err, errlen, "%s%s%s", what, g ? ": " : "", g ? gnutls_strerror(g) : "");
	return VOUCHER_E_MALFORMED;
}

voucher_err creg_csr_parse(const uint8_t *der, size_t len, struct creg_csr *out, char *err,
                           size_t errlen)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len}, dn = {0};
	char buf[1024];
	size_t sz;
	voucher_err e = VOUCHER_OK;
	int g;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > CREG_CSR_MAX)
		return bad(err, errlen, "the CSR is empty or larger than 32 KiB", 0);
	if (gnutls_x509_crq_init(&crq) < 0)
		return VOUCHER_ENOMEM;
	if ((g = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER)) < 0) {
		e = bad(err, errlen, "the body is not a PKCS#10 request", g);
		goto out;
	}
	/* Proof that the requester holds the private key. */
	if ((g = gnutls_x509_crq_verify(crq, 0)) < 0) {
		e = bad(err, errlen, "the CSR's signature does not verify", g);
		goto out;
	}
	if ((g = gnutls_x509_crq_get_dn3(crq, &dn, 0)) < 0 &&
	    g != GNUTLS_E_ASN1_ELEMENT_NOT_FOUND) {
		e = bad(err, errlen, "the CSR's subject does not parse", g);
		goto out;
	}
	out->subject = brski_strdup(g < 0 || !dn.data ? "" : (const char *)dn.data);
	gnutls_free(dn.data);
	if (!out->subject) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	sz = sizeof(buf);
	if (gnutls_x509_crq_get_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, 0, buf, &sz) == 0) {
		if (!(out->subject_serial = brski_strdup(buf))) {
			e = VOUCHER_ENOMEM;
			goto out;
		}
	}
	for (unsigned i = 0;; i++) {
		unsigned type = 0, crit = 0;
		sz = sizeof(buf) - 1;
		g = gnutls_x509_crq_get_subject_alt_name(crq, i, buf, &sz, &type, &crit);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g < 0) {
			e = bad(err, errlen, "the CSR's subjectAltName does not parse", g);
			goto out;
		}
		if (type != GNUTLS_SAN_DNSNAME) {
			out->other_san = true;
			continue;
		}
		buf[sz] = '\0';
		if (strlen(buf) != sz || sz > CREG_DNS_MAX) {
			e = bad(err, errlen, "a dNSName in the CSR is not a host name", 0);
			goto out;
		}
		if (out->n_dns == sizeof(out->dns) / sizeof(out->dns[0])) {
			e = bad(err, errlen, "the CSR has more than 4 dNSNames", 0);
			goto out;
		}
		if (!(out->dns[out->n_dns] = brski_strdup(buf))) {
			e = VOUCHER_ENOMEM;
			goto out;
		}
		out->n_dns++;
	}
	/* The raw attribute value: gnutls_x509_crq_get_challenge_password
	 * returns it escaped like a DN ('+' becomes "\+"), which would break
	 * the base64 of the channel binding. */
	sz = sizeof(buf);
	g = gnutls_x509_crq_get_attribute_by_oid(crq, CREG_OID_CHALLENGE, 0, buf, &sz);
	if (g == 0) {
		const uint8_t *v = (const uint8_t *)buf;
		size_t vl;
		/* One string: PrintableString, UTF8String, IA5String or
		 * BMPString-free DirectoryString with a short length. */
		if (sz < 2 || (v[0] != 0x13 && v[0] != 0x0c && v[0] != 0x16) || (v[1] & 0x80) ||
		    (vl = v[1]) != sz - 2) {
			e = bad(err, errlen, "the CSR's challengePassword is not a short string",
			        0);
			goto out;
		}
		if (!(out->challenge = malloc(vl ? vl : 1))) {
			e = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(out->challenge, v + 2, vl);
		out->challenge_len = vl;
	} else if (g != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		e = bad(err, errlen, "the CSR's challengePassword does not parse", g);
		goto out;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, out->sha256) < 0) {
		e = VOUCHER_E_CRYPTO;
		goto out;
	}
out:
	gnutls_x509_crq_deinit(crq);
	if (e != VOUCHER_OK)
		creg_csr_clear(out);
	return e;
}

bool creg_csr_pop_matches(const struct creg_csr *c, const uint8_t *cb, size_t cb_len)
{
	struct brski_buf want, got;
	bool ok = false;

	if (!c->challenge || !cb || !cb_len)
		return false;
	brski_buf_init(&want, 4096);
	brski_buf_init(&got, 4096);
	/* Compare the decoded bytes: line breaks in the sender's base64 do not
	 * matter. */
	if (creg_b64_decode_body(c->challenge, c->challenge_len, &got) == VOUCHER_OK &&
	    brski_buf_put(&want, cb, cb_len) == VOUCHER_OK && got.len == want.len)
		ok = timingsafe_bcmp(got.data, want.data, want.len) == 0;
	brski_buf_free(&want);
	brski_buf_free(&got);
	return ok;
}

voucher_err creg_csr_san_for(const char *serial, const char *subdomain, char *out, size_t outlen)
{
	int n;

	/* A serial becomes one DNS label: letters, digits and inner hyphens. */
	if (!serial[0] || strlen(serial) > 63 || serial[0] == '-' ||
	    serial[strlen(serial) - 1] == '-')
		return VOUCHER_EINVAL;
	for (const char *p = serial; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return VOUCHER_EINVAL;
	n = snprintf(out, outlen, "%s.%s", serial, subdomain);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > CREG_DNS_MAX)
		return VOUCHER_EINVAL;
	return VOUCHER_OK;
}

/* ---- DER helpers for csrattrs ------------------------------------------------- */

static voucher_err der_len(struct brski_buf *b, size_t len)
{
	uint8_t l[5];

	if (len < 0x80) {
		l[0] = (uint8_t)len;
		return brski_buf_put(b, l, 1);
	}
	if (len < 0x100) {
		l[0] = 0x81;
		l[1] = (uint8_t)len;
		return brski_buf_put(b, l, 2);
	}
	if (len < 0x10000) {
		l[0] = 0x82;
		l[1] = (uint8_t)(len >> 8);
		l[2] = (uint8_t)len;
		return brski_buf_put(b, l, 3);
	}
	if (len < 0x1000000) {
		l[0] = 0x83;
		l[1] = (uint8_t)(len >> 16);
		l[2] = (uint8_t)(len >> 8);
		l[3] = (uint8_t)len;
		return brski_buf_put(b, l, 4);
	}
	return VOUCHER_E_TOO_LARGE;
}

/* tag, length, then the contents of inner. */
static voucher_err der_wrap(struct brski_buf *b, uint8_t tag, const struct brski_buf *inner)
{
	voucher_err e;

	if ((e = brski_buf_putc(b, tag)) != VOUCHER_OK ||
	    (e = der_len(b, inner->len)) != VOUCHER_OK)
		return e;
	return inner->len ? brski_buf_put(b, inner->data, inner->len) : VOUCHER_OK;
}

/* A dotted OID as a DER OBJECT IDENTIFIER (tag included). */
static voucher_err der_oid(struct brski_buf *b, const char *dotted)
{
	struct brski_buf c;
	uint64_t arcs[32];
	size_t n = 0;
	const char *p = dotted;
	voucher_err e;

	while (*p) {
		if (n == 32 || brski_str_number(&p, &arcs[n], UINT64_MAX >> 8) != VOUCHER_OK)
			return VOUCHER_EINVAL;
		n++;
		if (*p == '.')
			p++;
		else if (*p)
			return VOUCHER_EINVAL;
	}
	if (n < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39))
		return VOUCHER_EINVAL;
	brski_buf_init(&c, 256);
	arcs[1] += arcs[0] * 40;
	e = VOUCHER_OK;
	for (size_t i = 1; i < n && e == VOUCHER_OK; i++) {
		uint8_t tmp[10];
		size_t k = 0;
		uint64_t v = arcs[i];
		do {
			tmp[k++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v);
		while (k-- > 0 && e == VOUCHER_OK)
			e = brski_buf_putc(&c, (uint8_t)(tmp[k] | (k ? 0x80 : 0)));
	}
	if (e == VOUCHER_OK)
		e = der_wrap(b, 0x06, &c);
	brski_buf_free(&c);
	return e;
}

voucher_err creg_csrattrs_encode(const char *const *oids, size_t n_oids, bool pop, const char *san,
                                 struct brski_buf *out, char *err, size_t errlen)
{
	struct brski_buf seq, a, b, c;
	voucher_err e = VOUCHER_OK;

	brski_buf_init(&seq, 64 * 1024);
	brski_buf_init(&a, 64 * 1024);
	brski_buf_init(&b, 64 * 1024);
	brski_buf_init(&c, 64 * 1024);
	for (size_t i = 0; i < n_oids && e == VOUCHER_OK; i++)
		if ((e = der_oid(&seq, oids[i])) == VOUCHER_EINVAL)
			snprintf(err, errlen, "'%s' is not a dotted OID", oids[i]);
	if (e == VOUCHER_OK && pop)
		e = der_oid(&seq, CREG_OID_CHALLENGE);
	if (e == VOUCHER_OK && san) {
		/* Attribute { extensionRequest, SET { Extensions { Extension {
		 * subjectAltName, OCTET STRING { GeneralNames { [2] dns } } } } } } */
		struct brski_buf name = {.data = (uint8_t *)san, .len = strlen(san)};
		if ((e = der_wrap(&a, 0x82, &name)) == VOUCHER_OK &&
		    (e = der_wrap(&b, 0x30, &a)) == VOUCHER_OK) { /* GeneralNames */
			brski_buf_reset(&a);
			if ((e = der_wrap(&a, 0x04, &b)) == VOUCHER_OK) { /* extnValue */
				brski_buf_reset(&b);
				if ((e = der_oid(&b, CREG_OID_SAN)) == VOUCHER_OK &&
				    (e = brski_buf_put(&b, a.data, a.len)) == VOUCHER_OK) {
					brski_buf_reset(&a);
					e = der_wrap(&a, 0x30, &b); /* Extension */
				}
			}
		}
		if (e == VOUCHER_OK) {
			brski_buf_reset(&b);
			if ((e = der_wrap(&b, 0x30, &a)) == VOUCHER_OK) { /* Extensions */
				brski_buf_reset(&a);
				if ((e = der_wrap(&a, 0x31, &b)) == VOUCHER_OK) { /* SET */
					brski_buf_reset(&b);
					if ((e = der_oid(&b, CREG_OID_EXT_REQ)) == VOUCHER_OK &&
					    (e = brski_buf_put(&b, a.data, a.len)) == VOUCHER_OK)
						e = der_wrap(&seq, 0x30, &b);
				}
			}
		}
	}
	if (e == VOUCHER_OK)
		e = der_wrap(out, 0x30, &seq);
	brski_buf_free(&seq);
	brski_buf_free(&a);
	brski_buf_free(&b);
	brski_buf_free(&c);
	return e;
}

/* ---- csrattrs decoding (the pledge reads the server's answer) ------------------ */

struct tlv {
	uint8_t tag;
	const uint8_t *v;
	size_t len;
};

/* Read one DER TLV at *p (definite lengths of at most 3 bytes). */
static bool tlv_next(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
	const uint8_t *q = *p;
	size_t len;

	if (end - q < 2)
		return false;
	t->tag = *q++;
	if ((t->tag & 0x1f) == 0x1f)
		return false; /* multi-byte tags do not occur here */
	len = *q++;
	if (len & 0x80) {
		unsigned nb = len & 0x7f;
		if (nb == 0 || nb > 3 || (size_t)(end - q) < nb)
			return false;
		len = 0;
		while (nb--)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return false;
	t->v = q;
	t->len = len;
	*p = q + len;
	return true;
}

static voucher_err oid_text(const struct tlv *t, char **out)
{
	char buf[256];
	size_t o = 0;
	uint64_t v = 0;
	bool first = true;

	if (t->len == 0 || t->len > 64)
		return VOUCHER_E_MALFORMED;
	for (size_t i = 0; i < t->len; i++) {
		if (v > (UINT64_MAX >> 8))
			return VOUCHER_E_MALFORMED;
		v = v << 7 | (t->v[i] & 0x7f);
		if (t->v[i] & 0x80) {
			if (i + 1 == t->len)
				return VOUCHER_E_MALFORMED;
			continue;
		}
		int n;
		if (first) {
			unsigned a = v < 80 ? (unsigned)(v / 40) : 2;
			n = snprintf(buf + o, sizeof(buf) - o, "%u.%llu", a,
			             (unsigned long long)(v - a * 40));
			first = false;
		} else {
			n = snprintf(buf + o, sizeof(buf) - o, ".%llu", (unsigned long long)v);
		}
		if (n < 0 || (size_t)n >= sizeof(buf) - o)
			return VOUCHER_E_MALFORMED;
		o += (size_t)n;
		v = 0;
	}
	return (*out = brski_strdup(buf)) ? VOUCHER_OK : VOUCHER_ENOMEM;
}

void creg_csrattrs_clear(struct creg_csrattrs *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_oids; i++)
		free(a->oids[i]);
	free(a->san_dns);
	memset(a, 0, sizeof(*a));
}

/* The dNSName of a SAN extension template inside extensionRequest values. */
static voucher_err find_san(const struct tlv *set, struct creg_csrattrs *out)
{
	const uint8_t *p = set->v, *end = set->v + set->len;
	struct tlv exts, ext;

	while (p < end) {
		if (!tlv_next(&p, end, &exts) || exts.tag != 0x30)
			return VOUCHER_E_MALFORMED;
		const uint8_t *q = exts.v, *qe = exts.v + exts.len;
		while (q < qe) {
			struct tlv id, f, gns, gn;
			char *oid = NULL;
			if (!tlv_next(&q, qe, &ext) || ext.tag != 0x30)
				return VOUCHER_E_MALFORMED;
			const uint8_t *r = ext.v, *re = ext.v + ext.len;
			if (!tlv_next(&r, re, &id) || id.tag != 0x06 ||
			    oid_text(&id, &oid) != VOUCHER_OK)
				return VOUCHER_E_MALFORMED;
			bool is_san = strcmp(oid, CREG_OID_SAN) == 0;
			free(oid);
			if (!tlv_next(&r, re, &f))
				return VOUCHER_E_MALFORMED;
			if (f.tag == 0x01 && !tlv_next(&r, re, &f)) /* critical */
				return VOUCHER_E_MALFORMED;
			if (f.tag != 0x04)
				return VOUCHER_E_MALFORMED;
			if (!is_san)
				continue;
			const uint8_t *s = f.v, *se = f.v + f.len;
			if (!tlv_next(&s, se, &gns) || gns.tag != 0x30)
				return VOUCHER_E_MALFORMED;
			s = gns.v;
			se = gns.v + gns.len;
			while (s < se) {
				if (!tlv_next(&s, se, &gn))
					return VOUCHER_E_MALFORMED;
				if (gn.tag != 0x82 || out->san_dns)
					continue;
				if (gn.len == 0 || gn.len > CREG_DNS_MAX ||
				    memchr(gn.v, '\0', gn.len))
					return VOUCHER_E_MALFORMED;
				if (!(out->san_dns = malloc(gn.len + 1)))
					return VOUCHER_ENOMEM;
				memcpy(out->san_dns, gn.v, gn.len);
				out->san_dns[gn.len] = '\0';
			}
		}
	}
	return VOUCHER_OK;
}

voucher_err creg_csrattrs_decode(const uint8_t *der, size_t len, struct creg_csrattrs *out,
                                 char *err, size_t errlen)
{
	const uint8_t *p = der, *end = der + len;
	struct tlv top, el;
	voucher_err e = VOUCHER_OK;

	memset(out, 0, sizeof(*out));
	if (!tlv_next(&p, end, &top) || top.tag != 0x30 || p != end) {
		snprintf(err, errlen, "csrattrs is not one DER SEQUENCE");
		return VOUCHER_E_MALFORMED;
	}
	p = top.v;
	end = top.v + top.len;
	while (p < end && e == VOUCHER_OK) {
		char *oid = NULL;
		if (!tlv_next(&p, end, &el)) {
			e = VOUCHER_E_MALFORMED;
			break;
		}
		if (el.tag == 0x06) {
			if ((e = oid_text(&el, &oid)) != VOUCHER_OK)
				break;
		} else if (el.tag == 0x30) {
			/* Attribute { type, SET OF values } */
			const uint8_t *q = el.v, *qe = el.v + el.len;
			struct tlv id, set;
			if (!tlv_next(&q, qe, &id) || id.tag != 0x06 ||
			    (e = oid_text(&id, &oid)) != VOUCHER_OK || !tlv_next(&q, qe, &set) ||
			    set.tag != 0x31) {
				free(oid);
				e = VOUCHER_E_MALFORMED;
				break;
			}
			if (strcmp(oid, CREG_OID_EXT_REQ) == 0 &&
			    (e = find_san(&set, out)) != VOUCHER_OK) {
				free(oid);
				break;
			}
		} else {
			continue; /* unknown forms are skipped, as RFC 7030 4.5.2 allows */
		}
		if (strcmp(oid, CREG_OID_CHALLENGE) == 0)
			out->pop = true;
		if (out->n_oids < CREG_EST_MAX_OIDS)
			out->oids[out->n_oids++] = oid;
		else
			free(oid);
	}
	if (e != VOUCHER_OK) {
		if (e == VOUCHER_E_MALFORMED)
			snprintf(err, errlen, "csrattrs element does not parse");
		creg_csrattrs_clear(out);
	}
	return e;
}
