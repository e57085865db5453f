/*
 * brski bench crypto, and the limit every daemon benchmark divides by: the
 * CPU cost of raw P-256 signatures and of CMS voucher signatures on this
 * machine, measured in the same run as the load (so that other work on a
 * shared machine slows both sides alike).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "common/str.h"
#include "tools/bench.h"
#include "tools/brski.h"

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A voucher of typical size (the signatures do not look inside). */
static const char limit_payload[] =
        "{\"ietf-voucher:voucher\":{\"created-on\":\"2026-01-01T00:00:00Z\","
        "\"assertion\":\"proximity\",\"serial-number\":\"bench-000001\","
        "\"pinned-domain-cert\":\"MIIBsjCCAVigAwIBAgIUJ0d3b2R1b2ZuZXZlcnVzZWQwCgYIKoZIzj0EAwIwLzEt"
        "MCsGA1UEAwwkYnJza2kgZGVtbyBkb21haW4gQ0EgKHBsYWNlaG9sZGVyKTAeFw0yNjAxMDEwMDAwMDBaFw0zNjAx"
        "MDEwMDAwMDBaMC8xLTArBgNVBAMMJGJyc2tpIGRlbW8gZG9tYWluIENBIChwbGFjZWhvbGRlcikwWTATBgcqhkjO"
        "PQIBBggqhkjOPQMBBwNCAAQ=\",\"nonce\":\"a2V5LW5vbmNlLTAxMjM0NTY3\"}}";

int bench_limit_measure(const char *key, const char *chain, const char *anchor, double cpu_seconds,
                        struct bench_limit *l)
{
	struct voucher_signer *s = NULL;
	struct voucher_trust *t = NULL;
	struct voucher_x509_chain *c = NULL;
	gnutls_privkey_t priv = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kd = {NULL, 0}, sig = {NULL, 0};
	gnutls_datum_t pl = {(unsigned char *)limit_payload, sizeof(limit_payload) - 1};
	uint8_t *cms = NULL;
	size_t cms_len = 0;
	voucher_err e;
	int rc = -1;

	if ((e = voucher_signer_load(&s, key, chain)) != VOUCHER_OK ||
	    (e = voucher_trust_new(&t)) != VOUCHER_OK ||
	    (e = voucher_trust_add_file(t, anchor)) != VOUCHER_OK ||
	    (e = voucher_x509_chain_load_file(chain, &c)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench: cannot load %s, %s or %s (%s)\n", key, chain, anchor,
		        voucher_strerror(e));
		goto out;
	}
	gnutls_datum_t der = {c->der[0], (unsigned)c->der_len[0]};
	if (gnutls_load_file(key, &kd) < 0 || gnutls_privkey_init(&priv) < 0 ||
	    gnutls_privkey_import_x509_raw(priv, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_privkey_sign_data(priv, GNUTLS_DIG_SHA256, 0, &pl, &sig) < 0) {
		fprintf(stderr, "brski bench: %s is not a key GnuTLS signs with\n", key);
		goto out;
	}
	if ((e = voucher_sign(VOUCHER_ENV_CMS, s, pl.data, pl.size, &cms, &cms_len)) !=
	    VOUCHER_OK) {
		fprintf(stderr, "brski bench: CMS signature failed (%s)\n", voucher_strerror(e));
		goto out;
	}
	/* Slices of 10 ms of each kind in turn until the budget is spent. */
	double spent = 0, start = bench_thread_cpu();
	while (spent < cpu_seconds) {
		double t0 = bench_thread_cpu(), t1;
		do {
			gnutls_datum_t sg = {NULL, 0};
			if (gnutls_privkey_sign_data(priv, GNUTLS_DIG_SHA256, 0, &pl, &sg) < 0)
				goto fail;
			gnutls_free(sg.data);
			l->n_raw_sign++;
		} while ((t1 = bench_thread_cpu()) - t0 < 0.01);
		l->raw_sign += t1 - t0;
		t0 = t1;
		do {
			if (gnutls_pubkey_verify_data2(
			            pub, gnutls_pk_to_sign(GNUTLS_PK_ECDSA, GNUTLS_DIG_SHA256), 0,
			            &pl, &sig) < 0)
				goto fail;
			l->n_raw_verify++;
		} while ((t1 = bench_thread_cpu()) - t0 < 0.01);
		l->raw_verify += t1 - t0;
		t0 = t1;
		do {
			uint8_t *o = NULL;
			size_t n = 0;
			if (voucher_sign(VOUCHER_ENV_CMS, s, pl.data, pl.size, &o, &n) !=
			    VOUCHER_OK)
				goto fail;
			free(o);
			l->n_cms_sign++;
		} while ((t1 = bench_thread_cpu()) - t0 < 0.01);
		l->cms_sign += t1 - t0;
		t0 = t1;
		do {
			struct voucher_verified *v = NULL;
			if (voucher_verify(VOUCHER_ENV_CMS, cms, cms_len, t, &v) != VOUCHER_OK)
				goto fail;
			voucher_verified_free(v);
			l->n_cms_verify++;
		} while ((t1 = bench_thread_cpu()) - t0 < 0.01);
		l->cms_verify += t1 - t0;
		spent += bench_thread_cpu() - start;
		start = bench_thread_cpu();
	}
	struct voucher_trust_stats st;
	voucher_trust_stats(t, &st);
	l->cache_hits += st.hits;
	l->cache_misses += st.misses;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "brski bench: a signature operation failed while measuring the limit\n");
out:
	free(cms);
	gnutls_free(sig.data);
	if (kd.data)
		gnutls_memset(kd.data, 0, kd.size);
	gnutls_free(kd.data);
	gnutls_privkey_deinit(priv);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	voucher_x509_chain_free(c);
	voucher_signer_free(s);
	voucher_trust_free(t);
	return rc;
}

/* One handshake step of a session on a non-blocking socket: 1 done, 0
 * again, -1 failed. */
static int hs_step(gnutls_session_t s)
{
	int rc = gnutls_handshake(s);
	if (rc == 0)
		return 1;
	return gnutls_error_is_fatal(rc) ? -1 : 0;
}

int bench_handshake_measure(const char *srv_chain, const char *srv_key, const char *client_chain,
                            const char *client_key, const char *client_ca, double cpu_seconds,
                            double *secs, unsigned long *count)
{
	gnutls_certificate_credentials_t sc = NULL, cc = NULL;
	int rc = -1;

	if (gnutls_certificate_allocate_credentials(&sc) < 0 ||
	    gnutls_certificate_set_x509_key_file(sc, srv_chain, srv_key, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_certificate_set_x509_trust_file(sc, client_ca, GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_certificate_allocate_credentials(&cc) < 0 ||
	    gnutls_certificate_set_x509_key_file(cc, client_chain, client_key,
	                                         GNUTLS_X509_FMT_PEM) < 0) {
		fprintf(stderr,
		        "brski bench: the TLS credentials for the handshake limit do not "
		        "load (%s, %s)\n",
		        srv_chain, client_chain);
		goto out;
	}
	double spent = 0;
	while (spent < cpu_seconds) {
		int sv[2];
		gnutls_session_t ss = NULL, cs = NULL;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			goto out;
		int ok = gnutls_init(&ss, GNUTLS_SERVER | GNUTLS_NONBLOCK) >= 0 &&
		         gnutls_init(&cs, GNUTLS_CLIENT | GNUTLS_NONBLOCK) >= 0 &&
		         gnutls_set_default_priority(ss) >= 0 &&
		         gnutls_set_default_priority(cs) >= 0 &&
		         gnutls_credentials_set(ss, GNUTLS_CRD_CERTIFICATE, sc) >= 0 &&
		         gnutls_credentials_set(cs, GNUTLS_CRD_CERTIFICATE, cc) >= 0;
		if (ok) {
			gnutls_certificate_server_set_request(ss, GNUTLS_CERT_REQUIRE);
			gnutls_transport_set_int(ss, sv[0]);
			gnutls_transport_set_int(cs, sv[1]);
		}
		/* The client's steps are not timed: only the server's side is
		 * the daemon's work. */
		int sdone = 0, cdone = 0, guard = 0;
		double t = 0;
		while (ok && !(sdone && cdone) && guard++ < 1000) {
			if (!cdone && (cdone = hs_step(cs)) < 0)
				ok = 0;
			double t0 = bench_thread_cpu();
			if (ok && !sdone && (sdone = hs_step(ss)) < 0)
				ok = 0;
			t += bench_thread_cpu() - t0;
		}
		unsigned status = 1;
		double t0 = bench_thread_cpu();
		if (ok && gnutls_certificate_verify_peers2(ss, &status) < 0)
			ok = 0;
		t += bench_thread_cpu() - t0;
		gnutls_deinit(ss);
		gnutls_deinit(cs);
		close(sv[0]);
		close(sv[1]);
		if (!ok || !sdone || !cdone || status != 0) {
			fprintf(stderr, "brski bench: the in-process TLS handshake failed\n");
			goto out;
		}
		*secs += t;
		(*count)++;
		spent += t;
	}
	rc = 0;
out:
	if (sc)
		gnutls_certificate_free_credentials(sc);
	if (cc)
		gnutls_certificate_free_credentials(cc);
	return rc;
}

static double per_op(double secs, unsigned long n)
{
	return n ? secs / (double)n : 0;
}

double bench_limit_vouchers(const struct bench_limit *l, unsigned verifies)
{
	double t = per_op(l->cms_sign, l->n_cms_sign) +
	           (double)verifies * per_op(l->cms_verify, l->n_cms_verify);
	return t > 0 ? 1.0 / t : 0;
}

void bench_limit_print(const struct bench_limit *l)
{
	printf("limit raw P-256 sign:   %8.0f/s per core (%lu, CPU time)\n",
	       1.0 / per_op(l->raw_sign, l->n_raw_sign), l->n_raw_sign);
	printf("limit raw P-256 verify: %8.0f/s per core (%lu, CPU time)\n",
	       1.0 / per_op(l->raw_verify, l->n_raw_verify), l->n_raw_verify);
	printf("limit CMS sign:         %8.0f/s per core (%lu, voucher_sign)\n",
	       1.0 / per_op(l->cms_sign, l->n_cms_sign), l->n_cms_sign);
	printf("limit CMS verify:       %8.0f/s per core (%lu, voucher_verify, chain cached)\n",
	       1.0 / per_op(l->cms_verify, l->n_cms_verify), l->n_cms_verify);
	printf("limit trust-list validation cache (bench): hits=%llu misses=%llu\n",
	       (unsigned long long)l->cache_hits, (unsigned long long)l->cache_misses);
}

static void crypto_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench crypto [--seconds N] [--pki DIR]\n\n"
	        "The machine's limit for the signature work of the daemons, per core in CPU\n"
	        "time: raw P-256 sign and verify, CMS voucher sign and verify (libvoucher,\n"
	        "chain validation cached), with the MASA voucher signer of DIR (default: a\n"
	        "fresh `brski pki init` in a temp dir). The last line is ratio=R, the CMS\n"
	        "verify cost over the raw verify cost. A report; it never fails on a number.\n");
}

int bench_crypto(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"seconds", required_argument, NULL, 's'},
	        {"pki", required_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t seconds = 2;
	const char *pki = NULL;
	char dir[512] = "", tmp_pki[600], key[1100], chain[1100], anchor[1100];
	struct bench_limit l;
	int c, ret = BRSKI_EXIT_IO;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (brski_str_to_u64(optarg, &seconds, BENCH_MAX_SECONDS) != VOUCHER_OK ||
			    seconds == 0) {
				fprintf(stderr, "brski bench crypto: --seconds takes 1..%d\n",
				        BENCH_MAX_SECONDS);
				return BRSKI_EXIT_USAGE;
			}
			break;
		case 'p':
			pki = optarg;
			break;
		case 'h':
			crypto_usage(stdout);
			return BRSKI_EXIT_OK;
		default:
			crypto_usage(stderr);
			return BRSKI_EXIT_USAGE;
		}
	}
	if (optind != argc || (pki && strlen(pki) > 1000)) {
		crypto_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (pki == NULL) {
		if (bench_tmp_pki(dir, sizeof(dir)) != 0) {
			bench_rm_tree(dir);
			return BRSKI_EXIT_IO;
		}
		snprintf(tmp_pki, sizeof(tmp_pki), "%s/pki", dir);
		pki = tmp_pki;
	}
	snprintf(key, sizeof(key), "%s/masa-sign.key", pki);
	snprintf(chain, sizeof(chain), "%s/masa-sign.chain.pem", pki);
	snprintf(anchor, sizeof(anchor), "%s/masa-ca.crt", pki);
	memset(&l, 0, sizeof(l));
	if (bench_limit_measure(key, chain, anchor, (double)seconds, &l) == 0) {
		bench_limit_print(&l);
		printf("masa limit: %.0f vouchers/s per core (1 CMS sign + 2 CMS verify)\n",
		       bench_limit_vouchers(&l, 2));
		printf("ratio=%.3f\n",
		       per_op(l.cms_verify, l.n_cms_verify) / per_op(l.raw_verify, l.n_raw_verify));
		ret = BRSKI_EXIT_OK;
	}
	if (dir[0])
		bench_rm_tree(dir);
	return ret;
}
