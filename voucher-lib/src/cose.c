/*
 * COSE_Sign1 envelope (RFC 9052 section 4.2) for application/voucher+cose,
 * with the certificates in x5bag / x5chain (RFC 9360) as cBRSKI uses them.
 *
 * The parser is a small strict CBOR cursor rather than libcbor: it has to
 * keep the exact bytes of the protected header, the payload and the
 * signature (verification and voucher_cose_strip_unprotected_certs work on
 * them as received), it has to know where every unprotected header entry
 * starts and ends, and it must bound nesting without recursing on
 * attacker-controlled depth. Indefinite lengths are refused everywhere: a
 * chunked bstr has no single "bytes as received".
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>

#include "common/buf.h"
#include "common/compat.h"
#include "cose-jws.h"
#include "envelope.h"
#include "rawsig.h"

#define COSE_TAG_SIGN1 18
#define HDR_ALG        1
#define HDR_CRIT       2
#define HDR_CTYPE      3
#define HDR_KID        4
#define HDR_X5BAG      32
#define HDR_X5CHAIN    33
#define ALG_ES256      (-7)
#define ALG_EDDSA      (-8)
#define COSE_SIG_LEN   64 /* ES256 r||s and Ed25519 alike */
#define COSE_MAX_HDRS  32 /* entries in one header map */
#define COSE_MAX_CRIT  8
#define COSE_MAX_DEPTH 8 /* nesting inside header values we skip */

enum { MT_UINT = 0, MT_NINT, MT_BSTR, MT_TSTR, MT_ARRAY, MT_MAP, MT_TAG, MT_SIMPLE };

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* One item head. The value of a major-7 item is its raw argument. */
static voucher_err rd_head(struct rd *r, unsigned *major, uint64_t *val)
{
	if (r->off >= r->len)
		return VOUCHER_E_MALFORMED;
	uint8_t ib = r->p[r->off];
	unsigned ai = ib & 0x1f;
	size_t n;
	if (ai < 24)
		n = 0;
	else if (ai <= 27)
		n = (size_t)1 << (ai - 24);
	else
		return VOUCHER_E_MALFORMED; /* reserved, or indefinite length */
	if (r->len - r->off - 1 < n)
		return VOUCHER_E_MALFORMED;
	uint64_t v = ai < 24 ? ai : 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[r->off + 1 + i];
	r->off += 1 + n;
	*major = ib >> 5;
	*val = v;
	return VOUCHER_OK;
}

/* The content of a byte or text string whose head was just read. */
static voucher_err rd_take(struct rd *r, uint64_t n, const uint8_t **p, size_t *len)
{
	if (n > r->len - r->off)
		return VOUCHER_E_MALFORMED;
	*p = r->p + r->off;
	*len = (size_t)n;
	r->off += (size_t)n;
	return VOUCHER_OK;
}

static voucher_err rd_bstr(struct rd *r, const uint8_t **p, size_t *len)
{
	unsigned mt;
	uint64_t v;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	if (mt != MT_BSTR)
		return VOUCHER_E_BAD_TYPE;
	return rd_take(r, v, p, len);
}

/* Skip one well-formed item, at most depth levels deep. */
static voucher_err rd_skip(struct rd *r, unsigned depth)
{
	unsigned mt;
	uint64_t v;
	const uint8_t *p;
	size_t n;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	switch (mt) {
	case MT_BSTR:
	case MT_TSTR:
		return rd_take(r, v, &p, &n);
	case MT_ARRAY:
	case MT_MAP:
	case MT_TAG:
		if (depth == 0)
			return VOUCHER_E_TOO_DEEP;
		if (mt == MT_TAG)
			v = 1;
		/* Every item takes at least one byte: no count beyond the
		 * input is worth looping over. */
		if (v > r->len - r->off || (mt == MT_MAP && v > (r->len - r->off) / 2))
			return VOUCHER_E_MALFORMED;
		if (mt == MT_MAP)
			v *= 2;
		for (uint64_t i = 0; i < v; i++)
			if ((e = rd_skip(r, depth - 1)) != VOUCHER_OK)
				return e;
		return VOUCHER_OK;
	default:
		return VOUCHER_OK; /* integers and simple values: head only */
	}
}

/* A header label: an integer or a text string (RFC 9052 section 3). */
struct label {
	int is_text;
	int64_t i;
	const uint8_t *t;
	size_t tlen;
};

static voucher_err rd_label(struct rd *r, struct label *l)
{
	unsigned mt;
	uint64_t v;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	memset(l, 0, sizeof(*l));
	if ((mt == MT_UINT || mt == MT_NINT) && v > INT64_MAX)
		return VOUCHER_E_MALFORMED;
	if (mt == MT_UINT)
		l->i = (int64_t)v;
	else if (mt == MT_NINT)
		l->i = -1 - (int64_t)v;
	else if (mt == MT_TSTR) {
		l->is_text = 1;
		return rd_take(r, v, &l->t, &l->tlen);
	} else
		return VOUCHER_E_BAD_TYPE;
	return VOUCHER_OK;
}

static int label_eq(const struct label *a, const struct label *b)
{
	if (a->is_text != b->is_text)
		return 0;
	if (!a->is_text)
		return a->i == b->i;
	return a->tlen == b->tlen && memcmp(a->t, b->t, a->tlen) == 0;
}

/* Labels whose meaning we implement, so a sender may mark them critical. */
static int label_understood(const struct label *l)
{
	if (l->is_text)
		return 0;
	switch (l->i) {
	case HDR_ALG:
	case HDR_CTYPE:
	case HDR_KID:
	case HDR_X5BAG:
	case HDR_X5CHAIN:
		return 1;
	default:
		return 0;
	}
}

/* Byte range of one unprotected header entry, for stripping. */
struct span {
	size_t start, end;
	int is_cert;
};

struct cose_msg {
	/* Borrowed from the input: the content of the protected bstr, the
	 * payload and the signature exactly as received. */
	const uint8_t *prot;
	size_t prot_len;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *sig;
	size_t sig_len;
	/* The unprotected map: where it is and where each entry is. */
	size_t unprot_start, unprot_end;
	size_t nent;
	struct span ent[COSE_MAX_HDRS];
	/* Header state over both maps. */
	int64_t alg;
	int have_alg;
	struct label seen[2 * COSE_MAX_HDRS];
	size_t nseen, nseen_prot;
	struct label crit[COSE_MAX_CRIT];
	size_t ncrit;
	gnutls_datum_t chain[BRSKI_MAX_CERT_CHAIN], bag[BRSKI_MAX_CERT_CHAIN];
	size_t nchain, nbag;
};

/* A certificate header value: one bstr, or an array of them (RFC 9360). */
static voucher_err rd_certs(struct rd *r, gnutls_datum_t *d, size_t *n)
{
	unsigned mt;
	uint64_t v;
	size_t start = r->off;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	uint64_t count = 1;
	if (mt == MT_ARRAY) {
		count = v;
		if (count == 0)
			return VOUCHER_E_MALFORMED;
		if (count > BRSKI_MAX_CERT_CHAIN)
			return VOUCHER_E_TOO_LARGE;
	} else if (mt == MT_BSTR) {
		r->off = start;
	} else
		return VOUCHER_E_BAD_TYPE;
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *p;
		size_t len;
		if ((e = rd_bstr(r, &p, &len)) != VOUCHER_OK)
			return e;
		if (len == 0)
			return VOUCHER_E_MALFORMED;
		if (len > VL_MAX_CERT)
			return VOUCHER_E_TOO_LARGE;
		d[i].data = (unsigned char *)(uintptr_t)p;
		d[i].size = (unsigned)len;
	}
	*n = (size_t)count;
	return VOUCHER_OK;
}

static voucher_err rd_crit(struct rd *r, struct cose_msg *m)
{
	unsigned mt;
	uint64_t v;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	if (mt != MT_ARRAY)
		return VOUCHER_E_BAD_TYPE;
	/* RFC 9052 section 3.1: crit, when present, is never empty. */
	if (v == 0)
		return VOUCHER_E_MALFORMED;
	if (v > COSE_MAX_CRIT)
		return VOUCHER_E_TOO_LARGE;
	for (uint64_t i = 0; i < v; i++) {
		struct label *l = &m->crit[m->ncrit];
		if ((e = rd_label(r, l)) != VOUCHER_OK)
			return e;
		if (!label_understood(l))
			return VOUCHER_E_UNKNOWN_CRITICAL;
		m->ncrit++;
	}
	return VOUCHER_OK;
}

/* One header map. Labels must be unique across both maps (RFC 9052
 * section 3); alg and crit are accepted only in the protected one, so
 * neither can be changed without breaking the signature. */
static voucher_err rd_hdr_map(struct rd *r, struct cose_msg *m, int protected)
{
	unsigned mt;
	uint64_t v;
	voucher_err e = rd_head(r, &mt, &v);
	if (e != VOUCHER_OK)
		return e;
	if (mt != MT_MAP)
		return VOUCHER_E_BAD_TYPE;
	if (v > COSE_MAX_HDRS)
		return VOUCHER_E_TOO_LARGE;
	for (uint64_t i = 0; i < v; i++) {
		size_t start = r->off;
		struct label l;
		if ((e = rd_label(r, &l)) != VOUCHER_OK)
			return e;
		for (size_t k = 0; k < m->nseen; k++)
			if (label_eq(&m->seen[k], &l))
				return VOUCHER_E_DUPLICATE;
		m->seen[m->nseen++] = l;
		int is_cert = 0;
		if (l.is_text) {
			e = rd_skip(r, COSE_MAX_DEPTH);
		} else if (l.i == HDR_ALG || l.i == HDR_CRIT) {
			if (!protected)
				return VOUCHER_E_MALFORMED;
			if (l.i == HDR_CRIT) {
				e = rd_crit(r, m);
			} else {
				struct label a;
				if ((e = rd_label(r, &a)) != VOUCHER_OK)
					return e;
				if (a.is_text)
					return VOUCHER_E_UNSUPPORTED_ALG;
				m->alg = a.i;
				m->have_alg = 1;
			}
		} else if (l.i == HDR_X5CHAIN) {
			is_cert = 1;
			e = rd_certs(r, m->chain, &m->nchain);
		} else if (l.i == HDR_X5BAG) {
			is_cert = 1;
			e = rd_certs(r, m->bag, &m->nbag);
		} else {
			e = rd_skip(r, COSE_MAX_DEPTH);
		}
		if (e != VOUCHER_OK)
			return e;
		if (!protected) {
			m->ent[m->nent].start = start;
			m->ent[m->nent].end = r->off;
			m->ent[m->nent].is_cert = is_cert;
			m->nent++;
		}
	}
	return VOUCHER_OK;
}

/* Parse the whole message; everything in m borrows from in. */
static voucher_err cose_parse(const uint8_t *in, size_t len, struct cose_msg *m)
{
	struct rd r = {in, len, 0};
	unsigned mt;
	uint64_t v;
	voucher_err e;

	memset(m, 0, sizeof(*m));
	if (len > VL_MAX_ENVELOPE)
		return VOUCHER_E_TOO_LARGE;
	if ((e = rd_head(&r, &mt, &v)) != VOUCHER_OK)
		return e;
	/* Tag 18 is optional (the media type already says COSE_Sign1); any
	 * other tag is a different structure. */
	if (mt == MT_TAG) {
		if (v != COSE_TAG_SIGN1)
			return VOUCHER_E_CONTENT_TYPE;
		if ((e = rd_head(&r, &mt, &v)) != VOUCHER_OK)
			return e;
	}
	if (mt != MT_ARRAY || v != 4)
		return VOUCHER_E_MALFORMED;

	if ((e = rd_bstr(&r, &m->prot, &m->prot_len)) != VOUCHER_OK)
		return e;
	/* A zero-length protected bstr stands for an empty map, which lacks
	 * the alg we require. */
	if (m->prot_len > 0) {
		struct rd pr = {m->prot, m->prot_len, 0};
		if ((e = rd_hdr_map(&pr, m, 1)) != VOUCHER_OK)
			return e;
		if (pr.off != pr.len)
			return VOUCHER_E_TRAILING_DATA;
	}
	m->nseen_prot = m->nseen;

	m->unprot_start = r.off;
	if ((e = rd_hdr_map(&r, m, 0)) != VOUCHER_OK)
		return e;
	m->unprot_end = r.off;

	/* nil payload: detached content, which vouchers never use. */
	if (r.off < len && in[r.off] == 0xf6)
		return VOUCHER_E_MISSING;
	if ((e = rd_bstr(&r, &m->payload, &m->payload_len)) != VOUCHER_OK)
		return e;
	if ((e = rd_bstr(&r, &m->sig, &m->sig_len)) != VOUCHER_OK)
		return e;
	if (r.off != len)
		return VOUCHER_E_TRAILING_DATA;

	if (!m->have_alg)
		return VOUCHER_E_MISSING;
	if (m->alg != ALG_ES256 && m->alg != ALG_EDDSA)
		return VOUCHER_E_UNSUPPORTED_ALG;
	if (m->sig_len != COSE_SIG_LEN)
		return VOUCHER_E_MALFORMED;
	/* Critical labels must be present in the protected header. */
	for (size_t i = 0; i < m->ncrit; i++) {
		size_t k = 0;
		while (k < m->nseen_prot && !label_eq(&m->seen[k], &m->crit[i]))
			k++;
		if (k == m->nseen_prot)
			return VOUCHER_E_MALFORMED;
	}
	return VOUCHER_OK;
}

static voucher_err put_head(struct brski_buf *b, unsigned major, uint64_t val)
{
	uint8_t h[9];
	size_t n;
	h[0] = (uint8_t)(major << 5);
	if (val < 24) {
		h[0] |= (uint8_t)val;
		n = 1;
	} else if (val <= 0xff) {
		h[0] |= 24;
		h[1] = (uint8_t)val;
		n = 2;
	} else if (val <= 0xffff) {
		h[0] |= 25;
		h[1] = (uint8_t)(val >> 8);
		h[2] = (uint8_t)val;
		n = 3;
	} else if (val <= 0xffffffff) {
		h[0] |= 26;
		for (int i = 0; i < 4; i++)
			h[1 + i] = (uint8_t)(val >> (24 - 8 * i));
		n = 5;
	} else {
		h[0] |= 27;
		for (int i = 0; i < 8; i++)
			h[1 + i] = (uint8_t)(val >> (56 - 8 * i));
		n = 9;
	}
	return brski_buf_put(b, h, n);
}

static voucher_err put_bstr(struct brski_buf *b, const uint8_t *p, size_t len)
{
	voucher_err e = put_head(b, MT_BSTR, len);
	if (e == VOUCHER_OK)
		e = brski_buf_put(b, p, len);
	return e;
}

/* Sig_structure = ["Signature1", body_protected, external_aad = h'',
 * payload] (RFC 9052 section 4.4), with the protected bytes as received. */
static voucher_err to_be_signed(struct brski_buf *b, const uint8_t *prot, size_t prot_len,
                                const uint8_t *payload, size_t payload_len)
{
	static const char ctx[] = "Signature1";
	voucher_err e;
	if ((e = put_head(b, MT_ARRAY, 4)) != VOUCHER_OK ||
	    (e = put_head(b, MT_TSTR, sizeof(ctx) - 1)) != VOUCHER_OK ||
	    (e = brski_buf_put(b, ctx, sizeof(ctx) - 1)) != VOUCHER_OK ||
	    (e = put_bstr(b, prot, prot_len)) != VOUCHER_OK ||
	    (e = put_bstr(b, NULL, 0)) != VOUCHER_OK ||
	    (e = put_bstr(b, payload, payload_len)) != VOUCHER_OK)
		return e;
	return VOUCHER_OK;
}

voucher_err vl_cose_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                         uint8_t **out, size_t *out_len)
{
	/* Deterministic protected headers {1: -7} and {1: -8}. */
	static const uint8_t prot_es256[] = {0xa1, 0x01, 0x26};
	static const uint8_t prot_eddsa[] = {0xa1, 0x01, 0x27};
	struct brski_buf tbs, msg;
	uint8_t raw[VL_RAW_SIG_LEN];
	const uint8_t *prot;
	voucher_err e;

	brski_buf_init(&tbs, VL_MAX_ENVELOPE + 64);
	brski_buf_init(&msg, VL_MAX_ENVELOPE);
	enum vl_raw_alg alg;
	/* ES384 and RSA are not in the cBRSKI profile. */
	if ((e = vl_raw_alg_of(s, &alg)) != VOUCHER_OK)
		goto out;
	prot = alg == VL_RAW_ES256 ? prot_es256 : prot_eddsa;
	if (payload_len > VL_MAX_ENVELOPE) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	if ((e = to_be_signed(&tbs, prot, sizeof(prot_es256), payload, payload_len)) != VOUCHER_OK)
		goto out;
	if ((e = vl_raw_sign(s, tbs.data, tbs.len, raw)) != VOUCHER_OK)
		goto out;

	/* 18([protected, {32: certs}, payload, signature]); the signer chain
	 * goes in an unprotected x5bag, signer first, so a registrar can strip
	 * it (cBRSKI) without touching what was signed. */
	size_t n = vl_signer_chain_len(s);
	if (n == 0 || n > BRSKI_MAX_CERT_CHAIN) {
		e = VOUCHER_E_CERT;
		goto out;
	}
	if ((e = put_head(&msg, MT_TAG, COSE_TAG_SIGN1)) != VOUCHER_OK ||
	    (e = put_head(&msg, MT_ARRAY, 4)) != VOUCHER_OK ||
	    (e = put_bstr(&msg, prot, sizeof(prot_es256))) != VOUCHER_OK ||
	    (e = put_head(&msg, MT_MAP, 1)) != VOUCHER_OK ||
	    (e = put_head(&msg, MT_UINT, HDR_X5BAG)) != VOUCHER_OK)
		goto out;
	/* RFC 9360 section 2: one certificate is a bstr, several an array. */
	if (n > 1 && (e = put_head(&msg, MT_ARRAY, n)) != VOUCHER_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const gnutls_datum_t *d = vl_signer_chain_der(s, i);
		if ((e = put_bstr(&msg, d->data, d->size)) != VOUCHER_OK)
			goto out;
	}
	if ((e = put_bstr(&msg, payload, payload_len)) != VOUCHER_OK ||
	    (e = put_bstr(&msg, raw, sizeof(raw))) != VOUCHER_OK)
		goto out;
	*out = brski_buf_take(&msg, out_len);
	e = VOUCHER_OK;
out:
	explicit_bzero(raw, sizeof(raw));
	brski_buf_free(&tbs);
	brski_buf_free(&msg);
	return e;
}

/* Does the message's signature verify over tbs with the key of cert? */
static voucher_err check_sig(const struct cose_msg *m, const struct brski_buf *tbs,
                             const gnutls_datum_t *cert)
{
	enum vl_raw_alg alg = m->alg == ALG_ES256 ? VL_RAW_ES256 : VL_RAW_EDDSA;
	return vl_raw_verify(alg, cert, tbs->data, tbs->len, m->sig, m->sig_len);
}

/* Parse, then either verify (the signature, then the chain) or, for
 * voucher_envelope_decode_unverified, only collect what was carried. */
static voucher_err cose_open(const uint8_t *in, size_t len, int verify, const gnutls_datum_t *extra,
                             size_t nextra, const struct voucher_trust *trust,
                             struct voucher_verified **out)
{
	struct cose_msg *m = NULL;
	struct voucher_verified *v = NULL;
	struct brski_buf tbs;
	/* x5chain, x5bag and the caller's certificates, each bounded. */
	gnutls_datum_t others[3 * BRSKI_MAX_CERT_CHAIN], cand[2 * BRSKI_MAX_CERT_CHAIN];
	size_t nothers = 0, ncand = 0;
	const gnutls_datum_t *signer = NULL;
	voucher_err e;

	*out = NULL;
	brski_buf_init(&tbs, VL_MAX_ENVELOPE + 64);
	/* The message state is a few KiB: keep it off the stack. */
	if ((m = malloc(sizeof(*m))) == NULL) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	if ((e = cose_parse(in, len, m)) != VOUCHER_OK)
		goto out;
	if ((e = to_be_signed(&tbs, m->prot, m->prot_len, m->payload, m->payload_len)) !=
	    VOUCHER_OK)
		goto out;

	if (!verify) {
		if ((e = vl_verified_new(VOUCHER_ENV_COSE, &v)) != VOUCHER_OK ||
		    (e = vl_verified_set_payload(v, m->payload, m->payload_len)) != VOUCHER_OK)
			goto out;
		for (size_t i = 0; i < m->nchain && e == VOUCHER_OK; i++)
			e = vl_verified_add_cert(v, m->chain[i].data, m->chain[i].size);
		for (size_t i = 0; i < m->nbag && e == VOUCHER_OK; i++)
			e = vl_verified_add_cert(v, m->bag[i].data, m->bag[i].size);
		if (e != VOUCHER_OK)
			goto out;
		*out = v;
		v = NULL;
		goto out;
	}
	if (nextra > BRSKI_MAX_CERT_CHAIN) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	if (m->nchain > 0) {
		/* x5chain is ordered: its first certificate is the signer's. */
		signer = &m->chain[0];
		if ((e = check_sig(m, &tbs, signer)) != VOUCHER_OK)
			goto out;
		for (size_t i = 1; i < m->nchain; i++)
			others[nothers++] = m->chain[i];
		for (size_t i = 0; i < m->nbag; i++)
			others[nothers++] = m->bag[i];
		for (size_t i = 0; i < nextra; i++)
			others[nothers++] = extra[i];
	} else if (m->nbag + nextra > 0) {
		/* x5bag is a bag: the signer is the certificate whose key
		 * verifies (we put it first; an RVR's bag also carries the
		 * pledge's chain), else one the caller supplied (a voucher
		 * whose bag a registrar stripped, a pledge request without
		 * one). At most 2 * BRSKI_MAX_CERT_CHAIN tries. */
		for (size_t i = 0; i < m->nbag; i++)
			cand[ncand++] = m->bag[i];
		for (size_t i = 0; i < nextra; i++)
			cand[ncand++] = extra[i];
		e = VOUCHER_E_SIG_INVALID;
		size_t at = ncand;
		for (size_t i = 0; i < ncand && at == ncand; i++) {
			voucher_err ce = check_sig(m, &tbs, &cand[i]);
			if (ce == VOUCHER_OK)
				at = i;
			else if (ce == VOUCHER_ENOMEM || ce == VOUCHER_E_CRYPTO)
				e = ce;
		}
		if (at == ncand)
			goto out;
		signer = &cand[at];
		for (size_t i = 0; i < ncand; i++)
			if (i != at)
				others[nothers++] = cand[i];
	} else {
		/* Nothing to verify with (a pledge's PVR is authenticated by
		 * its TLS client certificate instead). */
		e = VOUCHER_E_CERT;
		goto out;
	}

	if ((e = vl_verified_new(VOUCHER_ENV_COSE, &v)) != VOUCHER_OK ||
	    (e = vl_verified_set_payload(v, m->payload, m->payload_len)) != VOUCHER_OK ||
	    (e = vl_chain_verify(trust, signer, others, nothers, v)) != VOUCHER_OK)
		goto out;
	*out = v;
	v = NULL;
	e = VOUCHER_OK;
out:
	voucher_verified_free(v);
	brski_buf_free(&tbs);
	free(m);
	return e;
}

voucher_err vl_cose_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                           struct voucher_verified **out)
{
	return cose_open(in, len, 1, NULL, 0, trust, out);
}

voucher_err vl_cose_decode(const uint8_t *in, size_t len, struct voucher_verified **out)
{
	return cose_open(in, len, 0, NULL, 0, NULL, out);
}

voucher_err voucher_cose_verify_with_certs(const uint8_t *in, size_t len,
                                           const uint8_t *const *extra, const size_t *extra_len,
                                           size_t nextra, const struct voucher_trust *trust,
                                           struct voucher_verified **out)
{
	gnutls_datum_t d[BRSKI_MAX_CERT_CHAIN];
	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if (nextra > 0 && (extra == NULL || extra_len == NULL))
		return VOUCHER_EINVAL;
	if (in == NULL || len == 0)
		return VOUCHER_E_MALFORMED;
	if (nextra > BRSKI_MAX_CERT_CHAIN)
		return VOUCHER_E_TOO_LARGE;
	for (size_t i = 0; i < nextra; i++) {
		if (extra[i] == NULL || extra_len[i] == 0)
			return VOUCHER_EINVAL;
		if (extra_len[i] > VL_MAX_CERT)
			return VOUCHER_E_TOO_LARGE;
		d[i].data = (unsigned char *)(uintptr_t)extra[i];
		d[i].size = (unsigned)extra_len[i];
	}
	return cose_open(in, len, 1, d, nextra, trust, out);
}

voucher_err voucher_cose_strip_unprotected_certs(const uint8_t *in, size_t len, uint8_t **out,
                                                 size_t *out_len)
{
	struct cose_msg *m = NULL;
	struct brski_buf b;
	voucher_err e;

	if (out == NULL || out_len == NULL || (in == NULL && len > 0))
		return VOUCHER_EINVAL;
	*out = NULL;
	*out_len = 0;
	brski_buf_init(&b, VL_MAX_ENVELOPE);
	if ((m = malloc(sizeof(*m))) == NULL) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	if ((e = cose_parse(in, len, m)) != VOUCHER_OK)
		goto out;
	size_t keep = 0;
	for (size_t i = 0; i < m->nent; i++)
		keep += !m->ent[i].is_cert;
	/* Everything before the unprotected map (tag, array head, protected
	 * header), the kept entries and everything after it (payload and
	 * signature) are copied byte for byte. */
	if ((e = brski_buf_put(&b, in, m->unprot_start)) != VOUCHER_OK ||
	    (e = put_head(&b, MT_MAP, keep)) != VOUCHER_OK)
		goto out;
	for (size_t i = 0; i < m->nent; i++) {
		if (m->ent[i].is_cert)
			continue;
		if ((e = brski_buf_put(&b, in + m->ent[i].start,
		                       m->ent[i].end - m->ent[i].start)) != VOUCHER_OK)
			goto out;
	}
	if ((e = brski_buf_put(&b, in + m->unprot_end, len - m->unprot_end)) != VOUCHER_OK)
		goto out;
	*out = brski_buf_take(&b, out_len);
	e = VOUCHER_OK;
out:
	brski_buf_free(&b);
	free(m);
	return e;
}
