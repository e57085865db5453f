/* The MASA's checks in process: a PKI made here with GnuTLS (manufacturer
 * CA and IDevIDs, an owner's domain CA and registrars, a second owner, a
 * MASA signer), a SQLite store in a temp dir, registrar voucher-requests
 * built and signed here. Each case breaks one thing and expects the exact
 * voucher_err and check name; the good cases go on to the voucher, which
 * must verify with the MASA's anchor and pin what the policy says. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "masa/masa.h"

struct id {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	uint8_t der[4096];
	size_t der_len;
	char key_path[512], crt_path[512];
};

static char dir[256];
static struct id mfg, pledge, pledge2, rogue_ca, rogue_pledge, owner_ca, reg, reg_noeku, other_ca,
        masa_ca, masa_sign;
static struct masa_keys *keys;
static struct store *st;
static unsigned serial_no = 1;

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A P-256 key and a certificate issued by issuer (NULL: self-signed). */
static void mkid(struct id *id, const char *name, const char *serial_attr, bool ca, const char *eku,
                 struct id *issuer)
{
	gnutls_datum_t d = {NULL, 0};
	uint8_t kid[64];
	size_t kid_len = sizeof(kid);
	uint8_t sn[4] = {0, 0, 0, (uint8_t)serial_no++};
	time_t now = time(NULL);

	assert_int_equal(gnutls_x509_privkey_init(&id->key), 0);
	assert_int_equal(
	        gnutls_x509_privkey_generate(id->key, GNUTLS_PK_ECDSA,
	                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
	        0);
	assert_int_equal(gnutls_x509_crt_init(&id->crt), 0);
	gnutls_x509_crt_set_version(id->crt, 3);
	gnutls_x509_crt_set_serial(id->crt, sn, sizeof(sn));
	gnutls_x509_crt_set_activation_time(id->crt, now - 60);
	gnutls_x509_crt_set_expiration_time(id->crt, now + 3600);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(id->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	                                               name, strlen(name)),
	                 0);
	if (serial_attr)
		assert_int_equal(gnutls_x509_crt_set_dn_by_oid(id->crt, "2.5.4.5", 0, serial_attr,
		                                               strlen(serial_attr)),
		                 0);
	assert_int_equal(gnutls_x509_crt_set_key(id->crt, id->key), 0);
	gnutls_x509_crt_set_basic_constraints(id->crt, ca, -1);
	if (ca)
		gnutls_x509_crt_set_key_usage(id->crt,
		                              GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	if (eku)
		assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(id->crt, eku, 0), 0);
	assert_int_equal(gnutls_x509_crt_get_key_id(id->crt, 0, kid, &kid_len), 0);
	gnutls_x509_crt_set_subject_key_id(id->crt, kid, kid_len);
	if (issuer) {
		kid_len = sizeof(kid);
		assert_int_equal(
		        gnutls_x509_crt_get_subject_key_id(issuer->crt, kid, &kid_len, NULL), 0);
		gnutls_x509_crt_set_authority_key_id(id->crt, kid, kid_len);
	}
	assert_int_equal(gnutls_x509_crt_sign2(id->crt, issuer ? issuer->crt : id->crt,
	                                       issuer ? issuer->key : id->key, GNUTLS_DIG_SHA256,
	                                       0),
	                 0);
	id->der_len = sizeof(id->der);
	assert_int_equal(
	        gnutls_x509_crt_export(id->crt, GNUTLS_X509_FMT_DER, id->der, &id->der_len), 0);

	snprintf(id->key_path, sizeof(id->key_path), "%s/%s.key", dir, name);
	snprintf(id->crt_path, sizeof(id->crt_path), "%s/%s.pem", dir, name);
	assert_int_equal(gnutls_x509_privkey_export2(id->key, GNUTLS_X509_FMT_PEM, &d), 0);
	write_file(id->key_path, d.data, d.size);
	gnutls_free(d.data);
	/* the chain file: leaf, then its issuer */
	assert_int_equal(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &d), 0);
	write_file(id->crt_path, d.data, d.size);
	gnutls_free(d.data);
	if (issuer) {
		FILE *f = fopen(id->crt_path, "ab");
		assert_non_null(f);
		assert_int_equal(gnutls_x509_crt_export2(issuer->crt, GNUTLS_X509_FMT_PEM, &d), 0);
		assert_int_equal(fwrite(d.data, 1, d.size, f), d.size);
		fclose(f);
		gnutls_free(d.data);
	}
}

static char *pem_of(const struct id *id)
{
	gnutls_datum_t d = {NULL, 0};
	char *s;
	assert_int_equal(gnutls_x509_crt_export2(id->crt, GNUTLS_X509_FMT_PEM, &d), 0);
	s = calloc(1, d.size + 1);
	assert_non_null(s);
	memcpy(s, d.data, d.size);
	gnutls_free(d.data);
	return s;
}

static void free_id(struct id *id)
{
	gnutls_x509_crt_deinit(id->crt);
	gnutls_x509_privkey_deinit(id->key);
	unlink(id->key_path);
	unlink(id->crt_path);
}

static int setup(void **state)
{
	char db[300], err[STORE_ERRLEN], mfg_path[300];
	struct store_owner o = {0};
	struct store_device d = {0};
	const char *tmp = getenv("TMPDIR");
	(void)state;

	snprintf(dir, sizeof(dir), "%s/masa-check.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	mkid(&mfg, "mfg-ca", NULL, true, NULL, NULL);
	mkid(&pledge, "pledge", "SN-0001", false, NULL, &mfg);
	mkid(&pledge2, "pledge2", "SN-0002", false, NULL, &mfg);
	mkid(&rogue_ca, "rogue-ca", NULL, true, NULL, NULL);
	mkid(&rogue_pledge, "rogue-pledge", "SN-0001", false, NULL, &rogue_ca);
	mkid(&owner_ca, "owner-ca", NULL, true, NULL, NULL);
	mkid(&reg, "registrar", NULL, false, "1.3.6.1.5.5.7.3.28", &owner_ca);
	mkid(&reg_noeku, "registrar-noeku", NULL, false, GNUTLS_KP_TLS_WWW_SERVER, &owner_ca);
	mkid(&other_ca, "other-ca", NULL, true, NULL, NULL);
	mkid(&masa_ca, "masa-ca", NULL, true, NULL, NULL);
	mkid(&masa_sign, "masa-sign", NULL, false, NULL, &masa_ca);
	/* the manufacturer bundle holds the CA only */
	{
		gnutls_datum_t dd = {NULL, 0};
		snprintf(mfg_path, sizeof(mfg_path), "%s/mfg-bundle.pem", dir);
		assert_int_equal(gnutls_x509_crt_export2(mfg.crt, GNUTLS_X509_FMT_PEM, &dd), 0);
		write_file(mfg_path, dd.data, dd.size);
		gnutls_free(dd.data);
	}
	assert_int_equal(masa_keys_load_files(masa_sign.key_path, masa_sign.crt_path, mfg_path,
	                                      NULL, NULL, NULL, &keys, err, sizeof(err)),
	                 VOUCHER_OK);
	unlink(mfg_path);

	snprintf(db, sizeof(db), "%s/store.db", dir);
	assert_int_equal(store_open(db, &st, err, sizeof(err)), VOUCHER_OK);
	o.name = "acme";
	o.domain_ca_pem = pem_of(&owner_ca);
	assert_int_equal(store_owner_put(st, &o, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	free(o.domain_ca_pem);
	o.name = "other";
	o.domain_ca_pem = pem_of(&other_ca);
	assert_int_equal(store_owner_put(st, &o, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	free(o.domain_ca_pem);
	d.serial = "SN-0001";
	d.owner = "acme";
	assert_int_equal(store_device_put(st, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	d.serial = "SN-0002";
	d.owner = "other";
	assert_int_equal(store_device_put(st, &d, STORE_PUT_CREATE, err, sizeof(err)), VOUCHER_OK);
	return 0;
}

static int teardown(void **state)
{
	char db[300];
	(void)state;
	store_close(st);
	masa_keys_free(keys);
	struct id *ids[] = {&mfg, &pledge,    &pledge2,  &rogue_ca, &rogue_pledge, &owner_ca,
	                    &reg, &reg_noeku, &other_ca, &masa_ca,  &masa_sign};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		free_id(ids[i]);
	snprintf(db, sizeof(db), "%s/store.db", dir);
	unlink(db);
	snprintf(db, sizeof(db), "%s/store.db-wal", dir);
	unlink(db);
	snprintf(db, sizeof(db), "%s/store.db-shm", dir);
	unlink(db);
	rmdir(dir);
	return 0;
}

/* ---- building requests -------------------------------------------------------- */

struct req_spec {
	enum voucher_envelope env, pledge_env;
	const char *pvr_serial, *rvr_serial;
	const struct id *pledge, *signer, *prox, *issuer_of;
	bool no_pvr, rvr_nonce_differs, voucher_kind_payload, flip_signature;
};

static const uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t nonce2[16] = {9};

static void sign_artifact(struct voucher_artifact *a, enum voucher_envelope env,
                          const struct id *who, uint8_t **out, size_t *out_len)
{
	struct voucher_signer *s = NULL;
	struct voucher_error_info ei = {0};
	uint8_t *payload = NULL;
	size_t len = 0;

	if (env == VOUCHER_ENV_COSE)
		assert_int_equal(voucher_artifact_to_cbor(a, 0, &payload, &len, &ei), VOUCHER_OK);
	else
		assert_int_equal(voucher_artifact_to_json(a, 0, &payload, &len, &ei), VOUCHER_OK);
	assert_int_equal(voucher_signer_load(&s, who->key_path, who->crt_path), VOUCHER_OK);
	assert_int_equal(voucher_sign(env, s, payload, len, out, out_len), VOUCHER_OK);
	voucher_signer_free(s);
	free(payload);
}

static void build(const struct req_spec *sp, uint8_t **out, size_t *out_len)
{
	struct voucher_artifact *p = NULL, *r = NULL;
	uint8_t *pvr = NULL, *iss = NULL;
	size_t pvr_len = 0, iss_len = 0;

	if (!sp->no_pvr) {
		assert_int_equal(voucher_artifact_new(VOUCHER_KIND_REQUEST, &p), VOUCHER_OK);
		voucher_artifact_set_string(p, VOUCHER_LEAF_SERIAL_NUMBER,
		                            sp->pvr_serial ? sp->pvr_serial : "SN-0001");
		voucher_artifact_set_assertion(p, VOUCHER_ASSERTION_PROXIMITY);
		voucher_artifact_set_binary(p, VOUCHER_LEAF_NONCE, nonce, sizeof(nonce));
		voucher_artifact_set_binary(p, VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT,
		                            (sp->prox ? sp->prox : &reg)->der,
		                            (sp->prox ? sp->prox : &reg)->der_len);
		sign_artifact(p, sp->pledge_env ? sp->pledge_env : sp->env,
		              sp->pledge ? sp->pledge : &pledge, &pvr, &pvr_len);
	}
	assert_int_equal(voucher_artifact_new(sp->voucher_kind_payload ? VOUCHER_KIND_VOUCHER
	                                                               : VOUCHER_KIND_REQUEST,
	                                      &r),
	                 VOUCHER_OK);
	voucher_artifact_set_string(r, VOUCHER_LEAF_SERIAL_NUMBER,
	                            sp->rvr_serial ? sp->rvr_serial : "SN-0001");
	if (sp->voucher_kind_payload) {
		voucher_artifact_set_assertion(r, VOUCHER_ASSERTION_LOGGED);
	} else if (!sp->no_pvr) {
		voucher_artifact_set_binary(r, VOUCHER_LEAF_NONCE,
		                            sp->rvr_nonce_differs ? nonce2 : nonce, sizeof(nonce));
		voucher_artifact_set_binary(r, VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST, pvr,
		                            pvr_len);
	}
	if (!sp->voucher_kind_payload) {
		const struct id *of =
		        sp->issuer_of ? sp->issuer_of : (sp->pledge ? sp->pledge : &pledge);
		assert_int_equal(voucher_x509_idevid_issuer(of->der, of->der_len, &iss, &iss_len),
		                 VOUCHER_OK);
		voucher_artifact_set_binary(r, VOUCHER_LEAF_IDEVID_ISSUER, iss, iss_len);
	}
	sign_artifact(r, sp->env, sp->signer ? sp->signer : &reg, out, out_len);
	if (sp->flip_signature)
		(*out)[*out_len - 1] ^= 0xff;
	voucher_artifact_free(p);
	voucher_artifact_free(r);
	free(pvr);
	free(iss);
}

/* ---- the cases ------------------------------------------------------------------- */

static const struct check_case {
	const char *name;
	struct req_spec spec;
	bool peer_is_signer;
	voucher_err err;
	const char *check;
	enum voucher_assertion assertion;
} cases[] = {
        {"cms", {.env = VOUCHER_ENV_CMS}, false, VOUCHER_OK, NULL, VOUCHER_ASSERTION_PROXIMITY},
        {"cose", {.env = VOUCHER_ENV_COSE}, false, VOUCHER_OK, NULL, VOUCHER_ASSERTION_PROXIMITY},
        {"jws", {.env = VOUCHER_ENV_JWS}, false, VOUCHER_OK, NULL, VOUCHER_ASSERTION_PROXIMITY},
        {"cose pledge in jws",
         {.env = VOUCHER_ENV_JWS, .pledge_env = VOUCHER_ENV_COSE},
         false,
         VOUCHER_OK,
         NULL,
         VOUCHER_ASSERTION_PROXIMITY},
        {"signature",
         {.env = VOUCHER_ENV_CMS, .flip_signature = true},
         false,
         VOUCHER_E_SIG_INVALID,
         "signature",
         0},
        {"a voucher, not a request",
         {.env = VOUCHER_ENV_CMS, .voucher_kind_payload = true},
         false,
         VOUCHER_E_MALFORMED,
         "malformed",
         0},
        {"no cmcRA",
         {.env = VOUCHER_ENV_CMS, .signer = &reg_noeku},
         false,
         VOUCHER_E_NOT_REGISTRAR,
         "registrar-eku",
         0},
        {"pledge of another CA",
         {.env = VOUCHER_ENV_CMS, .pledge = &rogue_pledge},
         false,
         VOUCHER_E_UNTRUSTED,
         "pledge-signature",
         0},
        {"registrar serial",
         {.env = VOUCHER_ENV_CMS, .rvr_serial = "SN-0002"},
         false,
         VOUCHER_E_SERIAL_MISMATCH,
         "serial-number",
         0},
        {"pledge serial",
         {.env = VOUCHER_ENV_COSE, .pvr_serial = "SN-9999"},
         false,
         VOUCHER_E_SERIAL_MISMATCH,
         "serial-number",
         0},
        {"idevid-issuer",
         {.env = VOUCHER_ENV_JWS, .issuer_of = &reg},
         false,
         VOUCHER_E_FORBIDDEN,
         "idevid-issuer",
         0},
        {"proximity",
         {.env = VOUCHER_ENV_CMS, .prox = &reg_noeku},
         false,
         VOUCHER_E_PIN_MISMATCH,
         "proximity",
         0},
        {"nonce",
         {.env = VOUCHER_ENV_CMS, .rvr_nonce_differs = true},
         false,
         VOUCHER_E_NONCE_MISMATCH,
         "nonce",
         0},
        {"nonceless without TLS",
         {.env = VOUCHER_ENV_CMS, .no_pvr = true},
         false,
         VOUCHER_E_UNAUTHENTICATED,
         "nonceless",
         0},
        {"nonceless with the signer's TLS certificate",
         {.env = VOUCHER_ENV_CMS, .no_pvr = true},
         true,
         VOUCHER_OK,
         NULL,
         VOUCHER_ASSERTION_VERIFIED},
        {"another owner's device",
         {.env = VOUCHER_ENV_CMS,
          .pledge = &pledge2,
          .pvr_serial = "SN-0002",
          .rvr_serial = "SN-0002"},
         false,
         VOUCHER_E_FORBIDDEN,
         "ownership",
         0},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct check_case *c = &cases[i];
		struct masa_input in = {0};
		struct masa_rvr r;
		struct masa_fail f;
		uint8_t *body = NULL;
		size_t len = 0;
		voucher_err e;

		build(&c->spec, &body, &len);
		in.env = c->spec.env;
		in.body = body;
		in.body_len = len;
		if (c->peer_is_signer) {
			const struct id *s = c->spec.signer ? c->spec.signer : &reg;
			in.peer_cert = s->der;
			in.peer_cert_len = s->der_len;
		}
		e = masa_check(keys, st, &in, 0, &r, &f);
		if (e != c->err || (c->check && strcmp(f.check ? f.check : "", c->check) != 0))
			fail_msg("case '%s': got %d (%s: %s), want %d (%s)", c->name, e,
			         f.check ? f.check : "-", f.detail, c->err,
			         c->check ? c->check : "ok");
		if (e == VOUCHER_OK) {
			struct masa_voucher_fields vf;
			struct voucher_trust *t = NULL;
			struct voucher_verified *v = NULL;
			struct voucher_artifact *a = NULL;
			uint8_t *pin = NULL, *voucher = NULL;
			const uint8_t *p = NULL;
			size_t vlen = 0, plen = 0;
			char err[256];
			enum voucher_envelope out_env =
			        r.pledge_env != VOUCHER_ENV_NONE ? r.pledge_env : r.env;

			assert_int_equal(r.assertion, c->assertion);
			assert_string_equal(r.owner.name, "acme");
			assert_int_equal(masa_voucher_policy(keys, &r, &vf, &pin, &f), VOUCHER_OK);
			assert_int_equal(masa_voucher_sign(keys, &vf, out_env, &voucher, &vlen, err,
			                                   sizeof(err)),
			                 VOUCHER_OK);
			assert_int_equal(voucher_trust_new(&t), VOUCHER_OK);
			assert_int_equal(voucher_trust_add_der(t, masa_ca.der, masa_ca.der_len),
			                 VOUCHER_OK);
			assert_int_equal(voucher_verify(out_env, voucher, vlen, t, &v), VOUCHER_OK);
			assert_int_equal(voucher_artifact_parse(v->payload, v->payload_len,
			                                        VOUCHER_KIND_VOUCHER, 0, &a, NULL),
			                 VOUCHER_OK);
			assert_int_equal(voucher_artifact_get_binary(
			                         a, VOUCHER_LEAF_PINNED_DOMAIN_CERT, &p, &plen),
			                 VOUCHER_OK);
			assert_int_equal(plen, owner_ca.der_len);
			assert_memory_equal(p, owner_ca.der, plen);
			/* nonced: the pledge's nonce; nonceless: expires-on instead */
			assert_int_equal(voucher_artifact_has(a, VOUCHER_LEAF_NONCE),
			                 r.nonce != NULL);
			assert_int_equal(voucher_artifact_has(a, VOUCHER_LEAF_EXPIRES_ON),
			                 r.nonce == NULL);
			voucher_artifact_free(a);
			voucher_verified_free(v);
			voucher_trust_free(t);
			free(voucher);
			free(pin);
		}
		masa_rvr_clear(&r);
		free(body);
	}
}

/* The owner's deny list and a device nobody registered. */
static void test_revoked_and_unknown(void **state)
{
	struct req_spec sp = {.env = VOUCHER_ENV_CMS};
	struct masa_input in = {0};
	struct masa_rvr r;
	struct masa_fail f;
	uint8_t *body = NULL, h[32];
	size_t len = 0;
	char err[STORE_ERRLEN];
	(void)state;

	build(&sp, &body, &len);
	in.env = VOUCHER_ENV_CMS;
	in.body = body;
	in.body_len = len;
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, reg.der, reg.der_len, h), 0);
	assert_int_equal(store_owner_deny_add(st, "acme", h, "test", err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(masa_check(keys, st, &in, 0, &r, &f), VOUCHER_E_REVOKED);
	assert_string_equal(f.check, "revoked");
	masa_rvr_clear(&r);
	assert_int_equal(store_owner_deny_remove(st, "acme", h, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(masa_check(keys, st, &in, 0, &r, &f), VOUCHER_OK);
	masa_rvr_clear(&r);
	/* the device record goes away: 404 for vouchers and audit logs */
	assert_int_equal(store_device_delete(st, "SN-0001", NULL, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(masa_check(keys, st, &in, 0, &r, &f), VOUCHER_E_NOT_FOUND);
	assert_string_equal(f.check, "unknown-device");
	masa_rvr_clear(&r);
	assert_int_equal(masa_check(keys, st, &in, MASA_CHECK_AUDIT, &r, &f), VOUCHER_E_NOT_FOUND);
	masa_rvr_clear(&r);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_revoked_and_unknown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
