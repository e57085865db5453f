/*
 * What the daemon benchmarks (brski bench masa, cloudreg) share before the
 * load starts: their common options, the admin token of a fresh PKI, the
 * pre-generated requests of distinct pledges, and the daemon (started
 * from its configuration, or the running one given by --url).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "common/str.h"
#include "tools/bench.h"

int bench_run_opt(struct bench_run_opts *o, int c, const char *arg, uint64_t max_requests)
{
	switch (c) {
	case 's':
		return brski_str_to_u64(arg, &o->seconds, BENCH_MAX_SECONDS) == VOUCHER_OK &&
		                       o->seconds > 0
		               ? 1
		               : -1;
	case 'c':
		return brski_str_to_u64(arg, &o->conns, BENCH_MAX_CONNECTIONS) == VOUCHER_OK &&
		                       o->conns > 0
		               ? 1
		               : -1;
	case 'r':
		return brski_str_to_u64(arg, &o->nreq, max_requests) == VOUCHER_OK && o->nreq >= 10
		               ? 1
		               : -1;
	case 'd':
		snprintf(o->daemon, sizeof(o->daemon), "%s", arg);
		return 1;
	case 'k':
		o->keep = 1;
		return 1;
	default:
		return bench_target_opt(&o->tgt, c, arg);
	}
}

void bench_run_defaults(struct bench_run_opts *o, uint64_t requests_per_second, const char *name,
                        const char *subdir)
{
	/* two connections per core keep every core busy while one waits */
	if (o->conns == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->conns = (uint64_t)(n > 0 ? 2 * n : 4);
	}
	if (o->nreq == 0)
		o->nreq = requests_per_second * o->seconds;
	if (o->daemon[0] == '\0')
		bench_find_daemon(name, subdir, o->daemon, sizeof(o->daemon));
}

int bench_run_parse(int argc, char **argv, const struct option *opts, struct bench_run_opts *o,
                    uint64_t max_requests, const char *prog, void (*usage)(FILE *))
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (bench_run_opt(o, c, optarg, max_requests) <= 0) {
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || bench_target_check(&o->tgt, prog) < 0) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int bench_run_dirs(const struct bench_run_opts *o, char *dir, size_t dsize, char *pki, size_t psize)
{
	if (o->tgt.url ? bench_target_dir(dir, dsize) != 0 : bench_tmp_pki(dir, dsize) != 0)
		return -1;
	if (o->tgt.url)
		snprintf(pki, psize, "%s", o->tgt.pki);
	else
		snprintf(pki, psize, "%s/pki", dir);
	return 0;
}

int bench_read_token(const char *pki, char *token, size_t size)
{
	char path[700];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/admin-token", pki);
	if (!(f = fopen(path, "re"))) {
		fprintf(stderr, "brski bench: cannot read %s\n", path);
		return -1;
	}
	ok = fgets(token, (int)size, f) != NULL;
	fclose(f);
	if (!ok) {
		fprintf(stderr, "brski bench: %s is empty\n", path);
		return -1;
	}
	token[strcspn(token, "\r\n")] = '\0';
	return 0;
}

void bench_run_prefix(char *prefix, size_t size, const char *tag)
{
	uint32_t id = 0;

	/* Random, not the clock: two runs in one second against one store
	 * (a daemon given by URL) would otherwise share serials and owner. */
	if (gnutls_rnd(GNUTLS_RND_NONCE, &id, sizeof(id)) < 0)
		id = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	snprintf(prefix, size, "%s-%08" PRIx32 "-", tag, id);
}

int bench_gen_many(struct bench_gen *g, const char *tag, int pledge_only, size_t n,
                   struct bench_req **reqs, size_t *made, char *prefix, size_t psize)
{
	double t0 = bench_now();

	*made = 0;
	if (!(*reqs = calloc(n, sizeof(**reqs)))) {
		fprintf(stderr, "brski bench: out of memory for %zu requests\n", n);
		return -1;
	}
	bench_run_prefix(prefix, psize, tag);
	for (; *made < n; (*made)++) {
		char serial[64];
		snprintf(serial, sizeof(serial), "%s%07zu", prefix, *made);
		if (bench_gen_one(g, serial, pledge_only, &(*reqs)[*made]) < 0)
			return -1;
	}
	printf("%s: %zu pre-generated in %.1f s (distinct pledges, own IDevID and nonce each)\n",
	       pledge_only ? "pledges" : "requests", *made, bench_now() - t0);
	return 0;
}

int bench_daemon_up(const struct bench_run_opts *o, const char *conf, const char *log,
                    const char *cafile, const char *admin, pid_t *pid, pid_t *cpu_pid)
{
	char daemon[sizeof(o->daemon)], c_opt[] = "-c", conf_arg[700];
	char *argv[] = {daemon, c_opt, conf_arg, NULL};

	*pid = -1;
	if (o->tgt.url) {
		*cpu_pid = o->tgt.pid ? (pid_t)o->tgt.pid : -1;
		return 0;
	}
	snprintf(daemon, sizeof(daemon), "%s", o->daemon);
	snprintf(conf_arg, sizeof(conf_arg), "%s", conf);
	if (bench_run_logged(argv, log, pid) < 0)
		return -1;
	if (bench_wait_ready(*pid, cafile, admin, log) < 0) {
		bench_stop_daemon(*pid);
		*pid = -1;
		return -1;
	}
	*cpu_pid = *pid;
	return 0;
}

int bench_phase_run(struct bench_load *b, struct bench_req *reqs, size_t n, pid_t cpu_pid,
                    struct bench_phase *ph)
{
	double cpu0, cpu1;

	memset(ph, 0, sizeof(*ph));
	b->reqs = reqs;
	b->nreqs = n;
	ph->rss0 = bench_proc_status_kib(cpu_pid, "VmRSS");
	ph->anon0 = bench_proc_status_kib(cpu_pid, "RssAnon");
	cpu0 = bench_proc_cpu(cpu_pid);
	if (bench_load_run(b, &ph->r) < 0)
		return -1;
	cpu1 = bench_proc_cpu(cpu_pid);
	ph->rss1 = bench_proc_status_kib(cpu_pid, "VmRSS");
	ph->anon1 = bench_proc_status_kib(cpu_pid, "RssAnon");
	ph->cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : 0;
	return 0;
}
