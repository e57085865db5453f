/* Trust lists: loading anchors, chain checks through voucher_verify, and
 * the validation cache. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "testpki.h"

static struct tp_cert root, sub, leaf, other_root;
static char *dir, *root_pem, *leaf_key, *chain_pem;

static int setup(void **state)
{
	(void)state;
	struct tp_opts ca = {.ca = 1};
	tp_make(&root, GNUTLS_PK_ECDSA, 0, "Root", NULL, &ca);
	tp_make(&sub, GNUTLS_PK_ECDSA, 0, "Sub CA", &root, &ca);
	struct tp_opts r = {.cmcra = 1};
	tp_make(&leaf, GNUTLS_PK_ECDSA, 0, "registrar", &sub, &r);
	tp_make(&other_root, GNUTLS_PK_ECDSA, 0, "Other Root", NULL, &ca);
	dir = tp_tmpdir();
	const struct tp_cert *r1[] = {&root, &other_root};
	root_pem = tp_write_chain(dir, "roots.pem", r1, 2);
	leaf_key = tp_write_key(dir, "leaf.key", &leaf);
	const struct tp_cert *c[] = {&leaf, &sub};
	chain_pem = tp_write_chain(dir, "chain.pem", c, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_free(&root);
	tp_free(&sub);
	tp_free(&leaf);
	tp_free(&other_root);
	free(root_pem);
	free(leaf_key);
	free(chain_pem);
	tp_rmdir(dir);
	return 0;
}

static void test_loading(void **state)
{
	(void)state;
	struct voucher_trust *t = NULL;
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	assert_int_equal(voucher_trust_count(t), 0);
	assert_int_equal(voucher_trust_add_file(t, root_pem), VOUCHER_OK);
	assert_int_equal(voucher_trust_count(t), 2);
	assert_int_equal(voucher_trust_add_der(t, sub.der.data, sub.der.size), VOUCHER_OK);
	assert_int_equal(voucher_trust_count(t), 3);
	assert_int_equal(voucher_trust_add_der(t, (const uint8_t *)"\x30\x00", 2), VOUCHER_E_CERT);
	assert_int_equal(voucher_trust_add_pem(t, (const uint8_t *)"nothing", 7), VOUCHER_E_CERT);
	assert_int_equal(voucher_trust_add_file(t, "/nonexistent/roots.pem"), VOUCHER_ENOENT);
	assert_int_equal(voucher_trust_count(t), 3);
	voucher_trust_free(t);
	voucher_trust_free(NULL);
}

static void sign_one(uint8_t **cms, size_t *len)
{
	struct voucher_signer *s = NULL;
	static const char payload[] = "{\"ietf-voucher-request:voucher\":{}}";
	assert_int_equal(voucher_signer_load(&s, leaf_key, chain_pem), VOUCHER_OK);
	assert_int_equal(voucher_sign(VOUCHER_ENV_CMS, s, (const uint8_t *)payload,
	                              sizeof(payload) - 1, cms, len),
	                 VOUCHER_OK);
	voucher_signer_free(s);
}

static void test_cache(void **state)
{
	(void)state;
	struct voucher_trust *t = NULL;
	struct voucher_trust_stats st;
	struct voucher_verified *v = NULL;
	uint8_t *cms = NULL;
	size_t len = 0;

	sign_one(&cms, &len);
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	assert_int_equal(voucher_trust_add_file(t, root_pem), VOUCHER_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, t, &v), VOUCHER_OK);
		/* leaf, then its issuer */
		assert_int_equal(v->chain_len, 2);
		assert_memory_equal(v->chain[0], leaf.der.data, leaf.der.size);
		assert_memory_equal(v->chain[1], sub.der.data, sub.der.size);
		voucher_verified_free(v);
		v = NULL;
	}
	voucher_trust_stats(t, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.entries, 1);

	/* Without the cache every verification is a full one. */
	voucher_trust_set_cache(t, 0);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, t, &v), VOUCHER_OK);
	voucher_verified_free(v);
	v = NULL;
	voucher_trust_stats(t, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.entries, 0);
	voucher_trust_free(t);

	/* A list without our root: refused, and the failure is not cached. */
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	assert_int_equal(voucher_trust_add_der(t, other_root.der.data, other_root.der.size),
	                 VOUCHER_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, t, &v),
		                 VOUCHER_E_UNTRUSTED);
	assert_null(v);
	voucher_trust_stats(t, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.entries, 0);
	voucher_trust_free(t);

	/* The intermediate as the anchor is enough. */
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	assert_int_equal(voucher_trust_add_der(t, sub.der.data, sub.der.size), VOUCHER_OK);
	assert_int_equal(voucher_verify(VOUCHER_ENV_CMS, cms, len, t, &v), VOUCHER_OK);
	voucher_verified_free(v);
	voucher_trust_free(t);
	free(cms);
}

/* One signer and one trust list shared by several threads (both are
 * documented thread-safe); run under ASan in the sanitizer build. */
struct worker {
	struct voucher_signer *s;
	struct voucher_trust *t;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	static const char payload[] = "{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"}}";
	for (int i = 0; i < 50; i++) {
		uint8_t *cms = NULL;
		size_t len = 0;
		struct voucher_verified *v = NULL;
		if (voucher_sign(VOUCHER_ENV_CMS, w->s, (const uint8_t *)payload,
		                 sizeof(payload) - 1, &cms, &len) != VOUCHER_OK ||
		    voucher_verify(VOUCHER_ENV_CMS, cms, len, w->t, &v) != VOUCHER_OK ||
		    v->payload_len != sizeof(payload) - 1)
			w->failures++;
		voucher_verified_free(v);
		free(cms);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct voucher_signer *s = NULL;
	struct voucher_trust *t = NULL;
	struct voucher_trust_stats st;
	pthread_t th[4];
	struct worker w[4];

	assert_int_equal(voucher_signer_load(&s, leaf_key, chain_pem), VOUCHER_OK);
	assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
	assert_int_equal(voucher_trust_add_file(t, root_pem), VOUCHER_OK);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){s, t, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	voucher_trust_stats(t, &st);
	assert_int_equal(st.hits + st.misses, 200);
	assert_true(st.misses >= 1 && st.misses <= 4); /* threads may race to fill the slot */
	assert_int_equal(st.entries, 1);
	voucher_trust_free(t);
	voucher_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_loading),
	        cmocka_unit_test(test_cache),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
