/*
 * brski bench est: re-enrollment answered from cloudregd's certificate
 * cache (issued certificates are kept by the SHA-256 of the CSR's DER
 * until notAfter; cloudreg/enroll.c). cloudregd in the owner-registrar
 * role (local CA) from a fresh `brski pki init`, or an EST server given by
 * URL; N distinct pledges (IDevIDs under the manufacturer CA) enroll once
 * (simpleenroll, 202s waited out), then each pledge's identical CSR is
 * sent again as simplereenroll with its new LDevID as the TLS client
 * certificate, over keep-alive connections: every answer comes from the
 * cache.
 *
 * The limit, measured in the same run in process over a socketpair, is
 * what TLS alone costs the server to carry one such request and its answer
 * on a keep-alive connection (record decryption and encryption of the same
 * sizes; no handshake). The ratio is re-enrollments per daemon CPU-second
 * over that limit per core when the daemon's CPU time can be read (a local
 * daemon, or --pid); else wall-clock re-enrollments/s over the limit times
 * the online cores.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cloudreg/est.h"
#include "common/buf.h"
#include "common/str.h"
#include "tools/bench.h"
#include "tools/brski.h"
#include "tools/pki.h"

#define EST_MAX_PLEDGES 100000u
#define EST_MAX_CHAIN   8
#define EST_BODY_MAX    (256 * 1024)
#define EST_TRIES_202   60   /* Retry-After waits per pledge before giving up */
#define EST_BURST       200u /* requests per pledge before the connection moves on */
#define EST_GOAL        1000.0

/* One pledge: its IDevID on disk (for curl), its LDevID key, the CSR it
 * enrolls with and re-enrolls with, and the LDevID credential. */
struct est_pledge {
	char serial[PKI_SERIAL_MAX];
	struct pki_files idevid;
	gnutls_x509_privkey_t key;
	struct brski_buf csr_b64;
	size_t answer_len; /* the base64 PKCS#7 the enrollment returned */
};

static void pledge_free(struct est_pledge *p)
{
	if (p->key)
		gnutls_x509_privkey_deinit(p->key);
	brski_buf_free(&p->csr_b64);
}

/* A P-256 key and the base64 of a CSR for serial (subject CN and
 * serialNumber; the dNSName csrattrs offers when subdomain is set). */
static int make_csr(struct est_pledge *p, const char *subdomain)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t der = {NULL, 0};
	unsigned len = (unsigned)strlen(p->serial);
	char san[CREG_DNS_MAX + 1];
	int rc = -1;

	if (gnutls_x509_privkey_init(&p->key) < 0 ||
	    gnutls_x509_privkey_generate2(p->key, GNUTLS_PK_ECDSA,
	                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL,
	                                  0) < 0 ||
	    gnutls_x509_crq_init(&crq) < 0 || gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, p->serial, len) <
	            0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, p->serial, len) < 0 ||
	    gnutls_x509_crq_set_key(crq, p->key) < 0)
		goto out;
	if (subdomain && subdomain[0]) {
		if (creg_csr_san_for(p->serial, subdomain, san, sizeof(san)) != VOUCHER_OK ||
		    gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, san,
		                                         (unsigned)strlen(san),
		                                         GNUTLS_FSAN_APPEND) < 0)
			goto out;
	}
	if (gnutls_x509_crq_sign2(crq, p->key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    creg_b64_encode_body(der.data, der.size, &p->csr_b64) != VOUCHER_OK)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "brski bench est: cannot make the CSR of %s\n", p->serial);
	gnutls_free(der.data);
	gnutls_x509_crq_deinit(crq);
	return rc;
}

/* ---- the enrollment (libcurl, the IDevID as client certificate) -------- */

struct est_body {
	struct brski_buf *b;
	int overflow;
};

static size_t est_body_cb(char *data, size_t sz, size_t nm, void *ud)
{
	struct est_body *eb = ud;
	if (brski_buf_put(eb->b, (const uint8_t *)data, sz * nm) != VOUCHER_OK) {
		eb->overflow = 1;
		return 0;
	}
	return sz * nm;
}

/* POST the pledge's CSR to simpleenroll until the answer is not 202,
 * waiting the Retry-After each time; then the first certificate of the
 * PKCS#7 and its chain become the LDevID credential *cred. *n202 counts
 * the 202s. 0 or -1 with a message. */
static int enroll_one(struct est_pledge *p, const char *url, const char *cafile,
                      gnutls_certificate_credentials_t *cred, unsigned *n202)
{
	char full[600], err[300] = "";
	struct brski_buf body, der;
	struct est_body eb = {&body, 0};
	uint8_t *certs[EST_MAX_CHAIN] = {NULL};
	size_t lens[EST_MAX_CHAIN], n = 0;
	gnutls_x509_crt_t crts[EST_MAX_CHAIN];
	size_t ncrt = 0;
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	long status = 0;
	int rc = -1;

	brski_buf_init(&body, EST_BODY_MAX);
	brski_buf_init(&der, EST_BODY_MAX);
	snprintf(full, sizeof(full), "%s/.well-known/est/simpleenroll", url);
	h = curl_slist_append(h, "Content-Type: application/pkcs10");
	if (!c || !h)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, full);
	/* The given CA only: as a pledge trusts its one anchor, and libcurl
	 * with GnuTLS would otherwise also load /etc/ssl/certs on every new
	 * handle (about 28 ms here, most of an enrollment's time). */
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLCERT, p->idevid.chain);
	curl_easy_setopt(c, CURLOPT_SSLKEY, p->idevid.key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)p->csr_b64.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)p->csr_b64.len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, est_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &eb);
	for (unsigned tries = 0;; tries++) {
		CURLcode cc;
		curl_off_t ra = 0;
		brski_buf_reset(&body);
		if ((cc = curl_easy_perform(c)) != CURLE_OK) {
			fprintf(stderr, "brski bench est: simpleenroll of %s: %s\n", p->serial,
			        curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 202)
			break;
		if (tries >= EST_TRIES_202) {
			fprintf(stderr, "brski bench est: %s still 202 after %u tries\n", p->serial,
			        tries);
			goto out;
		}
		(*n202)++;
		curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra);
		struct timespec ts = {ra > 0 && ra < 60 ? (time_t)ra : 1, 0};
		nanosleep(&ts, NULL);
	}
	if (status != 200) {
		fprintf(stderr, "brski bench est: simpleenroll of %s answered %ld: %.*s\n",
		        p->serial, status, (int)(body.len > 300 ? 300 : body.len),
		        body.data ? (const char *)body.data : "");
		goto out;
	}
	p->answer_len = body.len;
	if (creg_b64_decode_body(body.data, body.len, &der) != VOUCHER_OK ||
	    creg_pkcs7_parse(der.data, der.len, certs, lens, EST_MAX_CHAIN, &n, err, sizeof(err)) !=
	            VOUCHER_OK ||
	    n == 0) {
		fprintf(stderr, "brski bench est: the answer to %s is not a certs-only PKCS#7 %s\n",
		        p->serial, err);
		goto out;
	}
	/* RFC 7030 4.2.3: the issued certificate first, then its chain. */
	for (; ncrt < n; ncrt++) {
		gnutls_datum_t d = {certs[ncrt], (unsigned)lens[ncrt]};
		if (gnutls_x509_crt_init(&crts[ncrt]) < 0)
			goto out;
		if (gnutls_x509_crt_import(crts[ncrt], &d, GNUTLS_X509_FMT_DER) < 0) {
			ncrt++;
			goto out;
		}
	}
	if (gnutls_certificate_allocate_credentials(cred) < 0)
		goto out;
	if (gnutls_certificate_set_x509_key(*cred, crts, (unsigned)ncrt, p->key) < 0) {
		fprintf(stderr, "brski bench est: the LDevID of %s is not for its key\n",
		        p->serial);
		gnutls_certificate_free_credentials(*cred);
		*cred = NULL;
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crts[i]);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	brski_buf_free(&body);
	brski_buf_free(&der);
	return rc;
}

/* ---- the limit: TLS on a keep-alive connection --------------------------- */

static int step_nb(gnutls_session_t s)
{
	int g = gnutls_handshake(s);
	if (g == 0)
		return 1;
	return gnutls_error_is_fatal(g) ? -1 : 0;
}

/* n bytes from s (non-blocking socketpair: the peer has sent them). */
static int recv_n(gnutls_session_t s, uint8_t *buf, size_t n)
{
	size_t have = 0;
	unsigned spins = 0;
	while (have < n) {
		ssize_t r = gnutls_record_recv(s, buf + have, n - have);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (++spins > 1000000)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	return 0;
}

static int send_n(gnutls_session_t s, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = gnutls_record_send(s, buf, n);
		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Server-side CPU seconds per request of req_len bytes and answer of
 * ans_len bytes over one established TLS session (the server credential
 * is any P-256 certificate: after the handshake it does not matter),
 * measured for about cpu_seconds; adds to *secs and *count. */
static int keepalive_measure(gnutls_certificate_credentials_t srv, size_t req_len, size_t ans_len,
                             double cpu_seconds, double *secs, unsigned long *count)
{
	gnutls_certificate_credentials_t cc = NULL;
	gnutls_session_t ss = NULL, cs = NULL;
	uint8_t *req = calloc(1, req_len), *ans = calloc(1, ans_len), *buf = NULL;
	int sv[2] = {-1, -1}, rc = -1, sz = 1 << 20;

	buf = malloc(req_len > ans_len ? req_len : ans_len);
	if (!req || !ans || !buf || gnutls_certificate_allocate_credentials(&cc) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		goto out;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (gnutls_init(&ss, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_init(&cs, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_set_default_priority(ss) < 0 || gnutls_set_default_priority(cs) < 0 ||
	    gnutls_credentials_set(ss, GNUTLS_CRD_CERTIFICATE, srv) < 0 ||
	    gnutls_credentials_set(cs, GNUTLS_CRD_CERTIFICATE, cc) < 0)
		goto out;
	gnutls_transport_set_int(ss, sv[0]);
	gnutls_transport_set_int(cs, sv[1]);
	int sdone = 0, cdone = 0;
	for (unsigned guard = 0; !(sdone && cdone); guard++) {
		if (guard > 100000 || (!cdone && (cdone = step_nb(cs)) < 0) ||
		    (!sdone && (sdone = step_nb(ss)) < 0))
			goto out;
	}
	/* TLS 1.3: the server's session tickets reach the client with its
	 * first read; one untimed exchange gets them out of the way. */
	double spent = 0;
	for (unsigned long k = 0; k == 0 || spent < cpu_seconds; k++) {
		if (send_n(cs, req, req_len) < 0)
			goto out;
		double t0 = bench_thread_cpu();
		if (recv_n(ss, buf, req_len) < 0 || send_n(ss, ans, ans_len) < 0)
			goto out;
		double t = bench_thread_cpu() - t0;
		if (recv_n(cs, buf, ans_len) < 0)
			goto out;
		if (k > 0) {
			*secs += t;
			(*count)++;
			spent += t;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "brski bench est: the in-process TLS keep-alive limit failed\n");
	if (ss)
		gnutls_deinit(ss);
	if (cs)
		gnutls_deinit(cs);
	if (cc)
		gnutls_certificate_free_credentials(cc);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(req);
	free(ans);
	free(buf);
	return rc;
}

/* ---- the run ------------------------------------------------------------- */

static void est_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench est [--seconds N] [--connections N] [--pledges N]\n"
	        "                       [--cloudregd PATH] [--keep]\n"
	        "       brski bench est --url URL --pki DIR [--cacert FILE] [--subdomain D]\n"
	        "                       [--admin-url URL --admin-token TOKEN] [--pid PID] ...\n\n"
	        "Re-enrollment answered from the certificate cache. Start cloudregd in the\n"
	        "owner-registrar role (local CA) from a fresh `brski pki init` (or use the EST\n"
	        "server at --url), enroll --pledges distinct pledges once (simpleenroll with an\n"
	        "IDevID under the manufacturer CA, 202s waited out), then send each pledge's\n"
	        "identical CSR as simplereenroll with its new LDevID as client certificate over\n"
	        "keep-alive TLS connections (%u requests per pledge, then the connection moves\n"
	        "to the next pledge), so every answer comes from the cache. Prints throughput\n"
	        "(goal >= %.0f/s), p50/p99 and the daemon's cache counters. The limit, measured\n"
	        "in the same run, is the server's TLS cost of carrying one such request and its\n"
	        "answer on a keep-alive connection. The last line is ratio=R: re-enrollments\n"
	        "per daemon CPU-second over that limit per core (with a local daemon or --pid);\n"
	        "else wall-clock re-enrollments/s over the limit times the cores.\n\n"
	        "options:\n"
	        "  --seconds N       run time (default 5)\n"
	        "  --connections N   keep-alive connections (default 2 x cores)\n"
	        "  --pledges N       pledges enrolled (default 4 x connections)\n"
	        "  --cloudregd PATH  the daemon to run\n"
	        "  --keep            keep the temp dir\n"
	        "  --url URL         an EST server (https://host:port, owner-registrar role) "
	        "instead\n"
	        "                    of starting one; no daemon is started\n"
	        "  --pki DIR         with --url: the deployment's `brski pki` dir (its\n"
	        "                    manufacturer-ca.crt/.key make the pledges' IDevIDs)\n"
	        "  --cacert FILE     with --url: verifies the server (default\n"
	        "                    DIR/owner-domain-ca.crt)\n"
	        "  --subdomain D     with --url: the dNSName suffix csrattrs offers (default "
	        "none)\n"
	        "  --admin-url URL, --admin-token TOKEN\n"
	        "                    with --url: read the cache counters from its /metrics\n"
	        "  --pid PID         with --url: the daemon's process, for its CPU time\n"
	        "  --prefix P        the pledges' serials are P000000, P000001, ... (default\n"
	        "                    est-XXXXXXXX-, random per run)\n"
	        "  --enroll-only     stop after the enrollments and print their rate (used by\n"
	        "                    tools/bench-acme.sh with an ACME CA backend)\n\n"
	        "exit status: 0 measured, 2 usage error, 3 setup failed.\n",
	        EST_BURST, EST_GOAL);
}

struct est_opts {
	uint64_t seconds, conns, npledges, pid;
	int keep, enroll_only;
	char daemon[1100];
	const char *prefix;
	const char *url, *pki, *cacert, *subdomain, *admin_url, *admin_token;
};

static int parse_opts(int argc, char **argv, struct est_opts *o)
{
	static const struct option opts[] = {
	        {"seconds", required_argument, NULL, 's'},
	        {"connections", required_argument, NULL, 'c'},
	        {"pledges", required_argument, NULL, 'n'},
	        {"cloudregd", required_argument, NULL, 'd'},
	        {"keep", no_argument, NULL, 'k'},
	        {"url", required_argument, NULL, 'u'},
	        {"pki", required_argument, NULL, 'p'},
	        {"cacert", required_argument, NULL, 'C'},
	        {"subdomain", required_argument, NULL, 'S'},
	        {"admin-url", required_argument, NULL, 'a'},
	        {"admin-token", required_argument, NULL, 't'},
	        {"pid", required_argument, NULL, 'P'},
	        {"enroll-only", no_argument, NULL, 'E'},
	        {"prefix", required_argument, NULL, 'x'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->seconds = 5;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (brski_str_to_u64(optarg, &o->seconds, BENCH_MAX_SECONDS) !=
			            VOUCHER_OK ||
			    o->seconds == 0)
				return -1;
			break;
		case 'c':
			if (brski_str_to_u64(optarg, &o->conns, BENCH_MAX_CONNECTIONS) !=
			            VOUCHER_OK ||
			    o->conns == 0)
				return -1;
			break;
		case 'n':
			if (brski_str_to_u64(optarg, &o->npledges, EST_MAX_PLEDGES) != VOUCHER_OK ||
			    o->npledges == 0)
				return -1;
			break;
		case 'd':
			snprintf(o->daemon, sizeof(o->daemon), "%s", optarg);
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'u':
			o->url = optarg;
			break;
		case 'p':
			o->pki = optarg;
			break;
		case 'C':
			o->cacert = optarg;
			break;
		case 'S':
			o->subdomain = optarg;
			break;
		case 'a':
			o->admin_url = optarg;
			break;
		case 't':
			o->admin_token = optarg;
			break;
		case 'P':
			if (brski_str_to_u64(optarg, &o->pid, 4194304) != VOUCHER_OK || o->pid == 0)
				return -1;
			break;
		case 'E':
			o->enroll_only = 1;
			break;
		case 'x':
			/* serials: PREFIX + 6 digits, a DNS label */
			if (strlen(optarg) == 0 || strlen(optarg) > 16 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
			            strlen(optarg))
				return -1;
			o->prefix = optarg;
			break;
		case 'h':
			est_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	/* By URL: where the pledges come from; the rest needs a URL. */
	if (o->url && (!o->pki || strlen(o->url) > 400 || strncmp(o->url, "https://", 8) != 0))
		return -1;
	if (!o->url && (o->pki || o->cacert || o->subdomain || o->admin_url || o->pid))
		return -1;
	if ((o->admin_url == NULL) != (o->admin_token == NULL))
		return -1;
	if (o->pki && strlen(o->pki) > 500)
		return -1;
	return 0;
}

static int read_token(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f || !fgets(out, (int)size, f)) {
		if (f)
			fclose(f);
		fprintf(stderr, "brski bench est: cannot read %s\n", path);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int bench_est(int argc, char **argv)
{
	struct est_opts o;
	char dir[512] = "", pki[600], conf[700], log[700], cafile[700], token[200] = "";
	char est_hp[128], admin_hp[128], host[64], url[512], admin[512] = "", subdomain[128] = "";
	uint16_t port = 0;
	pid_t pid = -1, cpu_pid = -1;
	struct pki_cred mfg = {0};
	struct est_pledge *pl = NULL;
	struct bench_req *reqs = NULL;
	size_t made = 0;
	int ret = BRSKI_EXIT_IO, r;

	if ((r = parse_opts(argc, argv, &o)) != 0) {
		if (r > 0)
			return BRSKI_EXIT_OK;
		est_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.conns == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.conns = (uint64_t)(n > 0 ? 2 * n : 4);
	}
	if (o.npledges == 0)
		o.npledges = 4 * o.conns;
	if (!o.url && o.daemon[0] == '\0')
		bench_find_daemon("cloudregd", "cloudreg", o.daemon, sizeof(o.daemon));

	/* Scratch files (the IDevIDs curl reads) and, locally, the PKI. */
	if (o.url) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/brski-bench-est-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "brski bench est: mkdtemp %s: %s\n", dir, strerror(errno));
			dir[0] = '\0';
			goto out;
		}
		snprintf(pki, sizeof(pki), "%s", o.pki);
		snprintf(url, sizeof(url), "%s", o.url);
		if (o.cacert)
			snprintf(cafile, sizeof(cafile), "%s", o.cacert);
		else
			snprintf(cafile, sizeof(cafile), "%s/owner-domain-ca.crt", pki);
		if (o.subdomain)
			snprintf(subdomain, sizeof(subdomain), "%s", o.subdomain);
		if (o.admin_url) {
			snprintf(admin, sizeof(admin), "%s", o.admin_url);
			snprintf(token, sizeof(token), "%s", o.admin_token);
		}
		cpu_pid = o.pid ? (pid_t)o.pid : -1;
		const char *hp = url + 8;
		size_t hl = strcspn(hp, "/");
		char hpb[128];
		if (hl >= sizeof(hpb)) {
			fprintf(stderr, "brski bench est: --url %s: host:port too long\n", url);
			goto out;
		}
		memcpy(hpb, hp, hl);
		hpb[hl] = '\0';
		url[8 + hl] = '\0'; /* the origin; the paths are EST's */
		if (bench_split_hostport(hpb, host, sizeof(host), &port) < 0) {
			fprintf(stderr,
			        "brski bench est: --url needs https://IPv4:port (the load "
			        "generator "
			        "connects to a numeric address), not %s\n",
			        o.url);
			ret = BRSKI_EXIT_USAGE;
			goto out;
		}
	} else {
		if (bench_tmp_pki(dir, sizeof(dir)) != 0)
			goto out;
		snprintf(pki, sizeof(pki), "%s/pki", dir);
		snprintf(conf, sizeof(conf), "%s/cloudregd-owner.conf", pki);
		snprintf(log, sizeof(log), "%s/cloudregd.log", dir);
		snprintf(cafile, sizeof(cafile), "%s/owner-domain-ca.crt", pki);
		char tf[700];
		snprintf(tf, sizeof(tf), "%s/admin-token", pki);
		if (bench_ini_get(conf, "est", "listen", est_hp, sizeof(est_hp)) < 0 ||
		    bench_ini_get(conf, "admin", "listen", admin_hp, sizeof(admin_hp)) < 0 ||
		    bench_split_hostport(est_hp, host, sizeof(host), &port) < 0 ||
		    read_token(tf, token, sizeof(token)) < 0) {
			fprintf(stderr, "brski bench est: %s lacks [est] or [admin] listen\n",
			        conf);
			goto out;
		}
		bench_ini_get(conf, "ca", "subdomain", subdomain, sizeof(subdomain));
		snprintf(url, sizeof(url), "https://%s", est_hp);
		snprintf(admin, sizeof(admin), "https://%s", admin_hp);
	}

	/* The manufacturer CA that signs the pledges' IDevIDs. */
	{
		char p[700];
		gnutls_datum_t d = {NULL, 0};
		int ok;
		snprintf(p, sizeof(p), "%s/manufacturer-ca.crt", pki);
		ok = gnutls_load_file(p, &d) >= 0 && gnutls_x509_crt_init(&mfg.crt) >= 0 &&
		     gnutls_x509_crt_import(mfg.crt, &d, GNUTLS_X509_FMT_PEM) >= 0;
		gnutls_free(d.data);
		d.data = NULL;
		snprintf(p, sizeof(p), "%s/manufacturer-ca.key", pki);
		ok = ok && gnutls_load_file(p, &d) >= 0 && gnutls_privkey_init(&mfg.key) >= 0 &&
		     gnutls_privkey_import_x509_raw(mfg.key, &d, GNUTLS_X509_FMT_PEM, NULL, 0) >= 0;
		if (d.data) {
			gnutls_memset(d.data, 0, d.size);
			gnutls_free(d.data);
		}
		if (!ok) {
			fprintf(stderr, "brski bench est: cannot load the manufacturer CA of %s\n",
			        pki);
			goto out;
		}
	}

	/* The pledges: IDevID, LDevID key and CSR each. */
	if (!(pl = calloc((size_t)o.npledges, sizeof(*pl))) ||
	    !(reqs = calloc((size_t)o.npledges, sizeof(*reqs)))) {
		fprintf(stderr, "brski bench est: out of memory\n");
		goto out;
	}
	char prefix[32];
	if (o.prefix)
		snprintf(prefix, sizeof(prefix), "%s", o.prefix);
	else
		bench_run_prefix(prefix, sizeof(prefix), "est");
	double tg = bench_now();
	for (; made < o.npledges; made++) {
		struct est_pledge *p = &pl[made];
		struct pki_cred *pc = NULL;
		struct pki_err perr;
		brski_buf_init(&p->csr_b64, CREG_CSR_MAX * 2);
		snprintf(p->serial, sizeof(p->serial), "%.16s%06zu", prefix, made % 1000000);
		struct pki_subject subj = {"brski bench", p->serial, p->serial, "127.0.0.1:1"};
		snprintf(p->idevid.crt, sizeof(p->idevid.crt), "%s/%s.crt", dir, p->serial);
		snprintf(p->idevid.chain, sizeof(p->idevid.chain), "%s/%s.chain.pem", dir,
		         p->serial);
		snprintf(p->idevid.key, sizeof(p->idevid.key), "%s/%s.key", dir, p->serial);
		voucher_err e = pki_cred_issue(PKI_PROFILE_IDEVID, &subj, PKI_KEY_P256, &mfg,
		                               time(NULL), &pc, &perr);
		if (e == VOUCHER_OK)
			e = pki_cred_write(pc, &mfg, &p->idevid, &perr);
		pki_cred_free(pc);
		if (e != VOUCHER_OK) {
			fprintf(stderr, "brski bench est: pledge %s: %s\n", p->serial, perr.msg);
			made++;
			goto out;
		}
		if (make_csr(p, subdomain) < 0) {
			made++;
			goto out;
		}
	}
	printf("pledges: %zu made in %.1f s (own IDevID, LDevID key and CSR each)\n", made,
	       bench_now() - tg);

	if (!o.url) {
		char *dargv[] = {o.daemon, "-c", conf, NULL};
		if (bench_run_logged(dargv, log, &pid) < 0 ||
		    bench_wait_ready(pid, cafile, admin, log) < 0) {
			pid = -1;
			goto out;
		}
		cpu_pid = pid;
		printf("daemon: %s (pid %d), owner-registrar role, local CA\n", o.daemon, (int)pid);
	} else {
		printf("daemon: given by URL %s%s\n", url,
		       cpu_pid > 0 ? " (its CPU time from /proc/PID)"
		                   : " (no --pid: wall clock only)");
	}

	/* Enrollment, once per pledge: after it the cache holds every CSR. */
	unsigned n202 = 0;
	size_t answer_len = 0;
	tg = bench_now();
	for (size_t i = 0; i < made; i++) {
		reqs[i].body = pl[i].csr_b64.data;
		reqs[i].len = pl[i].csr_b64.len;
		if (enroll_one(&pl[i], url, cafile, &reqs[i].cred, &n202) < 0)
			goto out;
		if (pl[i].answer_len > answer_len)
			answer_len = pl[i].answer_len;
	}
	double te = bench_now() - tg;
	printf("enrolled: %zu pledges in %.2f s (%u answers 202 waited out)\n", made, te, n202);
	if (o.enroll_only) {
		/* For tools/bench-acme.sh: the issuance rate through the CA
		 * backend is the measurement; there is no re-enrollment. */
		printf("enrollments/s: %.2f (one at a time, first request to certificate)\n",
		       te > 0 ? (double)made / te : 0.0);
		ret = BRSKI_EXIT_OK;
		goto out;
	}

	/* The limit, before and after the load: the request as sent (head and
	 * base64 CSR) and the answer (head and base64 PKCS#7). */
	size_t req_len = 200 + reqs[0].len, ans_len = 200 + answer_len;
	double ka_secs = 0, lim_s = o.seconds >= 4 ? 0.5 : 0.15 * (double)o.seconds;
	unsigned long ka_n = 0;
	if (keepalive_measure(reqs[0].cred, req_len, ans_len, lim_s, &ka_secs, &ka_n) < 0)
		goto out;

	struct bench_load b = {
	        .host = host,
	        .port = port,
	        .path = "/.well-known/est/simplereenroll",
	        .content_type = "application/pkcs10",
	        .accept = CREG_EST_PKCS7_TYPE,
	        .cafile = cafile,
	        .connections = (unsigned)o.conns,
	        .seconds = 1,
	        .reqs = reqs,
	        .nreqs = made,
	        .replay = made,
	        .burst = EST_BURST,
	};
	struct bench_result wr, pr;
	if (bench_load_run(&b, &wr) < 0)
		goto out;
	if (wr.ok == 0) {
		fprintf(stderr, "brski bench est: the warm-up had no success: status %u: %.200s\n",
		        wr.first_status, wr.first_error);
		ret = BRSKI_EXIT_BAD;
		goto out;
	}
	double cpu0 = cpu_pid > 0 ? bench_proc_cpu(cpu_pid) : -1;
	b.seconds = (double)o.seconds;
	/* Enough sends for the run at well above the goal; the clock ends it. */
	b.replay = (size_t)(20000 * o.seconds) + 10 * made;
	if (bench_load_run(&b, &pr) < 0)
		goto out;
	double cpu1 = cpu_pid > 0 ? bench_proc_cpu(cpu_pid) : -1;
	if (keepalive_measure(reqs[0].cred, req_len, ans_len, lim_s, &ka_secs, &ka_n) < 0)
		goto out;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double limit = ka_secs > 0 ? (double)ka_n / ka_secs : 0;
	double wall = pr.wall > 0 ? (double)pr.ok / pr.wall : 0;
	double dcpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
	double per_cpu = dcpu > 0 ? (double)pr.ok / dcpu : 0;
	printf("limit TLS keep-alive round trip (server side, in process, %zu-byte request, "
	       "%zu-byte answer): %.0f/s per core (%lu)\n",
	       req_len, ans_len, limit, ka_n);
	printf("est: %zu re-enrollments (%zu failed) in %.2f s over %llu keep-alive connections "
	       "(%u handshakes, %zu pledges)\n",
	       pr.ok, pr.failed, pr.wall, (unsigned long long)o.conns, pr.handshakes, made);
	if (pr.failed > 0)
		printf("first failure: status %u: %.200s\n", pr.first_status, pr.first_error);
	if (dcpu > 0)
		printf("est throughput: %.0f re-enrollments/s wall (goal >= %.0f/s), %.0f per "
		       "daemon "
		       "CPU-second (%.2f CPU s)\n",
		       wall, EST_GOAL, per_cpu, dcpu);
	else
		printf("est throughput: %.0f re-enrollments/s wall (goal >= %.0f/s), daemon CPU "
		       "unknown\n",
		       wall, EST_GOAL);
	printf("est latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", pr.p50_ms, pr.p99_ms,
	       pr.max_ms);
	if (admin[0])
		bench_print_daemon_caches(cafile, token, admin);
	else
		printf("daemon cache: no --admin-url, counters not read\n");
	if (dcpu > 0) {
		printf("ratio basis: re-enrollments per daemon CPU-second / TLS keep-alive round "
		       "trips per core\n");
		printf("ratio=%.3f\n", limit > 0 ? per_cpu / limit : 0.0);
	} else {
		printf("ratio basis: wall clock: re-enrollments/s / (TLS keep-alive round trips "
		       "per "
		       "core x %ld cores)\n",
		       ncpu > 0 ? ncpu : 1);
		printf("ratio=%.3f\n",
		       limit > 0 ? wall / (limit * (double)(ncpu > 0 ? ncpu : 1)) : 0.0);
	}
	ret = pr.ok > 0 ? BRSKI_EXIT_OK : BRSKI_EXIT_BAD;
out:
	bench_stop_daemon(pid);
	if (ret != BRSKI_EXIT_OK && pid > 0)
		bench_print_file(log);
	for (size_t i = 0; reqs && i < made; i++) {
		reqs[i].body = NULL; /* owned by the pledge */
		if (reqs[i].cred)
			gnutls_certificate_free_credentials(reqs[i].cred);
	}
	free(reqs);
	for (size_t i = 0; pl && i < made; i++)
		pledge_free(&pl[i]);
	free(pl);
	if (mfg.key)
		gnutls_privkey_deinit(mfg.key);
	if (mfg.crt)
		gnutls_x509_crt_deinit(mfg.crt);
	if (o.keep)
		fprintf(stderr, "brski bench est: kept %s\n", dir);
	else
		bench_rm_tree(dir);
	return ret;
}
