/* cloudreg/csr.c and cloudreg/pkcs7.c: EST base64 bodies (wrapped, flat,
 * CRLF; every malformed form), PKCS#10 parsing with the self-signature,
 * the challengePassword proof of possession, the SAN policy name, csrattrs
 * in both directions, certs-only PKCS#7 keeping the order given. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* The shared fixture has helpers these tests do not need. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../voucher-lib/sigfixture.h"
#pragma GCC diagnostic pop
#include "cloudreg/est.h"

static voucher_err dec(const char *s, struct brski_buf *out)
{
	brski_buf_reset(out);
	return creg_b64_decode_body((const uint8_t *)s, strlen(s), out);
}

static void test_b64_decode(void **state)
{
	struct brski_buf b;
	(void)state;

	brski_buf_init(&b, 1024);
	assert_int_equal(dec("aGVsbG8gd29ybGQ=", &b), VOUCHER_OK);
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.data, "hello world", 11);
	/* Line breaks (LF and CRLF), spaces and tabs anywhere are skipped. */
	assert_int_equal(dec("aGVs\r\nbG8g\nd29y\tbGQ =\r\n", &b), VOUCHER_OK);
	assert_memory_equal(b.data, "hello world", 11);
	assert_int_equal(dec("YQ==", &b), VOUCHER_OK);
	assert_int_equal(b.len, 1);
	assert_int_equal(dec("YWI=", &b), VOUCHER_OK);
	assert_int_equal(b.len, 2);
	/* Malformed: other characters, missing or misplaced padding, data
	 * after padding, non-zero bits in the padding, empty. */
	assert_int_equal(dec("aGVsbG8-", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("YQ", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("Y===", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("YQ==YQ==", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("YR==", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("YWJ=", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec("", &b), VOUCHER_E_BAD_BASE64);
	assert_int_equal(dec(" \r\n", &b), VOUCHER_E_BAD_BASE64);
	/* The output buffer's ceiling holds. */
	brski_buf_free(&b);
	brski_buf_init(&b, 4);
	assert_int_equal(dec("aGVsbG8gd29ybGQ=", &b), VOUCHER_E_TOO_LARGE);
	brski_buf_free(&b);
}

static void test_b64_encode(void **state)
{
	uint8_t in[200];
	struct brski_buf b, back;
	(void)state;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	for (size_t n = 1; n <= sizeof(in); n++) {
		brski_buf_init(&b, 4096);
		brski_buf_init(&back, 4096);
		assert_int_equal(creg_b64_encode_body(in, n, &b), VOUCHER_OK);
		/* Lines of 64 columns, each ending in LF, the last maybe shorter. */
		size_t col = 0;
		for (size_t i = 0; i < b.len; i++) {
			if (b.data[i] == '\n') {
				assert_true(col == 64 || i == b.len - 1);
				col = 0;
			} else {
				col++;
			}
		}
		assert_int_equal(b.data[b.len - 1], '\n');
		assert_int_equal(creg_b64_decode_body(b.data, b.len, &back), VOUCHER_OK);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.data, in, n);
		brski_buf_free(&b);
		brski_buf_free(&back);
	}
}

/* A CSR made with GnuTLS: P-256 key, subject CN and serialNumber, optional
 * SAN and challengePassword. */
static void make_csr(const char *serial, const char *san, const char *challenge,
                     gnutls_datum_t *der)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crq_t crq;

	FX_CHECK(gnutls_x509_privkey_init(&key));
	FX_CHECK(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	FX_CHECK(gnutls_x509_crq_init(&crq));
	FX_CHECK(gnutls_x509_crq_set_version(crq, 1));
	FX_CHECK(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, serial,
	                                       (unsigned)strlen(serial)));
	FX_CHECK(gnutls_x509_crq_set_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, serial,
	                                       (unsigned)strlen(serial)));
	FX_CHECK(gnutls_x509_crq_set_key(crq, key));
	if (san)
		FX_CHECK(gnutls_x509_crq_set_subject_alt_name(
		        crq, GNUTLS_SAN_DNSNAME, san, (unsigned)strlen(san), GNUTLS_FSAN_SET));
	if (challenge)
		FX_CHECK(gnutls_x509_crq_set_challenge_password(crq, challenge));
	FX_CHECK(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0));
	FX_CHECK(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, der));
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
}

static void test_csr_parse(void **state)
{
	gnutls_datum_t der;
	struct creg_csr c;
	char err[200];
	uint8_t sha[32];
	(void)state;

	make_csr("SN-0001", "SN-0001.pledges.example.com", NULL, &der);
	assert_int_equal(creg_csr_parse(der.data, der.size, &c, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(c.subject_serial, "SN-0001");
	assert_non_null(strstr(c.subject, "CN=SN-0001"));
	assert_int_equal(c.n_dns, 1);
	assert_string_equal(c.dns[0], "SN-0001.pledges.example.com");
	assert_false(c.other_san);
	assert_null(c.challenge);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, sha), 0);
	assert_memory_equal(c.sha256, sha, 32);
	creg_csr_clear(&c);
	creg_csr_clear(&c); /* cleared twice is fine */

	/* A flipped byte in the signature: the self-signature fails. */
	der.data[der.size - 3] ^= 0x01;
	assert_int_equal(creg_csr_parse(der.data, der.size, &c, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	assert_non_null(strstr(err, "signature"));
	der.data[der.size - 3] ^= 0x01;
	/* Truncated, empty, not DER at all, over the size limit. */
	assert_int_equal(creg_csr_parse(der.data, der.size - 10, &c, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	assert_int_equal(creg_csr_parse(der.data, 0, &c, err, sizeof(err)), VOUCHER_E_MALFORMED);
	assert_int_equal(creg_csr_parse((const uint8_t *)"hello", 5, &c, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	assert_int_equal(creg_csr_parse(der.data, CREG_CSR_MAX + 1, &c, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	gnutls_free(der.data);
}

static void test_csr_pop(void **state)
{
	/* "++++////" leads its base64: GnuTLS's own getter would escape '+'. */
	static const uint8_t cb[32] = {0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 7,  8,  9,  10, 11,
	                               12,   13,   14,   15,   16,   17,   18, 19, 20, 21, 22,
	                               23,   24,   25,   26,   27,   28,   29, 30, 31, 32};
	uint8_t other[32];
	struct brski_buf b64;
	gnutls_datum_t der;
	struct creg_csr c;
	char err[200], pw[100];
	(void)state;

	brski_buf_init(&b64, 1024);
	assert_int_equal(creg_b64_encode_body(cb, sizeof(cb), &b64), VOUCHER_OK);
	assert_true(b64.len < sizeof(pw));
	memcpy(pw, b64.data, b64.len - 1); /* without the LF */
	pw[b64.len - 1] = '\0';
	make_csr("SN-0002", NULL, pw, &der);
	assert_int_equal(creg_csr_parse(der.data, der.size, &c, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(c.challenge_len, strlen(pw));
	assert_memory_equal(c.challenge, "++++////", 8);
	assert_true(creg_csr_pop_matches(&c, cb, sizeof(cb)));
	memcpy(other, cb, sizeof(other));
	other[31] ^= 0x80;
	assert_false(creg_csr_pop_matches(&c, other, sizeof(other)));
	assert_false(creg_csr_pop_matches(&c, cb, sizeof(cb) - 1));
	assert_false(creg_csr_pop_matches(&c, NULL, 0));
	creg_csr_clear(&c);
	gnutls_free(der.data);
	/* Without a challengePassword nothing matches. */
	make_csr("SN-0002", NULL, NULL, &der);
	assert_int_equal(creg_csr_parse(der.data, der.size, &c, err, sizeof(err)), VOUCHER_OK);
	assert_false(creg_csr_pop_matches(&c, cb, sizeof(cb)));
	creg_csr_clear(&c);
	gnutls_free(der.data);
	brski_buf_free(&b64);
}

static void test_san_for(void **state)
{
	char out[300];
	(void)state;

	assert_int_equal(creg_csr_san_for("pledge-0001", "pledges.example.com", out, sizeof(out)),
	                 VOUCHER_OK);
	assert_string_equal(out, "pledge-0001.pledges.example.com");
	assert_int_equal(creg_csr_san_for("a.b", "example.com", out, sizeof(out)), VOUCHER_EINVAL);
	assert_int_equal(creg_csr_san_for("-x", "example.com", out, sizeof(out)), VOUCHER_EINVAL);
	assert_int_equal(creg_csr_san_for("x-", "example.com", out, sizeof(out)), VOUCHER_EINVAL);
	assert_int_equal(creg_csr_san_for("", "example.com", out, sizeof(out)), VOUCHER_EINVAL);
	assert_int_equal(creg_csr_san_for("a b", "example.com", out, sizeof(out)), VOUCHER_EINVAL);
	assert_int_equal(creg_csr_san_for("x", "example.com", out, 5), VOUCHER_EINVAL);
}

static void test_csrattrs(void **state)
{
	const char *oids[] = {"1.2.840.10045.4.3.2", "2.999.1234567.8"};
	struct brski_buf der;
	struct creg_csrattrs a;
	char err[200];
	(void)state;

	brski_buf_init(&der, 4096);
	assert_int_equal(creg_csrattrs_encode(oids, 2, true, "sn-1.pledges.example.com", &der, err,
	                                      sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(der.data[0], 0x30);
	assert_int_equal(creg_csrattrs_decode(der.data, der.len, &a, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(a.n_oids, 4);
	assert_string_equal(a.oids[0], "1.2.840.10045.4.3.2");
	assert_string_equal(a.oids[1], "2.999.1234567.8");
	assert_string_equal(a.oids[2], CREG_OID_CHALLENGE);
	assert_string_equal(a.oids[3], CREG_OID_EXT_REQ);
	assert_true(a.pop);
	assert_string_equal(a.san_dns, "sn-1.pledges.example.com");
	creg_csrattrs_clear(&a);

	/* Empty: a SEQUENCE with nothing in it. */
	brski_buf_reset(&der);
	assert_int_equal(creg_csrattrs_encode(NULL, 0, false, NULL, &der, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(der.len, 2);
	assert_int_equal(creg_csrattrs_decode(der.data, der.len, &a, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(a.n_oids, 0);
	assert_null(a.san_dns);
	assert_false(a.pop);
	creg_csrattrs_clear(&a);

	/* A bad OID in the configuration is named. */
	const char *bad[] = {"1.2.x"};
	brski_buf_reset(&der);
	assert_int_equal(creg_csrattrs_encode(bad, 1, false, NULL, &der, err, sizeof(err)),
	                 VOUCHER_EINVAL);
	assert_non_null(strstr(err, "1.2.x"));

	/* Malformed input: truncated, trailing data, not a SEQUENCE, an
	 * attribute without its SET, an OID running off its end. */
	brski_buf_reset(&der);
	assert_int_equal(
	        creg_csrattrs_encode(oids, 1, false, "a.example.com", &der, err, sizeof(err)),
	        VOUCHER_OK);
	for (size_t n = 0; n < der.len; n++)
		assert_int_equal(creg_csrattrs_decode(der.data, n, &a, err, sizeof(err)),
		                 VOUCHER_E_MALFORMED);
	uint8_t trailing[512];
	memcpy(trailing, der.data, der.len);
	trailing[der.len] = 0;
	assert_int_equal(creg_csrattrs_decode(trailing, der.len + 1, &a, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	static const uint8_t set[] = {0x31, 0x00};
	assert_int_equal(creg_csrattrs_decode(set, sizeof(set), &a, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	static const uint8_t noset[] = {0x30, 0x07, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04};
	assert_int_equal(creg_csrattrs_decode(noset, sizeof(noset), &a, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	static const uint8_t runoff[] = {0x30, 0x03, 0x06, 0x01, 0x82};
	assert_int_equal(creg_csrattrs_decode(runoff, sizeof(runoff), &a, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	brski_buf_free(&der);
}

static void test_pkcs7(void **state)
{
	struct fx_pki p;
	struct fx_id leaf = {0};
	struct brski_buf out;
	uint8_t *certs[4];
	size_t lens[4], n = 0;
	char err[200];
	(void)state;

	fx_pki_new(&p, GNUTLS_PK_ECDSA, 100);
	/* The leaf's DER sorts after the CA's: DER SET OF ordering would
	 * put the CA first; the issued certificate must stay first. */
	fx_make(&p, &leaf, "leaf", GNUTLS_PK_ECDSA, "CN=zz leaf", &p.ca, 0, 0x7f000000L);
	for (int order = 0; order < 2; order++) {
		const uint8_t *in[2];
		size_t inl[2];
		const struct fx_id *first = order ? &p.ca : &leaf, *second = order ? &leaf : &p.ca;
		in[0] = first->der.data;
		inl[0] = first->der.size;
		in[1] = second->der.data;
		inl[1] = second->der.size;
		brski_buf_init(&out, 64 * 1024);
		assert_int_equal(creg_pkcs7_certs_only(in, inl, 2, &out), VOUCHER_OK);
		assert_int_equal(
		        creg_pkcs7_parse(out.data, out.len, certs, lens, 4, &n, err, sizeof(err)),
		        VOUCHER_OK);
		assert_int_equal(n, 2);
		assert_int_equal(lens[0], inl[0]);
		assert_memory_equal(certs[0], in[0], inl[0]);
		assert_memory_equal(certs[1], in[1], inl[1]);
		for (size_t i = 0; i < n; i++)
			free(certs[i]);
		/* More certificates than the caller takes, and junk. */
		assert_int_equal(
		        creg_pkcs7_parse(out.data, out.len, certs, lens, 1, &n, err, sizeof(err)),
		        VOUCHER_E_MALFORMED);
		assert_int_equal(creg_pkcs7_parse(out.data, out.len / 2, certs, lens, 4, &n, err,
		                                  sizeof(err)),
		                 VOUCHER_E_MALFORMED);
		brski_buf_free(&out);
	}
	brski_buf_init(&out, 64 * 1024);
	assert_int_equal(creg_pkcs7_certs_only(NULL, NULL, 0, &out), VOUCHER_EINVAL);
	brski_buf_free(&out);
	fx_id_free(&leaf);
	fx_pki_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_b64_decode), cmocka_unit_test(test_b64_encode),
	        cmocka_unit_test(test_csr_parse),  cmocka_unit_test(test_csr_pop),
	        cmocka_unit_test(test_san_for),    cmocka_unit_test(test_csrattrs),
	        cmocka_unit_test(test_pkcs7),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
