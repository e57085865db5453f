/*
 * JSON codec: every leaf round-trips JSON -> object -> CBOR -> object ->
 * JSON; every constraint violated once with the expected error and member;
 * inputs that hang libyang 2.1.30 are stopped before it (with a timeout
 * guard); leniency flags; strict-legacy mode; concurrent use.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <voucher/voucher.h>

#define V(body) "{\"ietf-voucher:voucher\":{" body "}}"
#define R(body) "{\"ietf-voucher-request:voucher\":{" body "}}"

/* Every voucher leaf, values in the form we print (padded base64, YANG
 * order), timestamps in forms libyang would canonicalise differently. */
static const char voucher_all[] =
        V("\"created-on\":\"2016-10-07T19:31:42Z\",\"expires-on\":\"2016-10-21T19:31:42Z\","
          "\"assertion\":\"verified\",\"serial-number\":\"JADA123456789\","
          "\"idevid-issuer\":\"BBgwFoAUKf3mEj1IJUvZDGzOtS5gjvD8QHY=\","
          "\"pinned-domain-cert\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==\","
          "\"pinned-domain-pubk\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
          "LS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWg==\","
          "\"pinned-domain-pubk-sha256\":\"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=\","
          "\"domain-cert-revocation-checks\":true,\"nonce\":\"V+7Xhq1ASQc=\","
          "\"last-renewal-date\":\"2017-10-07T19:31:42.5+02:00\","
          "\"est-domain\":\"https://est.example.com:8443/.well-known/est\","
          "\"additional-configuration-url\":\"https://config.example.com/pbx\","
          "\"manufacturer-proprietary\":\"3q2+7wE=\",\"extensions\":[\"2470\",\"example-ext\"]");

static const char request_all[] =
        R("\"created-on\":\"2016-10-07T19:31:42Z\",\"expires-on\":\"2016-10-21T19:31:42Z\","
          "\"assertion\":\"agent-proximity\",\"serial-number\":\"JADA123456789\","
          "\"idevid-issuer\":\"BBgwFoAUKf3mEj1IJUvZDGzOtS5gjvD8QHY=\","
          "\"pinned-domain-cert\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==\","
          "\"pinned-domain-pubk\":\"AAECAwQFBgcICQoLDA0O\","
          "\"pinned-domain-pubk-sha256\":\"LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=\","
          "\"domain-cert-revocation-checks\":false,\"nonce\":\"V+7Xhq1ASQc=\","
          "\"last-renewal-date\":\"2017-10-07T19:31:42.5+02:00\","
          "\"est-domain\":\"https://est.example.com:8443/.well-known/est\","
          "\"additional-configuration-url\":\"https://config.example.com/pbx\","
          "\"manufacturer-proprietary\":\"AQ==\",\"extensions\":[\"ext-a\"],"
          "\"prior-signed-voucher-request\":\"mYNdRJSPj7dYX3/5UEO+sKwNF1s=\","
          "\"proximity-registrar-cert\":\"/u58H6vf05v6lt28A3suK/uosPY=\","
          "\"proximity-registrar-pubk\":\"++tAuTuf2bf4MA1A/pH6WlBZDnw=\","
          "\"proximity-registrar-pubk-sha256\":\"a+t/1jhqOQ5HZ+Q+Y/VIwh3+vhk=\","
          "\"agent-signed-data\":\"xkamrtU7AQ1yrJinW4jgReFBxMA=\","
          "\"agent-provided-proximity-registrar-cert\":\"hnpzUqyf4L9iUmFu7ErCbCI73w0=\","
          "\"agent-sign-cert\":\"/I5+IKumUaEnDI8FpPL805VWmr4=\"");

static const char legacy_voucher[] =
        V("\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"logged\","
          "\"serial-number\":\"JADA123456789\",\"pinned-domain-cert\":\"AQID\","
          "\"nonce\":\"V+7Xhq1ASQc=\"");

static struct voucher_artifact *parse_ok(const char *json, enum voucher_kind expect, unsigned flags)
{
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	voucher_err r = voucher_artifact_from_json((const uint8_t *)json, strlen(json), expect,
	                                           flags, &a, &e);
	if (r != VOUCHER_OK)
		fail_msg("parse failed (%d): %s\ninput: %s", r, e.message, json);
	return a;
}

static void roundtrip(const char *json, unsigned flags)
{
	struct voucher_artifact *a = parse_ok(json, VOUCHER_KIND_UNKNOWN, flags), *b = NULL;
	struct voucher_error_info e;
	uint8_t *j1 = NULL, *c = NULL, *j2 = NULL;
	size_t n1, nc, n2;
	assert_int_equal(voucher_artifact_to_json(a, flags, &j1, &n1, &e), VOUCHER_OK);
	assert_string_equal((const char *)j1, json);
	assert_int_equal(voucher_artifact_to_cbor(a, flags, &c, &nc, &e), VOUCHER_OK);
	assert_int_equal(voucher_artifact_from_cbor(c, nc, voucher_artifact_kind(a), flags, &b, &e),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_to_json(b, flags, &j2, &n2, &e), VOUCHER_OK);
	assert_string_equal((const char *)j2, json);
	/* every leaf survived, not just the printed text */
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++)
		assert_int_equal(voucher_artifact_has(a, (enum voucher_leaf)l),
		                 voucher_artifact_has(b, (enum voucher_leaf)l));
	/* the parsed bytes are kept exactly */
	const uint8_t *raw;
	size_t rawlen;
	enum voucher_format fmt;
	assert_int_equal(voucher_artifact_raw(a, &raw, &rawlen, &fmt), VOUCHER_OK);
	assert_int_equal(fmt, VOUCHER_FORMAT_JSON);
	assert_int_equal(rawlen, strlen(json));
	assert_memory_equal(raw, json, rawlen);
	assert_int_equal(voucher_artifact_raw(b, &raw, &rawlen, &fmt), VOUCHER_OK);
	assert_int_equal(fmt, VOUCHER_FORMAT_CBOR);
	assert_int_equal(rawlen, nc);
	/* detection agrees for both encodings */
	enum voucher_kind k1, k2;
	enum voucher_format f1, f2;
	assert_int_equal(voucher_artifact_detect(j1, n1, &f1, &k1), VOUCHER_OK);
	assert_int_equal(voucher_artifact_detect(c, nc, &f2, &k2), VOUCHER_OK);
	assert_int_equal(f1, VOUCHER_FORMAT_JSON);
	assert_int_equal(f2, VOUCHER_FORMAT_CBOR);
	assert_int_equal(k1, voucher_artifact_kind(a));
	assert_int_equal(k2, voucher_artifact_kind(a));
	free(j1);
	free(j2);
	free(c);
	voucher_artifact_free(a);
	voucher_artifact_free(b);
}

static void test_roundtrip_every_leaf(void **state)
{
	(void)state;
	struct voucher_artifact *a = parse_ok(voucher_all, VOUCHER_KIND_VOUCHER, 0);
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++)
		assert_int_equal(voucher_artifact_has(a, (enum voucher_leaf)l),
		                 voucher_leaf_in_kind((enum voucher_leaf)l, VOUCHER_KIND_VOUCHER));
	voucher_artifact_free(a);
	a = parse_ok(request_all, VOUCHER_KIND_REQUEST, 0);
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++)
		assert_true(voucher_artifact_has(a, (enum voucher_leaf)l));
	voucher_artifact_free(a);
	roundtrip(voucher_all, 0);
	roundtrip(request_all, 0);
	roundtrip(legacy_voucher, VOUCHER_F_LEGACY);
	roundtrip(R("\"serial-number\":\"x\",\"proximity-registrar-cert\":\"AQID\""),
	          VOUCHER_F_LEGACY);
}

static void test_build_and_print(void **state)
{
	(void)state;
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	uint8_t *out = NULL;
	size_t n;
	static const uint8_t nonce[8] = {0x57, 0xee, 0xd7, 0x86, 0xad, 0x40, 0x49, 0x07};
	assert_int_equal(voucher_artifact_new(VOUCHER_KIND_VOUCHER, &a), VOUCHER_OK);
	/* nothing set: the mandatory serial-number is missing */
	assert_int_equal(voucher_artifact_to_json(a, 0, &out, &n, &e), VOUCHER_E_MISSING);
	assert_string_equal(e.member, "serial-number");
	assert_null(out);
	assert_int_equal(voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, "JADA"),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, 4), VOUCHER_OK);
	assert_int_equal(voucher_artifact_to_json(a, 0, &out, &n, &e), VOUCHER_E_SCHEMA);
	assert_string_equal(e.member, "nonce");
	assert_int_equal(voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, 8), VOUCHER_OK);
	assert_int_equal(voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_PROXIMITY),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_to_json(a, 0, &out, &n, &e), VOUCHER_OK);
	assert_string_equal((char *)out, V("\"assertion\":\"proximity\",\"serial-number\":\"JADA\","
	                                   "\"nonce\":\"V+7Xhq1ASQc=\""));
	free(out);
	/* the same object is not an RFC 8366 voucher (created-on etc. missing) */
	assert_int_equal(voucher_artifact_to_json(a, VOUCHER_F_LEGACY, &out, &n, &e),
	                 VOUCHER_E_MISSING);
	voucher_artifact_free(a);
}

struct bad {
	const char *json;
	enum voucher_kind expect;
	unsigned flags;
	voucher_err code;
	const char *member;
};

static const struct bad bad_inputs[] = {
        /* the five the issue names */
        {V("\"serial-number\":\"x\",\"bogus\":1"), 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "bogus"},
        {V("\"serial-number\":5"), 0, 0, VOUCHER_E_BAD_TYPE, "serial-number"},
        {V("\"serial-number\":\"x\",\"nonce\":\"AAAA*AAAAAA=\""), 0, 0, VOUCHER_E_BAD_BASE64,
         "nonce"},
        {V("\"serial-number\":\"x\",\"nonce\":\"AAAAAAAAAA==\""), 0, 0, VOUCHER_E_SCHEMA, "nonce"},
        {V("\"nonce\":\"AAAAAAAAAAA=\""), 0, 0, VOUCHER_E_MISSING, "serial-number"},
        /* other constraints of the bis modules */
        {V("\"serial-number\":\"x\",\"nonce\":"
           "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""),
         0, 0, VOUCHER_E_SCHEMA, "nonce"}, /* 33 bytes */
        {V("\"serial-number\":\"x\",\"nonce\":\"AAAAAAAAAAA\""), 0, 0, VOUCHER_E_BAD_BASE64,
         "nonce"}, /* unpadded */
        {V("\"serial-number\":\"x\",\"assertion\":\"trusted\""), 0, 0, VOUCHER_E_SCHEMA,
         "assertion"},
        {V("\"serial-number\":\"x\",\"assertion\":2"), 0, 0, VOUCHER_E_BAD_TYPE, "assertion"},
        {V("\"serial-number\":\"x\",\"domain-cert-revocation-checks\":\"true\""), 0, 0,
         VOUCHER_E_BAD_TYPE, "domain-cert-revocation-checks"},
        {V("\"serial-number\":\"x\",\"created-on\":\"yesterday\""), 0, 0, VOUCHER_E_SCHEMA,
         "created-on"},
        {V("\"serial-number\":\"x\",\"last-renewal-date\":\"2017-10-07T19:31:42Z\""), 0, 0,
         VOUCHER_E_SCHEMA, "last-renewal-date"},
        {V("\"serial-number\":\"x\",\"extensions\":\"ext\""), 0, 0, VOUCHER_E_BAD_TYPE,
         "extensions"},
        {V("\"serial-number\":\"x\",\"extensions\":[1]"), 0, 0, VOUCHER_E_BAD_TYPE, "extensions"},
        {V("\"serial-number\":\"x\",\"extensions\":[\"a\",\"a\"]"), 0, 0, VOUCHER_E_DUPLICATE,
         "extensions"},
        {V("\"serial-number\":\"x\",\"proximity-registrar-cert\":\"AQID\""), 0, 0,
         VOUCHER_E_UNKNOWN_MEMBER, "proximity-registrar-cert"},
        {V("\"serial-number\":\"x\",\"extension:example\":{}"), 0, 0, VOUCHER_E_UNKNOWN_MEMBER,
         "extension:example"},
        {V("\"serial-number\":\"x\",\"serial-number\":\"y\""), 0, 0, VOUCHER_E_DUPLICATE,
         "serial-number"},
        {V("\"serial-number\":\"a\\u0000b\""), 0, 0, VOUCHER_E_MALFORMED, ""},
        /* the envelope around the leaves */
        {"{\"ietf-voucher:other\":{\"serial-number\":\"x\"}}", 0, 0, VOUCHER_E_UNKNOWN_MEMBER,
         "ietf-voucher:other"},
        {"{\"voucher\":{\"serial-number\":\"x\"}}", 0, 0, VOUCHER_E_UNKNOWN_MEMBER, "voucher"},
        {"{\"ietf-voucher:voucher\":[]}", 0, 0, VOUCHER_E_BAD_TYPE, "ietf-voucher:voucher"},
        {"{}", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"[]", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"\"ietf-voucher:voucher\"", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"},\"a\":1}", 0, 0, VOUCHER_E_MALFORMED,
         ""},
        {V("\"serial-number\":\"x\"") " {}", 0, 0, VOUCHER_E_TRAILING_DATA, ""},
        {V("\"serial-number\":\"x\""
           ",\"extensions\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]"),
         0, 0, VOUCHER_E_TOO_DEEP, ""},
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"}", 0, 0, VOUCHER_E_MALFORMED, ""},
        {"", 0, 0, VOUCHER_E_MALFORMED, ""},
        /* kinds */
        {V("\"serial-number\":\"x\""), VOUCHER_KIND_REQUEST, 0, VOUCHER_E_WRONG_KIND,
         "ietf-voucher:voucher"},
        {R("\"serial-number\":\"x\""), VOUCHER_KIND_VOUCHER, VOUCHER_F_LENIENT,
         VOUCHER_E_WRONG_KIND, "ietf-voucher-request:voucher"},
        {R("\"nonce\":\"AAAAAAAAAAA=\""), 0, 0, VOUCHER_E_MISSING, "serial-number"},
        /* RFC 8366 / RFC 8995 */
        {V("\"assertion\":\"logged\",\"serial-number\":\"x\",\"pinned-domain-cert\":\"AQID\""), 0,
         VOUCHER_F_LEGACY, VOUCHER_E_MISSING, "created-on"},
        {V("\"created-on\":\"2016-10-07T19:31:42Z\",\"serial-number\":\"x\","
           "\"pinned-domain-cert\":\"AQID\""),
         0, VOUCHER_F_LEGACY, VOUCHER_E_MISSING, "assertion"},
        {V("\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"logged\","
           "\"serial-number\":\"x\""),
         0, VOUCHER_F_LEGACY, VOUCHER_E_MISSING, "pinned-domain-cert"},
        {V("\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"logged\","
           "\"serial-number\":\"x\",\"pinned-domain-cert\":\"AQID\","
           "\"expires-on\":\"2016-10-21T19:31:42Z\",\"nonce\":\"AAAAAAAAAAA=\""),
         0, VOUCHER_F_LEGACY, VOUCHER_E_SCHEMA, "expires-on"},
        {V("\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"agent-proximity\","
           "\"serial-number\":\"x\",\"pinned-domain-cert\":\"AQID\""),
         0, VOUCHER_F_LEGACY, VOUCHER_E_SCHEMA, "assertion"},
        {V("\"created-on\":\"2016-10-07T19:31:42Z\",\"assertion\":\"logged\","
           "\"serial-number\":\"x\",\"pinned-domain-cert\":\"AQID\","
           "\"est-domain\":\"https://est.example.com/\""),
         0, VOUCHER_F_LEGACY, VOUCHER_E_UNKNOWN_MEMBER, "est-domain"},
        {R("\"serial-number\":\"x\",\"agent-sign-cert\":\"AQID\""), 0, VOUCHER_F_LEGACY,
         VOUCHER_E_UNKNOWN_MEMBER, "agent-sign-cert"},
        {R("\"proximity-registrar-cert\":\"AQID\""), 0, VOUCHER_F_LEGACY, VOUCHER_E_MISSING,
         "serial-number"},
        /* leniency is off by default */
        {R("\"serial-number\":\"x\",\"nonce\":\"-_XE9zK9q8Ll1qylMtLKeg\""), 0, 0,
         VOUCHER_E_BAD_BASE64, "nonce"},
        {"eyJpZXRmLXZvdWNoZXI6dm91Y2hlciI6eyJzZXJpYWwtbnVtYmVyIjoieCJ9fQ==", 0, 0,
         VOUCHER_E_MALFORMED, ""},
        /* base64url is for nonces only */
        {R("\"serial-number\":\"x\",\"idevid-issuer\":\"-_XE9zK9q8Ll1qylMtLKeg\""), 0,
         VOUCHER_F_LENIENT, VOUCHER_E_BAD_BASE64, "idevid-issuer"},
};

static void check_bad(const struct bad *b, const char *json, size_t len)
{
	struct voucher_artifact *a = (struct voucher_artifact *)1;
	struct voucher_error_info e;
	voucher_err r =
	        voucher_artifact_from_json((const uint8_t *)json, len, b->expect, b->flags, &a, &e);
	if (r != b->code || strcmp(e.member, b->member) != 0)
		fail_msg("input %.200s\n  got %d member \"%s\" (%s)\n  want %d member \"%s\"", json,
		         r, e.member, e.message, b->code, b->member);
	assert_null(a);
	assert_int_equal(e.code, r);
	assert_true(e.message[0] != 0);
	/* the message names the member */
	if (b->member[0] != 0)
		assert_non_null(strstr(e.message, b->member));
}

static void test_bad_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++)
		check_bad(&bad_inputs[i], bad_inputs[i].json, strlen(bad_inputs[i].json));
}

/* Per leaf: a JSON number where the leaf wants something else; a bad
 * base64 text in each binary leaf; a bad timestamp in each date leaf. */
static void test_bad_per_leaf(void **state)
{
	(void)state;
	char json[512];
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++) {
		const char *name = voucher_leaf_name((enum voucher_leaf)l);
		enum voucher_leaf_type t = voucher_leaf_type((enum voucher_leaf)l);
		const char *serial =
		        l == VOUCHER_LEAF_SERIAL_NUMBER ? "" : "\"serial-number\":\"x\",";
		struct bad b = {json, VOUCHER_KIND_REQUEST, 0, VOUCHER_E_BAD_TYPE, name};
		snprintf(json, sizeof(json), R("%s\"%s\":5"), serial, name);
		check_bad(&b, json, strlen(json));
		if (t == VOUCHER_TYPE_BINARY) {
			b.code = VOUCHER_E_BAD_BASE64;
			snprintf(json, sizeof(json), R("%s\"%s\":\"AQI#\""), serial, name);
			check_bad(&b, json, strlen(json));
		}
		if (t == VOUCHER_TYPE_DATETIME) {
			b.code = VOUCHER_E_SCHEMA;
			snprintf(
			        json, sizeof(json),
			        R("\"serial-number\":\"x\",\"expires-on\":\"2016-10-21T19:31:42Z\","
			          "\"%s\":\"2016-10-07T19:31\""),
			        name);
			if (l == VOUCHER_LEAF_EXPIRES_ON)
				snprintf(json, sizeof(json),
				         R("\"serial-number\":\"x\",\"%s\":\"2016-10-07T19:31\""),
				         name);
			check_bad(&b, json, strlen(json));
		}
	}
}

/* Binary leaves are validated by libyang through a placeholder when the
 * schema never looks at their value (vl_schema_binary_opaque): the text
 * printed for the caller and the value read back must still be the real
 * bytes, for every binary leaf of both kinds, in JSON and CBOR. */
static void test_binary_values_kept(void **state)
{
	(void)state;
	static uint8_t big[3000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (int k = VOUCHER_KIND_VOUCHER; k <= VOUCHER_KIND_REQUEST; k++) {
		for (int l = 0; l < VOUCHER_LEAF_COUNT; l++) {
			enum voucher_leaf leaf = (enum voucher_leaf)l;
			if (voucher_leaf_type(leaf) != VOUCHER_TYPE_BINARY ||
			    !voucher_leaf_in_kind(leaf, (enum voucher_kind)k))
				continue;
			/* the nonce's length is restricted (8..32): its real value
			 * is what libyang sees, so a large one is refused */
			size_t n = leaf == VOUCHER_LEAF_NONCE ? 32 : sizeof(big);
			struct voucher_artifact *a = NULL, *b = NULL;
			struct voucher_error_info e;
			uint8_t *out = NULL;
			size_t outlen = 0;
			const uint8_t *p = NULL;
			size_t plen = 0;
			assert_int_equal(voucher_artifact_new((enum voucher_kind)k, &a),
			                 VOUCHER_OK);
			assert_int_equal(
			        voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, "JADA"),
			        VOUCHER_OK);
			if (k == VOUCHER_KIND_VOUCHER)
				assert_int_equal(
				        voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_LOGGED),
				        VOUCHER_OK);
			assert_int_equal(voucher_artifact_set_binary(a, leaf, big, n), VOUCHER_OK);
			assert_int_equal(voucher_artifact_to_json(a, 0, &out, &outlen, &e),
			                 VOUCHER_OK);
			assert_null(strstr((const char *)out, "\"AA==\""));
			assert_int_equal(voucher_artifact_from_json(
			                         out, outlen, (enum voucher_kind)k, 0, &b, &e),
			                 VOUCHER_OK);
			assert_int_equal(voucher_artifact_get_binary(b, leaf, &p, &plen),
			                 VOUCHER_OK);
			assert_int_equal(plen, n);
			assert_memory_equal(p, big, n);
			free(out);
			voucher_artifact_free(b);
			b = NULL;
			assert_int_equal(voucher_artifact_to_cbor(a, 0, &out, &outlen, &e),
			                 VOUCHER_OK);
			assert_int_equal(voucher_artifact_from_cbor(
			                         out, outlen, (enum voucher_kind)k, 0, &b, &e),
			                 VOUCHER_OK);
			assert_int_equal(voucher_artifact_get_binary(b, leaf, &p, &plen),
			                 VOUCHER_OK);
			assert_int_equal(plen, n);
			assert_memory_equal(p, big, n);
			free(out);
			voucher_artifact_free(b);
			if (leaf == VOUCHER_LEAF_NONCE) {
				assert_int_equal(voucher_artifact_set_binary(a, leaf, big, 33),
				                 VOUCHER_OK);
				assert_int_equal(voucher_artifact_to_json(a, 0, &out, &outlen, &e),
				                 VOUCHER_E_SCHEMA);
				assert_string_equal(e.member, "nonce");
			}
			voucher_artifact_free(a);
		}
	}
}

static void test_too_large(void **state)
{
	(void)state;
	size_t n = 70 * 1024;
	char *json = malloc(n + 1);
	assert_non_null(json);
	int h = snprintf(json, n, "{\"ietf-voucher:voucher\":{\"serial-number\":\"");
	memset(json + h, 'a', n - (size_t)h - 3);
	memcpy(json + n - 3, "\"}}", 4);
	struct bad b = {json, 0, 0, VOUCHER_E_TOO_LARGE, ""};
	check_bad(&b, json, n);
	free(json);
}

static void test_lenient(void **state)
{
	(void)state;
	struct voucher_artifact *a;
	const uint8_t *p;
	size_t n;
	/* unpadded base64url nonce (deployed pledges) */
	a = parse_ok(R("\"serial-number\":\"x\",\"nonce\":\"-_XE9zK9q8Ll1qylMtLKeg\""),
	             VOUCHER_KIND_REQUEST, VOUCHER_F_LENIENT_NONCE_B64URL);
	assert_int_equal(voucher_artifact_get_binary(a, VOUCHER_LEAF_NONCE, &p, &n), VOUCHER_OK);
	assert_int_equal(n, 16);
	assert_int_equal(p[0], 0xfb);
	assert_int_equal(p[1], 0xf5);
	voucher_artifact_free(a);
	/* voucher root where a request is expected */
	a = parse_ok(V("\"serial-number\":\"x\",\"assertion\":\"proximity\""), VOUCHER_KIND_REQUEST,
	             VOUCHER_F_LENIENT_VOUCHER_ROOT);
	assert_int_equal(voucher_artifact_kind(a), VOUCHER_KIND_REQUEST);
	voucher_artifact_free(a);
	/* RFC 8366 voucher without created-on */
	a = parse_ok(V("\"assertion\":\"logged\",\"serial-number\":\"x\","
	               "\"pinned-domain-cert\":\"AQID\""),
	             VOUCHER_KIND_VOUCHER, VOUCHER_F_LEGACY | VOUCHER_F_LENIENT_NO_CREATED_ON);
	assert_false(voucher_artifact_has(a, VOUCHER_LEAF_CREATED_ON));
	voucher_artifact_free(a);
	/* base64 body, wrapped, either alphabet */
	a = parse_ok("eyJpZXRmLXZvdWNoZXI6dm91Y2hlciI6eyJzZXJp\r\nYWwtbnVtYmVyIjoieCJ9fQ==\r\n",
	             VOUCHER_KIND_VOUCHER, VOUCHER_F_LENIENT_BASE64_BODY);
	assert_int_equal(voucher_artifact_raw(a, &p, &n, NULL), VOUCHER_OK);
	assert_int_equal(n, strlen(V("\"serial-number\":\"x\"")));
	voucher_artifact_free(a);
	struct voucher_error_info e;
	const char *b64cbor = "oRkJk6ELYXg="; /* {2451: {11: "x"}} */
	assert_int_equal(voucher_artifact_parse((const uint8_t *)b64cbor, strlen(b64cbor), 0,
	                                        VOUCHER_F_LENIENT_BASE64_BODY, &a, &e),
	                 VOUCHER_OK);
	assert_int_equal(voucher_artifact_raw(a, &p, &n, NULL), VOUCHER_OK);
	assert_int_equal(n, 8);
	voucher_artifact_free(a);
}

/* libyang 2.1.30 loops forever on some inputs. Each runs in a child with
 * an alarm, so a hang fails this test instead of stalling the suite. */
static const struct {
	const char *json;
	voucher_err code;
} hazards[] = {
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"},"
         "\"ietf-voucher:voucher\":{\"serial-number\":\"y\"}}",
         VOUCHER_E_DUPLICATE},
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"},"
         "\"ietf-voucher-request:voucher\":{\"serial-number\":\"y\"}}",
         VOUCHER_E_MALFORMED},
        {"{\"ietf-voucher:serial-number\":\"x\",\"ietf-voucher:nonce\":\"AAAAAAAAAAA=\"}",
         VOUCHER_E_MALFORMED},
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\",\"serial-number\":\"x\"}}",
         VOUCHER_E_DUPLICATE},
        {"{\"ietf-voucher:voucher\":{\"serial-number\":\"x\"}}{\"ietf-voucher:voucher\":{}}",
         VOUCHER_E_TRAILING_DATA},
};

static void test_hang_regressions(void **state)
{
	(void)state;
	struct voucher_error_info e;
	/* build the contexts here so the children only parse */
	assert_int_equal(voucher_lib_init(&e), VOUCHER_OK);
	for (size_t i = 0; i < sizeof(hazards) / sizeof(hazards[0]); i++) {
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(20);
			struct voucher_artifact *a = NULL;
			voucher_err r =
			        voucher_artifact_from_json((const uint8_t *)hazards[i].json,
			                                   strlen(hazards[i].json), 0, 0, &a, &e);
			voucher_artifact_free(a);
			_exit(r == hazards[i].code ? 0 : 1);
		}
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (WIFSIGNALED(st))
			fail_msg("input %zu: killed by signal %d (SIGALRM = hang)", i,
			         WTERMSIG(st));
		if (WEXITSTATUS(st) != 0)
			fail_msg("input %zu: unexpected result", i);
	}
}

static void *parse_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		struct voucher_artifact *a = NULL;
		struct voucher_error_info e;
		const char *in = (i & 1) ? voucher_all : request_all;
		if (voucher_artifact_from_json((const uint8_t *)in, strlen(in), 0, 0, &a, &e) !=
		    VOUCHER_OK)
			return (void *)1;
		voucher_artifact_free(a);
		const char *bad = V("\"serial-number\":\"x\",\"nonce\":\"AAAA\"");
		if (voucher_artifact_from_json((const uint8_t *)bad, strlen(bad), 0, 0, &a, &e) !=
		            VOUCHER_E_SCHEMA ||
		    strcmp(e.member, "nonce") != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *res = (void *)1;
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
}

/* Mutations of valid artifacts (openssh test_fuzz style): every byte
 * flipped and every truncation, in JSON and in CBOR. Each must give an
 * error or an artifact that prints and parses again; never a crash. */
static void mutate_one(const uint8_t *in, size_t len, bool cbor)
{
	struct voucher_artifact *a = NULL, *b = NULL;
	struct voucher_error_info e;
	voucher_err r = cbor ? voucher_artifact_from_cbor(in, len, 0, 0, &a, &e)
	                     : voucher_artifact_from_json(in, len, 0, 0, &a, &e);
	if (r != VOUCHER_OK) {
		assert_null(a);
		assert_int_equal(e.code, r);
		return;
	}
	uint8_t *out = NULL;
	size_t n = 0;
	assert_int_equal(voucher_artifact_to_json(a, 0, &out, &n, &e), VOUCHER_OK);
	assert_int_equal(voucher_artifact_from_json(out, n, 0, 0, &b, &e), VOUCHER_OK);
	free(out);
	voucher_artifact_free(a);
	voucher_artifact_free(b);
}

static void mutate_all(const uint8_t *in, size_t len, bool cbor)
{
	uint8_t *m = malloc(len);
	assert_non_null(m);
	for (size_t i = 0; i < len; i++) {
		static const uint8_t flips[] = {0x01, 0x20, 0x80, 0xff};
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(m, in, len);
			m[i] ^= flips[f];
			mutate_one(m, len, cbor);
		}
		/* truncated to i bytes (an exact-size copy, so ASan sees overreads) */
		uint8_t *t = malloc(i ? i : 1);
		assert_non_null(t);
		memcpy(t, in, i);
		mutate_one(t, i, cbor);
		free(t);
	}
	free(m);
}

static void test_mutations(void **state)
{
	(void)state;
	const char *fixtures[] = {voucher_all, request_all};
	for (size_t i = 0; i < 2; i++) {
		struct voucher_artifact *a = parse_ok(fixtures[i], 0, 0);
		uint8_t *c = NULL;
		size_t n = 0;
		struct voucher_error_info e;
		assert_int_equal(voucher_artifact_to_cbor(a, 0, &c, &n, &e), VOUCHER_OK);
		mutate_all((const uint8_t *)fixtures[i], strlen(fixtures[i]), false);
		mutate_all(c, n, true);
		free(c);
		voucher_artifact_free(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_every_leaf),
	        cmocka_unit_test(test_build_and_print),
	        cmocka_unit_test(test_bad_inputs),
	        cmocka_unit_test(test_bad_per_leaf),
	        cmocka_unit_test(test_binary_values_kept),
	        cmocka_unit_test(test_too_large),
	        cmocka_unit_test(test_lenient),
	        cmocka_unit_test(test_hang_regressions),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
