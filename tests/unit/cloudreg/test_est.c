/* cloudreg/est.c with hand-made requests against a PKI generated at test
 * time (manufacturer CA + IDevID, domain CA for the local CA backend) and a
 * real SQLite store: routing (404, 405, the optional label), cacerts
 * without a client certificate, csrattrs with and without the SAN template,
 * 401 / Basic / 403 for identities, 415 / 400 for bodies, the SAN policy,
 * proof of possession (match, mismatch, missing binding, required), the
 * 202-then-200 enrollment with a certificate issued by the domain CA,
 * simplereenroll with the LDevID (and its refusals), fullcmc 501. */
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
#include "cloudreg/creg.h"
#include "cloudreg/est.h"
#include "service/config.h"
#include "service/ratelimit.h"
#include "service/store.h"

struct fixture {
	struct fx_pki mfg;   /* manufacturer CA (ca) and an unrelated cert (signer) */
	struct fx_id idevid; /* SN-1 */
	struct fx_id dca;    /* domain CA: [ca] cert/key */
	char conf[128], db[128], pw[128];
	struct svc_config *cfg;
	struct store *store;
	struct creg_app app;
	struct creg_est *est;
	struct svc_der chain;
	const struct svc_der *peer;
	const uint8_t *cb;
	size_t cb_len;
	struct svc_kv hdr[2];
	size_t n_hdr;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct brski_buf errors;
	char err[300] = "";
	FILE *f;

	assert_non_null(fx);
	fx_pki_new(&fx->mfg, GNUTLS_PK_ECDSA, 1000);
	fx_make(&fx->mfg, &fx->idevid, "idevid", GNUTLS_PK_ECDSA, "CN=SN-1,serialNumber=SN-1",
	        &fx->mfg.ca, 0, 2000);
	fx_make(&fx->mfg, &fx->dca, "dca", GNUTLS_PK_ECDSA, "CN=Domain CA,O=owner", NULL, 1, 3000);
	snprintf(fx->conf, sizeof(fx->conf), "%s/est.conf", fx->mfg.dir);
	snprintf(fx->db, sizeof(fx->db), "%s/est.db", fx->mfg.dir);
	snprintf(fx->pw, sizeof(fx->pw), "%s/pw", fx->mfg.dir);
	f = fopen(fx->pw, "w");
	assert_non_null(f);
	fputs("s3cret\n", f);
	fclose(f);
	f = fopen(fx->conf, "w");
	assert_non_null(f);
	fprintf(f,
	        "[daemon]\nrole = registrar\ndatabase = %s\n"
	        "[registrar]\ncert = %s\nkey = %s\nmanufacturer_ca = %s\nmasa_trust = %s\n"
	        "domain_ca = %s\n"
	        "[est]\nworkers = 0\nfirst_wait_ms = 0\nretry_after = 3\nbasic_user = admin\n"
	        "basic_password_file = %s\ncsrattrs_oids = 1.2.840.10045.4.3.2\n"
	        "[ca]\nbackend = local\ncert = %s\nkey = %s\nsubdomain = pledges.example.com\n"
	        "[limits]\nserial_rate = 1\nserial_burst = 2\n",
	        fx->db, fx->dca.crt_path, fx->dca.key_path, fx->mfg.ca.crt_path,
	        fx->mfg.ca.crt_path, fx->dca.crt_path, fx->pw, fx->dca.crt_path, fx->dca.key_path);
	fclose(f);
	brski_buf_init(&errors, 4096);
	if (svc_config_load(fx->conf, NULL, &fx->cfg, &errors) != VOUCHER_OK)
		fail_msg("config: %s", brski_buf_str(&errors));
	brski_buf_free(&errors);
	assert_int_equal(store_open(fx->db, &fx->store, err, sizeof(err)), VOUCHER_OK);
	if (svc_ratelimit_configure(fx->cfg, err, sizeof(err)) != VOUCHER_OK)
		fail_msg("limits: %s", err);
	if (creg_est_new(fx->cfg, fx->store, NULL, -1, &fx->est, err, sizeof(err)) != VOUCHER_OK)
		fail_msg("creg_est_new: %s", err);
	pthread_mutex_init(&fx->app.lock, NULL);
	fx->app.store = fx->store;
	fx->app.est = fx->est;
	fx->chain.data = fx->idevid.der.data;
	fx->chain.len = fx->idevid.der.size;
	fx->peer = &fx->chain;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char p[160];

	creg_est_free(fx->est);
	pthread_mutex_destroy(&fx->app.lock);
	svc_ratelimit_shutdown();
	store_close(fx->store);
	svc_config_free(fx->cfg);
	unlink(fx->conf);
	unlink(fx->pw);
	unlink(fx->db);
	snprintf(p, sizeof(p), "%s-wal", fx->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->db);
	unlink(p);
	fx_id_free(&fx->idevid);
	fx_id_free(&fx->dca);
	fx_pki_free(&fx->mfg);
	free(fx);
	return 0;
}

/* One request through the handler; resp is the caller's. */
static unsigned call(struct fixture *fx, const char *method, const char *path, const char *ctype,
                     const void *body, size_t len, struct svc_resp *resp)
{
	struct svc_req req = {0};

	fx->n_hdr = 0;
	if (ctype)
		fx->hdr[fx->n_hdr++] = (struct svc_kv){"Content-Type", ctype};
	req.method = method;
	req.path = path;
	req.headers = fx->hdr;
	req.n_headers = fx->n_hdr;
	req.body = body;
	req.body_len = len;
	req.peer_chain = fx->peer;
	req.peer_chain_len = fx->peer ? 1 : 0;
	req.peer_status = fx->peer ? SVC_PEER_TRUSTED : SVC_PEER_NONE;
	req.cb_type = fx->cb ? SVC_CB_TLS_EXPORTER : SVC_CB_NONE;
	req.cb_data = fx->cb;
	req.cb_len = fx->cb_len;
	req.tls_version = 0x0304;
	req.request_id = "test";
	req.app = &fx->app;
	svc_resp_free(resp);
	svc_resp_init(resp);
	creg_est_handle(&req, resp);
	return resp->status;
}

static const char *header(const struct svc_resp *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* The CSR as an EST body: base64 of the DER. key may be NULL (new). */
static void csr_body(gnutls_x509_privkey_t key, const char *dn_serial, const char *san,
                     const char *challenge, struct brski_buf *out)
{
	gnutls_x509_privkey_t k = key;
	gnutls_x509_crq_t crq;
	gnutls_datum_t der;

	if (!k) {
		FX_CHECK(gnutls_x509_privkey_init(&k));
		FX_CHECK(gnutls_x509_privkey_generate(
		        k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	}
	FX_CHECK(gnutls_x509_crq_init(&crq));
	FX_CHECK(gnutls_x509_crq_set_version(crq, 1));
	FX_CHECK(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, dn_serial,
	                                       (unsigned)strlen(dn_serial)));
	FX_CHECK(gnutls_x509_crq_set_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, dn_serial,
	                                       (unsigned)strlen(dn_serial)));
	FX_CHECK(gnutls_x509_crq_set_key(crq, k));
	if (san)
		FX_CHECK(gnutls_x509_crq_set_subject_alt_name(
		        crq, GNUTLS_SAN_DNSNAME, san, (unsigned)strlen(san), GNUTLS_FSAN_SET));
	if (challenge)
		FX_CHECK(gnutls_x509_crq_set_challenge_password(crq, challenge));
	FX_CHECK(gnutls_x509_crq_sign2(crq, k, GNUTLS_DIG_SHA256, 0));
	FX_CHECK(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der));
	brski_buf_init(out, 16384);
	assert_int_equal(creg_b64_encode_body(der.data, der.size, out), VOUCHER_OK);
	gnutls_free(der.data);
	gnutls_x509_crq_deinit(crq);
	if (!key)
		gnutls_x509_privkey_deinit(k);
}

/* Certificates of a base64 certs-only body. */
static size_t certs_of(const struct svc_resp *r, uint8_t **certs, size_t *lens)
{
	struct brski_buf der;
	char err[200];
	size_t n = 0;

	brski_buf_init(&der, 1024 * 1024);
	assert_int_equal(creg_b64_decode_body(r->body.data, r->body.len, &der), VOUCHER_OK);
	assert_int_equal(creg_pkcs7_parse(der.data, der.len, certs, lens, 8, &n, err, sizeof(err)),
	                 VOUCHER_OK);
	brski_buf_free(&der);
	return n;
}

static void run_jobs(struct fixture *fx)
{
	char err[300] = "";
	bool ran = true;

	while (ran)
		assert_int_equal(creg_enroll_run_one(fx->est->enroll, "t", &ran, err, sizeof(err)),
		                 VOUCHER_OK);
}

static void test_routing_and_cacerts(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	uint8_t *certs[8];
	size_t lens[8], n;

	svc_resp_init(&r);
	assert_int_equal(call(fx, "GET", "/.well-known/est/nosuch", NULL, NULL, 0, &r), 404);
	assert_int_equal(call(fx, "POST", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 405);
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	assert_int_equal(call(fx, "GET", "/.well-known/est/simpleenroll", NULL, NULL, 0, &r), 405);
	/* cacerts needs no client certificate; an optional label is allowed. */
	fx->peer = NULL;
	assert_int_equal(call(fx, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 200);
	assert_string_equal(r.content_type, CREG_EST_PKCS7_TYPE);
	n = certs_of(&r, certs, lens);
	assert_int_equal(n, 1);
	assert_int_equal(lens[0], fx->dca.der.size);
	assert_memory_equal(certs[0], fx->dca.der.data, lens[0]);
	free(certs[0]);
	assert_int_equal(call(fx, "GET", "/.well-known/est/arbitrary/cacerts", NULL, NULL, 0, &r),
	                 200);
	assert_int_equal(
	        call(fx, "POST", "/.well-known/est/fullcmc", "application/pkcs7-mime", "x", 1, &r),
	        501);
	svc_resp_free(&r);
}

/* What the fake backend's issuers op hands out (test_cacerts_issuers). */
static const gnutls_datum_t *fake_issuers_certs[9];
static size_t fake_issuers_n;
static voucher_err fake_issuers_err;

static voucher_err fake_issuers(void *backend, struct creg_ca_result *out)
{
	voucher_err r = fake_issuers_err;

	(void)backend;
	for (size_t i = 0;
	     i < fake_issuers_n && r == VOUCHER_OK && out->n_chain < CREG_CA_MAX_CHAIN; i++)
		r = creg_ca_result_add(out, fake_issuers_certs[i]->data,
		                       fake_issuers_certs[i]->size);
	return r;
}

/* cacerts with a backend that adds certificates per request (as the ACME
 * CA its issuers and [acme] ca_roots): after the fixed ones, each once, in
 * the backend's order, at most 8; asked again at every request; a
 * failing backend gets 500. */
static void test_cacerts_issuers(void **state)
{
	struct fixture *fx = *state;
	const struct creg_ca_ops *saved = fx->est->ca->ops;
	struct creg_ca_ops ops = *saved;
	struct fx_id extra[9];
	struct svc_resp r;
	uint8_t *certs[8];
	size_t lens[8], n;

	ops.issuers = fake_issuers;
	fx->est->ca->ops = &ops;
	fx->peer = NULL;
	svc_resp_init(&r);
	/* The domain CA again (a duplicate), then two others. */
	fake_issuers_certs[0] = &fx->dca.der;
	fake_issuers_certs[1] = &fx->mfg.ca.der;
	fake_issuers_certs[2] = &fx->idevid.der;
	fake_issuers_n = 3;
	fake_issuers_err = VOUCHER_OK;
	assert_int_equal(call(fx, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 200);
	n = certs_of(&r, certs, lens);
	assert_int_equal(n, 3);
	assert_int_equal(lens[0], fx->dca.der.size);
	assert_memory_equal(certs[0], fx->dca.der.data, lens[0]);
	assert_int_equal(lens[1], fx->mfg.ca.der.size);
	assert_memory_equal(certs[1], fx->mfg.ca.der.data, lens[1]);
	assert_int_equal(lens[2], fx->idevid.der.size);
	assert_memory_equal(certs[2], fx->idevid.der.data, lens[2]);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	/* The backend's answer changes: so does cacerts. */
	fake_issuers_certs[0] = &fx->idevid.der;
	fake_issuers_n = 1;
	assert_int_equal(call(fx, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 200);
	n = certs_of(&r, certs, lens);
	assert_int_equal(n, 2);
	assert_memory_equal(certs[1], fx->idevid.der.data, lens[1]);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	/* More than a client parses: cut at 8, the fixed one first. */
	for (size_t i = 0; i < 9; i++) {
		char name[16], dn[32];
		snprintf(name, sizeof(name), "extra%zu", i);
		snprintf(dn, sizeof(dn), "CN=Extra CA %zu", i);
		fx_make(&fx->mfg, &extra[i], name, GNUTLS_PK_ECDSA, dn, NULL, 1, 4000 + (long)i);
		fake_issuers_certs[i] = &extra[i].der;
	}
	fake_issuers_n = 9;
	assert_int_equal(call(fx, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 200);
	n = certs_of(&r, certs, lens);
	assert_int_equal(n, 8);
	assert_memory_equal(certs[0], fx->dca.der.data, lens[0]);
	for (size_t i = 1; i < n; i++) {
		assert_int_equal(lens[i], extra[i - 1].der.size);
		assert_memory_equal(certs[i], extra[i - 1].der.data, lens[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	for (size_t i = 0; i < 9; i++)
		fx_id_free(&extra[i]);
	fake_issuers_err = VOUCHER_E_STORE;
	assert_int_equal(call(fx, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, &r), 500);
	fx->est->ca->ops = saved;
	svc_resp_free(&r);
}

static void test_csrattrs(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf der;
	struct creg_csrattrs a;
	char err[200];

	svc_resp_init(&r);
	assert_int_equal(call(fx, "GET", "/.well-known/est/csrattrs", NULL, NULL, 0, &r), 200);
	assert_string_equal(r.content_type, "application/csrattrs");
	brski_buf_init(&der, 4096);
	assert_int_equal(creg_b64_decode_body(r.body.data, r.body.len, &der), VOUCHER_OK);
	assert_int_equal(creg_csrattrs_decode(der.data, der.len, &a, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(a.san_dns, "SN-1.pledges.example.com");
	assert_string_equal(a.oids[0], "1.2.840.10045.4.3.2");
	assert_false(a.pop);
	creg_csrattrs_clear(&a);
	/* Anonymous: the OIDs but no template (no serial to put in it); with
	 * require_pop the challengePassword is asked for. */
	fx->peer = NULL;
	fx->est->require_pop = true;
	assert_int_equal(call(fx, "GET", "/.well-known/est/csrattrs", NULL, NULL, 0, &r), 200);
	brski_buf_reset(&der);
	assert_int_equal(creg_b64_decode_body(r.body.data, r.body.len, &der), VOUCHER_OK);
	assert_int_equal(creg_csrattrs_decode(der.data, der.len, &a, err, sizeof(err)), VOUCHER_OK);
	assert_null(a.san_dns);
	assert_true(a.pop);
	creg_csrattrs_clear(&a);
	brski_buf_free(&der);
	svc_resp_free(&r);
}

static void test_identity(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf b;
	struct svc_der other = {fx->mfg.signer.der.data, fx->mfg.signer.der.size};
	struct svc_req req = {0};
	struct svc_kv h[2];

	svc_resp_init(&r);
	csr_body(NULL, "SN-9", NULL, NULL, &b);
	/* No certificate, no Basic: 401 offering Basic. */
	fx->peer = NULL;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 401);
	assert_non_null(header(&r, "WWW-Authenticate"));
	/* A certificate no configured CA issued: 403. */
	fx->peer = &other;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	/* HTTP Basic: the serial comes from the CSR's subject. */
	h[0] = (struct svc_kv){"Content-Type", "application/pkcs10"};
	h[1] = (struct svc_kv){"Authorization", "Basic YWRtaW46czNjcmV0"}; /* admin:s3cret */
	req.method = "POST";
	req.path = "/.well-known/est/simpleenroll";
	req.headers = h;
	req.n_headers = 2;
	req.body = b.data;
	req.body_len = b.len;
	req.request_id = "t";
	req.app = &fx->app;
	svc_resp_free(&r);
	svc_resp_init(&r);
	creg_est_handle(&req, &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(header(&r, "Retry-After"), "3");
	h[1].value = "Basic YWRtaW46d3Jvbmc="; /* admin:wrong */
	svc_resp_free(&r);
	svc_resp_init(&r);
	creg_est_handle(&req, &r);
	assert_int_equal(r.status, 401);
	h[1].value = "Basic !!!";
	svc_resp_free(&r);
	svc_resp_init(&r);
	creg_est_handle(&req, &r);
	assert_int_equal(r.status, 401);
	brski_buf_free(&b);
	svc_resp_free(&r);
}

static void test_bodies_and_policy(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf b;

	svc_resp_init(&r);
	csr_body(NULL, "SN-1", "SN-1.pledges.example.com", NULL, &b);
	assert_int_equal(
	        call(fx, "POST", "/.well-known/est/simpleenroll", "text/plain", b.data, b.len, &r),
	        415);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10x",
	                      b.data, b.len, &r),
	                 415);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      "!!", 2, &r),
	                 400);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      "aGVsbG8=", 8, &r),
	                 400);
	brski_buf_free(&b);
	/* A SAN outside <serial>.<subdomain>: 403. */
	csr_body(NULL, "SN-1", "www.example.com", NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	brski_buf_free(&b);
	csr_body(NULL, "SN-1", "SN-2.pledges.example.com", NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	brski_buf_free(&b);
	svc_resp_free(&r);
}

static void test_pop(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t cb[32] = {0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 3, 4, 5, 6, 7,
	                               8,    9,    0,    1,    2,    3,    4, 5, 6, 7, 8,
	                               9,    0,    1,    2,    3,    4,    5, 6, 7, 8};
	struct svc_resp r;
	struct brski_buf b, enc;
	char pw[64];

	svc_resp_init(&r);
	brski_buf_init(&enc, 1024);
	assert_int_equal(creg_b64_encode_body(cb, sizeof(cb), &enc), VOUCHER_OK);
	memcpy(pw, enc.data, enc.len - 1);
	pw[enc.len - 1] = '\0';
	/* The binding matches: accepted (202). */
	fx->cb = cb;
	fx->cb_len = sizeof(cb);
	csr_body(NULL, "SN-1", NULL, pw, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 202);
	/* Another session's binding: 403. */
	static const uint8_t other[32] = {1};
	fx->cb = other;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	assert_non_null(strstr((const char *)r.body.data, "tls-exporter"));
	/* No binding on the connection at all: 403. */
	fx->cb = NULL;
	fx->cb_len = 0;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	brski_buf_free(&b);
	/* require_pop: a CSR without a challengePassword is refused. */
	fx->est->require_pop = true;
	csr_body(NULL, "SN-1", NULL, NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	assert_non_null(strstr((const char *)r.body.data, "requires proof of possession"));
	brski_buf_free(&b);
	brski_buf_free(&enc);
	svc_resp_free(&r);
}

static void test_enroll_and_reenroll(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf b;
	uint8_t *certs[8];
	size_t lens[8], n;
	gnutls_x509_crt_t leaf, ca;
	gnutls_datum_t d;
	unsigned status = 1;
	char buf[300];
	size_t sz = sizeof(buf);
	struct svc_der ldev;

	svc_resp_init(&r);
	csr_body(NULL, "SN-1", "SN-1.pledges.example.com", NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 202);
	assert_string_equal(header(&r, "Retry-After"), "3");
	run_jobs(fx);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 200);
	assert_string_equal(r.content_type, CREG_EST_PKCS7_TYPE);
	n = certs_of(&r, certs, lens);
	assert_int_equal(n, 2);
	assert_memory_equal(certs[1], fx->dca.der.data, fx->dca.der.size);
	/* The issued certificate first, for SN-1, signed by the domain CA,
	 * with the SAN. */
	FX_CHECK(gnutls_x509_crt_init(&leaf));
	d.data = certs[0];
	d.size = (unsigned)lens[0];
	FX_CHECK(gnutls_x509_crt_import(leaf, &d, GNUTLS_X509_FMT_DER));
	/* The CA as read from DER (a certificate built in memory has no raw
	 * subject for GnuTLS to compare issuers with). */
	FX_CHECK(gnutls_x509_crt_init(&ca));
	FX_CHECK(gnutls_x509_crt_import(ca, &fx->dca.der, GNUTLS_X509_FMT_DER));
	FX_CHECK(gnutls_x509_crt_verify(leaf, &ca, 1, 0, &status));
	gnutls_x509_crt_deinit(ca);
	assert_int_equal(status, 0);
	FX_CHECK(gnutls_x509_crt_get_dn_by_oid(leaf, CREG_OID_SUBJECT_SERIAL, 0, 0, buf, &sz));
	assert_string_equal(buf, "SN-1");
	sz = sizeof(buf);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(leaf, 0, buf, &sz, NULL),
	                 GNUTLS_SAN_DNSNAME);
	assert_string_equal(buf, "SN-1.pledges.example.com");
	gnutls_x509_crt_deinit(leaf);
	brski_buf_free(&b);

	/* simplereenroll with the IDevID: 403; with the LDevID, same names: 202. */
	csr_body(NULL, "SN-1", "SN-1.pledges.example.com", NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simplereenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	ldev.data = certs[0];
	ldev.len = lens[0];
	fx->peer = &ldev;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simplereenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 202);
	brski_buf_free(&b);
	/* Dropping the SAN or changing the subject: 400. */
	csr_body(NULL, "SN-1", NULL, NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simplereenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 400);
	brski_buf_free(&b);
	csr_body(NULL, "SN-2", "SN-1.pledges.example.com", NULL, &b);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simplereenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 400);
	brski_buf_free(&b);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	svc_resp_free(&r);
}

/* [limits] serial_burst = 2: a third new CSR of one device is 429, while
 * the retry of an existing job and the cache never count. */
static void test_serial_limit(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf b[3];

	svc_resp_init(&r);
	for (int i = 0; i < 3; i++)
		csr_body(NULL, "SN-1", NULL, NULL, &b[i]);
	for (int i = 0; i < 2; i++)
		assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll",
		                      "application/pkcs10", b[i].data, b[i].len, &r),
		                 202);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b[2].data, b[2].len, &r),
	                 429);
	assert_non_null(header(&r, "Retry-After"));
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b[0].data, b[0].len, &r),
	                 202);
	run_jobs(fx);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b[1].data, b[1].len, &r),
	                 200);
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b[1].data, b[1].len, &r),
	                 200);
	for (int i = 0; i < 3; i++)
		brski_buf_free(&b[i]);
	svc_resp_free(&r);
}

/* [est] allowed_serials narrows the IDevIDs that may enroll (owner role). */
static void test_allow_list(void **state)
{
	struct fixture *fx = *state;
	struct svc_resp r;
	struct brski_buf b;
	char *list[1] = {(char *)"SN-2"};

	svc_resp_init(&r);
	csr_body(NULL, "SN-1", NULL, NULL, &b);
	fx->est->allowed = list;
	fx->est->n_allowed = 1;
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 403);
	assert_non_null(strstr((const char *)r.body.data, "allow-list"));
	list[0] = (char *)"SN-1";
	assert_int_equal(call(fx, "POST", "/.well-known/est/simpleenroll", "application/pkcs10",
	                      b.data, b.len, &r),
	                 202);
	fx->est->allowed = NULL;
	fx->est->n_allowed = 0;
	brski_buf_free(&b);
	svc_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_routing_and_cacerts, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cacerts_issuers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_csrattrs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bodies_and_policy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pop, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_enroll_and_reenroll, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_serial_limit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
