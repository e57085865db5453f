/* Envelope dispatch, media types, format detection and the verification
 * result shared by the CMS, COSE and JWS back ends. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>

#include "common/compat.h"
#include "common/str.h"
#include "envelope.h"

static const struct {
	const char *name;
	enum voucher_envelope env;
} media_types[] = {
        /* The first entry per envelope is the registered name. */
        {"application/voucher-cms+json", VOUCHER_ENV_CMS},
        {"application/voucher+cose", VOUCHER_ENV_COSE},
        {"application/voucher-jws+json", VOUCHER_ENV_JWS},
        {"application/voucher-cose+cbor", VOUCHER_ENV_COSE}, /* older drafts */
};

enum voucher_envelope voucher_envelope_from_media_type(const char *media_type)
{
	if (media_type == NULL)
		return VOUCHER_ENV_NONE;
	const char *p = media_type;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, ";");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
		if (strlen(media_types[i].name) == n && strncasecmp(media_types[i].name, p, n) == 0)
			return media_types[i].env;
	return VOUCHER_ENV_NONE;
}

const char *voucher_envelope_media_type(enum voucher_envelope env)
{
	for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
		if (media_types[i].env == env)
			return media_types[i].name;
	return NULL;
}

static int contains(const uint8_t *in, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	return len >= n && memmem(in, len, needle, n) != NULL;
}

enum voucher_envelope voucher_envelope_detect(const uint8_t *in, size_t len)
{
	if (in == NULL || len == 0)
		return VOUCHER_ENV_NONE;
	if (in[0] == 0x30)
		return VOUCHER_ENV_CMS; /* DER SEQUENCE: ContentInfo */
	if (in[0] == 0xd2 || in[0] == 0x84)
		return VOUCHER_ENV_COSE; /* tag 18, or an untagged 4-array */
	size_t i = 0;
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	if (i < len && in[i] == '{' && contains(in + i, len - i, "\"payload\"") &&
	    contains(in + i, len - i, "\"signatures\""))
		return VOUCHER_ENV_JWS;
	return VOUCHER_ENV_NONE;
}

/* ---- results ------------------------------------------------------------ */

void voucher_verified_free(struct voucher_verified *v)
{
	if (v == NULL)
		return;
	free(v->payload);
	for (size_t i = 0; i < v->chain_len; i++)
		free(v->chain[i]);
	free(v->chain);
	free(v->chain_der_len);
	free(v);
}

voucher_err vl_verified_new(enum voucher_envelope env, struct voucher_verified **out)
{
	struct voucher_verified *v = calloc(1, sizeof(*v));
	*out = v;
	if (v == NULL)
		return VOUCHER_ENOMEM;
	v->env = env;
	return VOUCHER_OK;
}

voucher_err vl_verified_set_payload(struct voucher_verified *v, const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return VOUCHER_ENOMEM;
	if (len)
		memcpy(copy, p, len);
	free(v->payload);
	v->payload = copy;
	v->payload_len = len;
	return VOUCHER_OK;
}

/* ---- dispatch -------------------------------------------------------------
 * cms.c, cose.c (voucher-lib/cose-jws.inc) and jws.c (same) are always
 * built; each back end sees only bounded, non-empty input. */

voucher_err voucher_sign(enum voucher_envelope env, const struct voucher_signer *s,
                         const uint8_t *payload, size_t payload_len, uint8_t **out, size_t *out_len)
{
	if (out == NULL || out_len == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	*out_len = 0;
	if (s == NULL || (payload == NULL && payload_len > 0))
		return VOUCHER_EINVAL;
	if (payload_len > VL_MAX_ENVELOPE)
		return VOUCHER_E_TOO_LARGE;
	switch (env) {
	case VOUCHER_ENV_CMS:
		return vl_cms_sign(s, payload, payload_len, out, out_len);
	case VOUCHER_ENV_COSE:
		return vl_cose_sign(s, payload, payload_len, out, out_len);
	case VOUCHER_ENV_JWS:
		return vl_jws_sign(s, payload, payload_len, out, out_len);
	default:
		return VOUCHER_ENOTSUP;
	}
}

voucher_err voucher_verify(enum voucher_envelope env, const uint8_t *in, size_t len,
                           const struct voucher_trust *trust, struct voucher_verified **out)
{
	voucher_err e = vl_envelope_input_check(in, len, out);

	if (e != VOUCHER_OK)
		return e;
	switch (env) {
	case VOUCHER_ENV_CMS:
		return vl_cms_verify(in, len, trust, out);
	case VOUCHER_ENV_COSE:
		return vl_cose_verify(in, len, trust, out);
	case VOUCHER_ENV_JWS:
		return vl_jws_verify(in, len, trust, out);
	default:
		return VOUCHER_ENOTSUP;
	}
}
