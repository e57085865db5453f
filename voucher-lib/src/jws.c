/*
 * JWS general JSON serialization (RFC 7515 section 7.2.1) for
 * application/voucher-jws+json (draft-ietf-anima-jws-voucher).
 *
 * Verification rule for several signatures: the first entry of
 * "signatures" is the original signer's (the MASA for a voucher, the pledge
 * or registrar for a request); BRSKI-PRM lets a registrar append its own
 * after it without changing the payload. We verify the first one only,
 * against the caller's trust, check that every other entry is well formed,
 * and report the count in voucher_verified.jws_signatures so the caller
 * can decide what a second signature means to it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <voucher/sign.h>

#include "b64.h"
#include "cose-jws.h"
#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"
#include "envelope.h"
#include "rawsig.h"

#define JWS_TYP            "voucher-jws+json"
#define JWS_MAX_SIGNATURES 8
#define JWS_MAX_HEADER     (48 * 1024) /* decoded protected header, x5c included */

/* The error a failed json_loadb or json_unpack_ex stands for. */
static voucher_err json_err(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return VOUCHER_ENOMEM;
	case json_error_stack_overflow:
		return VOUCHER_E_TOO_DEEP;
	case json_error_duplicate_key:
		return VOUCHER_E_DUPLICATE;
	case json_error_item_not_found:
		return VOUCHER_E_MISSING;
	case json_error_wrong_type:
		return VOUCHER_E_BAD_TYPE;
	case json_error_end_of_input_expected:
		/* json_loadb: text after the value; json_unpack_ex with '!':
		 * members left over. Both mean "more than allowed". */
		return VOUCHER_E_TRAILING_DATA;
	default:
		return VOUCHER_E_MALFORMED;
	}
}

static voucher_err load_object(const char *p, size_t len, json_t **out)
{
	json_error_t je;
	json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		return json_err(&je);
	if (!json_is_object(j)) {
		json_decref(j);
		return VOUCHER_E_BAD_TYPE;
	}
	*out = j;
	return VOUCHER_OK;
}

/* Exactly the members named, no others (unknown members are refused). */
static voucher_err strict_unpack_err(const json_error_t *je)
{
	voucher_err e = json_err(je);
	return e == VOUCHER_E_TRAILING_DATA ? VOUCHER_E_UNKNOWN_MEMBER : e;
}

/* One entry of "signatures": {"protected", "signature"[, "header"]}. */
static voucher_err unpack_signature(json_t *sig, const char **prot, size_t *prot_len,
                                    const char **s, size_t *s_len, json_t **header)
{
	json_error_t je;
	*header = NULL;
	if (json_unpack_ex(sig, &je, 0, "{s:s%, s:s%, s?o !}", "protected", prot, prot_len,
	                   "signature", s, s_len, "header", header) != 0)
		return strict_unpack_err(&je);
	if (*header != NULL && !json_is_object(*header))
		return VOUCHER_E_BAD_TYPE;
	return VOUCHER_OK;
}

struct jws_hdr {
	enum vl_raw_alg alg;
	/* x5c decoded, signer first; data points into der. */
	gnutls_datum_t x5c[BRSKI_MAX_CERT_CHAIN];
	size_t nx5c;
	struct brski_buf der;
};

/* The protected header: alg on the allow-list, typ as jws-voucher says,
 * x5c with the chain, no crit (we implement no extension). Other members
 * are ignored as RFC 7515 section 4 requires. The unprotected header may
 * not repeat a protected name (section 7.2.1) and is otherwise unused:
 * everything we act on must be signed. */
static voucher_err parse_header(const char *prot, size_t prot_len, json_t *unprot,
                                struct jws_hdr *h)
{
	struct brski_buf txt;
	json_t *j = NULL, *x5c = NULL;
	json_error_t je;
	const char *alg = NULL, *typ = NULL;
	size_t alg_len = 0, typ_len = 0;
	voucher_err e;

	brski_buf_init(&txt, JWS_MAX_HEADER);
	brski_buf_init(&h->der, BRSKI_MAX_CERT_CHAIN * VL_MAX_CERT);
	h->nx5c = 0;
	if ((e = vl_b64_decode(&txt, prot, prot_len, VL_B64_URL)) != VOUCHER_OK)
		goto out;
	if (txt.len == 0) {
		e = VOUCHER_E_MISSING;
		goto out;
	}
	if ((e = load_object((const char *)txt.data, txt.len, &j)) != VOUCHER_OK)
		goto out;
	if (json_unpack_ex(j, &je, 0, "{s:s%, s?s%, s?o}", "alg", &alg, &alg_len, "typ", &typ,
	                   &typ_len, "x5c", &x5c) != 0) {
		e = json_err(&je);
		goto out;
	}
	if (json_object_get(j, "crit") != NULL || json_object_get(j, "b64") != NULL) {
		e = VOUCHER_E_UNKNOWN_CRITICAL;
		goto out;
	}
	/* Lengths too, so an embedded NUL cannot shorten a name. */
	if (alg_len != strlen(alg) || (typ != NULL && typ_len != strlen(typ))) {
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	if (strcmp(alg, "ES256") == 0) {
		h->alg = VL_RAW_ES256;
	} else if (strcmp(alg, "EdDSA") == 0) {
		h->alg = VL_RAW_EDDSA;
	} else {
		e = VOUCHER_E_UNSUPPORTED_ALG;
		goto out;
	}
	/* RFC 7515 section 4.1.9: "application/" may be left out and the
	 * comparison ignores case. */
	if (typ != NULL && !brski_str_caseeq(typ, JWS_TYP) &&
	    !brski_str_caseeq(typ, "application/" JWS_TYP)) {
		e = VOUCHER_E_CONTENT_TYPE;
		goto out;
	}
	if (unprot != NULL) {
		const char *key;
		json_t *val;
		json_object_foreach(unprot, key, val)
		{
			if (json_object_get(j, key) != NULL) {
				e = VOUCHER_E_DUPLICATE;
				goto out;
			}
		}
	}
	if (x5c == NULL) {
		e = VOUCHER_E_CERT;
		goto out;
	}
	if (!json_is_array(x5c)) {
		e = VOUCHER_E_BAD_TYPE;
		goto out;
	}
	size_t n = json_array_size(x5c);
	if (n == 0) {
		e = VOUCHER_E_CERT;
		goto out;
	}
	if (n > BRSKI_MAX_CERT_CHAIN) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	/* Decode everything first, then point into the buffer: it may move
	 * while it grows. */
	size_t off[BRSKI_MAX_CERT_CHAIN + 1];
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(x5c, i);
		if (!json_is_string(c)) {
			e = VOUCHER_E_BAD_TYPE;
			goto out;
		}
		off[i] = h->der.len;
		/* x5c is standard base64 with padding, not base64url
		 * (RFC 7515 section 4.1.6). */
		if ((e = vl_b64_decode(&h->der, json_string_value(c), json_string_length(c),
		                       VL_B64_STD)) != VOUCHER_OK)
			goto out;
		size_t len = h->der.len - off[i];
		if (len == 0) {
			e = VOUCHER_E_CERT;
			goto out;
		}
		if (len > VL_MAX_CERT) {
			e = VOUCHER_E_TOO_LARGE;
			goto out;
		}
	}
	off[n] = h->der.len;
	for (size_t i = 0; i < n; i++) {
		h->x5c[i].data = h->der.data + off[i];
		h->x5c[i].size = (unsigned)(off[i + 1] - off[i]);
	}
	h->nx5c = n;
	e = VOUCHER_OK;
out:
	json_decref(j);
	brski_buf_free(&txt);
	return e;
}

/* Parse, then either verify (the signature, then the chain) or, for
 * voucher_envelope_decode_unverified, only collect what was carried. */
static voucher_err jws_open(const uint8_t *in, size_t len, int verify,
                            const struct voucher_trust *trust, struct voucher_verified **out)
{
	json_t *root = NULL, *sigs = NULL, *header = NULL;
	struct voucher_verified *v = NULL;
	struct brski_buf payload, sig, input;
	struct jws_hdr h;
	json_error_t je;
	const char *pay_txt, *prot, *sig_txt;
	size_t pay_len, prot_len, sig_len;
	voucher_err e;

	*out = NULL;
	brski_buf_init(&payload, VL_MAX_ENVELOPE);
	brski_buf_init(&sig, 2 * VL_RAW_SIG_LEN);
	brski_buf_init(&input, 2 * VL_MAX_ENVELOPE);
	brski_buf_init(&h.der, 0);

	if (len > VL_MAX_ENVELOPE) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	if ((e = load_object((const char *)in, len, &root)) != VOUCHER_OK)
		goto out;
	if (json_unpack_ex(root, &je, 0, "{s:s%, s:o !}", "payload", &pay_txt, &pay_len,
	                   "signatures", &sigs) != 0) {
		e = strict_unpack_err(&je);
		goto out;
	}
	if (!json_is_array(sigs)) {
		e = VOUCHER_E_BAD_TYPE;
		goto out;
	}
	size_t nsigs = json_array_size(sigs);
	if (nsigs == 0) {
		e = VOUCHER_E_MISSING;
		goto out;
	}
	if (nsigs > JWS_MAX_SIGNATURES) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	/* Every entry must be well formed, even those we do not verify. */
	for (size_t i = nsigs; i-- > 0;) {
		if ((e = unpack_signature(json_array_get(sigs, i), &prot, &prot_len, &sig_txt,
		                          &sig_len, &header)) != VOUCHER_OK)
			goto out;
	}
	/* The loop ended on entry 0, the one we verify. */
	if ((e = parse_header(prot, prot_len, header, &h)) != VOUCHER_OK)
		goto out;
	if ((e = vl_b64_decode(&payload, pay_txt, pay_len, VL_B64_URL)) != VOUCHER_OK)
		goto out;
	if ((e = vl_b64_decode(&sig, sig_txt, sig_len, VL_B64_URL)) != VOUCHER_OK)
		goto out;
	/* Signing input: the two base64url texts exactly as they appear
	 * (RFC 7515 section 5.2 step 8). */
	if ((e = brski_buf_put(&input, prot, prot_len)) != VOUCHER_OK ||
	    (e = brski_buf_putc(&input, '.')) != VOUCHER_OK ||
	    (e = brski_buf_put(&input, pay_txt, pay_len)) != VOUCHER_OK)
		goto out;
	if (verify && (e = vl_raw_verify(h.alg, &h.x5c[0], input.data, input.len, sig.data,
	                                 sig.len)) != VOUCHER_OK)
		goto out;

	if ((e = vl_verified_new(VOUCHER_ENV_JWS, &v)) != VOUCHER_OK ||
	    (e = vl_verified_set_payload(v, payload.data, payload.len)) != VOUCHER_OK)
		goto out;
	v->jws_signatures = nsigs;
	if (verify) {
		e = vl_chain_verify(trust, &h.x5c[0], h.x5c + 1, h.nx5c - 1, v);
	} else {
		for (size_t i = 0; i < h.nx5c && e == VOUCHER_OK; i++)
			e = vl_verified_add_cert(v, h.x5c[i].data, h.x5c[i].size);
	}
	if (e != VOUCHER_OK)
		goto out;
	*out = v;
	v = NULL;
	e = VOUCHER_OK;
out:
	voucher_verified_free(v);
	json_decref(root);
	brski_buf_free(&payload);
	brski_buf_free(&sig);
	brski_buf_free(&input);
	brski_buf_free(&h.der);
	return e;
}

voucher_err vl_jws_verify(const uint8_t *in, size_t len, const struct voucher_trust *trust,
                          struct voucher_verified **out)
{
	return jws_open(in, len, 1, trust, out);
}

voucher_err vl_jws_decode(const uint8_t *in, size_t len, struct voucher_verified **out)
{
	return jws_open(in, len, 0, NULL, out);
}

static int dump_cb(const char *p, size_t n, void *data)
{
	return brski_buf_put(data, p, n) == VOUCHER_OK ? 0 : -1;
}

/* The protected header as base64url text: {"alg", "typ", "x5c"}. */
static voucher_err make_header(const struct voucher_signer *s, enum vl_raw_alg alg,
                               struct brski_buf *out)
{
	struct brski_buf b64, txt;
	json_t *hdr = NULL, *x5c = NULL;
	voucher_err e = VOUCHER_ENOMEM;

	brski_buf_init(&b64, VL_MAX_CERT * 2);
	brski_buf_init(&txt, JWS_MAX_HEADER);
	size_t n = vl_signer_chain_len(s);
	if (n == 0 || n > BRSKI_MAX_CERT_CHAIN) {
		e = VOUCHER_E_CERT;
		goto out;
	}
	if ((x5c = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const gnutls_datum_t *d = vl_signer_chain_der(s, i);
		brski_buf_reset(&b64);
		if ((e = vl_b64_encode(&b64, d->data, d->size, VL_B64_STD)) != VOUCHER_OK)
			goto out;
		e = VOUCHER_ENOMEM;
		if (json_array_append_new(x5c, json_stringn((const char *)b64.data, b64.len)) != 0)
			goto out;
	}
	hdr = json_pack("{s:s, s:s, s:O}", "alg", alg == VL_RAW_ES256 ? "ES256" : "EdDSA", "typ",
	                JWS_TYP, "x5c", x5c);
	if (hdr == NULL)
		goto out;
	if (json_dump_callback(hdr, dump_cb, &txt, JSON_COMPACT) != 0) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	e = vl_b64_encode(out, txt.data, txt.len, VL_B64_URL);
out:
	json_decref(hdr);
	json_decref(x5c);
	brski_buf_free(&b64);
	brski_buf_free(&txt);
	return e;
}

voucher_err vl_jws_sign(const struct voucher_signer *s, const uint8_t *payload, size_t payload_len,
                        uint8_t **out, size_t *out_len)
{
	struct brski_buf prot, pay, input, sigtxt, msg;
	json_t *root = NULL;
	uint8_t raw[VL_RAW_SIG_LEN];
	enum vl_raw_alg alg;
	voucher_err e;

	brski_buf_init(&prot, VL_MAX_ENVELOPE);
	brski_buf_init(&pay, VL_MAX_ENVELOPE);
	brski_buf_init(&input, 2 * VL_MAX_ENVELOPE);
	brski_buf_init(&sigtxt, 2 * VL_RAW_SIG_LEN);
	brski_buf_init(&msg, VL_MAX_ENVELOPE);
	memset(raw, 0, sizeof(raw));

	/* jws-voucher asks for ES256; EdDSA (RFC 8037) is accepted for keys
	 * that are Ed25519. */
	if ((e = vl_raw_alg_of(s, &alg)) != VOUCHER_OK)
		goto out;
	if (payload_len > VL_MAX_ENVELOPE) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	if ((e = make_header(s, alg, &prot)) != VOUCHER_OK ||
	    (e = vl_b64_encode(&pay, payload, payload_len, VL_B64_URL)) != VOUCHER_OK)
		goto out;
	if ((e = brski_buf_put(&input, prot.data, prot.len)) != VOUCHER_OK ||
	    (e = brski_buf_putc(&input, '.')) != VOUCHER_OK ||
	    (e = brski_buf_put(&input, pay.data, pay.len)) != VOUCHER_OK)
		goto out;
	if ((e = vl_raw_sign(s, input.data, input.len, raw)) != VOUCHER_OK ||
	    (e = vl_b64_encode(&sigtxt, raw, sizeof(raw), VL_B64_URL)) != VOUCHER_OK)
		goto out;
	root = json_pack("{s:s%, s:[{s:s%, s:s%}]}", "payload", (const char *)pay.data, pay.len,
	                 "signatures", "protected", (const char *)prot.data, prot.len, "signature",
	                 (const char *)sigtxt.data, sigtxt.len);
	if (root == NULL) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	if (json_dump_callback(root, dump_cb, &msg, JSON_COMPACT) != 0) {
		e = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	*out = brski_buf_take(&msg, out_len);
	e = VOUCHER_OK;
out:
	json_decref(root);
	explicit_bzero(raw, sizeof(raw));
	brski_buf_free(&prot);
	brski_buf_free(&pay);
	brski_buf_free(&input);
	brski_buf_free(&sigtxt);
	brski_buf_free(&msg);
	return e;
}
