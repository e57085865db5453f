/* The pledge voucher-request checks, the registrar voucher-request, and
 * the small parsers of cloudregd (creg.h). */
#include <config.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <voucher/x509.h>

#include "cloudreg/creg.h"
#include "common/compat.h"
#include "common/str.h"

static voucher_err fail(struct creg_fail *f, voucher_err err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static voucher_err fail(struct creg_fail *f, voucher_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	f->err = err;
	return err;
}

void creg_pvr_clear(struct creg_pvr *p)
{
	if (!p)
		return;
	voucher_verified_free(p->verified);
	voucher_artifact_free(p->pvr);
	free(p->serial);
	free(p->idevid_issuer);
	free(p->masa_url);
	memset(p, 0, sizeof(*p));
}

voucher_err creg_pvr_check(const struct creg_keys *k, enum voucher_envelope env,
                           const uint8_t *body, size_t len, const uint8_t *leaf, size_t leaf_len,
                           struct creg_pvr *out, struct creg_fail *f)
{
	const uint8_t *nonce = NULL, *prox = NULL;
	size_t nonce_len = 0, prox_len = 0;
	const char *pserial = NULL;
	enum voucher_assertion as;
	struct voucher_error_info ei = {0};
	voucher_err e;

	memset(out, 0, sizeof(*out));
	memset(f, 0, sizeof(*f));
	out->env = env;
	if (!leaf || leaf_len == 0)
		return fail(f, VOUCHER_E_UNAUTHENTICATED, "no TLS client certificate (the IDevID)");
	/* The serial comes from the authenticated certificate, never the body. */
	e = voucher_x509_serial_number(leaf, leaf_len, &out->serial);
	if (e != VOUCHER_OK)
		return fail(f, VOUCHER_E_FORBIDDEN,
		            "the client certificate has no usable subject serialNumber (%s)",
		            voucher_strerror(e));
	if ((e = voucher_x509_idevid_issuer(leaf, leaf_len, &out->idevid_issuer,
	                                    &out->idevid_issuer_len)) != VOUCHER_OK)
		return fail(f, VOUCHER_E_FORBIDDEN,
		            "failed to derive idevid-issuer from the client certificate (%s)",
		            voucher_strerror(e));
	e = voucher_x509_masa_url(leaf, leaf_len, &out->masa_url);
	if (e != VOUCHER_OK && e != VOUCHER_E_NOT_FOUND)
		return fail(f, VOUCHER_E_FORBIDDEN,
		            "the client certificate's MASA URL extension is unusable (%s)",
		            voucher_strerror(e));

	e = voucher_verify(env, body, len, k->manufacturer, &out->verified);
	if (e == VOUCHER_E_SIG_INVALID || e == VOUCHER_E_UNTRUSTED || e == VOUCHER_E_EXPIRED)
		return fail(f, e,
		            "the pledge voucher-request signature does not verify with an IDevID "
		            "of a known manufacturer (%s)",
		            voucher_strerror(e));
	if (e != VOUCHER_OK)
		return fail(f, VOUCHER_E_MALFORMED, "the body does not parse as %s (%s)",
		            voucher_envelope_media_type(env), voucher_strerror(e));
	if (out->verified->chain_len == 0 || out->verified->chain_der_len[0] != leaf_len ||
	    memcmp(out->verified->chain[0], leaf, leaf_len) != 0)
		return fail(f, VOUCHER_E_FORBIDDEN,
		            "the voucher-request is not signed by the TLS client certificate");
	e = voucher_artifact_parse(out->verified->payload, out->verified->payload_len,
	                           VOUCHER_KIND_REQUEST, 0, &out->pvr, &ei);
	if (e != VOUCHER_OK)
		return fail(f, e == VOUCHER_E_CONFIG ? e : VOUCHER_E_MALFORMED,
		            "the pledge voucher-request is invalid: %s", ei.message);
	if (voucher_artifact_get_string(out->pvr, VOUCHER_LEAF_SERIAL_NUMBER, &pserial) !=
	            VOUCHER_OK ||
	    strcmp(pserial, out->serial) != 0)
		return fail(f, VOUCHER_E_SERIAL_MISMATCH,
		            "serial-number '%.64s' is not the client certificate's '%.64s'",
		            pserial ? pserial : "", out->serial);
	if (voucher_artifact_get_binary(out->pvr, VOUCHER_LEAF_NONCE, &nonce, &nonce_len) !=
	            VOUCHER_OK ||
	    nonce_len == 0)
		return fail(f, VOUCHER_E_MISSING, "the pledge voucher-request has no nonce");
	if (voucher_artifact_get_assertion(out->pvr, &as) == VOUCHER_OK &&
	    as == VOUCHER_ASSERTION_PROXIMITY) {
		out->proximity = true;
		/* RFC 8995 section 5.3: a different certificate means someone
		 * else's TLS server sat in between. */
		if (voucher_artifact_get_binary(out->pvr, VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT,
		                                &prox, &prox_len) != VOUCHER_OK ||
		    prox_len != k->tls_cert_len || memcmp(prox, k->tls_cert, prox_len) != 0)
			return fail(f, VOUCHER_E_UNAUTHENTICATED,
			            "proximity-registrar-cert is not this registrar's TLS "
			            "certificate");
	}
	/* The manufacturer whose CA issued this IDevID decides which MASA
	 * is asked ([registrar] manufacturers). */
	out->mfr = creg_mfrs_select(k->mfrs, out->verified->chain, out->verified->chain_der_len,
	                            out->verified->chain_len);
	return VOUCHER_OK;
}

voucher_err creg_rvr_build(const struct creg_keys *k, const struct creg_pvr *p, const uint8_t *body,
                           size_t len, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei = {0};
	const uint8_t *nonce = NULL;
	size_t nonce_len = 0, payload_len = 0;
	uint8_t *payload = NULL;
	voucher_err e;

	*out = NULL;
	if ((e = voucher_artifact_new(VOUCHER_KIND_REQUEST, &a)) != VOUCHER_OK)
		goto out;
	voucher_artifact_get_binary(p->pvr, VOUCHER_LEAF_NONCE, &nonce, &nonce_len);
	if ((e = voucher_artifact_set_time(a, VOUCHER_LEAF_CREATED_ON, time(NULL))) != VOUCHER_OK ||
	    (e = voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, p->serial)) !=
	            VOUCHER_OK ||
	    (e = voucher_artifact_set_binary(a, VOUCHER_LEAF_IDEVID_ISSUER, p->idevid_issuer,
	                                     p->idevid_issuer_len)) != VOUCHER_OK ||
	    (e = voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, nonce_len)) !=
	            VOUCHER_OK ||
	    (e = voucher_artifact_set_binary(a, VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST, body,
	                                     len)) != VOUCHER_OK)
		goto out;
	/* The MASA ignores it; cBRSKI asks registrars to carry it forward. */
	if (p->proximity &&
	    (e = voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_PROXIMITY)) != VOUCHER_OK)
		goto out;
	if (p->env == VOUCHER_ENV_COSE)
		e = voucher_artifact_to_cbor(a, 0, &payload, &payload_len, &ei);
	else
		e = voucher_artifact_to_json(a, 0, &payload, &payload_len, &ei);
	if (e != VOUCHER_OK) {
		snprintf(err, errlen, "failed to build the registrar voucher-request (%s)",
		         ei.message);
		goto out;
	}
	e = voucher_sign(p->env, k->signer, payload, payload_len, out, out_len);
	if (e != VOUCHER_OK)
		snprintf(err, errlen, "failed to sign the registrar voucher-request (%s)",
		         voucher_strerror(e));
out:
	if (e != VOUCHER_OK && !err[0])
		snprintf(err, errlen, "failed to build the registrar voucher-request (%s)",
		         voucher_strerror(e));
	free(payload);
	voucher_artifact_free(a);
	return e;
}

char *creg_b64(const uint8_t *in, size_t len)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = (len + 2) / 3 * 4, o = 0;
	char *s;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || !(s = malloc(n + 1)))
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		s[o++] = tab[(v >> 18) & 63];
		s[o++] = tab[(v >> 12) & 63];
		s[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		s[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	s[o] = '\0';
	return s;
}

voucher_err creg_redirect_location(const char *url, char **out)
{
	const char *host, *path;
	size_t n;
	char *s;

	*out = NULL;
	if (!url || !brski_str_startswith(url, "https://"))
		return VOUCHER_EINVAL;
	host = url + strlen("https://");
	path = strchr(host, '/');
	if (path == host || host[0] == '\0')
		return VOUCHER_EINVAL;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return VOUCHER_EINVAL;
	if (path && strcmp(path, "/") != 0)
		return (*out = brski_strdup(url)) ? VOUCHER_OK : VOUCHER_ENOMEM;
	n = path ? (size_t)(path - url) : strlen(url);
	if (!(s = malloc(n + sizeof("/.well-known/brski/requestvoucher"))))
		return VOUCHER_ENOMEM;
	memcpy(s, url, n);
	memcpy(s + n, "/.well-known/brski/requestvoucher",
	       sizeof("/.well-known/brski/requestvoucher"));
	*out = s;
	return VOUCHER_OK;
}

voucher_err creg_telemetry_parse(const uint8_t *body, size_t len, int64_t *version, bool *status,
                                 char **reason, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc, *ctx = NULL;
	json_int_t v = -1;
	int st = 0;
	const char *why = NULL;
	voucher_err e = VOUCHER_OK;

	*reason = NULL;
	if (!body || len == 0) {
		snprintf(err, errlen, "empty body");
		return VOUCHER_E_MALFORMED;
	}
	doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		snprintf(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
		return VOUCHER_E_MALFORMED;
	}
	if (json_unpack_ex(doc, &je, JSON_STRICT, "{s:I, s:b, s?s, s?o}", "version", &v, "status",
	                   &st, "reason", &why, "reason-context", &ctx) != 0) {
		snprintf(err, errlen,
		         "%s (FACTS 1.10: {version: uint, status: bool, ? reason: text, "
		         "? reason-context: object})",
		         je.text);
		e = VOUCHER_E_SCHEMA;
	} else if (v < 0) {
		snprintf(err, errlen, "version must not be negative");
		e = VOUCHER_E_SCHEMA;
	} else if (ctx && !json_is_object(ctx)) {
		snprintf(err, errlen, "reason-context must be a JSON object");
		e = VOUCHER_E_SCHEMA;
	} else if (why && strlen(why) > 1024) {
		snprintf(err, errlen, "reason is longer than 1024 bytes");
		e = VOUCHER_E_TOO_LARGE;
	} else {
		*version = (int64_t)v;
		*status = st != 0;
		if (why && !(*reason = brski_strdup(why)))
			e = VOUCHER_ENOMEM;
	}
	json_decref(doc);
	return e;
}
