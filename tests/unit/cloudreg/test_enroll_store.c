/* The store records cloudregd's enrollment and ACME backend keep beyond
 * memory (schema version 3), on SQLite, or on the PostgreSQL database
 * BRSKI_TEST_ENROLL_PG names (tests/integration/test-enroll-store-pg.sh):
 *   - a job remembers simplereenroll (store_job_create_ex), and a claim
 *     returns it;
 *   - an issued certificate is found by the SHA-256 of its DER while it is
 *     valid, not after its notAfter, not by another hash, and a later
 *     certificate for the same CSR replaces it;
 *   - a pre-authorization is put, read back, replaced and forgotten.
 * Every key is unique to its run, so one PostgreSQL database serves any
 * number of runs. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "service/store.h"

struct fixture {
	char path[64];
	struct store *store;
	char run[32]; /* makes every key of this run unique */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *pg = getenv("BRSKI_TEST_ENROLL_PG");
	char err[STORE_ERRLEN] = "";
	uint8_t rnd[8];
	int fd;

	assert_non_null(fx);
	assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)), 0);
	snprintf(fx->run, sizeof(fx->run), "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
	         rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (pg && *pg) {
		assert_int_equal(store_open(pg, &fx->store, err, sizeof(err)), VOUCHER_OK);
	} else {
		snprintf(fx->path, sizeof(fx->path), "/tmp/test-enroll-store-XXXXXX");
		fd = mkstemp(fx->path);
		assert_true(fd >= 0);
		close(fd);
		unlink(fx->path);
		assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), VOUCHER_OK);
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char p[80];

	store_close(fx->store);
	if (fx->path[0]) {
		unlink(fx->path);
		snprintf(p, sizeof(p), "%s-wal", fx->path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", fx->path);
		unlink(p);
	}
	free(fx);
	return 0;
}

static void sha(const struct fixture *fx, const char *what, uint8_t out[STORE_SHA256_LEN])
{
	char text[128];

	snprintf(text, sizeof(text), "%s %s", fx->run, what);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), out), 0);
}

static void test_job_reenroll(void **state)
{
	struct fixture *fx = *state;
	uint8_t h1[32], h2[32];
	char err[STORE_ERRLEN] = "", serial[64], holder[64];
	struct store_job j = {0};
	int64_t id1 = 0, id2 = 0;
	bool seen1 = false, seen2 = false;

	snprintf(serial, sizeof(serial), "SN-%s", fx->run);
	snprintf(holder, sizeof(holder), "w-%s", fx->run);
	sha(fx, "csr re", h1);
	sha(fx, "csr first", h2);
	assert_int_equal(store_job_create_ex(fx->store, h1, h1, 32, serial, NULL, true, &id1, err,
	                                     sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(
	        store_job_create(fx->store, h2, h2, 32, serial, NULL, &id2, err, sizeof(err)),
	        VOUCHER_OK);
	assert_int_equal(store_job_get(fx->store, id1, &j, err, sizeof(err)), VOUCHER_OK);
	assert_true(j.reenroll);
	store_job_clear(&j);
	assert_int_equal(store_job_get_by_csr(fx->store, h2, &j, err, sizeof(err)), VOUCHER_OK);
	assert_false(j.reenroll);
	store_job_clear(&j);
	/* Claims return the flag too (the worker's view). Other runs sharing
	 * a PostgreSQL database may have left jobs: claim until ours are seen. */
	for (int i = 0; i < 1000 && !(seen1 && seen2); i++) {
		voucher_err r = store_job_claim(fx->store, holder, 60, &j, err, sizeof(err));
		if (r == VOUCHER_E_NOT_FOUND)
			break;
		assert_int_equal(r, VOUCHER_OK);
		if (j.id == id1) {
			assert_true(j.reenroll);
			seen1 = true;
		} else if (j.id == id2) {
			assert_false(j.reenroll);
			seen2 = true;
		}
		store_job_clear(&j);
	}
	assert_true(seen1 && seen2);
}

static void test_cert_by_hash(void **state)
{
	struct fixture *fx = *state;
	struct store_cert c = {0}, got = {0};
	uint8_t csr[32], csr_old[32], der[40], other[32];
	char err[STORE_ERRLEN] = "", serial[64];
	int64_t now = (int64_t)time(NULL);

	snprintf(serial, sizeof(serial), "SN-%s", fx->run);
	sha(fx, "csr", csr);
	sha(fx, "csr expired", csr_old);
	memset(der, 0x30, sizeof(der));
	memcpy(der + 2, fx->run, strlen(fx->run));
	memcpy(c.csr_sha256, csr, 32);
	c.serial = serial;
	c.not_after = now + 3600;
	c.der = der;
	c.der_len = sizeof(der);
	c.pkcs7 = der;
	c.pkcs7_len = sizeof(der);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, sizeof(der), c.cert_sha256), 0);
	assert_int_equal(store_cert_put(fx->store, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_by_hash(fx->store, c.cert_sha256, &got, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(got.serial, serial);
	assert_int_equal(got.der_len, sizeof(der));
	assert_memory_equal(got.der, der, sizeof(der));
	store_cert_clear(&got);
	sha(fx, "no such certificate", other);
	assert_int_equal(store_cert_get_by_hash(fx->store, other, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(store_cert_get_by_hash(fx->store, NULL, &got, err, sizeof(err)),
	                 VOUCHER_EINVAL);

	/* The same CSR issued again (a new certificate): the old one is gone. */
	der[1] ^= 0xff;
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, sizeof(der), other), 0);
	memcpy(c.cert_sha256, other, 32);
	assert_int_equal(store_cert_put(fx->store, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_by_hash(fx->store, other, &got, err, sizeof(err)),
	                 VOUCHER_OK);
	store_cert_clear(&got);
	der[1] ^= 0xff;
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, sizeof(der), other), 0);
	assert_int_equal(store_cert_get_by_hash(fx->store, other, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);

	/* Expired: not found; no hash given: stored, never found by one. */
	memcpy(c.csr_sha256, csr_old, 32);
	c.not_after = now - 1;
	der[0] = 0x31;
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, sizeof(der), c.cert_sha256), 0);
	assert_int_equal(store_cert_put(fx->store, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_by_hash(fx->store, c.cert_sha256, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	memset(c.cert_sha256, 0, 32);
	c.not_after = now + 3600;
	assert_int_equal(store_cert_put(fx->store, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_cert_get_by_hash(fx->store, c.cert_sha256, &got, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
}

static void test_preauth(void **state)
{
	struct fixture *fx = *state;
	struct store_acme_preauth a = {0}, got = {0};
	char err[STORE_ERRLEN] = "", dir[96], url[96];

	snprintf(dir, sizeof(dir), "https://acme.example/%s/dir", fx->run);
	snprintf(url, sizeof(url), "https://acme.example/%s/authz/1", fx->run);
	assert_int_equal(store_acme_preauth_get(fx->store, dir, "pledges.example.com", &got, err,
	                                        sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	a.directory = dir;
	a.domain = "pledges.example.com";
	a.authz_url = url;
	a.published = true;
	a.expires = 1796024472;
	assert_int_equal(store_acme_preauth_put(fx->store, &a, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_acme_preauth_get(fx->store, dir, "pledges.example.com", &got, err,
	                                        sizeof(err)),
	                 VOUCHER_OK);
	assert_string_equal(got.authz_url, url);
	assert_false(got.valid);
	assert_true(got.published);
	assert_int_equal(got.expires, 1796024472);
	store_acme_preauth_clear(&got);
	/* Validated: the same row, replaced. */
	a.valid = true;
	a.published = false;
	a.expires = 1796024999;
	assert_int_equal(store_acme_preauth_put(fx->store, &a, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(store_acme_preauth_get(fx->store, dir, "pledges.example.com", &got, err,
	                                        sizeof(err)),
	                 VOUCHER_OK);
	assert_true(got.valid);
	assert_false(got.published);
	assert_int_equal(got.expires, 1796024999);
	store_acme_preauth_clear(&got);
	/* Another domain at the same directory is another record. */
	assert_int_equal(
	        store_acme_preauth_get(fx->store, dir, "other.example.com", &got, err, sizeof(err)),
	        VOUCHER_E_NOT_FOUND);
	assert_int_equal(
	        store_acme_preauth_delete(fx->store, dir, "pledges.example.com", err, sizeof(err)),
	        VOUCHER_OK);
	assert_int_equal(store_acme_preauth_get(fx->store, dir, "pledges.example.com", &got, err,
	                                        sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	assert_int_equal(
	        store_acme_preauth_delete(fx->store, dir, "pledges.example.com", err, sizeof(err)),
	        VOUCHER_OK);
	a.authz_url = NULL;
	assert_int_equal(store_acme_preauth_put(fx->store, &a, err, sizeof(err)), VOUCHER_EINVAL);
	assert_int_equal(store_acme_preauth_get(fx->store, NULL, "x", &got, err, sizeof(err)),
	                 VOUCHER_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_job_reenroll, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cert_by_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_preauth, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
