/* JWS general JSON serialization envelope: round trips, hand-made messages
 * (good and bad), several signatures, mutations and wrong signers. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <voucher/sign.h>

#include "sigfixture.h"

static const char payload[] = "{\"ietf-voucher:voucher\":{\"assertion\":\"logged\","
                              "\"serial-number\":\"JADA1\"}}";
#define PAYLOAD_LEN (sizeof(payload) - 1)

static int setup(void **state)
{
	return fx_env_setup(state, 400);
}

/* ---- helpers: base64 and hand-made messages ----------------------------- */

static void b64(char *out, size_t cap, const uint8_t *in, size_t len, int url)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	                    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;
		size_t n = len - i >= 3 ? 3 : len - i;
		if (n > 1)
			w |= (uint32_t)in[i + 1] << 8;
		if (n > 2)
			w |= in[i + 2];
		assert_true(o + 5 < cap);
		out[o++] = a[w >> 18];
		out[o++] = a[(w >> 12) & 63];
		if (n > 1)
			out[o++] = a[(w >> 6) & 63];
		else if (!url)
			out[o++] = '=';
		if (n > 2)
			out[o++] = a[w & 63];
		else if (!url)
			out[o++] = '=';
	}
	out[o] = 0;
}

struct msg {
	char text[32768];
	size_t n;
};

/* {"payload":..., "signatures":[{"protected":..., "signature":...}<extra>]}<trail>,
 * the header given as JSON text, signed with key. */
static void make_jws(struct msg *m, const char *header_json, const struct fx_id *key,
                     const char *extra_sig_members, const char *extra_sigs, const char *trail)
{
	static char prot[16384], pay[4096], input[20480], sigtxt[128];
	uint8_t raw[64];
	b64(prot, sizeof(prot), (const uint8_t *)header_json, strlen(header_json), 1);
	b64(pay, sizeof(pay), (const uint8_t *)payload, PAYLOAD_LEN, 1);
	snprintf(input, sizeof(input), "%s.%s", prot, pay);
	fx_sign_raw(key, (const uint8_t *)input, strlen(input), raw);
	b64(sigtxt, sizeof(sigtxt), raw, sizeof(raw), 1);
	int n = snprintf(m->text, sizeof(m->text),
	                 "{\"payload\":\"%s\",\"signatures\":[{\"protected\":\"%s\","
	                 "\"signature\":\"%s\"%s}%s]}%s",
	                 pay, prot, sigtxt, extra_sig_members, extra_sigs, trail);
	assert_true(n > 0 && (size_t)n < sizeof(m->text));
	m->n = (size_t)n;
}

/* A protected header with alg, typ (NULL: none) and the given x5c certs. */
static void header(char *out, size_t cap, const char *alg, const char *typ, const struct fx_id *c1,
                   const struct fx_id *c2, const char *more)
{
	static char b1[8192], b2[8192];
	b64(b1, sizeof(b1), c1->der.data, c1->der.size, 0);
	if (c2 != NULL)
		b64(b2, sizeof(b2), c2->der.data, c2->der.size, 0);
	char typbuf[128] = "";
	if (typ != NULL)
		snprintf(typbuf, sizeof(typbuf), ",\"typ\":\"%s\"", typ);
	int n = snprintf(out, cap, "{\"alg\":\"%s\"%s,\"x5c\":[\"%s\"%s%s%s]%s}", alg, typbuf, b1,
	                 c2 ? ",\"" : "", c2 ? b2 : "", c2 ? "\"" : "", more);
	assert_true(n > 0 && (size_t)n < cap);
}

static voucher_err verify(const struct msg *m, const struct voucher_trust *t, size_t *nsigs)
{
	struct voucher_verified *v = NULL;
	voucher_err e = voucher_verify(VOUCHER_ENV_JWS, (const uint8_t *)m->text, m->n, t, &v);
	if (e == VOUCHER_OK) {
		assert_non_null(v);
		assert_int_equal(v->payload_len, PAYLOAD_LEN);
		assert_memory_equal(v->payload, payload, PAYLOAD_LEN);
		if (nsigs != NULL)
			*nsigs = v->jws_signatures;
	} else {
		assert_null(v);
	}
	voucher_verified_free(v);
	return e;
}

/* ---- tests --------------------------------------------------------------- */

static void roundtrip(struct voucher_signer *s, const struct fx_pki *p,
                      const struct voucher_trust *t, const struct voucher_trust *wrong,
                      const char *alg)
{
	uint8_t *out = NULL;
	size_t len = 0;
	struct voucher_verified *v = NULL;

	assert_int_equal(
	        voucher_sign(VOUCHER_ENV_JWS, s, (const uint8_t *)payload, PAYLOAD_LEN, &out, &len),
	        VOUCHER_OK);
	assert_int_equal(voucher_envelope_detect(out, len), VOUCHER_ENV_JWS);
	/* The shape jws-voucher asks for. */
	json_error_t je;
	json_t *root = json_loadb((const char *)out, len, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(root);
	const char *pay, *prot, *sig;
	assert_int_equal(json_unpack_ex(root, &je, JSON_STRICT, "{s:s, s:[{s:s, s:s}]}", "payload",
	                                &pay, "signatures", "protected", &prot, "signature", &sig),
	                 0);
	char want_pay[256];
	b64(want_pay, sizeof(want_pay), (const uint8_t *)payload, PAYLOAD_LEN, 1);
	assert_string_equal(pay, want_pay);
	assert_int_equal(strlen(sig), 86);
	/* Decode the header with a throwaway base64url decoder via JSON. */
	size_t plen = strlen(prot);
	char *std = malloc(plen + 4);
	assert_non_null(std);
	for (size_t i = 0; i < plen; i++)
		std[i] = prot[i] == '-' ? '+' : prot[i] == '_' ? '/' : prot[i];
	size_t sl = plen;
	while (sl % 4)
		std[sl++] = '=';
	gnutls_datum_t in = {(unsigned char *)std, (unsigned)sl}, dec;
	assert_int_equal(gnutls_base64_decode2(&in, &dec), 0);
	json_t *h = json_loadb((const char *)dec.data, dec.size, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(h);
	const char *halg, *typ, *c0;
	assert_int_equal(json_unpack_ex(h, &je, JSON_STRICT, "{s:s, s:s, s:[s!]}", "alg", &halg,
	                                "typ", &typ, "x5c", &c0),
	                 0);
	assert_string_equal(halg, alg);
	assert_string_equal(typ, "voucher-jws+json");
	char want_c0[4096];
	b64(want_c0, sizeof(want_c0), p->signer.der.data, p->signer.der.size, 0);
	assert_string_equal(c0, want_c0);
	json_decref(h);
	gnutls_free(dec.data);
	free(std);
	json_decref(root);

	assert_int_equal(voucher_verify(VOUCHER_ENV_JWS, out, len, t, &v), VOUCHER_OK);
	assert_int_equal(v->env, VOUCHER_ENV_JWS);
	assert_int_equal(v->jws_signatures, 1);
	assert_int_equal(v->payload_len, PAYLOAD_LEN);
	assert_memory_equal(v->payload, payload, PAYLOAD_LEN);
	assert_int_equal(v->chain_der_len[0], p->signer.der.size);
	assert_memory_equal(v->chain[0], p->signer.der.data, p->signer.der.size);
	voucher_verified_free(v);
	v = NULL;
	assert_int_equal(voucher_verify(VOUCHER_ENV_JWS, out, len, NULL, &v), VOUCHER_OK);
	voucher_verified_free(v);
	v = NULL;
	assert_int_equal(voucher_verify(VOUCHER_ENV_JWS, out, len, wrong, &v), VOUCHER_E_UNTRUSTED);
	assert_null(v);
	free(out);
}

static void test_roundtrip_es256(void **state)
{
	struct fx_env *e = *state;
	roundtrip(e->s_es, &e->es, e->t_es, e->t_other, "ES256");
}

static void test_roundtrip_eddsa(void **state)
{
	struct fx_env *e = *state;
	roundtrip(e->s_ed, &e->ed, e->t_ed, e->t_es, "EdDSA");
}

static void test_handmade_good(void **state)
{
	struct fx_env *e = *state;
	static char h[16384];
	static struct msg m;
	size_t n = 0;
	const struct fx_id *id = &e->es.signer;

	header(h, sizeof(h), "ES256", NULL, id, NULL, "");
	make_jws(&m, h, id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, &n), VOUCHER_OK);
	assert_int_equal(n, 1);
	header(h, sizeof(h), "ES256", "application/Voucher-JWS+JSON", id, &e->es.ca,
	       ",\"kid\":\"abc\",\"x-private\":{\"a\":[1,2]}");
	make_jws(&m, h, id, ",\"header\":{\"note\":\"unprotected\"}", "", "\n");
	assert_int_equal(verify(&m, e->t_es, &n), VOUCHER_OK);
	/* A second signature (BRSKI-PRM registrar): counted, not verified. */
	header(h, sizeof(h), "ES256", "voucher-jws+json", id, NULL, "");
	make_jws(&m, h, id, "", ",{\"protected\":\"e30\",\"signature\":\"AAAA\"}", "");
	assert_int_equal(verify(&m, e->t_es, &n), VOUCHER_OK);
	assert_int_equal(n, 2);
	/* JSON escapes in the base64 of x5c ("\/") are just text. */
	header(h, sizeof(h), "ES256", NULL, id, NULL, "");
	char *p = h;
	static char esc[20000];
	size_t o = 0;
	for (; *p; p++) {
		if (*p == '/')
			esc[o++] = '\\';
		esc[o++] = *p;
	}
	esc[o] = 0;
	make_jws(&m, esc, id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, &n), VOUCHER_OK);
	/* Ed25519 by hand */
	header(h, sizeof(h), "EdDSA", NULL, &e->ed.signer, NULL, "");
	make_jws(&m, h, &e->ed.signer, "", "", "");
	assert_int_equal(verify(&m, e->t_ed, &n), VOUCHER_OK);
}

static void test_handmade_bad(void **state)
{
	struct fx_env *e = *state;
	static char h[16384];
	static struct msg m;
	const struct fx_id *id = &e->es.signer;

	static const struct {
		const char *alg, *typ, *more;
		voucher_err want;
	} hdr_cases[] = {
	        {"none", NULL, "", VOUCHER_E_UNSUPPORTED_ALG},
	        {"HS256", NULL, "", VOUCHER_E_UNSUPPORTED_ALG},
	        {"RS256", NULL, "", VOUCHER_E_UNSUPPORTED_ALG},
	        {"es256", NULL, "", VOUCHER_E_UNSUPPORTED_ALG},
	        {"ES256", "JWT", "", VOUCHER_E_CONTENT_TYPE},
	        {"ES256", "voucher-cms+json", "", VOUCHER_E_CONTENT_TYPE},
	        {"ES256", NULL, ",\"crit\":[\"exp\"],\"exp\":1", VOUCHER_E_UNKNOWN_CRITICAL},
	        {"ES256", NULL, ",\"b64\":false", VOUCHER_E_UNKNOWN_CRITICAL},
	        {"ES256", NULL, ",\"alg\":\"ES256\"", VOUCHER_E_DUPLICATE},
	        {"EdDSA", NULL, "", VOUCHER_E_UNSUPPORTED_ALG}, /* P-256 key */
	};
	for (size_t i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		header(h, sizeof(h), hdr_cases[i].alg, hdr_cases[i].typ, id, NULL,
		       hdr_cases[i].more);
		make_jws(&m, h, id, "", "", "");
		print_message("header case %zu\n", i);
		assert_int_equal(verify(&m, e->t_es, NULL), hdr_cases[i].want);
	}

	/* no x5c; x5c empty; x5c in base64url; x5c not strings */
	make_jws(&m, "{\"alg\":\"ES256\"}", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_CERT);
	make_jws(&m, "{\"alg\":\"ES256\",\"x5c\":[]}", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_CERT);
	make_jws(&m, "{\"alg\":\"ES256\",\"x5c\":[1]}", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_TYPE);
	make_jws(&m, "{\"alg\":\"ES256\",\"x5c\":\"MIIB\"}", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_TYPE);
	char url[4096];
	b64(url, sizeof(url), id->der.data, id->der.size, 1);
	snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", url);
	make_jws(&m, h, id, "", "", "");
	/* The std alphabet lacks - and _, and the padding is missing. */
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_BASE64);
	/* header not JSON, not an object, duplicate member */
	make_jws(&m, "alg=ES256", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_MALFORMED);
	make_jws(&m, "[\"ES256\"]", id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_TYPE);
	header(h, sizeof(h), "ES256", NULL, id, NULL, ",\"kid\":\"a\",\"kid\":\"b\"");
	make_jws(&m, h, id, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_DUPLICATE);

	header(h, sizeof(h), "ES256", NULL, id, NULL, "");
	/* the right certificate, another key */
	make_jws(&m, h, &e->other.signer, "", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_SIG_INVALID);
	assert_int_equal(verify(&m, NULL, NULL), VOUCHER_E_SIG_INVALID);
	/* Decoding without verifying shows what was carried. */
	struct voucher_verified *dv = NULL;
	assert_int_equal(
	        voucher_envelope_decode_unverified(VOUCHER_ENV_JWS, (uint8_t *)m.text, m.n, &dv),
	        VOUCHER_OK);
	assert_int_equal(dv->chain_len, 1);
	assert_int_equal(dv->jws_signatures, 1);
	assert_memory_equal(dv->payload, payload, PAYLOAD_LEN);
	assert_memory_equal(dv->chain[0], id->der.data, id->der.size);
	voucher_verified_free(dv);
	/* unknown member in a signature, header not an object, header
	 * repeating a protected name */
	make_jws(&m, h, id, ",\"extra\":1", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_UNKNOWN_MEMBER);
	make_jws(&m, h, id, ",\"header\":[]", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_TYPE);
	make_jws(&m, h, id, ",\"header\":{\"alg\":\"ES256\"}", "", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_DUPLICATE);
	/* a malformed second signature */
	make_jws(&m, h, id, "", ",{\"protected\":\"e30\"}", "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_MISSING);
	/* too many signatures */
	make_jws(&m, h, id, "",
	         ",{\"protected\":\"e30\",\"signature\":\"\"},{\"protected\":\"e30\",\"signature\":"
	         "\"\"},{\"protected\":\"e30\",\"signature\":\"\"},{\"protected\":\"e30\","
	         "\"signature\":\"\"},{\"protected\":\"e30\",\"signature\":\"\"},{\"protected\":"
	         "\"e30\",\"signature\":\"\"},{\"protected\":\"e30\",\"signature\":\"\"},{"
	         "\"protected\":\"e30\",\"signature\":\"\"}",
	         "");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_TOO_LARGE);
	/* trailing text */
	make_jws(&m, h, id, "", "", "x");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_TRAILING_DATA);
	make_jws(&m, h, id, "", "", "{}");
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_TRAILING_DATA);

	/* Top-level shape: unknown member, missing, wrong types, duplicates,
	 * flattened and compact serializations. */
	static const struct {
		const char *text;
		voucher_err want;
	} top[] = {
	        {"{\"payload\":\"e30\",\"signatures\":[],\"x\":1}", VOUCHER_E_UNKNOWN_MEMBER},
	        {"{\"payload\":\"e30\",\"signatures\":[]}", VOUCHER_E_MISSING},
	        {"{\"payload\":\"e30\"}", VOUCHER_E_MISSING},
	        {"{\"payload\":1,\"signatures\":[]}", VOUCHER_E_BAD_TYPE},
	        {"{\"payload\":\"e30\",\"signatures\":{}}", VOUCHER_E_BAD_TYPE},
	        {"{\"payload\":\"e30\",\"payload\":\"e30\",\"signatures\":[]}",
	         VOUCHER_E_DUPLICATE},
	        /* flattened: "signatures" is what is missing */
	        {"{\"payload\":\"e30\",\"protected\":\"e30\",\"signature\":\"AA\"}",
	         VOUCHER_E_MISSING},
	        {"eyJhbGciOiJFUzI1NiJ9.e30.AAAA", VOUCHER_E_MALFORMED},
	        {"[]", VOUCHER_E_BAD_TYPE},
	        {"", VOUCHER_E_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		struct voucher_verified *v = NULL;
		print_message("top case %zu\n", i);
		voucher_err r = voucher_verify(VOUCHER_ENV_JWS, (const uint8_t *)top[i].text,
		                               strlen(top[i].text), NULL, &v);
		/* The empty input may be refused by the dispatcher first. */
		if (top[i].text[0] == 0)
			assert_int_not_equal(r, VOUCHER_OK);
		else
			assert_int_equal(r, top[i].want);
		assert_null(v);
	}

	/* Base64url strictness: padding, foreign characters, and non-zero
	 * unused bits in the signature's last character. */
	make_jws(&m, h, id, "", "", "");
	char *sig = strstr(m.text, "\"signature\":\"") + 13;
	char *end = strchr(sig, '"');
	assert_int_equal(end - sig, 86);
	char last = end[-1];
	/* Find the sextet value and set one of its four unused low bits. */
	static const char *alpha =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t sv = (size_t)(strchr(alpha, last) - alpha);
	end[-1] = alpha[sv ^ 1];
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_BASE64);
	end[-1] = '=';
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_BASE64);
	end[-1] = '+';
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_BAD_BASE64);
	/* signature of the wrong length */
	end[-1] = last;
	memmove(end - 2, end, strlen(end) + 1);
	m.n -= 2;
	assert_int_equal(verify(&m, e->t_es, NULL), VOUCHER_E_MALFORMED);
}

/* Every bit flip tried on every byte fails; no prefix verifies. */
static void test_mutations(void **state)
{
	struct fx_env *e = *state;
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(voucher_sign(VOUCHER_ENV_JWS, e->s_es, (const uint8_t *)payload,
	                              PAYLOAD_LEN, &out, &len),
	                 VOUCHER_OK);
	uint8_t *m = malloc(len);
	assert_non_null(m);
	for (size_t i = 0; i < len; i++) {
		static const uint8_t flips[] = {0x01, 0x02, 0x20, 0x80};
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(m, out, len);
			m[i] ^= flips[f];
			struct voucher_verified *v = NULL;
			voucher_err r = voucher_verify(VOUCHER_ENV_JWS, m, len, e->t_es, &v);
			if (r == VOUCHER_OK)
				fail_msg("flip 0x%02x at %zu verified", flips[f], i);
		}
	}
	for (size_t cut = 0; cut < len; cut++) {
		struct voucher_verified *v = NULL;
		assert_int_not_equal(voucher_verify(VOUCHER_ENV_JWS, out, cut, e->t_es, &v),
		                     VOUCHER_OK);
	}
	free(m);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_es256), cmocka_unit_test(test_roundtrip_eddsa),
	        cmocka_unit_test(test_handmade_good),   cmocka_unit_test(test_handmade_bad),
	        cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, setup, fx_env_teardown);
}
