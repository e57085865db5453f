/*
 * cose-jws.h: what cose.c and jws.c offer besides the envelope.h back-end
 * functions. Internal to libvoucher.
 */
#ifndef VL_COSE_JWS_H
#define VL_COSE_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>
#include <voucher/sign.h>

/* Parse without verifying (voucher_envelope_decode_unverified): *out gets
 * the payload and the carried certificates, in the order carried. Same
 * syntax checks and errors as the _verify functions. */
voucher_err vl_cose_decode(const uint8_t *in, size_t len, struct voucher_verified **out);
voucher_err vl_jws_decode(const uint8_t *in, size_t len, struct voucher_verified **out);

/* Append a copy of one DER certificate to v's chain. */
voucher_err vl_verified_add_cert(struct voucher_verified *v, const uint8_t *der, size_t len);

#endif
