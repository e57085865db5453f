/* CMS SignedData: sign and verify with every key type, the refusals with
 * their distinct errors, and every single-bit mutation of a good message
 * refused (like openssh's sshkey fuzz tests). OpenSSL interop is in
 * tests/integration/test-cms-openssl.sh. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "testpki.h"

static struct tp_cert root, sub, p256, p384, ed, rsa, expired, future, other_root, stranger;
static char *dir;
static struct voucher_trust *trust;

static const char payload[] = "{\"ietf-voucher:voucher\": {\"assertion\": \"logged\", "
                              "\"serial-number\": \"00-D0-E5-F2-00-02\"}}\n";

static struct voucher_signer *load(const struct tp_cert *leaf, const char *name, int with_sub)
{
	char keyname[64], chainname[64];
	snprintf(keyname, sizeof(keyname), "%s.key", name);
	snprintf(chainname, sizeof(chainname), "%s.pem", name);
	char *key = tp_write_key(dir, keyname, leaf);
	const struct tp_cert *c[] = {leaf, &sub};
	char *chain = tp_write_chain(dir, chainname, c, with_sub ? 2 : 1);
	struct voucher_signer *s = NULL;
	assert_int_equal(voucher_signer_load(&s, key, chain), VOUCHER_OK);
	free(key);
	free(chain);
	return s;
}

static void sign_with(const struct tp_cert *leaf, const char *name, int with_sub, uint8_t **out,
                      size_t *len)
{
	struct voucher_signer *s = load(leaf, name, with_sub);
	assert_int_equal(voucher_sign(VOUCHER_ENV_CMS, s, (const uint8_t *)payload,
	                              sizeof(payload) - 1, out, len),
	                 VOUCHER_OK);
	voucher_signer_free(s);
}

static int setup(void **state)
{
	(void)state;
	time_t now = time(NULL);
	struct tp_opts ca = {.ca = 1}, ee = {.cmcra = 1};
	tp_make(&root, GNUTLS_PK_ECDSA, 0, "Root", NULL, &ca);
	tp_make(&sub, GNUTLS_PK_ECDSA, 0, "Sub CA", &root, &ca);
	tp_make(&p256, GNUTLS_PK_ECDSA, 0, "p256", &sub, &ee);
	tp_make(&p384, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), "p384",
	        &sub, &ee);
	tp_make(&ed, GNUTLS_PK_EDDSA_ED25519, 0, "ed25519", &sub, &ee);
	tp_make(&rsa, GNUTLS_PK_RSA, 0, "rsa", &sub, &ee);
	struct tp_opts old = {.not_before = now - 20 * 86400, .not_after = now - 86400};
	tp_make(&expired, GNUTLS_PK_ECDSA, 0, "expired", &sub, &old);
	struct tp_opts later = {.not_before = now + 86400, .not_after = now + 20 * 86400};
	tp_make(&future, GNUTLS_PK_ECDSA, 0, "future", &sub, &later);
	tp_make(&other_root, GNUTLS_PK_ECDSA, 0, "Other Root", NULL, &ca);
	tp_make(&stranger, GNUTLS_PK_ECDSA, 0, "stranger", &other_root, NULL);
	dir = tp_tmpdir();
	assert_int_equal(voucher_trust_new(&trust), VOUCHER_OK);
	assert_int_equal(voucher_trust_add_der(trust, root.der.data, root.der.size), VOUCHER_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	struct tp_cert *all[] = {&root, &sub,     &p256,   &p384,       &ed,
	                         &rsa,  &expired, &future, &other_root, &stranger};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		tp_free(all[i]);
	voucher_trust_free(trust);
	tp_rmdir(dir);
	return 0;
}

static void roundtrip(const struct tp_cert *leaf, const char *name)
{
	uint8_t *cms = NULL;
	size_t len = 0;
	struct voucher_verified *v = NULL;

	sign_with(leaf, name, 1, &cms, &len);
	assert_int_equal(voucher_envelope_detect(cms, len), VOUCHER_ENV_CMS);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_OK);
	assert_int_equal(v->env, VOUCHER_ENV_CMS);
	assert_int_equal(v->payload_len, sizeof(payload) - 1);
	assert_memory_equal(v->payload, payload, sizeof(payload) - 1);
	assert_int_equal(v->cms_id_data, 0);
	assert_int_equal(v->chain_len, 2);
	assert_int_equal(v->chain_der_len[0], leaf->der.size);
	assert_memory_equal(v->chain[0], leaf->der.data, leaf->der.size);
	assert_memory_equal(v->chain[1], sub.der.data, sub.der.size);
	voucher_verified_free(v);
	v = NULL;
	/* Without a trust list only the signature and the carried chain. */
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, NULL, &v), VOUCHER_OK);
	assert_int_equal(v->chain_len, 2);
	voucher_verified_free(v);
	free(cms);
}

static void test_roundtrip_p256(void **state)
{
	(void)state;
	roundtrip(&p256, "p256");
}

static void test_roundtrip_p384(void **state)
{
	(void)state;
	roundtrip(&p384, "p384");
}

static void test_roundtrip_ed25519(void **state)
{
	(void)state;
	roundtrip(&ed, "ed25519");
}

static void test_roundtrip_rsa(void **state)
{
	(void)state;
	roundtrip(&rsa, "rsa");
}

/* Where payload sits inside the DER (it is carried verbatim). */
static size_t find_payload(const uint8_t *cms, size_t len)
{
	size_t n = sizeof(payload) - 1;
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(cms + i, payload, n) == 0)
			return i;
	fail_msg("payload not found verbatim in the CMS");
	return 0;
}

static void test_refusals(void **state)
{
	(void)state;
	uint8_t *cms = NULL, *bad = NULL;
	size_t len = 0;
	struct voucher_verified *v = NULL;

	sign_with(&p256, "p256r", 1, &cms, &len);
	bad = malloc(len + 1);

	/* Tampered payload: the message digest no longer matches. */
	memcpy(bad, cms, len);
	bad[find_payload(cms, len) + 30] ^= 0x01;
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, bad, len, trust, &v),
	                 VOUCHER_E_SIG_INVALID);
	assert_null(v);
	/* Tampered signature (its last byte, at the end of the message). */
	memcpy(bad, cms, len);
	bad[len - 1] ^= 0x01;
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, bad, len, trust, &v),
	                 VOUCHER_E_SIG_INVALID);
	/* Trailing and missing bytes. */
	memcpy(bad, cms, len);
	bad[len] = 0;
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, bad, len + 1, trust, &v),
	                 VOUCHER_E_TRAILING_DATA);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len - 1, trust, &v),
	                 VOUCHER_E_MALFORMED);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, 0, trust, &v), VOUCHER_E_MALFORMED);
	/* Bounded before parsing. */
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, 64 * 1024 + 1, trust, &v),
	                 VOUCHER_E_TOO_LARGE);
	free(bad);
	free(cms);

	/* A signer from another PKI. */
	cms = NULL;
	sign_with(&stranger, "stranger", 0, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_E_UNTRUSTED);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, NULL, &v), VOUCHER_OK);
	voucher_verified_free(v);
	v = NULL;
	free(cms);

	/* Expired and not yet valid signers. */
	cms = NULL;
	sign_with(&expired, "expired", 1, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_E_EXPIRED);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, NULL, &v), VOUCHER_E_EXPIRED);
	free(cms);
	cms = NULL;
	sign_with(&future, "future", 1, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_E_EXPIRED);
	free(cms);

	/* Leaf only: the anchor cannot be reached without the Sub CA. */
	cms = NULL;
	sign_with(&p256, "p256leaf", 0, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_E_UNTRUSTED);
	free(cms);
}

static void test_every_bit_flip_refused(void **state)
{
	(void)state;
	uint8_t *cms = NULL;
	size_t len = 0;
	struct voucher_verified *v = NULL;

	sign_with(&p256, "p256m", 1, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, trust, &v), VOUCHER_OK);
	voucher_verified_free(v);
	uint8_t *m = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(m, cms, len);
			m[i] ^= (uint8_t)(1u << bit);
			v = NULL;
			voucher_err e = voucher_verify(VOUCHER_ENV_CMS, m, len, trust, &v);
			if (e == VOUCHER_OK)
				fail_msg("flip of bit %d at offset %zu of %zu verified", bit, i,
				         len);
			assert_null(v);
		}
	}
	/* Truncated at every length. */
	for (size_t n = 1; n < len; n++) {
		v = NULL;
		assert_int_not_equal(voucher_verify(VOUCHER_ENV_CMS, cms, n, trust, &v),
		                     VOUCHER_OK);
		assert_null(v);
	}
	free(m);
	free(cms);
}

static void test_signer_loading(void **state)
{
	(void)state;
	struct voucher_signer *s = NULL;
	char *key = tp_write_key(dir, "mismatch.key", &p384);
	const struct tp_cert *c[] = {&p256};
	char *chain = tp_write_chain(dir, "mismatch.pem", c, 1);
	/* The key is not the one in the certificate. */
	assert_int_equal(voucher_signer_load(&s, key, chain), VOUCHER_E_KEY);
	assert_null(s);
	assert_int_equal(voucher_signer_load(&s, chain, chain), VOUCHER_E_KEY);
	assert_int_equal(voucher_signer_load(&s, "/nonexistent.key", chain), VOUCHER_ENOENT);
	assert_int_equal(voucher_signer_load(&s, key, "/nonexistent.pem"), VOUCHER_ENOENT);
	assert_int_equal(voucher_signer_load(&s, NULL, chain), VOUCHER_EINVAL);
	voucher_signer_free(NULL);
	free(key);
	free(chain);
}

static void test_media_types(void **state)
{
	(void)state;
	assert_int_equal(voucher_envelope_from_media_type("application/voucher-cms+json"),
	                 VOUCHER_ENV_CMS);
	assert_int_equal(voucher_envelope_from_media_type(" Application/Voucher-CMS+JSON ; x=y"),
	                 VOUCHER_ENV_CMS);
	assert_int_equal(voucher_envelope_from_media_type("application/voucher+cose"),
	                 VOUCHER_ENV_COSE);
	assert_int_equal(voucher_envelope_from_media_type("application/voucher-cose+cbor"),
	                 VOUCHER_ENV_COSE);
	assert_int_equal(voucher_envelope_from_media_type("application/voucher-jws+json"),
	                 VOUCHER_ENV_JWS);
	assert_int_equal(voucher_envelope_from_media_type("application/voucher-cms+jsonx"),
	                 VOUCHER_ENV_NONE);
	assert_int_equal(voucher_envelope_from_media_type("application/json"), VOUCHER_ENV_NONE);
	assert_int_equal(voucher_envelope_from_media_type(NULL), VOUCHER_ENV_NONE);
	assert_string_equal(voucher_envelope_media_type(VOUCHER_ENV_CMS),
	                    "application/voucher-cms+json");
	assert_string_equal(voucher_envelope_media_type(VOUCHER_ENV_COSE),
	                    "application/voucher+cose");
	assert_string_equal(voucher_envelope_media_type(VOUCHER_ENV_JWS),
	                    "application/voucher-jws+json");
	assert_null(voucher_envelope_media_type(VOUCHER_ENV_NONE));

	static const uint8_t cose[] = {0xd2, 0x84};
	static const char jws[] = " {\"payload\":\"e30\",\"signatures\":[]}";
	assert_int_equal(voucher_envelope_detect(cose, sizeof(cose)), VOUCHER_ENV_COSE);
	assert_int_equal(voucher_envelope_detect((const uint8_t *)jws, sizeof(jws) - 1),
	                 VOUCHER_ENV_JWS);
	assert_int_equal(voucher_envelope_detect((const uint8_t *)"{}", 2), VOUCHER_ENV_NONE);
	assert_int_equal(voucher_envelope_detect(NULL, 0), VOUCHER_ENV_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_p256),
	        cmocka_unit_test(test_roundtrip_p384),
	        cmocka_unit_test(test_roundtrip_ed25519),
	        cmocka_unit_test(test_roundtrip_rsa),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_every_bit_flip_refused),
	        cmocka_unit_test(test_signer_loading),
	        cmocka_unit_test(test_media_types),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
