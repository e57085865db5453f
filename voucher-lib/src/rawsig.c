/* Raw COSE/JOSE signatures over GnuTLS; see rawsig.h. */
#include "config.h"

#include <string.h>

#include "common/compat.h"
#include "envelope.h"
#include "rawsig.h"

voucher_err vl_raw_alg_of(const struct voucher_signer *s, enum vl_raw_alg *alg)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_pk_algorithm_t pk = vl_signer_pk(s, &curve);
	if (pk == GNUTLS_PK_ECDSA && curve == GNUTLS_ECC_CURVE_SECP256R1) {
		*alg = VL_RAW_ES256;
		return VOUCHER_OK;
	}
	if (pk == GNUTLS_PK_EDDSA_ED25519) {
		*alg = VL_RAW_EDDSA;
		return VOUCHER_OK;
	}
	return VOUCHER_E_UNSUPPORTED_ALG;
}

voucher_err vl_raw_sign(const struct voucher_signer *s, const uint8_t *data, size_t len,
                        uint8_t raw[VL_RAW_SIG_LEN])
{
	gnutls_datum_t sig = {NULL, 0};
	enum vl_raw_alg alg;
	voucher_err e;

	if ((e = vl_raw_alg_of(s, &alg)) != VOUCHER_OK)
		return e;
	/* The digest is ignored for Ed25519, which signs the data itself. */
	if ((e = vl_signer_sign(s, GNUTLS_DIG_SHA256, data, len, &sig)) != VOUCHER_OK)
		return e;
	if (alg == VL_RAW_ES256) {
		e = vl_ecdsa_der_to_raw(&sig, 32, raw);
	} else if (sig.size == VL_RAW_SIG_LEN) {
		memcpy(raw, sig.data, VL_RAW_SIG_LEN);
	} else {
		e = VOUCHER_E_CRYPTO;
	}
	gnutls_free(sig.data);
	if (e != VOUCHER_OK)
		explicit_bzero(raw, VL_RAW_SIG_LEN);
	return e;
}

voucher_err vl_raw_verify(enum vl_raw_alg alg, const gnutls_datum_t *cert, const uint8_t *data,
                          size_t len, const uint8_t *sig, size_t sig_len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = {NULL, 0};
	voucher_err e;

	if (sig_len != VL_RAW_SIG_LEN)
		return VOUCHER_E_MALFORMED;
	if ((e = vl_crt_from_der(cert->data, cert->size, &crt)) != VOUCHER_OK)
		goto out;
	if ((e = vl_crt_pubkey(crt, &pub)) != VOUCHER_OK)
		goto out;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);
	if (alg == VL_RAW_ES256) {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		if (pk != GNUTLS_PK_ECDSA ||
		    gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0) < 0 ||
		    curve != GNUTLS_ECC_CURVE_SECP256R1) {
			e = VOUCHER_E_UNSUPPORTED_ALG;
			goto out;
		}
		if ((e = vl_ecdsa_raw_to_der(sig, sig_len, &der)) != VOUCHER_OK)
			goto out;
		e = vl_verify_data(pub, GNUTLS_SIGN_ECDSA_SHA256, data, len, der.data, der.size);
	} else if (alg == VL_RAW_EDDSA) {
		if (pk != GNUTLS_PK_EDDSA_ED25519) {
			e = VOUCHER_E_UNSUPPORTED_ALG;
			goto out;
		}
		e = vl_verify_data(pub, GNUTLS_SIGN_EDDSA_ED25519, data, len, sig, sig_len);
	} else {
		e = VOUCHER_E_UNSUPPORTED_ALG;
	}
out:
	if (der.data != NULL)
		gnutls_free(der.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return e;
}
