/*
 * brski bench: benchmarks that report ratios measured in one run, never a
 * bare time as a verdict (DESIGN.md "How we know it works").
 *
 * brski bench voucher: CMS vouchers signed and verified with libvoucher
 * against the raw P-256 signature operations they need, on the same key in
 * the same process.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "common/str.h"
#include "tools/bench.h"
#include "tools/brski.h"

/* A voucher of typical size; the envelope does not look inside. */
static const char bench_payload[] =
        "{\"ietf-voucher:voucher\":{\"created-on\":\"2026-01-01T00:00:00Z\","
        "\"expires-on\":\"2026-01-02T00:00:00Z\",\"assertion\":\"logged\","
        "\"serial-number\":\"pledge-0001\",\"idevid-issuer\":\"BBgwFoAU4T0vYx4Fdh5NqcPNF9Z4LwL1lX0="
        "\","
        "\"pinned-domain-cert\":"
        "\"MIIBsjCCAVigAwIBAgIUJ0d3b2R1b2ZuZXZlcnVzZWQwCgYIKoZIzj0EAwIwLzEtMCsG"
        "A1UEAwwkYnJza2kgZGVtbyBkb21haW4gQ0EgKHBsYWNlaG9sZGVyKTAeFw0yNjAxMDEwMDAwMDBaFw0zNjAxMDEwMD"
        "Aw"
        "MDBaMC8xLTArBgNVBAMMJGJyc2tpIGRlbW8gZG9tYWluIENBIChwbGFjZWhvbGRlcikwWTATBgcqhkjOPQIBBggqhk"
        "jO"
        "PQMBBwNCAAQ=\",\"nonce\":\"a2V5LW5vbmNlLTAxMjM0NTY3\"}}";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: other load on the machine slows the wall clock
 * of both sides unevenly, but hardly the work done per CPU second. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- keys made in memory ------------------------------------------------- */

struct bench_files {
	char dir[256];
	char key[320], chain[320], anchor[320];
};

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	int ok = fwrite(data, 1, len, f) == len;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int make_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, int ca,
                     gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key)
{
	time_t now = time(NULL);
	uint8_t serial[16], id[64];
	size_t idlen = sizeof(id);
	int rc;

	if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
		return rc;
	serial[0] &= 0x7f;
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, now + 86400)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	                                        (unsigned)strlen(cn))) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, ca, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN
	                                                : GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, id, &idlen)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) < 0)
		return rc;
	return gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, issuer ? issuer_key : key,
	                             GNUTLS_DIG_SHA256, 0);
}

static int append_pem(FILE *f, gnutls_x509_crt_t crt)
{
	gnutls_datum_t pem = {NULL, 0};
	int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);
	if (rc >= 0 && fwrite(pem.data, 1, pem.size, f) != pem.size)
		rc = -1;
	gnutls_free(pem.data);
	return rc;
}

/* A P-256 root and a voucher signer under it, in a private temp dir (the
 * signer API loads files, as the daemons do). */
static int make_keys(struct bench_files *bf)
{
	gnutls_x509_privkey_t rk = NULL, sk = NULL;
	gnutls_x509_crt_t rc_ = NULL, sc = NULL;
	gnutls_datum_t pem = {NULL, 0};
	const char *tmp = getenv("TMPDIR");
	unsigned p256 = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
	FILE *f = NULL;
	int rc = -1;

	snprintf(bf->dir, sizeof(bf->dir), "%s/brski-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(bf->dir) == NULL) {
		bf->dir[0] = '\0';
		return -1;
	}
	snprintf(bf->key, sizeof(bf->key), "%s/signer.key", bf->dir);
	snprintf(bf->chain, sizeof(bf->chain), "%s/signer.chain.pem", bf->dir);
	snprintf(bf->anchor, sizeof(bf->anchor), "%s/root.crt", bf->dir);
	if (gnutls_x509_privkey_init(&rk) < 0 || gnutls_x509_privkey_init(&sk) < 0 ||
	    gnutls_x509_crt_init(&rc_) < 0 || gnutls_x509_crt_init(&sc) < 0 ||
	    gnutls_x509_privkey_generate2(rk, GNUTLS_PK_ECDSA, p256, 0, NULL, 0) < 0 ||
	    gnutls_x509_privkey_generate2(sk, GNUTLS_PK_ECDSA, p256, 0, NULL, 0) < 0 ||
	    make_cert(rc_, rk, "brski bench root", 1, NULL, NULL) < 0 ||
	    make_cert(sc, sk, "brski bench voucher signer", 0, rc_, rk) < 0)
		goto out;
	if (gnutls_x509_privkey_export2_pkcs8(sk, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
	                                      &pem) < 0)
		goto out;
	mode_t old = umask(077);
	int w = write_file(bf->key, pem.data, pem.size);
	umask(old);
	if (w < 0)
		goto out;
	if ((f = fopen(bf->chain, "wb")) == NULL || append_pem(f, sc) < 0 || append_pem(f, rc_) < 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	if ((f = fopen(bf->anchor, "wb")) == NULL || append_pem(f, rc_) < 0)
		goto out;
	rc = fclose(f) == 0 ? 0 : -1;
	f = NULL;
out:
	if (f)
		fclose(f);
	gnutls_free(pem.data);
	gnutls_x509_privkey_deinit(rk);
	gnutls_x509_privkey_deinit(sk);
	gnutls_x509_crt_deinit(rc_);
	gnutls_x509_crt_deinit(sc);
	return rc;
}

static void remove_keys(struct bench_files *bf)
{
	if (bf->dir[0] == '\0')
		return;
	unlink(bf->key);
	unlink(bf->chain);
	unlink(bf->anchor);
	rmdir(bf->dir);
}

/* ---- the measurements ---------------------------------------------------- */

struct raw_keys {
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
};

static int load_raw(const char *key_path, const char *chain_path, struct raw_keys *rk)
{
	struct voucher_x509_chain *c = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t data = {NULL, 0};
	int rc = -1;

	if (gnutls_load_file(key_path, &data) < 0 || gnutls_privkey_init(&rk->priv) < 0 ||
	    gnutls_privkey_import_x509_raw(rk->priv, &data, GNUTLS_X509_FMT_PEM, NULL, 0) < 0)
		goto out;
	if (voucher_x509_chain_load_file(chain_path, &c) != VOUCHER_OK ||
	    gnutls_x509_crt_init(&crt) < 0)
		goto out;
	gnutls_datum_t der = {c->der[0], (unsigned)c->der_len[0]};
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_pubkey_init(&rk->pub) < 0 || gnutls_pubkey_import_x509(rk->pub, crt, 0) < 0)
		goto out;
	unsigned bits = 0;
	if (gnutls_pubkey_get_pk_algorithm(rk->pub, &bits) != GNUTLS_PK_ECDSA) {
		fprintf(stderr, "brski bench voucher: the signer key is not ECDSA\n");
		goto out;
	}
	rc = 0;
out:
	if (data.data)
		gnutls_memset(data.data, 0, data.size);
	gnutls_free(data.data);
	gnutls_x509_crt_deinit(crt);
	voucher_x509_chain_free(c);
	return rc;
}

/* Counts and CPU seconds of each kind of operation. */
struct tally {
	unsigned long sign, verify, vouchers;
	double t_sign, t_verify, t_vouchers;
	size_t chain_len, cms_len;
};

/* Raw signatures over the payload for about `slice` CPU seconds. The first
 * signature is kept for the verify slices. */
static int raw_sign_slice(const struct raw_keys *rk, double slice, gnutls_datum_t *keep,
                          struct tally *t)
{
	gnutls_datum_t d = {(unsigned char *)bench_payload, sizeof(bench_payload) - 1};
	double t0 = cpu_s(), el;
	do {
		gnutls_datum_t sig = {NULL, 0};
		if (gnutls_privkey_sign_data(rk->priv, GNUTLS_DIG_SHA256, 0, &d, &sig) < 0)
			return -1;
		if (keep->data == NULL)
			*keep = sig;
		else
			gnutls_free(sig.data);
		t->sign++;
		el = cpu_s() - t0;
	} while (el < slice);
	t->t_sign += el;
	return 0;
}

static int raw_verify_slice(const struct raw_keys *rk, const gnutls_datum_t *sig, double slice,
                            struct tally *t)
{
	gnutls_datum_t d = {(unsigned char *)bench_payload, sizeof(bench_payload) - 1};
	double t0 = cpu_s(), el;
	do {
		if (gnutls_pubkey_verify_data2(rk->pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &d, sig) < 0)
			return -1;
		t->verify++;
		el = cpu_s() - t0;
	} while (el < slice);
	t->t_verify += el;
	return 0;
}

static voucher_err voucher_slice(const struct voucher_signer *s, const struct voucher_trust *tr,
                                 double slice, struct tally *t)
{
	double t0 = cpu_s(), el;
	do {
		uint8_t *cms = NULL;
		size_t len = 0;
		struct voucher_verified *v = NULL;
		voucher_err e = voucher_sign(VOUCHER_ENV_CMS, s, (const uint8_t *)bench_payload,
		                             sizeof(bench_payload) - 1, &cms, &len);
		if (e == VOUCHER_OK)
			e = voucher_verify(VOUCHER_ENV_CMS, cms, len, tr, &v);
		free(cms);
		if (e != VOUCHER_OK)
			return e;
		t->chain_len = v->chain_len;
		t->cms_len = len;
		voucher_verified_free(v);
		t->vouchers++;
		el = cpu_s() - t0;
	} while (el < slice);
	t->t_vouchers += el;
	return VOUCHER_OK;
}

static void bench_voucher_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench voucher [--seconds N] [--pki DIR]\n\n"
	        "Sign and verify CMS vouchers (application/voucher-cms+json) with libvoucher in a\n"
	        "loop, measure in the same run the raw P-256 signature operations on the same key\n"
	        "(gnutls_privkey_sign_data, gnutls_pubkey_verify_data2), and print the ratio of\n"
	        "the voucher cost to the raw operations it needs: one signature, one verification\n"
	        "of it, and one verification per certificate of the chain whenever the trust\n"
	        "list's validation cache is not reused. The last line is ratio=R. A report, not a\n"
	        "test: it never fails on the number.\n\n"
	        "options:\n"
	        "  --seconds N   measuring time, split between the raw and voucher loops (default "
	        "4)\n"
	        "  --pki DIR     use DIR/masa-sign.key, DIR/masa-sign.chain.pem and the anchor\n"
	        "                DIR/masa-ca.crt from `brski pki init` (a P-256 PKI); default:\n"
	        "                keys made in memory for this run\n\n"
	        "exit status: 0 measured, 2 usage error, 3 key or crypto failure.\n");
}

static int bench_voucher(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"seconds", required_argument, NULL, 's'},
	        {"pki", required_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t seconds = 4;
	const char *pki = NULL;
	struct bench_files bf;
	char key[1024], chain[1024], anchor[1024];
	struct voucher_signer *s = NULL;
	struct voucher_trust *t = NULL;
	struct raw_keys rk = {NULL, NULL};
	gnutls_datum_t sig = {NULL, 0};
	int ret = BRSKI_EXIT_IO, c;
	voucher_err e;

	memset(&bf, 0, sizeof(bf));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (brski_str_to_u64(optarg, &seconds, BENCH_MAX_SECONDS) != VOUCHER_OK ||
			    seconds == 0) {
				fprintf(stderr,
				        "brski bench voucher: --seconds takes 1..%d, not '%s'\n",
				        BENCH_MAX_SECONDS, optarg);
				return BRSKI_EXIT_USAGE;
			}
			break;
		case 'p':
			pki = optarg;
			break;
		case 'h':
			bench_voucher_usage(stdout);
			return BRSKI_EXIT_OK;
		default:
			bench_voucher_usage(stderr);
			return BRSKI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		bench_voucher_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (pki != NULL) {
		if (strlen(pki) > 900) {
			fprintf(stderr, "brski bench voucher: --pki path too long\n");
			return BRSKI_EXIT_USAGE;
		}
		snprintf(key, sizeof(key), "%s/masa-sign.key", pki);
		snprintf(chain, sizeof(chain), "%s/masa-sign.chain.pem", pki);
		snprintf(anchor, sizeof(anchor), "%s/masa-ca.crt", pki);
	} else {
		if (make_keys(&bf) < 0) {
			fprintf(stderr, "brski bench voucher: cannot make the bench keys\n");
			goto out;
		}
		snprintf(key, sizeof(key), "%s", bf.key);
		snprintf(chain, sizeof(chain), "%s", bf.chain);
		snprintf(anchor, sizeof(anchor), "%s", bf.anchor);
	}
	if ((e = voucher_signer_load(&s, key, chain)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench voucher: failed to load signer %s (%s)\n", key,
		        voucher_strerror(e));
		goto out;
	}
	if ((e = voucher_trust_new(&t)) != VOUCHER_OK ||
	    (e = voucher_trust_add_file(t, anchor)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench voucher: failed to load trust anchor %s (%s)\n",
		        anchor, voucher_strerror(e));
		goto out;
	}
	if (load_raw(key, chain, &rk) < 0) {
		fprintf(stderr, "brski bench voucher: failed to load %s for the raw operations\n",
		        key);
		goto out;
	}
	remove_keys(&bf);

	/* Interleaved slices (raw sign, raw verify, vouchers: 1:1:2) until the
	 * wall-clock budget is spent, so that all three see the same machine. */
	struct tally ta;
	memset(&ta, 0, sizeof(ta));
	double end = now_s() + (double)seconds;
	do {
		if (raw_sign_slice(&rk, 0.02, &sig, &ta) < 0 ||
		    raw_verify_slice(&rk, &sig, 0.02, &ta) < 0) {
			fprintf(stderr, "brski bench voucher: raw P-256 operation failed\n");
			goto out;
		}
		if ((e = voucher_slice(s, t, 0.04, &ta)) != VOUCHER_OK) {
			fprintf(stderr, "brski bench voucher: voucher sign/verify failed (%s)\n",
			        voucher_strerror(e));
			ret = BRSKI_EXIT_BAD;
			goto out;
		}
	} while (now_s() < end);
	struct voucher_trust_stats st;
	voucher_trust_stats(t, &st);

	/* What the vouchers needed in raw operations: a signature and its
	 * verification each, plus a verification per chain certificate for
	 * every chain validated in full. */
	double sign_rate = (double)ta.sign / ta.t_sign;
	double verify_rate = (double)ta.verify / ta.t_verify;
	double t_sign = 1.0 / sign_rate, t_verify = 1.0 / verify_rate;
	double raw_total = (double)ta.vouchers * (t_sign + t_verify) +
	                   (double)st.misses * (double)ta.chain_len * t_verify;
	double ratio = ta.t_vouchers / raw_total;
	printf("raw P-256 sign:      %.0f/s (gnutls_privkey_sign_data, CPU time)\n", sign_rate);
	printf("raw P-256 verify:    %.0f/s (gnutls_pubkey_verify_data2, CPU time)\n", verify_rate);
	printf("voucher sign+verify: %.0f/s (CMS, %zu bytes, chain of %zu, %lu in %.2f s CPU)\n",
	       (double)ta.vouchers / ta.t_vouchers, ta.cms_len, ta.chain_len, ta.vouchers,
	       ta.t_vouchers);
	printf("raw operations they need: %.0f/s\n", (double)ta.vouchers / raw_total);
	printf("chain cache: hits=%llu misses=%llu failures=%llu entries=%zu\n",
	       (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)st.failures, st.entries);
	printf("ratio=%.3f\n", ratio);
	ret = BRSKI_EXIT_OK;
out:
	gnutls_free(sig.data);
	gnutls_privkey_deinit(rk.priv);
	gnutls_pubkey_deinit(rk.pub);
	voucher_signer_free(s);
	voucher_trust_free(t);
	remove_keys(&bf);
	return ret;
}

static const struct brski_cmd bench_cmds[] = {
        {"voucher", bench_voucher, "CMS voucher sign+verify against the raw P-256 limit"},
        {"crypto", bench_crypto, "the machine's limit: raw and CMS sign/verify per core"},
        {"masa", bench_masa, "masad vouchers per daemon CPU-second against that limit"},
        {"cloudreg", bench_cloudreg,
         "cloudregd redirects per daemon CPU-second against the mTLS handshake"},
        {"store", bench_store, "device lookup cost, many devices against few"},
        {"est", bench_est, "cloudregd re-enrollments from the certificate cache"},
};

static void bench_usage(FILE *out)
{
	fprintf(out, "usage: brski bench <benchmark> [options]\n\nbenchmarks:\n");
	for (size_t i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		fprintf(out, "  %-10s %s\n", bench_cmds[i].name, bench_cmds[i].summary);
}

int brski_cmd_bench(int argc, char **argv)
{
	if (argc < 2) {
		bench_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		bench_usage(stdout);
		return BRSKI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		if (strcmp(argv[1], bench_cmds[i].name) == 0)
			return bench_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "brski bench: unknown benchmark '%s'\n", argv[1]);
	bench_usage(stderr);
	return BRSKI_EXIT_USAGE;
}
