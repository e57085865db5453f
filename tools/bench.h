/*
 * brski bench: internals shared by tools/cmd-bench.c (dispatch, `bench
 * voucher`), tools/bench-crypto.c (the machine's limit for the signature
 * work, measured in the same run), tools/bench-load.c (the loopback
 * HTTPS load generator) and tools/bench-masa.c (`bench masa`: a masad
 * from a fresh `brski pki init`, devices through the admin API,
 * pre-generated requests).
 */
#ifndef BRSKI_TOOL_BENCH_H
#define BRSKI_TOOL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <voucher/sign.h>

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
};

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
};

struct bench_result {
	size_t sent, ok, failed; /* ok: 2xx */
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
/* VmRSS of pid in KiB; 0 on failure. */
unsigned long bench_proc_rss_kib(pid_t pid);

/* A fresh `brski pki init` (this program, run as a child) in a new temp
 * directory written to dir; 0, or -1 with a message on stderr. */
int bench_tmp_pki(char *dir, size_t size);
/* Remove a directory made by bench_tmp_pki and everything in it. */
void bench_rm_tree(const char *dir);

int bench_masa(int argc, char **argv);
int bench_crypto(int argc, char **argv);
int bench_store(int argc, char **argv);

#endif
