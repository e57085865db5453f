/* Messages for voucher_err codes; tests/unit walks every code. */
#include "config.h"

#include <string.h>

#include <voucher/error.h>

static const struct {
	voucher_err code;
	const char *msg;
} domain_errors[] = {
        {VOUCHER_E_MALFORMED, "malformed input"},
        {VOUCHER_E_TRAILING_DATA, "trailing data after the object"},
        {VOUCHER_E_TOO_LARGE, "input too large"},
        {VOUCHER_E_TOO_DEEP, "input nested too deeply"},
        {VOUCHER_E_DUPLICATE, "duplicate member or key"},
        {VOUCHER_E_SCHEMA, "schema validation failed"},
        {VOUCHER_E_UNKNOWN_MEMBER, "unknown member"},
        {VOUCHER_E_BAD_TYPE, "member has the wrong type"},
        {VOUCHER_E_MISSING, "mandatory member missing"},
        {VOUCHER_E_BAD_BASE64, "invalid base64"},
        {VOUCHER_E_SIG_INVALID, "signature does not verify"},
        {VOUCHER_E_UNTRUSTED, "signer not trusted"},
        {VOUCHER_E_EXPIRED, "expired"},
        {VOUCHER_E_NONCE_MISMATCH, "nonce mismatch"},
        {VOUCHER_E_PIN_MISMATCH, "pinned certificate or key mismatch"},
        {VOUCHER_E_SERIAL_MISMATCH, "serial number mismatch"},
        {VOUCHER_E_NOT_REGISTRAR, "signer is not a registrar (no id-kp-cmcRA)"},
        {VOUCHER_E_UNSUPPORTED_ALG, "unsupported algorithm"},
        {VOUCHER_E_CRYPTO, "cryptographic operation failed"},
        {VOUCHER_E_CERT, "unusable certificate"},
        {VOUCHER_E_NO_SIGNED_ATTRS, "CMS signer without signed attributes"},
        {VOUCHER_E_CONTENT_TYPE, "unexpected content type"},
        {VOUCHER_E_CONFIG, "configuration error"},
        {VOUCHER_E_STORE, "store failure"},
        {VOUCHER_E_NOT_FOUND, "not found"},
        {VOUCHER_E_CONFLICT, "conflicts with an existing record"},
        {VOUCHER_E_REVOKED, "certificate revoked"},
        {VOUCHER_E_NETWORK, "network error"},
        {VOUCHER_E_PEER, "peer reported an error"},
        {VOUCHER_E_FORBIDDEN, "forbidden"},
        {VOUCHER_E_UNAUTHENTICATED, "authentication required"},
        {VOUCHER_E_KEY, "unusable private key"},
        {VOUCHER_E_UNKNOWN_CRITICAL, "critical header parameter not understood"},
        {VOUCHER_E_WRONG_KIND, "wrong artifact kind (voucher vs voucher-request)"},
        {VOUCHER_E_NOT_ACCEPTABLE, "no acceptable response type"},
        {VOUCHER_E_RATE_LIMITED, "too many requests"},
};

const char *voucher_strerror(voucher_err err)
{
	if (err == VOUCHER_OK)
		return "success";
	if (err > -1000 && err < 0)
		return strerror(-err);
	for (size_t i = 0; i < sizeof(domain_errors) / sizeof(domain_errors[0]); i++)
		if (domain_errors[i].code == err)
			return domain_errors[i].msg;
	return "unknown error";
}
