/*
 * brski bench: internals shared by tools/cmd-bench.c (dispatch, `bench
 * voucher`), tools/bench-crypto.c (the machine's limit for the signature
 * work, measured in the same run), tools/bench-load.c (the loopback
 * HTTPS load generator), tools/bench-masa.c (`bench masa`: a masad
 * from a fresh `brski pki init`, devices through the admin API,
 * pre-generated requests), tools/bench-cloudreg.c, tools/bench-est.c
 * (`bench est`: re-enrollment from the certificate cache),
 * tools/bench-store.c and tools/bench-target.c (a daemon given by URL).
 */
#ifndef BRSKI_TOOL_BENCH_H
#define BRSKI_TOOL_BENCH_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

#include <voucher/sign.h>
#include <voucher/voucher.h>

#include "tools/pki.h"

#define BENCH_MAX_SECONDS     3600
#define BENCH_MAX_CONNECTIONS 256

double bench_now(void);        /* CLOCK_MONOTONIC seconds */
double bench_thread_cpu(void); /* this thread's CPU seconds */

/* ---- the limit (bench-crypto.c) ------------------------------------------ */

/* CPU seconds per operation, measured on this machine in this run. */
struct bench_limit {
	double raw_sign, raw_verify; /* gnutls_privkey_sign_data / pubkey_verify_data2 */
	double cms_sign, cms_verify; /* voucher_sign / voucher_verify (chain cached) */
	unsigned long n_raw_sign, n_raw_verify, n_cms_sign, n_cms_verify;
	uint64_t cache_hits, cache_misses; /* the bench's own trust list */
};

/* Measure for about cpu_seconds of this thread's CPU, in interleaved
 * slices, signing with the key/chain files and verifying against anchor.
 * Adds to *l (so a run can measure before and after its load). 0 or -1
 * with a message on stderr. */
int bench_limit_measure(const char *key, const char *chain, const char *anchor, double cpu_seconds,
                        struct bench_limit *l);
/* Per-core vouchers/s for one CMS signature and `verifies` CMS
 * verifications. */
double bench_limit_vouchers(const struct bench_limit *l, unsigned verifies);
void bench_limit_print(const struct bench_limit *l);

/* ---- the load generator (bench-load.c) -------------------------------- */

struct bench_req {
	uint8_t *body;
	size_t len;
	/* With bench_load.fresh: the TLS client credential of this request's
	 * own connection (a pledge's IDevID), owned here; else NULL. */
	gnutls_certificate_credentials_t cred;
};
/* Free n requests and the array (NULL is a no-op). */
void bench_reqs_free(struct bench_req *reqs, size_t n);

struct bench_load {
	const char *host; /* numeric loopback address */
	uint16_t port;
	const char *path, *content_type, *accept;
	const char *cafile;           /* verifies the server */
	const char *cert_chain, *key; /* TLS client credential, or NULL */
	unsigned connections;         /* threads, one keep-alive connection each */
	double seconds;               /* wall-clock bound */
	const struct bench_req *reqs; /* each sent at most once */
	size_t nreqs;
	double rate; /* requests/s over all connections; 0: open throttle */
	int fresh;   /* a new connection (and handshake) per request */
	/* replay > 0: that many sends in all, replaying reqs[] (`bench est`:
	 * a pledge's identical request). Connection k sends reqs[k] with its
	 * cred as the client certificate over one keep-alive connection,
	 * `burst` times, then reqs[k + connections], and so on round. */
	size_t replay;
	unsigned burst;
};

struct bench_result {
	size_t sent, ok, failed; /* ok: 2xx or 3xx */
	unsigned handshakes;
	unsigned first_status; /* the first non-2xx status, 0 if none */
	char first_error[256]; /* its body or the transport error */
	double wall;           /* seconds from the first send to the last answer */
	double p50_ms, p99_ms, max_ms;
};

/* Send the requests (each once, in order over all connections) until they
 * are used up or `seconds` pass. 0, or -1 when no connection could be
 * made (message on stderr). */
int bench_load_run(const struct bench_load *b, struct bench_result *r);

/* ---- the daemon ---------------------------------------------------------- */

/* utime+stime of pid in seconds (/proc/PID/stat); -1 on failure. */
double bench_proc_cpu(pid_t pid);
/* A field of /proc/PID/status in KiB ("VmRSS", "RssAnon"); 0 on failure. */
unsigned long bench_proc_status_kib(pid_t pid, const char *field);

/* A fresh `brski pki init` (this program, run as a child) in a new temp
 * directory written to dir; 0, or -1 with a message on stderr. */
int bench_tmp_pki(char *dir, size_t size);
/* Remove a directory made by bench_tmp_pki and everything in it. */
void bench_rm_tree(const char *dir);

/* ---- daemons and requests (bench-masa.c) ------------------------------- */

/* Run argv with stdout and stderr appended to log: in the background
 * (*bg gets the pid, returns 0) or waited for (its exit status). -1 when
 * it cannot run. */
int bench_run_logged(char *const argv[], const char *log, pid_t *bg);
void bench_print_file(const char *path); /* to stderr */
/* An admin API call with the bearer token and a JSON body (or NULL): the
 * HTTP status or -1; *out the body (caller frees) when out != NULL. */
long bench_admin_call(const char *cafile, const char *token, const char *method, const char *url,
                      const char *json, char **out);
int bench_ini_get(const char *path, const char *section, const char *key, char *out, size_t size);
int bench_split_hostport(const char *hp, char *host, size_t size, uint16_t *port);
/* The daemon `name` next to this program in the build tree (../subdir),
 * else the bare name for a PATH search. */
void bench_find_daemon(const char *name, const char *subdir, char *out, size_t size);
void bench_stop_daemon(pid_t pid);
int bench_wait_ready(pid_t pid, const char *cafile, const char *admin, const char *log);
void bench_print_daemon_caches(const char *cafile, const char *token, const char *admin);
/* An owner named after prefix (domain CA of pki, registrar_url or NULL) and devices
 * prefix0000000.. prefix(n-1) through POST /devices/import. */
int bench_register_devices(const char *cafile, const char *token, const char *admin,
                           const char *pki, const char *registrar_url, const char *prefix,
                           size_t n);

/* Pledges made on the fly under the manufacturer CA of a pki. */
struct bench_gen {
	struct pki_cred mfg;              /* the manufacturer CA (crt and key) */
	struct voucher_signer *registrar; /* the owner's registrar */
	uint8_t *reg_der;                 /* the registrar the pledges claim proximity to */
	size_t reg_der_len;
	char masa_authority[128];
	char dir[700]; /* scratch files for each pledge's key and chain */
};
int bench_gen_init(struct bench_gen *g, const char *pki, const char *scratch, const char *masa_hp,
                   const char *proximity_chain);
void bench_gen_free(struct bench_gen *g);
/* A new pledge `serial` and its CMS voucher-request with a random nonce:
 * pledge_only, the request with the IDevID as out->cred; else wrapped in
 * a registrar voucher-request signed as the owner's registrar. */
int bench_gen_one(struct bench_gen *g, const char *serial, int pledge_only, struct bench_req *out);

/* Server-side CPU seconds per mutual-TLS handshake (ECDHE, the server
 * certificate chain/key, a client certificate validated against
 * client_ca), measured in process over a socketpair; adds to *secs and
 * *count. 0 or -1. */
int bench_handshake_measure(const char *srv_chain, const char *srv_key, const char *client_chain,
                            const char *client_key, const char *client_ca, double cpu_seconds,
                            double *secs, unsigned long *count);

/* ---- a daemon given by URL (bench-target.c) ----------------------------- */

struct bench_target {
	const char *url;         /* the daemon's [brski] listener; NULL: start one */
	const char *admin_url;   /* its admin API origin */
	const char *admin_token; /* a bearer token with write scope */
	const char *pki;         /* the deployment's `brski pki` dir */
	uint64_t pid;            /* its process, for its CPU time; 0: unknown */
};
enum {
	BENCH_OPT_URL = 0x100,
	BENCH_OPT_ADMIN_URL,
	BENCH_OPT_ADMIN_TOKEN,
	BENCH_OPT_PKI,
	BENCH_OPT_PID,
};
#define BENCH_TARGET_OPTIONS                                                                       \
	{"url", required_argument, NULL, BENCH_OPT_URL},                                           \
	        {"admin-url", required_argument, NULL, BENCH_OPT_ADMIN_URL},                       \
	        {"admin-token", required_argument, NULL, BENCH_OPT_ADMIN_TOKEN},                   \
	        {"pki", required_argument, NULL, BENCH_OPT_PKI},                                   \
	{                                                                                          \
		"pid", required_argument, NULL, BENCH_OPT_PID                                      \
	}
#define BENCH_TARGET_USAGE                                                                         \
	"  --url URL        a running daemon's listener (https://IPv4:port): no daemon is\n"       \
	"                   started; needs --admin-url, --admin-token, --pki\n"                    \
	"  --admin-url URL  its admin API (owners and devices are registered there)\n"             \
	"  --admin-token T  a bearer token with write scope\n"                                     \
	"  --pki DIR        its `brski pki` dir (manufacturer CA, owner registrar, CAs)\n"         \
	"  --pid PID        its process, for its CPU time (without: a wall-clock ratio)\n"
/* 1 when c was a target option (stored), 0 when not one, -1 bad value. */
int bench_target_opt(struct bench_target *t, int c, const char *arg);
/* 0, or -1 with a message naming prog when the options do not go together. */
int bench_target_check(const struct bench_target *t, const char *prog);
/* The listener's host and port, the admin origin and the token. 0 or -1. */
int bench_target_resolve(const struct bench_target *t, char *host, size_t hsize, uint16_t *port,
                         char *admin, size_t asize, char *token, size_t tsize);
/* A scratch temp dir (the pledges' files) when no pki is made. 0 or -1. */
int bench_target_dir(char *dir, size_t size);
/* The last two lines: the basis of the ratio and ratio=R, per daemon
 * CPU-second over the per-core limit when have_cpu, else wall-clock rate
 * over the limit times the online cores. */
void bench_print_ratio(double per_cpu, double wall, double limit, int have_cpu, const char *what);

/* ---- the daemon benchmarks' setup (tools/bench-setup.c) ---- */

/* The options brski bench masa and cloudreg share: --seconds ('s'),
 * --connections ('c'), --requests ('r'), the daemon's path ('d'), --keep
 * ('k') and the target options of a daemon given by URL. */
#define BENCH_RUN_OPTIONS(daemon_option)                                                           \
	{"seconds", required_argument, NULL, 's'}, {"connections", required_argument, NULL, 'c'},  \
	        {"requests", required_argument, NULL, 'r'},                                        \
	        {daemon_option, required_argument, NULL, 'd'}, {"keep", no_argument, NULL, 'k'},   \
	        {"help", no_argument, NULL, 'h'}, BENCH_TARGET_OPTIONS
struct bench_run_opts {
	uint64_t seconds, conns, nreq;
	char daemon[1100];
	int keep;
	struct bench_target tgt;
};
/* 1 when c was one of those options (stored), 0 when not one, -1 bad value;
 * at most max_requests requests. */
int bench_run_opt(struct bench_run_opts *o, int c, const char *arg, uint64_t max_requests);
/* Parse argv with opts (BENCH_RUN_OPTIONS and nothing else), check the
 * target options together, and fill the defaults (bench_run_defaults).
 * 0: go on; 1: --help was printed with usage; -1: a usage error (said). */
int bench_run_parse(int argc, char **argv, const struct option *opts, struct bench_run_opts *o,
                    uint64_t max_requests, const char *prog, void (*usage)(FILE *));
/* The run's temp dir (a fresh `brski pki init` in it, or a scratch dir with
 * --url) and the PKI dir in use (dir/pki, or --pki). 0 or -1 (said). */
int bench_run_dirs(const struct bench_run_opts *o, char *dir, size_t dsize, char *pki,
                   size_t psize);
/* Fill what the options left unset: two connections per core,
 * requests_per_second x seconds requests, the daemon called name found
 * next to brski in the build tree (subdir) or on PATH. */
void bench_run_defaults(struct bench_run_opts *o, uint64_t requests_per_second, const char *name,
                        const char *subdir);
/* The bootstrap admin token of a `brski pki init` dir. 0 or -1 (said). */
int bench_read_token(const char *pki, char *token, size_t size);
/* "<tag>-<8 random hex digits>-": the serial prefix of one run, distinct
 * from any other run's on the same store. */
void bench_run_prefix(char *prefix, size_t size, const char *tag);
/* n requests of distinct pledges named "<prefix><seq>" (the serial
 * prefix is returned for registering them); pledge_only as bench_gen_one.
 * *reqs is allocated even on failure, with *made requests in it. */
int bench_gen_many(struct bench_gen *g, const char *tag, int pledge_only, size_t n,
                   struct bench_req **reqs, size_t *made, char *prefix, size_t psize);
/* Start o->daemon -c conf (its output to log) and wait until its admin API
 * answers; with --url, nothing to start. *pid is what to stop (-1 for
 * none), *cpu_pid the process whose CPU time counts (-1: unknown). */
/* One measured load phase: the requests reqs[0..n) through b, with the
 * daemon's CPU seconds (-1 unknown) and resident memory around it. */
struct bench_phase {
	struct bench_result r;
	double cpu;                 /* daemon CPU seconds during the phase, 0 unknown */
	unsigned long rss0, rss1;   /* VmRSS KiB before and after */
	unsigned long anon0, anon1; /* RssAnon KiB before and after */
};
int bench_phase_run(struct bench_load *b, struct bench_req *reqs, size_t n, pid_t cpu_pid,
                    struct bench_phase *ph);
int bench_daemon_up(const struct bench_run_opts *o, const char *conf, const char *log,
                    const char *cafile, const char *admin, pid_t *pid, pid_t *cpu_pid);

int bench_cloudreg(int argc, char **argv);
int bench_masa(int argc, char **argv);
int bench_crypto(int argc, char **argv);
int bench_store(int argc, char **argv);
int bench_est(int argc, char **argv);

#endif
