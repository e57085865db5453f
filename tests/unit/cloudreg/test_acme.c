/* Unit tests of the ACME backend's pieces that need no ACME server:
 * base64url, the nonce pool, problem documents, the JWS (checked by an
 * independent GnuTLS verification from the JWK), key authorizations and
 * dns-01 values, PEM chain -> certs-only PKCS#7 -> ordered chain, the
 * http-01 answer and the hook runner (exit codes, time limit, no shell).
 * The protocol against a real server is tests/integration/test-acme*.sh. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cloudreg/acme.h"
#include "cloudreg/hook.h"
#include "cloudreg/http01.h"
#include "common/str.h"

static void test_b64url(void **state)
{
	static const struct {
		const char *raw;
		const char *enc;
	} cases[] = {
	        {"", ""},
	        {"f", "Zg"},
	        {"fo", "Zm8"},
	        {"foo", "Zm9v"},
	        {"foob", "Zm9vYg"},
	        {"\xfb\xff", "-_8"},
	        {"\xff\xfe\xfd", "__79"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct brski_buf b;
		brski_buf_init(&b, 64);
		assert_int_equal(
		        acme_b64url((const uint8_t *)cases[i].raw, strlen(cases[i].raw), &b),
		        VOUCHER_OK);
		assert_string_equal(brski_buf_str(&b), cases[i].enc);
		brski_buf_reset(&b);
		assert_int_equal(acme_b64url_decode(cases[i].enc, strlen(cases[i].enc), &b),
		                 VOUCHER_OK);
		assert_int_equal(b.len, strlen(cases[i].raw));
		assert_memory_equal(b.data ? (const char *)b.data : "", cases[i].raw, b.len);
		brski_buf_free(&b);
	}
	/* standard alphabet, a lone trailing character, non-canonical bits */
	static const char *const bad[] = {"Zm9+", "Zm9/", "Z", "Zh", "Zm9 v", "Zm\n9v"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct brski_buf b;
		brski_buf_init(&b, 64);
		assert_int_equal(acme_b64url_decode(bad[i], strlen(bad[i]), &b),
		                 VOUCHER_E_BAD_BASE64);
		brski_buf_free(&b);
	}
}

static void test_nonce_pool(void **state)
{
	struct acme_nonces p;
	char out[ACME_NONCE_MAX + 1], big[ACME_NONCE_MAX + 2];

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_false(acme_nonce_take(&p, out, sizeof(out)));
	assert_true(acme_nonce_put(&p, "abc-_1", 6));
	assert_false(acme_nonce_put(&p, "a b", 3)); /* not base64url */
	assert_false(acme_nonce_put(&p, "a=b", 3)); /* padding is not allowed */
	assert_false(acme_nonce_put(&p, "", 0));    /* empty */
	memset(big, 'A', sizeof(big));
	assert_false(acme_nonce_put(&p, big, ACME_NONCE_MAX + 1)); /* too long */
	assert_true(acme_nonce_put(&p, big, ACME_NONCE_MAX));
	assert_int_equal(p.n, 2);
	/* newest first */
	assert_true(acme_nonce_take(&p, out, sizeof(out)));
	assert_int_equal(strlen(out), ACME_NONCE_MAX);
	assert_true(acme_nonce_take(&p, out, sizeof(out)));
	assert_string_equal(out, "abc-_1");
	assert_false(acme_nonce_take(&p, out, sizeof(out)));
	/* a full pool drops the oldest */
	for (int i = 0; i < ACME_NONCE_POOL + 3; i++) {
		char v[8];
		snprintf(v, sizeof(v), "n%d", i);
		assert_true(acme_nonce_put(&p, v, strlen(v)));
	}
	assert_int_equal(p.n, ACME_NONCE_POOL);
	assert_string_equal(p.v[0], "n3");
	assert_true(acme_nonce_take(&p, out, sizeof(out)));
	assert_string_equal(out, "n10");
	/* an output buffer too small takes nothing out silently */
	assert_false(acme_nonce_take(&p, out, 2));
}

static void test_problem(void **state)
{
	static const struct {
		const char *body;
		unsigned status;
		voucher_err want;
		const char *type;
		const char *detail;
	} cases[] = {
	        {"{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"stale\"}", 400,
	         VOUCHER_OK, "urn:ietf:params:acme:error:badNonce", "stale"},
	        {"{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"no\","
	         "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
	         "\"detail\":\"forbidden "
	         "name\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.b\"}}]}",
	         403, VOUCHER_OK, "urn:ietf:params:acme:error:rejectedIdentifier",
	         "no [a.b: forbidden name]"},
	        {"{\"detail\":\"only detail\"}", 500, VOUCHER_OK, "", "only detail"},
	        {"{\"type\":\"t\",\"detail\":\"line1\\nline2\\u0007\"}", 400, VOUCHER_OK, "t",
	         "line1?line2?"},
	        {"{\"type\":5}", 400, VOUCHER_OK, "", ""},
	        {"[1,2]", 400, VOUCHER_E_MALFORMED, "", ""},
	        {"not json", 502, VOUCHER_E_MALFORMED, "", ""},
	        {"{\"type\":\"a\",\"type\":\"b\"}", 400, VOUCHER_E_MALFORMED, "", ""},
	        {"", 400, VOUCHER_E_MALFORMED, "", ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct acme_problem p;
		voucher_err e = acme_problem_parse((const uint8_t *)cases[i].body,
		                                   strlen(cases[i].body), cases[i].status, &p);
		assert_int_equal(e, cases[i].want);
		assert_int_equal(p.status, cases[i].status);
		assert_string_equal(p.type, cases[i].type);
		assert_string_equal(p.detail, cases[i].detail);
	}
	/* long details are cut, never overflow, and the message has one shape */
	{
		char body[4096], msg[128];
		struct acme_problem p;
		int n = snprintf(body, sizeof(body),
		                 "{\"type\":\"urn:ietf:params:acme:error:x\","
		                 "\"detail\":\"");
		memset(body + n, 'd', 2000);
		snprintf(body + n + 2000, sizeof(body) - (size_t)n - 2000, "\"}");
		assert_int_equal(acme_problem_parse((const uint8_t *)body, strlen(body), 403, &p),
		                 VOUCHER_OK);
		assert_int_equal(strlen(p.detail), sizeof(p.detail) - 1);
		acme_problem_format(&p, msg, sizeof(msg));
		assert_true(strncmp(msg, "ACME server: 403 urn:ietf:params:acme:error:x: ddd",
		                    50) == 0);
		assert_int_equal(strlen(msg), sizeof(msg) - 1);
	}
}

/* Verify a flattened JWS independently: the header's jwk (or the given
 * one) as a GnuTLS public key, r||s back to DER. Returns the decoded
 * protected header (json, caller decrefs) and payload. */
static json_t *verify_jws(const char *jws, const char *jwk_json, struct brski_buf *payload)
{
	json_t *j = json_loads(jws, JSON_REJECT_DUPLICATES, NULL), *h, *jwk;
	const char *prot, *pay, *sig;
	struct brski_buf hb, sb, xb, yb, input;
	gnutls_datum_t r, s, der = {NULL, 0}, x, y, data;
	gnutls_pubkey_t pub;

	assert_non_null(j);
	assert_int_equal(json_object_size(j), 3);
	prot = json_string_value(json_object_get(j, "protected"));
	pay = json_string_value(json_object_get(j, "payload"));
	sig = json_string_value(json_object_get(j, "signature"));
	assert_non_null(prot);
	assert_non_null(pay);
	assert_non_null(sig);
	brski_buf_init(&hb, 8192);
	brski_buf_init(&sb, 128);
	brski_buf_init(&xb, 64);
	brski_buf_init(&yb, 64);
	brski_buf_init(&input, 65536);
	assert_int_equal(acme_b64url_decode(prot, strlen(prot), &hb), VOUCHER_OK);
	assert_int_equal(acme_b64url_decode(pay, strlen(pay), payload), VOUCHER_OK);
	assert_int_equal(acme_b64url_decode(sig, strlen(sig), &sb), VOUCHER_OK);
	assert_int_equal(sb.len, 64);
	h = json_loadb((const char *)hb.data, hb.len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(h);
	jwk = json_object_get(h, "jwk");
	if (!jwk)
		jwk = json_loads(jwk_json, 0, NULL);
	else
		json_incref(jwk);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
	const char *xs = json_string_value(json_object_get(jwk, "x"));
	const char *ys = json_string_value(json_object_get(jwk, "y"));
	assert_int_equal(acme_b64url_decode(xs, strlen(xs), &xb), VOUCHER_OK);
	assert_int_equal(acme_b64url_decode(ys, strlen(ys), &yb), VOUCHER_OK);
	assert_int_equal(xb.len, 32);
	assert_int_equal(yb.len, 32);
	x.data = xb.data;
	x.size = 32;
	y.data = yb.data;
	y.size = 32;
	assert_int_equal(gnutls_pubkey_init(&pub), 0);
	assert_int_equal(gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &x, &y), 0);
	r.data = sb.data;
	r.size = 32;
	s.data = sb.data + 32;
	s.size = 32;
	assert_int_equal(gnutls_encode_rs_value(&der, &r, &s), 0);
	brski_buf_printf(&input, "%s.%s", prot, pay);
	data.data = input.data;
	data.size = (unsigned)input.len;
	assert_true(gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) >= 0);
	/* one flipped byte of the signing input and it no longer verifies */
	input.data[0] ^= 1;
	assert_true(gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) < 0);
	gnutls_free(der.data);
	gnutls_pubkey_deinit(pub);
	json_decref(jwk);
	json_decref(j);
	brski_buf_free(&hb);
	brski_buf_free(&sb);
	brski_buf_free(&xb);
	brski_buf_free(&yb);
	brski_buf_free(&input);
	return h;
}

static void test_jws(void **state)
{
	struct acme_opts o = {.directory = "https://acme.example/dir"};
	struct acme_client *c = NULL, *c2 = NULL;
	struct brski_buf jws, pay;
	char err[256] = "", *pem = NULL;
	json_t *h;

	(void)state;
	assert_int_equal(acme_client_new(&o, NULL, &c, err, sizeof(err)), VOUCHER_OK);
	brski_buf_init(&jws, 65536);
	brski_buf_init(&pay, 65536);

	/* newAccount: jwk, no kid */
	assert_int_equal(acme_jws(c, "https://acme.example/new-acct", "nonce-1", NULL,
	                          "{\"termsOfServiceAgreed\":true}", &jws),
	                 VOUCHER_OK);
	h = verify_jws(brski_buf_str(&jws), NULL, &pay);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(h, "nonce")), "nonce-1");
	assert_string_equal(json_string_value(json_object_get(h, "url")),
	                    "https://acme.example/new-acct");
	assert_null(json_object_get(h, "kid"));
	assert_non_null(json_object_get(h, "jwk"));
	assert_string_equal(brski_buf_str(&pay), "{\"termsOfServiceAgreed\":true}");
	json_decref(h);

	/* afterwards: kid, no jwk; POST-as-GET has an empty payload */
	brski_buf_reset(&jws);
	brski_buf_reset(&pay);
	assert_int_equal(acme_jws(c, "https://acme.example/order/1", "nonce-2",
	                          "https://acme.example/acct/7", NULL, &jws),
	                 VOUCHER_OK);
	h = verify_jws(brski_buf_str(&jws), acme_jwk(c), &pay);
	assert_string_equal(json_string_value(json_object_get(h, "kid")),
	                    "https://acme.example/acct/7");
	assert_null(json_object_get(h, "jwk"));
	assert_int_equal(pay.len, 0);
	json_decref(h);
	h = json_loads(brski_buf_str(&jws), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(h, "payload")), "");
	json_decref(h);

	/* RFC 7638 thumbprint: SHA-256 of the canonical JWK, 43 characters */
	assert_int_equal(strlen(acme_thumbprint(c)), 43);
	static const char jwk_prefix[] = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"";
	assert_true(strncmp(acme_jwk(c), jwk_prefix, sizeof(jwk_prefix) - 1) == 0);

	/* the key survives the store: same JWK after a PEM round trip */
	assert_int_equal(acme_key_pem(c, &pem), VOUCHER_OK);
	assert_non_null(strstr(pem, "PRIVATE KEY"));
	assert_int_equal(acme_client_new(&o, pem, &c2, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(acme_jwk(c), acme_jwk(c2));
	assert_string_equal(acme_thumbprint(c), acme_thumbprint(c2));
	acme_client_free(c2);
	c2 = NULL;
	/* not an EC P-256 key, or not a key */
	assert_int_not_equal(acme_client_new(&o,
	                                     "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END "
	                                     "PRIVATE KEY-----\n",
	                                     &c2, err, sizeof(err)),
	                     VOUCHER_OK);
	assert_null(c2);
	/* http:// directories are refused */
	o.directory = "http://acme.example/dir";
	assert_int_equal(acme_client_new(&o, NULL, &c2, err, sizeof(err)), VOUCHER_E_CONFIG);
	free(pem);
	brski_buf_free(&jws);
	brski_buf_free(&pay);
	acme_client_free(c);
	acme_client_free(NULL);
}

static void test_key_authz(void **state)
{
	char ka[256], v[64];

	(void)state;
	assert_int_equal(acme_key_authz("abc_DEF-123",
	                                "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", ka,
	                                sizeof(ka)),
	                 VOUCHER_OK);
	assert_string_equal(ka, "abc_DEF-123.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* base64url(SHA-256(ka)), computed with Python's hashlib */
	assert_int_equal(acme_dns01_value(ka, v, sizeof(v)), VOUCHER_OK);
	assert_string_equal(v, "5iWD47fx-zEdPQKgX-MN7yq5GMqjTPS9ODrJ-wdbC_E");
	assert_int_equal(acme_key_authz("a/b", "t", ka, sizeof(ka)), VOUCHER_EINVAL);
	assert_int_equal(acme_key_authz("", "t", ka, sizeof(ka)), VOUCHER_EINVAL);
	assert_int_equal(acme_key_authz("abc", "t", ka, 4), VOUCHER_E_TOO_LARGE);
	assert_true(acme_token_ok("abc-_09"));
	assert_false(acme_token_ok("abc.def"));
	assert_false(acme_token_ok("../x"));
	assert_false(acme_token_ok(NULL));

	/* http-01 answers only well-formed tokens under the well-known path */
	assert_int_equal(
	        creg_http01_answer("/.well-known/acme-challenge/tok_en-1", "TP", ka, sizeof(ka)),
	        VOUCHER_OK);
	assert_string_equal(ka, "tok_en-1.TP");
	assert_int_not_equal(
	        creg_http01_answer("/.well-known/acme-challenge/", "TP", ka, sizeof(ka)),
	        VOUCHER_OK);
	assert_int_not_equal(
	        creg_http01_answer("/.well-known/acme-challenge/a/b", "TP", ka, sizeof(ka)),
	        VOUCHER_OK);
	assert_int_not_equal(
	        creg_http01_answer("/.well-known/acme-challenge/../x", "TP", ka, sizeof(ka)),
	        VOUCHER_OK);
	assert_int_not_equal(creg_http01_answer("/other/tok", "TP", ka, sizeof(ka)), VOUCHER_OK);
}

/* ---- certificates for the PKCS#7 tests -------------------------------------- */

struct cred {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

static void make_cert(struct cred *out, const struct cred *issuer, const char *cn, bool ca,
                      unsigned serial)
{
	uint8_t sn[4] = {0, 0, (uint8_t)(serial >> 8), (uint8_t)serial};
	time_t now = time(NULL);

	assert_int_equal(gnutls_x509_privkey_init(&out->key), 0);
	assert_int_equal(
	        gnutls_x509_privkey_generate(out->key, GNUTLS_PK_EC,
	                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
	        0);
	assert_int_equal(gnutls_x509_crt_init(&out->crt), 0);
	gnutls_x509_crt_set_version(out->crt, 3);
	gnutls_x509_crt_set_serial(out->crt, sn, sizeof(sn));
	gnutls_x509_crt_set_activation_time(out->crt, now - 60);
	gnutls_x509_crt_set_expiration_time(out->crt, now + 86400);
	assert_int_equal(gnutls_x509_crt_set_dn(out->crt, cn, NULL), 0);
	gnutls_x509_crt_set_key(out->crt, out->key);
	gnutls_x509_crt_set_basic_constraints(out->crt, ca, -1);
	if (issuer)
		assert_int_equal(gnutls_x509_crt_sign2(out->crt, issuer->crt, issuer->key,
		                                       GNUTLS_DIG_SHA256, 0),
		                 0);
	else
		assert_int_equal(
		        gnutls_x509_crt_sign2(out->crt, out->crt, out->key, GNUTLS_DIG_SHA256, 0),
		        0);
}

static void free_cred(struct cred *c)
{
	gnutls_x509_crt_deinit(c->crt);
	gnutls_x509_privkey_deinit(c->key);
}

static void put_pem(struct brski_buf *b, const struct cred *c)
{
	gnutls_datum_t d;

	assert_int_equal(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_PEM, &d), 0);
	brski_buf_put(b, d.data, d.size);
	gnutls_free(d.data);
}

static bool same_cert(const uint8_t *der, size_t len, const struct cred *c)
{
	gnutls_datum_t d;
	bool eq;

	assert_int_equal(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &d), 0);
	eq = d.size == len && memcmp(d.data, der, len) == 0;
	gnutls_free(d.data);
	return eq;
}

static void test_pkcs7(void **state)
{
	struct cred root, inter, leaf;
	struct brski_buf pem, p7;
	uint8_t *certs[ACME_MAX_CHAIN];
	size_t lens[ACME_MAX_CHAIN], n = 0;
	char err[256] = "";

	(void)state;
	make_cert(&root, NULL, "CN=test root", true, 1);
	make_cert(&inter, &root, "CN=test intermediate", true, 2);
	make_cert(&leaf, &inter, "CN=pledge-0001.pledges.example.com", false, 3);
	brski_buf_init(&pem, 65536);
	brski_buf_init(&p7, 65536);

	/* what an ACME server sends by default: leaf, then issuers, PEM */
	put_pem(&pem, &leaf);
	put_pem(&pem, &inter);
	assert_int_equal(acme_pem_chain_to_pkcs7(pem.data, pem.len, &p7, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(p7.data[0], 0x30); /* DER SEQUENCE */
	assert_int_equal(acme_pkcs7_certs(p7.data, p7.len, certs, lens, ACME_MAX_CHAIN, &n, err,
	                                  sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 2);
	/* leaf first, whatever order DER gave the SET OF */
	assert_true(same_cert(certs[0], lens[0], &leaf));
	assert_true(same_cert(certs[1], lens[1], &inter));
	for (size_t i = 0; i < n; i++)
		free(certs[i]);

	/* issuers first in the PEM, with the root: still leaf, inter, root */
	brski_buf_reset(&pem);
	brski_buf_reset(&p7);
	put_pem(&pem, &root);
	put_pem(&pem, &inter);
	put_pem(&pem, &leaf);
	assert_int_equal(acme_pem_chain_to_pkcs7(pem.data, pem.len, &p7, err, sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(acme_pkcs7_certs(p7.data, p7.len, certs, lens, ACME_MAX_CHAIN, &n, err,
	                                  sizeof(err)),
	                 VOUCHER_OK);
	assert_int_equal(n, 3);
	assert_true(same_cert(certs[0], lens[0], &leaf));
	assert_true(same_cert(certs[1], lens[1], &inter));
	assert_true(same_cert(certs[2], lens[2], &root));
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	/* a caller's bound below the count */
	assert_int_equal(acme_pkcs7_certs(p7.data, p7.len, certs, lens, 2, &n, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	assert_int_equal(n, 0);

	/* not PEM, no certificate, a broken block, too many, not PKCS#7 */
	static const char *const bad[] = {
	        "hello",
	        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	        "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		brski_buf_reset(&p7);
		assert_int_not_equal(acme_pem_chain_to_pkcs7((const uint8_t *)bad[i],
		                                             strlen(bad[i]), &p7, err, sizeof(err)),
		                     VOUCHER_OK);
		assert_int_equal(p7.len, 0);
	}
	brski_buf_reset(&pem);
	for (int i = 0; i < ACME_MAX_CHAIN + 1; i++)
		put_pem(&pem, &leaf);
	assert_int_equal(acme_pem_chain_to_pkcs7(pem.data, pem.len, &p7, err, sizeof(err)),
	                 VOUCHER_E_TOO_LARGE);
	assert_int_equal(acme_pkcs7_certs((const uint8_t *)"\x30\x03\x02\x01\x01", 5, certs, lens,
	                                  ACME_MAX_CHAIN, &n, err, sizeof(err)),
	                 VOUCHER_E_MALFORMED);
	brski_buf_free(&pem);
	brski_buf_free(&p7);
	free_cred(&leaf);
	free_cred(&inter);
	free_cred(&root);
}

/* ---- the hook runner ------------------------------------------------------- */

static char hook_dir[] = "/tmp/test_acme_hook.XXXXXX";

static const char *write_script(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", hook_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	chmod(path, 0700);
	return path;
}

static void test_hook(void **state)
{
	enum creg_hook_result res;
	char out[CREG_HOOK_OUTPUT], path[256], marker[300];
	struct timespec a, b;

	(void)state;
	assert_non_null(mkdtemp(hook_dir));

	/* exit 0, arguments as separate words, never through a shell */
	snprintf(path, sizeof(path), "%s",
	         write_script("ok.sh", "#!/bin/sh\nprintf '%s|' \"$#\" \"$@\"\nexit 0\n"));
	{
		const char *argv[] = {path, "add", "a b;c", "$(touch /tmp/x)", "`id`", NULL};
		assert_int_equal(creg_hook_run(argv, 5000, &res, out, sizeof(out)), VOUCHER_OK);
		assert_int_equal(res, CREG_HOOK_OK);
		assert_string_equal(out, "4|add|a b;c|$(touch /tmp/x)|`id`|");
	}
	/* exit 1: permanent, with what it printed */
	snprintf(path, sizeof(path), "%s",
	         write_script("perm.sh", "#!/bin/sh\necho 'outside the zone' >&2\nexit 1\n"));
	{
		const char *argv[] = {path, NULL};
		assert_int_equal(creg_hook_run(argv, 5000, &res, out, sizeof(out)), VOUCHER_OK);
		assert_int_equal(res, CREG_HOOK_PERMANENT);
		assert_string_equal(out, "outside the zone (exit 1)");
	}
	/* other exits and signals: temporary */
	snprintf(path, sizeof(path), "%s", write_script("temp.sh", "#!/bin/sh\nexit 2\n"));
	{
		const char *argv[] = {path, NULL};
		assert_int_equal(creg_hook_run(argv, 5000, &res, out, sizeof(out)), VOUCHER_OK);
		assert_int_equal(res, CREG_HOOK_TEMPORARY);
		assert_string_equal(out, "(exit 2)");
	}
	snprintf(path, sizeof(path), "%s", write_script("sig.sh", "#!/bin/sh\nkill -9 $$\n"));
	{
		const char *argv[] = {path, NULL};
		assert_int_equal(creg_hook_run(argv, 5000, &res, out, sizeof(out)), VOUCHER_OK);
		assert_int_equal(res, CREG_HOOK_TEMPORARY);
		assert_string_equal(out, "(signal 9)");
	}
	/* the time limit kills the hook and its children (its process group) */
	snprintf(marker, sizeof(marker), "%s/child.pid", hook_dir);
	{
		char body[512];
		snprintf(body, sizeof(body),
		         "#!/bin/sh\n(sleep 30) &\necho $! >%s\necho started\nsleep 30\n", marker);
		snprintf(path, sizeof(path), "%s", write_script("slow.sh", body));
	}
	{
		const char *argv[] = {path, NULL};
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(creg_hook_run(argv, 300, &res, out, sizeof(out)),
		                 VOUCHER_ETIMEDOUT);
		clock_gettime(CLOCK_MONOTONIC, &b);
		assert_int_equal(res, CREG_HOOK_TEMPORARY);
		assert_string_equal(out, "started; killed after 300 ms");
		long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		assert_true(ms >= 300 && ms < 2000);
		/* the background child died with the group: poll until it is
		 * gone (or a zombie waiting for init) */
		FILE *f = fopen(marker, "r");
		char pidline[32] = "";
		uint64_t pid = 0;
		assert_non_null(f);
		assert_non_null(fgets(pidline, sizeof(pidline), f));
		fclose(f);
		pidline[strcspn(pidline, "\n")] = '\0';
		assert_int_equal(brski_str_to_u64(pidline, &pid, 4194304), VOUCHER_OK);
		unlink(marker);
		bool gone = false;
		for (int i = 0; i < 200 && !gone; i++) {
			char st[64], line[512] = "";
			snprintf(st, sizeof(st), "/proc/%llu/stat", (unsigned long long)pid);
			FILE *p = fopen(st, "r");
			if (!p || !fgets(line, sizeof(line), p) || strstr(line, ") Z "))
				gone = true;
			if (p)
				fclose(p);
			if (!gone) {
				struct timespec t = {0, 10000000};
				nanosleep(&t, NULL);
			}
		}
		assert_true(gone);
	}
	/* a hook that cannot start; a relative path; too many arguments */
	{
		char missing[300];
		snprintf(missing, sizeof(missing), "%s/missing", hook_dir);
		const char *argv[] = {missing, NULL};
		assert_int_equal(creg_hook_run(argv, 1000, &res, out, sizeof(out)), VOUCHER_ENOENT);
		assert_int_equal(res, CREG_HOOK_TEMPORARY);
		assert_non_null(strstr(out, "failed to start hook"));
		const char *rel[] = {"hook.sh", NULL};
		assert_int_equal(creg_hook_run(rel, 1000, &res, out, sizeof(out)), VOUCHER_EINVAL);
		const char *many[] = {"/bin/true", "1", "2", "3", "4", "5", "6", "7", "8", NULL};
		assert_int_equal(creg_hook_run(many, 1000, &res, out, sizeof(out)), VOUCHER_EINVAL);
	}
	/* output is bounded and control characters are replaced */
	snprintf(path, sizeof(path), "%s",
	         write_script("noisy.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do printf "
	                                  "'0123456789\\001'; i=$((i+1)); done\nexit 3\n"));
	{
		const char *argv[] = {path, NULL};
		assert_int_equal(creg_hook_run(argv, 5000, &res, out, sizeof(out)), VOUCHER_OK);
		assert_int_equal(res, CREG_HOOK_TEMPORARY);
		assert_true(strlen(out) < sizeof(out));
		assert_null(strchr(out, '\001'));
		assert_non_null(strstr(out, "0123456789?0123"));
	}
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "%s", hook_dir);
		const char *names[] = {"ok.sh",  "perm.sh", "temp.sh",
		                       "sig.sh", "slow.sh", "noisy.sh"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char p[400];
			snprintf(p, sizeof(p), "%s/%s", hook_dir, names[i]);
			unlink(p);
		}
		rmdir(cmd);
	}
}

/* RFC 3339 times as ACME servers write them (authorization "expires"),
 * compared with date(1)'s answers; and what is not one. */
static void test_time_parse(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} good[] = {
	        {"1970-01-01T00:00:00Z", 0},
	        {"2026-11-30T07:41:12Z", 1796024472},
	        {"2026-11-30T07:41:12.123456789Z", 1796024472},
	        {"2026-11-30T08:41:12+01:00", 1796024472},
	        {"2026-11-30T06:11:12-01:30", 1796024472},
	        {"2000-02-29T23:59:59z", 951868799},
	        {"1969-12-31T23:59:59Z", -1},
	        {"2100-03-01t00:00:00Z", 4107542400},
	};
	static const char *const bad[] = {
	        "",
	        "2026-11-30",
	        "2026-11-30T07:41:12",
	        "2026-13-30T07:41:12Z",
	        "2026-11-30T24:41:12Z",
	        "2026-11-30 07:41:12Z",
	        "2026-11-30T07:41:12.Z",
	        "2026-11-30T07:41:12Zjunk",
	        "2026-11-30T07:41:12+0100",
	        "26-11-30T07:41:12Z",
	        "2026-1a-30T07:41:12Z",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(acme_time_parse(good[i].in, &t), VOUCHER_OK);
		assert_int_equal(t, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_time_parse(bad[i], &t), VOUCHER_E_MALFORMED);
	assert_int_equal(acme_time_parse(NULL, &t), VOUCHER_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_b64url),    cmocka_unit_test(test_nonce_pool),
	        cmocka_unit_test(test_problem),   cmocka_unit_test(test_jws),
	        cmocka_unit_test(test_key_authz), cmocka_unit_test(test_pkcs7),
	        cmocka_unit_test(test_hook),      cmocka_unit_test(test_time_parse),
	};

	gnutls_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
