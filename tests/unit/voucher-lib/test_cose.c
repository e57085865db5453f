/* COSE_Sign1 envelope: round trips, hand-made messages (good and bad),
 * mutations, wrong signer, and stripping the unprotected certificates. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <voucher/sign.h>

#include "sigfixture.h"

static const uint8_t payload[] = {
        0xa1, 0x19, 0x09, 0x93, 0xa2, 0x01, 0x02,
        0x0b, 0x65, 'J',  'A',  'D',  'A',  '1'}; /* {2451: {1: 2, 11: "JADA1"}} */

static int setup(void **state)
{
	return fx_env_setup(state, 100);
}

/* ---- a tiny CBOR writer for hand-made messages ------------------------- */

struct hb {
	uint8_t b[16384];
	size_t n;
};

static void hb_raw(struct hb *h, const void *p, size_t n)
{
	if (n == 0)
		return;
	assert_true(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void hb_head(struct hb *h, unsigned mt, uint64_t v)
{
	uint8_t x[9];
	size_t n = 1;
	if (v < 24) {
		x[0] = (uint8_t)(mt << 5 | v);
	} else if (v < 256) {
		x[0] = (uint8_t)(mt << 5 | 24);
		x[1] = (uint8_t)v;
		n = 2;
	} else {
		assert_true(v < 65536);
		x[0] = (uint8_t)(mt << 5 | 25);
		x[1] = (uint8_t)(v >> 8);
		x[2] = (uint8_t)v;
		n = 3;
	}
	hb_raw(h, x, n);
}

static void hb_bstr(struct hb *h, const void *p, size_t n)
{
	hb_head(h, 2, n);
	hb_raw(h, p, n);
}

/* tag? [prot, unprot (raw CBOR), payload, sig by key over the Sig_structure] */
static void make_msg(struct hb *out, int tagged, const struct hb *prot, const struct hb *unprot,
                     const struct fx_id *key)
{
	struct hb tbs = {.n = 0};
	uint8_t sig[64];
	hb_head(&tbs, 4, 4);
	hb_head(&tbs, 3, 10);
	hb_raw(&tbs, "Signature1", 10);
	hb_bstr(&tbs, prot->b, prot->n);
	hb_bstr(&tbs, NULL, 0);
	hb_bstr(&tbs, payload, sizeof(payload));
	fx_sign_raw(key, tbs.b, tbs.n, sig);
	out->n = 0;
	if (tagged)
		hb_head(out, 6, 18);
	hb_head(out, 4, 4);
	hb_bstr(out, prot->b, prot->n);
	hb_raw(out, unprot->b, unprot->n);
	hb_bstr(out, payload, sizeof(payload));
	hb_bstr(out, sig, sizeof(sig));
}

static const uint8_t prot_es256[] = {0xa1, 0x01, 0x26};

static void set(struct hb *h, const void *p, size_t n)
{
	h->n = 0;
	hb_raw(h, p, n);
}

static voucher_err verify(const struct hb *m, const struct voucher_trust *t)
{
	struct voucher_verified *v = NULL;
	voucher_err e = voucher_verify(VOUCHER_ENV_COSE, m->b, m->n, t, &v);
	if (e == VOUCHER_OK) {
		assert_non_null(v);
		assert_int_equal(v->payload_len, sizeof(payload));
		assert_memory_equal(v->payload, payload, sizeof(payload));
	} else {
		assert_null(v);
	}
	voucher_verified_free(v);
	return e;
}

/* ---- tests --------------------------------------------------------------- */

static void roundtrip(struct voucher_signer *s, const struct fx_pki *p,
                      const struct voucher_trust *t, const struct voucher_trust *wrong, uint8_t alg)
{
	uint8_t *out = NULL;
	size_t len = 0;
	struct voucher_verified *v = NULL;

	assert_int_equal(voucher_sign(VOUCHER_ENV_COSE, s, payload, sizeof(payload), &out, &len),
	                 VOUCHER_OK);
	/* 18([h'A101xx', {32: cert}, payload, sig]) */
	const uint8_t head[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, alg, 0xa1, 0x18, 0x20};
	assert_true(len > sizeof(head) + 66);
	assert_memory_equal(out, head, sizeof(head));
	assert_int_equal(out[len - 66], 0x58);
	assert_int_equal(out[len - 65], 64);
	assert_int_equal(voucher_envelope_detect(out, len), VOUCHER_ENV_COSE);

	assert_int_equal(voucher_verify(VOUCHER_ENV_COSE, out, len, t, &v), VOUCHER_OK);
	assert_int_equal(v->env, VOUCHER_ENV_COSE);
	assert_int_equal(v->payload_len, sizeof(payload));
	assert_memory_equal(v->payload, payload, sizeof(payload));
	assert_true(v->chain_len >= 1);
	assert_int_equal(v->chain_der_len[0], p->signer.der.size);
	assert_memory_equal(v->chain[0], p->signer.der.data, p->signer.der.size);
	voucher_verified_free(v);
	v = NULL;

	/* No trust: the signature and the carried chain only. */
	assert_int_equal(voucher_verify(VOUCHER_ENV_COSE, out, len, NULL, &v), VOUCHER_OK);
	voucher_verified_free(v);
	v = NULL;
	/* Someone else's anchors. */
	assert_int_equal(voucher_verify(VOUCHER_ENV_COSE, out, len, wrong, &v),
	                 VOUCHER_E_UNTRUSTED);
	assert_null(v);
	free(out);
}

static void test_roundtrip_es256(void **state)
{
	struct fx_env *e = *state;
	roundtrip(e->s_es, &e->es, e->t_es, e->t_other, 0x26);
}

static void test_roundtrip_eddsa(void **state)
{
	struct fx_env *e = *state;
	roundtrip(e->s_ed, &e->ed, e->t_ed, e->t_es, 0x27);
}

/* Messages made by hand that a conforming peer may send. */
static void test_handmade_good(void **state)
{
	struct fx_env *e = *state;
	const struct fx_id *id = &e->es.signer;
	struct hb prot, unprot, m;

	set(&prot, prot_es256, sizeof(prot_es256));
	/* x5chain as a single bstr */
	unprot.n = 0;
	hb_head(&unprot, 5, 1);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, id->der.data, id->der.size);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);
	/* untagged */
	make_msg(&m, 0, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);

	/* x5chain array with the CA, kid, a text label, content type */
	unprot.n = 0;
	hb_head(&unprot, 5, 3);
	hb_head(&unprot, 0, 33);
	hb_head(&unprot, 4, 2);
	hb_bstr(&unprot, id->der.data, id->der.size);
	hb_bstr(&unprot, e->es.ca.der.data, e->es.ca.der.size);
	hb_head(&unprot, 0, 4);
	hb_bstr(&unprot, "k1", 2);
	hb_head(&unprot, 3, 3);
	hb_raw(&unprot, "iat", 3);
	hb_head(&unprot, 0, 1700000000 & 0xffff);
	prot.n = 0;
	hb_head(&prot, 5, 3);
	hb_head(&prot, 0, 1);
	hb_head(&prot, 1, 6);
	hb_head(&prot, 0, 3); /* content type 836 */
	hb_head(&prot, 0, 836);
	hb_head(&prot, 0, 2); /* crit [3]: we understand content type */
	hb_head(&prot, 4, 1);
	hb_head(&prot, 0, 3);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);

	/* x5bag with the signer second: found by its key */
	unprot.n = 0;
	hb_head(&unprot, 5, 1);
	hb_head(&unprot, 0, 32);
	hb_head(&unprot, 4, 2);
	hb_bstr(&unprot, e->es.ca.der.data, e->es.ca.der.size);
	hb_bstr(&unprot, id->der.data, id->der.size);
	set(&prot, prot_es256, sizeof(prot_es256));
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);

	/* x5chain in the protected header */
	prot.n = 0;
	hb_head(&prot, 5, 2);
	hb_head(&prot, 0, 1);
	hb_head(&prot, 1, 6);
	hb_head(&prot, 0, 33);
	hb_bstr(&prot, id->der.data, id->der.size);
	set(&unprot, "\xa0", 1);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);
}

/* The right certificate, someone else's key. */
static void test_wrong_signer(void **state)
{
	struct fx_env *e = *state;
	struct hb prot, unprot, m;
	set(&prot, prot_es256, sizeof(prot_es256));
	unprot.n = 0;
	hb_head(&unprot, 5, 1);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, e->es.signer.der.data, e->es.signer.der.size);
	make_msg(&m, 1, &prot, &unprot, &e->other.signer);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_SIG_INVALID);
	assert_int_equal(verify(&m, NULL), VOUCHER_E_SIG_INVALID);
	/* Decoding without verifying shows what was carried. */
	struct voucher_verified *v = NULL;
	assert_int_equal(voucher_envelope_decode_unverified(VOUCHER_ENV_COSE, m.b, m.n, &v),
	                 VOUCHER_OK);
	assert_int_equal(v->chain_len, 1);
	assert_memory_equal(v->chain[0], e->es.signer.der.data, e->es.signer.der.size);
	voucher_verified_free(v);
	v = NULL;
	assert_int_equal(voucher_envelope_decode_unverified(VOUCHER_ENV_COSE, m.b, m.n - 1, &v),
	                 VOUCHER_E_MALFORMED);
	assert_null(v);
	assert_int_equal(voucher_envelope_decode_unverified(VOUCHER_ENV_CMS, m.b, m.n, &v),
	                 VOUCHER_ENOTSUP);
	/* In a bag, no certificate fits. */
	unprot.b[2] = 32;
	make_msg(&m, 1, &prot, &unprot, &e->other.signer);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_SIG_INVALID);
	/* ES256 named, Ed25519 certificate */
	unprot.n = 0;
	hb_head(&unprot, 5, 1);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, e->ed.signer.der.data, e->ed.signer.der.size);
	make_msg(&m, 1, &prot, &unprot, &e->es.signer);
	assert_int_equal(verify(&m, NULL), VOUCHER_E_UNSUPPORTED_ALG);
}

struct bad_case {
	const char *name;
	voucher_err want;
};

/* Each case changes one thing in an otherwise good message. */
static void test_handmade_bad(void **state)
{
	struct fx_env *e = *state;
	const struct fx_id *id = &e->es.signer;
	struct hb prot, unprot, m, good_unprot;

	good_unprot.n = 0;
	hb_head(&good_unprot, 5, 1);
	hb_head(&good_unprot, 0, 33);
	hb_bstr(&good_unprot, id->der.data, id->der.size);
	set(&prot, prot_es256, sizeof(prot_es256));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);

	/* trailing byte */
	m.b[m.n++] = 0x00;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_TRAILING_DATA);
	/* truncated */
	m.n -= 2;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	/* another tag (COSE_Sign, 98) */
	make_msg(&m, 1, &prot, &good_unprot, id);
	m.b[0] = 0xd8;
	memmove(m.b + 2, m.b + 1, m.n - 1);
	m.b[1] = 98;
	m.n++;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_CONTENT_TYPE);
	/* three elements */
	make_msg(&m, 1, &prot, &good_unprot, id);
	m.b[1] = 0x83;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	/* indefinite-length array */
	make_msg(&m, 1, &prot, &good_unprot, id);
	m.b[1] = 0x9f;
	m.b[m.n++] = 0xff;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);

	/* unknown algorithm (ES384, -35) */
	const uint8_t p_es384[] = {0xa1, 0x01, 0x38, 0x22};
	set(&prot, p_es384, sizeof(p_es384));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_UNSUPPORTED_ALG);
	/* no alg */
	set(&prot, "\xa0", 1);
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MISSING);
	prot.n = 0;
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MISSING);
	/* alg as text */
	const uint8_t p_txt[] = {0xa1, 0x01, 0x65, 'E', 'S', '2', '5', '6'};
	set(&prot, p_txt, sizeof(p_txt));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_UNSUPPORTED_ALG);
	/* unknown critical header (label 99) */
	const uint8_t p_crit[] = {0xa3, 0x01, 0x26, 0x02, 0x81, 0x18, 0x63, 0x18, 0x63, 0x00};
	set(&prot, p_crit, sizeof(p_crit));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_UNKNOWN_CRITICAL);
	/* text label marked critical */
	const uint8_t p_critt[] = {0xa3, 0x01, 0x26, 0x02, 0x81, 0x61, 'x', 0x61, 'x', 0x00};
	set(&prot, p_critt, sizeof(p_critt));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_UNKNOWN_CRITICAL);
	/* empty crit */
	const uint8_t p_crit0[] = {0xa2, 0x01, 0x26, 0x02, 0x80};
	set(&prot, p_crit0, sizeof(p_crit0));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	/* critical label that is not in the protected header */
	const uint8_t p_crit4[] = {0xa2, 0x01, 0x26, 0x02, 0x81, 0x04};
	set(&prot, p_crit4, sizeof(p_crit4));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	/* duplicate label in the protected header */
	const uint8_t p_dup[] = {0xa2, 0x01, 0x26, 0x01, 0x26};
	set(&prot, p_dup, sizeof(p_dup));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_DUPLICATE);
	/* trailing byte inside the protected bstr */
	const uint8_t p_trail[] = {0xa1, 0x01, 0x26, 0x00};
	set(&prot, p_trail, sizeof(p_trail));
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_TRAILING_DATA);
	/* protected header not a map */
	set(&prot, "\x81\x01", 2);
	make_msg(&m, 1, &prot, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_BAD_TYPE);

	set(&prot, prot_es256, sizeof(prot_es256));
	/* alg in the unprotected header as well */
	unprot.n = 0;
	hb_head(&unprot, 5, 2);
	hb_head(&unprot, 0, 1);
	hb_head(&unprot, 1, 6);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, id->der.data, id->der.size);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_DUPLICATE);
	/* alg only unprotected */
	set(&prot, "\xa0", 1);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	set(&prot, prot_es256, sizeof(prot_es256));
	/* x5chain twice (protected and unprotected) */
	struct hb p2 = {.n = 0};
	hb_head(&p2, 5, 2);
	hb_head(&p2, 0, 1);
	hb_head(&p2, 1, 6);
	hb_head(&p2, 0, 33);
	hb_bstr(&p2, id->der.data, id->der.size);
	make_msg(&m, 1, &p2, &good_unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_DUPLICATE);
	/* no certificate */
	set(&unprot, "\xa0", 1);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_CERT);
	/* x5chain empty array, wrong type, empty bstr, too many */
	set(&unprot, "\xa1\x18\x21\x80", 4);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	set(&unprot, "\xa1\x18\x21\x01", 4);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_BAD_TYPE);
	set(&unprot, "\xa1\x18\x21\x40", 4);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	unprot.n = 0;
	hb_head(&unprot, 5, 1);
	hb_head(&unprot, 0, 33);
	hb_head(&unprot, 4, 9);
	for (int i = 0; i < 9; i++)
		hb_bstr(&unprot, id->der.data, id->der.size);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_TOO_LARGE);
	/* garbage certificate */
	set(&unprot, "\xa1\x18\x21\x43\x30\x01\x00", 7);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_not_equal(verify(&m, e->t_es), VOUCHER_OK);
	/* an unknown header nested too deeply */
	unprot.n = 0;
	hb_head(&unprot, 5, 2);
	hb_head(&unprot, 0, 99);
	for (int i = 0; i < 20; i++)
		hb_head(&unprot, 4, 1);
	hb_head(&unprot, 0, 0);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, id->der.data, id->der.size);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_TOO_DEEP);
	/* map claims more entries than there are bytes */
	unprot.n = 0;
	hb_head(&unprot, 5, 2);
	hb_head(&unprot, 0, 99);
	hb_head(&unprot, 5, 60000);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);

	/* signature of the wrong size; nil (detached) payload */
	make_msg(&m, 1, &prot, &good_unprot, id);
	m.b[m.n - 65] = 63;
	m.n--;
	assert_int_equal(verify(&m, e->t_es), VOUCHER_E_MALFORMED);
	struct hb d = {.n = 0};
	hb_head(&d, 6, 18);
	hb_head(&d, 4, 4);
	hb_bstr(&d, prot_es256, sizeof(prot_es256));
	hb_raw(&d, good_unprot.b, good_unprot.n);
	hb_raw(&d, "\xf6", 1);
	hb_bstr(&d, m.b, 64);
	assert_int_equal(verify(&d, e->t_es), VOUCHER_E_MISSING);
	/* over the size bound */
	uint8_t *big = calloc(1, 70000);
	assert_non_null(big);
	struct voucher_verified *v = NULL;
	assert_int_equal(voucher_verify(VOUCHER_ENV_COSE, big, 70000, NULL, &v),
	                 VOUCHER_E_TOO_LARGE);
	free(big);
}

/* Flip bits everywhere and cut at many places: nothing may verify, except
 * a change inside the unprotected header that still names the same signer
 * (x5bag <-> x5chain), which must then give the same payload. */
static void test_mutations(void **state)
{
	struct fx_env *e = *state;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(
	        voucher_sign(VOUCHER_ENV_COSE, e->s_es, payload, sizeof(payload), &out, &len),
	        VOUCHER_OK);
	size_t unprot_start = 6, unprot_end = len - 66 - sizeof(payload) - 1;
	uint8_t *m = malloc(len);
	assert_non_null(m);
	size_t ok = 0;
	for (size_t i = 0; i < len; i++) {
		static const uint8_t flips[] = {0x01, 0x20, 0x80};
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(m, out, len);
			m[i] ^= flips[f];
			struct voucher_verified *v = NULL;
			voucher_err r = voucher_verify(VOUCHER_ENV_COSE, m, len, e->t_es, &v);
			if (r == VOUCHER_OK) {
				assert_true(i >= unprot_start && i < unprot_end);
				assert_memory_equal(v->payload, payload, sizeof(payload));
				ok++;
			}
			voucher_verified_free(v);
		}
	}
	assert_true(ok <= 2);
	for (size_t cut = 0; cut < len; cut++) {
		struct voucher_verified *v = NULL;
		assert_int_not_equal(voucher_verify(VOUCHER_ENV_COSE, out, cut, e->t_es, &v),
		                     VOUCHER_OK);
		/* Nothing cut is the original; cutting the tag alone leaves
		 * the untagged form, which is a valid COSE_Sign1 too. */
		voucher_err want_ok =
		        voucher_verify(VOUCHER_ENV_COSE, out + cut, len - cut, e->t_es, &v);
		if (cut <= 1)
			assert_int_equal(want_ok, VOUCHER_OK);
		else
			assert_int_not_equal(want_ok, VOUCHER_OK);
		voucher_verified_free(v);
	}
	free(m);
	free(out);
}

static void test_strip(void **state)
{
	struct fx_env *e = *state;
	const struct fx_id *id = &e->es.signer;
	uint8_t *out = NULL, *stripped = NULL;
	size_t len = 0, slen = 0;

	assert_int_equal(
	        voucher_sign(VOUCHER_ENV_COSE, e->s_es, payload, sizeof(payload), &out, &len),
	        VOUCHER_OK);
	assert_int_equal(voucher_cose_strip_unprotected_certs(out, len, &stripped, &slen),
	                 VOUCHER_OK);
	/* 18([h'A10126', {}, payload, sig]): only the map changed. */
	assert_int_equal(slen, 6 + 1 + 1 + sizeof(payload) + 2 + 64);
	assert_memory_equal(stripped, out, 6);
	assert_int_equal(stripped[6], 0xa0);
	assert_memory_equal(stripped + 7, out + len - (slen - 7), slen - 7);
	/* Nothing left to verify with; the signed parts are untouched. */
	struct voucher_verified *v = NULL;
	assert_int_equal(voucher_verify(VOUCHER_ENV_COSE, stripped, slen, NULL, &v),
	                 VOUCHER_E_CERT);
	/* Whoever knows the signer's certificate still verifies it. */
	const uint8_t *extra[2] = {e->es.signer.der.data, e->other.signer.der.data};
	const size_t extra_len[2] = {e->es.signer.der.size, e->other.signer.der.size};
	assert_int_equal(
	        voucher_cose_verify_with_certs(stripped, slen, extra, extra_len, 1, e->t_es, &v),
	        VOUCHER_OK);
	assert_memory_equal(v->payload, payload, sizeof(payload));
	assert_memory_equal(v->chain[0], e->es.signer.der.data, e->es.signer.der.size);
	voucher_verified_free(v);
	v = NULL;
	/* found among several, in any order */
	const uint8_t *rev[2] = {extra[1], extra[0]};
	const size_t rev_len[2] = {extra_len[1], extra_len[0]};
	assert_int_equal(
	        voucher_cose_verify_with_certs(stripped, slen, rev, rev_len, 2, e->t_es, &v),
	        VOUCHER_OK);
	voucher_verified_free(v);
	v = NULL;
	/* someone else's certificate, someone else's anchors, nothing */
	assert_int_equal(voucher_cose_verify_with_certs(stripped, slen, extra + 1, extra_len + 1, 1,
	                                                e->t_es, &v),
	                 VOUCHER_E_SIG_INVALID);
	assert_int_equal(
	        voucher_cose_verify_with_certs(stripped, slen, extra, extra_len, 1, e->t_other, &v),
	        VOUCHER_E_UNTRUSTED);
	assert_int_equal(voucher_cose_verify_with_certs(stripped, slen, NULL, NULL, 0, e->t_es, &v),
	                 VOUCHER_E_CERT);
	assert_int_equal(voucher_cose_verify_with_certs(stripped, slen, NULL, NULL, 1, e->t_es, &v),
	                 VOUCHER_EINVAL);
	assert_null(v);
	/* ... but it still decodes, for display. */
	assert_int_equal(voucher_envelope_decode_unverified(VOUCHER_ENV_COSE, stripped, slen, &v),
	                 VOUCHER_OK);
	assert_int_equal(v->chain_len, 0);
	assert_memory_equal(v->payload, payload, sizeof(payload));
	voucher_verified_free(v);
	v = NULL;
	free(stripped);

	/* Other unprotected entries survive, in order, byte for byte. */
	struct hb prot, unprot, m;
	set(&prot, prot_es256, sizeof(prot_es256));
	unprot.n = 0;
	hb_head(&unprot, 5, 4);
	hb_head(&unprot, 0, 4);
	hb_bstr(&unprot, "kid", 3);
	hb_head(&unprot, 0, 32);
	hb_bstr(&unprot, e->es.ca.der.data, e->es.ca.der.size);
	hb_head(&unprot, 3, 1);
	hb_raw(&unprot, "x", 1);
	hb_head(&unprot, 4, 1);
	hb_head(&unprot, 0, 7);
	hb_head(&unprot, 0, 33);
	hb_bstr(&unprot, id->der.data, id->der.size);
	make_msg(&m, 1, &prot, &unprot, id);
	assert_int_equal(verify(&m, e->t_es), VOUCHER_OK);
	assert_int_equal(voucher_cose_strip_unprotected_certs(m.b, m.n, &stripped, &slen),
	                 VOUCHER_OK);
	const uint8_t want_map[] = {0xa2, 0x04, 0x43, 'k', 'i', 'd', 0x61, 'x', 0x81, 0x07};
	assert_memory_equal(stripped + 6, want_map, sizeof(want_map));
	assert_int_equal(slen, 6 + sizeof(want_map) + 1 + sizeof(payload) + 2 + 64);
	free(stripped);

	/* Bad input is refused as verification would. */
	stripped = NULL;
	assert_int_equal(voucher_cose_strip_unprotected_certs(out, len - 1, &stripped, &slen),
	                 VOUCHER_E_MALFORMED);
	assert_null(stripped);
	assert_int_equal(voucher_cose_strip_unprotected_certs(NULL, 0, NULL, NULL), VOUCHER_EINVAL);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_es256), cmocka_unit_test(test_roundtrip_eddsa),
	        cmocka_unit_test(test_handmade_good),   cmocka_unit_test(test_wrong_signer),
	        cmocka_unit_test(test_handmade_bad),    cmocka_unit_test(test_mutations),
	        cmocka_unit_test(test_strip),
	};
	return cmocka_run_group_tests(tests, setup, fx_env_teardown);
}
