/* The process-wide caches of libvoucher (docs/PERFORMANCE.md): validations
 * without a trust list, validations shared between trust lists that hold
 * the same anchor, and the memo of certificate facts. Each must answer as
 * a full computation would, and only then. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "testpki.h"

static struct tp_cert root, sub, leaf, other_root, twin_root, old_leaf;
static char *dir, *leaf_key, *chain_pem, *old_key, *old_chain;

static int setup(void **state)
{
	(void)state;
	struct tp_opts ca = {.ca = 1};
	tp_make(&root, GNUTLS_PK_ECDSA, 0, "Root", NULL, &ca);
	tp_make(&sub, GNUTLS_PK_ECDSA, 0, "Sub CA", &root, &ca);
	struct tp_opts r = {.cmcra = 1, .serial_number = "SN-0042"};
	tp_make(&leaf, GNUTLS_PK_ECDSA, 0, "registrar", &sub, &r);
	tp_make(&other_root, GNUTLS_PK_ECDSA, 0, "Other Root", NULL, &ca);
	/* Another key under the same Name as root. */
	tp_make(&twin_root, GNUTLS_PK_ECDSA, 0, "Root", NULL, &ca);
	struct tp_opts o = {.not_before = time(NULL) - 7200, .not_after = time(NULL) - 3600};
	tp_make(&old_leaf, GNUTLS_PK_ECDSA, 0, "expired", &sub, &o);
	dir = tp_tmpdir();
	leaf_key = tp_write_key(dir, "leaf.key", &leaf);
	const struct tp_cert *c[] = {&leaf, &sub};
	chain_pem = tp_write_chain(dir, "chain.pem", c, 2);
	old_key = tp_write_key(dir, "old.key", &old_leaf);
	const struct tp_cert *oc[] = {&old_leaf, &sub};
	old_chain = tp_write_chain(dir, "old.pem", oc, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_free(&root);
	tp_free(&sub);
	tp_free(&leaf);
	tp_free(&other_root);
	tp_free(&twin_root);
	tp_free(&old_leaf);
	free(leaf_key);
	free(chain_pem);
	free(old_key);
	free(old_chain);
	tp_rmdir(dir);
	return 0;
}

static void sign_with(const char *key, const char *chain, uint8_t **cms, size_t *len)
{
	struct voucher_signer *s = NULL;
	static const char payload[] = "{\"ietf-voucher-request:voucher\":{}}";
	assert_int_equal(voucher_signer_load(&s, key, chain), VOUCHER_OK);
	assert_int_equal(voucher_sign(VOUCHER_ENV_CMS, s, (const uint8_t *)payload,
	                              sizeof(payload) - 1, cms, len),
	                 VOUCHER_OK);
	voucher_signer_free(s);
}

static struct voucher_trust *trust_of(const struct tp_cert *const *anchors, size_t n)
{
	struct voucher_trust *t = NULL;
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		        voucher_trust_add_der(t, anchors[i]->der.data, anchors[i]->der.size),
		        VOUCHER_OK);
	return t;
}

static void test_temporary(void **state)
{
	(void)state;
	struct voucher_trust_stats a, b;
	struct voucher_verified *v = NULL;
	uint8_t *cms = NULL;
	size_t len = 0;

	sign_with(leaf_key, chain_pem, &cms, &len);
	voucher_trust_temporary_stats(&a);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, NULL, &v), VOUCHER_OK);
		/* the same chain, from the cache or not */
		assert_int_equal(v->chain_len, 2);
		assert_memory_equal(v->chain[0], leaf.der.data, leaf.der.size);
		assert_memory_equal(v->chain[1], sub.der.data, sub.der.size);
		voucher_verified_free(v);
		v = NULL;
	}
	voucher_trust_temporary_stats(&b);
	assert_int_equal(b.misses - a.misses, 1);
	assert_int_equal(b.hits - a.hits, 2);
	free(cms);

	/* An expired signer is refused every time and never kept. */
	cms = NULL;
	sign_with(old_key, old_chain, &cms, &len);
	voucher_trust_temporary_stats(&a);
	for (int i = 0; i < 2; i++)
		assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, NULL, &v),
		                 VOUCHER_E_EXPIRED);
	assert_null(v);
	voucher_trust_temporary_stats(&b);
	assert_int_equal(b.hits - a.hits, 0);
	assert_int_equal(b.entries, a.entries);
	free(cms);
}

static void test_shared(void **state)
{
	(void)state;
	const struct tp_cert *both[] = {&root, &other_root}, *mine[] = {&root},
	                     *stranger[] = {&other_root}, *twins[] = {&twin_root, &root};
	struct voucher_trust *t1 = trust_of(both, 2), *t2 = trust_of(mine, 1),
	                     *t3 = trust_of(stranger, 1), *t4 = trust_of(twins, 2);
	const uint8_t *der[] = {leaf.der.data, sub.der.data};
	const size_t der_len[] = {leaf.der.size, sub.der.size};
	struct voucher_trust_stats a, b, own;
	struct voucher_verified *v = NULL;
	time_t nb = 0, na = 0, now = time(NULL);
	uint8_t *cms = NULL;
	size_t len = 0;

	/* Validated against t1 (in full), then answered for t2, which
	 * holds the same root as its only "Root". */
	assert_int_equal(voucher_trust_check_chain(t1, der, der_len, 2, &nb, &na), VOUCHER_OK);
	assert_true(nb <= now && now <= na);
	voucher_trust_shared_stats(&a);
	sign_with(leaf_key, chain_pem, &cms, &len);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, t2, &v), VOUCHER_OK);
	assert_int_equal(v->chain_len, 2);
	assert_memory_equal(v->chain[1], sub.der.data, sub.der.size);
	voucher_verified_free(v);
	v = NULL;
	voucher_trust_shared_stats(&b);
	assert_int_equal(b.hits - a.hits, 1);
	/* t2 keeps it in its own cache from then on */
	voucher_trust_stats(t2, &own);
	assert_int_equal(own.entries, 1);

	/* A list without that root is not answered from the cache. */
	voucher_trust_shared_stats(&a);
	assert_int_equal(voucher_trust_check_chain(t3, der, der_len, 2, &nb, &na),
	                 VOUCHER_E_UNTRUSTED);
	assert_int_equal(nb, 0);
	assert_int_equal(na, 0);
	/* Nor one where another anchor carries the same Name. */
	voucher_trust_check_chain(t4, der, der_len, 2, &nb, &na);
	voucher_trust_shared_stats(&b);
	assert_int_equal(b.hits - a.hits, 0);

	/* Arguments. */
	assert_int_equal(voucher_trust_check_chain(NULL, der, der_len, 2, &nb, &na),
	                 VOUCHER_EINVAL);
	assert_int_equal(voucher_trust_check_chain(t1, der, der_len, 0, &nb, &na), VOUCHER_EINVAL);
	assert_int_equal(
	        voucher_trust_check_chain(t1, der, der_len, 9 /* over the 8 allowed */, &nb, &na),
	        VOUCHER_E_TOO_LARGE);
	free(cms);
	voucher_trust_free(t1);
	voucher_trust_free(t2);
	voucher_trust_free(t3);
	voucher_trust_free(t4);
}

static void test_facts(void **state)
{
	(void)state;
	struct tp_cert ca, ee;
	struct tp_opts ca_opts = {.ca = 1}, ee_opts = {.cmcra = 1, .serial_number = "SN-0042"};
	struct voucher_trust_stats a, b;
	char *sn1 = NULL, *sn2 = NULL, *none = NULL;
	uint8_t h1[32], h2[32], *ski = NULL, *iss = NULL;
	size_t ski_len = 0, iss_len = 0;
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};

	/* Certificates no other test has shown the memo. */
	tp_make(&ca, GNUTLS_PK_ECDSA, 0, "Facts CA", NULL, &ca_opts);
	tp_make(&ee, GNUTLS_PK_ECDSA, 0, "facts", &ca, &ee_opts);
	voucher_x509_cache_stats(&a);
	assert_int_equal(voucher_x509_serial_number(ee.der.data, ee.der.size, &sn1), VOUCHER_OK);
	assert_int_equal(voucher_x509_serial_number(ee.der.data, ee.der.size, &sn2), VOUCHER_OK);
	assert_string_equal(sn1, "SN-0042");
	assert_string_equal(sn2, "SN-0042");
	assert_int_equal(voucher_x509_spki_sha256(ee.der.data, ee.der.size, h1), VOUCHER_OK);
	assert_int_equal(voucher_x509_spki_sha256(ca.der.data, ca.der.size, h2), VOUCHER_OK);
	assert_memory_not_equal(h1, h2, 32);
	assert_int_equal(voucher_x509_check_cmcra(ee.der.data, ee.der.size), VOUCHER_OK);
	assert_int_equal(voucher_x509_check_cmcra(ca.der.data, ca.der.size),
	                 VOUCHER_E_NOT_REGISTRAR);
	assert_int_equal(voucher_x509_serial_number(ca.der.data, ca.der.size, &none),
	                 VOUCHER_E_NOT_FOUND);
	assert_null(none);
	assert_int_equal(voucher_x509_ski(ca.der.data, ca.der.size, &ski, &ski_len), VOUCHER_OK);
	assert_true(ski_len > 0);
	assert_int_equal(voucher_x509_idevid_issuer(ee.der.data, ee.der.size, &iss, &iss_len),
	                 VOUCHER_OK);
	assert_true(iss_len > 2 && iss[0] == 0x04);
	voucher_x509_cache_stats(&b);
	/* each certificate parsed once, every other read from the memo */
	assert_int_equal(b.misses - a.misses, 2);
	assert_int_equal(b.hits - a.hits, 7);

	/* What does not parse fails every time and is not kept. */
	voucher_x509_cache_stats(&a);
	for (int i = 0; i < 2; i++)
		assert_int_equal(voucher_x509_check_cmcra(junk, sizeof(junk)), VOUCHER_E_CERT);
	voucher_x509_cache_stats(&b);
	assert_int_equal(b.failures - a.failures, 2);
	assert_int_equal(b.hits - a.hits, 0);
	free(sn1);
	free(sn2);
	free(ski);
	free(iss);
	tp_free(&ca);
	tp_free(&ee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_temporary),
	        cmocka_unit_test(test_shared),
	        cmocka_unit_test(test_facts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
