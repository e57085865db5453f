/* voucher_envelope_decode_unverified: look inside an envelope without
 * trusting it (brski voucher show). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <voucher/sign.h>

#include "common/buf.h"
#include "cose-jws.h"
#include "envelope.h"

voucher_err vl_verified_add_cert(struct voucher_verified *v, const uint8_t *der, size_t len)
{
	if (v->chain_len >= BRSKI_MAX_CERT_CHAIN * 2)
		return VOUCHER_E_TOO_LARGE;
	size_t n = v->chain_len + 1;
	uint8_t **chain = realloc(v->chain, n * sizeof(*chain));
	if (chain == NULL)
		return VOUCHER_ENOMEM;
	v->chain = chain;
	size_t *lens = realloc(v->chain_der_len, n * sizeof(*lens));
	if (lens == NULL)
		return VOUCHER_ENOMEM;
	v->chain_der_len = lens;
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return VOUCHER_ENOMEM;
	if (len > 0)
		memcpy(copy, der, len);
	v->chain[v->chain_len] = copy;
	v->chain_der_len[v->chain_len] = len;
	v->chain_len = n;
	return VOUCHER_OK;
}

voucher_err voucher_envelope_decode_unverified(enum voucher_envelope env, const uint8_t *in,
                                               size_t len, struct voucher_verified **out)
{
	voucher_err e = vl_envelope_input_check(in, len, out);

	if (e != VOUCHER_OK)
		return e;
	switch (env) {
	case VOUCHER_ENV_COSE:
		return vl_cose_decode(in, len, out);
	case VOUCHER_ENV_JWS:
		return vl_jws_decode(in, len, out);
	default:
		/* CMS has its own tools (openssl cms -cmsout -print). */
		return VOUCHER_ENOTSUP;
	}
}
