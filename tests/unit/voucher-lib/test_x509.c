/* X.509 helpers (voucher/x509.h) on certificates made here with GnuTLS. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gnutls/crypto.h>

#include <voucher/x509.h>

#include "testpki.h"

static struct tp_cert ca, idevid, bare, full, registrar, noaki;

static int setup(void **state)
{
	(void)state;
	struct tp_opts o = {.ca = 1};
	tp_make(&ca, GNUTLS_PK_ECDSA, 0, "Test IDevID CA", NULL, &o);
	struct tp_opts i = {.serial_number = "00-D0-E5-F2-00-02", .masa_url = "masa.example:9443"};
	tp_make(&idevid, GNUTLS_PK_ECDSA, 0, "pledge", &ca, &i);
	struct tp_opts f = {.masa_url = "https://masa.example/brski/"};
	tp_make(&full, GNUTLS_PK_ECDSA, 0, "pledge2", &ca, &f);
	tp_make(&bare, GNUTLS_PK_ECDSA, 0, "no extensions", &ca, NULL);
	struct tp_opts r = {.cmcra = 1};
	tp_make(&registrar, GNUTLS_PK_ECDSA, 0, "registrar", &ca, &r);
	/* Self-signed without SKI: GnuTLS then has nothing to put in an AKI. */
	struct tp_opts n = {.no_ski = 1, .serial_number = "SN-NOAKI"};
	tp_make(&noaki, GNUTLS_PK_ECDSA, 0, "no aki", NULL, &n);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_free(&ca);
	tp_free(&idevid);
	tp_free(&bare);
	tp_free(&full);
	tp_free(&registrar);
	tp_free(&noaki);
	return 0;
}

static void test_serial_number(void **state)
{
	(void)state;
	char *s = NULL;
	assert_int_equal(voucher_x509_serial_number(idevid.der.data, idevid.der.size, &s),
	                 VOUCHER_OK);
	assert_string_equal(s, "00-D0-E5-F2-00-02");
	free(s);
	s = (char *)"untouched";
	assert_int_equal(voucher_x509_serial_number(bare.der.data, bare.der.size, &s),
	                 VOUCHER_E_NOT_FOUND);
	assert_null(s);
	uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	assert_int_equal(voucher_x509_serial_number(junk, sizeof(junk), &s), VOUCHER_E_CERT);
	assert_int_equal(voucher_x509_serial_number(NULL, 0, &s), VOUCHER_EINVAL);
}

static void test_masa_url(void **state)
{
	(void)state;
	char *u = NULL;
	assert_int_equal(voucher_x509_masa_url(idevid.der.data, idevid.der.size, &u), VOUCHER_OK);
	assert_string_equal(u, "https://masa.example:9443/.well-known/brski");
	free(u);
	assert_int_equal(voucher_x509_masa_url(full.der.data, full.der.size, &u), VOUCHER_OK);
	assert_string_equal(u, "https://masa.example/brski/");
	free(u);
	u = NULL;
	assert_int_equal(voucher_x509_masa_url(bare.der.data, bare.der.size, &u),
	                 VOUCHER_E_NOT_FOUND);
	assert_null(u);
}

static void test_idevid_issuer_from_aki(void **state)
{
	(void)state;
	uint8_t *v = NULL, id[64];
	size_t n = 0, idlen = sizeof(id);
	unsigned crit = 0;
	assert_true(gnutls_x509_crt_get_authority_key_id(idevid.crt, id, &idlen, &crit) >= 0);
	assert_int_equal(idlen, 20);
	assert_int_equal(voucher_x509_idevid_issuer(idevid.der.data, idevid.der.size, &v, &n),
	                 VOUCHER_OK);
	/* FACTS 1.6: 04 18 30 16 80 14 <20-byte keyIdentifier>. */
	static const uint8_t prefix[] = {0x04, 0x18, 0x30, 0x16, 0x80, 0x14};
	assert_int_equal(n, 26);
	assert_memory_equal(v, prefix, sizeof(prefix));
	assert_memory_equal(v + 6, id, 20);
	/* The issuer's SKI is what the AKI names. */
	uint8_t ski[64];
	size_t skilen = sizeof(ski);
	assert_true(gnutls_x509_crt_get_subject_key_id(ca.crt, ski, &skilen, &crit) >= 0);
	assert_memory_equal(v + 6, ski, 20);
	free(v);
}

static void test_idevid_issuer_synthesized(void **state)
{
	(void)state;
	uint8_t *v = NULL, id[64];
	size_t n = 0, idlen = sizeof(id);
	unsigned crit = 0;
	assert_int_equal(gnutls_x509_crt_get_authority_key_id(noaki.crt, id, &idlen, &crit),
	                 GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	assert_int_equal(voucher_x509_idevid_issuer(noaki.der.data, noaki.der.size, &v, &n),
	                 VOUCHER_OK);
	/* RFC 5280 method 1, computed independently: SHA-1 of the EC point
	 * 04 || x || y. */
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	assert_true(gnutls_x509_crt_get_pk_ecc_raw(noaki.crt, &curve, &x, &y) >= 0);
	uint8_t point[1 + 2 * 32] = {0x04};
	/* get_pk_ecc_raw may add a leading zero to keep the value positive. */
	const uint8_t *xp = x.data + (x.size - 32), *yp = y.data + (y.size - 32);
	memcpy(point + 1, xp, 32);
	memcpy(point + 33, yp, 32);
	uint8_t sha1[20];
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, point, sizeof(point), sha1), 0);
	static const uint8_t prefix[] = {0x04, 0x18, 0x30, 0x16, 0x80, 0x14};
	assert_int_equal(n, 26);
	assert_memory_equal(v, prefix, sizeof(prefix));
	assert_memory_equal(v + 6, sha1, 20);
	gnutls_free(x.data);
	gnutls_free(y.data);
	free(v);
}

static void test_cmcra(void **state)
{
	(void)state;
	assert_int_equal(voucher_x509_check_cmcra(registrar.der.data, registrar.der.size),
	                 VOUCHER_OK);
	assert_int_equal(voucher_x509_check_cmcra(bare.der.data, bare.der.size),
	                 VOUCHER_E_NOT_REGISTRAR);
	assert_int_equal(voucher_x509_check_cmcra(idevid.der.data, idevid.der.size),
	                 VOUCHER_E_NOT_REGISTRAR);
}

static void test_spki_and_ski(void **state)
{
	(void)state;
	uint8_t h[32], id[32];
	size_t idlen = sizeof(id);
	assert_int_equal(voucher_x509_spki_sha256(idevid.der.data, idevid.der.size, h), VOUCHER_OK);
	/* GnuTLS's SHA-256 key id is the hash of the DER SPKI as well. */
	assert_true(gnutls_x509_crt_get_key_id(idevid.crt, GNUTLS_KEYID_USE_SHA256, id, &idlen) >=
	            0);
	assert_int_equal(idlen, 32);
	assert_memory_equal(h, id, 32);
	uint8_t *spki = NULL, h2[32];
	size_t spki_len = 0;
	assert_int_equal(voucher_x509_spki(idevid.der.data, idevid.der.size, &spki, &spki_len),
	                 VOUCHER_OK);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, spki_len, h2), 0);
	assert_memory_equal(h, h2, 32);
	free(spki);

	uint8_t *ski = NULL, want[64];
	size_t ski_len = 0, want_len = sizeof(want);
	assert_true(gnutls_x509_privkey_get_key_id(idevid.key, GNUTLS_KEYID_USE_SHA1, want,
	                                           &want_len) >= 0);
	assert_int_equal(voucher_x509_ski(idevid.der.data, idevid.der.size, &ski, &ski_len),
	                 VOUCHER_OK);
	assert_int_equal(ski_len, want_len);
	assert_memory_equal(ski, want, want_len);
	free(ski);
	ski = NULL;
	assert_int_equal(voucher_x509_ski(noaki.der.data, noaki.der.size, &ski, &ski_len),
	                 VOUCHER_E_NOT_FOUND);
	assert_null(ski);
}

static void test_chain_loading(void **state)
{
	(void)state;
	char *dir = tp_tmpdir();
	const struct tp_cert *two[] = {&idevid, &ca};
	char *path = tp_write_chain(dir, "chain.pem", two, 2);
	struct voucher_x509_chain *c = NULL;
	assert_int_equal(voucher_x509_chain_load_file(path, &c), VOUCHER_OK);
	assert_int_equal(c->len, 2);
	assert_int_equal(c->der_len[0], idevid.der.size);
	assert_memory_equal(c->der[0], idevid.der.data, idevid.der.size);
	assert_memory_equal(c->der[1], ca.der.data, ca.der.size);
	voucher_x509_chain_free(c);
	free(path);

	/* One DER certificate. */
	c = NULL;
	assert_int_equal(voucher_x509_chain_load_mem(ca.der.data, ca.der.size, &c), VOUCHER_OK);
	assert_int_equal(c->len, 1);
	voucher_x509_chain_free(c);

	/* DER with a byte after it. */
	uint8_t *plus = malloc(ca.der.size + 1);
	memcpy(plus, ca.der.data, ca.der.size);
	plus[ca.der.size] = 0;
	c = NULL;
	assert_int_equal(voucher_x509_chain_load_mem(plus, ca.der.size + 1, &c),
	                 VOUCHER_E_TRAILING_DATA);
	assert_null(c);
	free(plus);

	/* More certificates than a chain may have. */
	const struct tp_cert *nine[9];
	for (int i = 0; i < 9; i++)
		nine[i] = &ca;
	path = tp_write_chain(dir, "nine.pem", nine, 9);
	assert_int_equal(voucher_x509_chain_load_file(path, &c), VOUCHER_E_TOO_LARGE);
	free(path);

	static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	assert_int_equal(voucher_x509_chain_load_mem((const uint8_t *)junk, sizeof(junk) - 1, &c),
	                 VOUCHER_E_CERT);
	assert_int_equal(voucher_x509_chain_load_mem((const uint8_t *)"hello", 5, &c),
	                 VOUCHER_E_CERT);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	assert_int_equal(voucher_x509_chain_load_file(missing, &c), VOUCHER_ENOENT);
	voucher_x509_chain_free(NULL);
	tp_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_serial_number),
	        cmocka_unit_test(test_masa_url),
	        cmocka_unit_test(test_idevid_issuer_from_aki),
	        cmocka_unit_test(test_idevid_issuer_synthesized),
	        cmocka_unit_test(test_cmcra),
	        cmocka_unit_test(test_spki_and_ski),
	        cmocka_unit_test(test_chain_loading),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
