/*
 * brski bench masa|cloudreg: a daemon given by URL instead of one the
 * bench starts (issue 8: "started by bench from a fresh `brski pki init`,
 * or given by URL"). The options, their checks, and what they resolve to:
 * the listener's numeric host and port, the admin origin and token the
 * bench registers owners and devices with, and the `brski pki` dir of that
 * deployment (the manufacturer CA the pledges are made under, the owner's
 * registrar and domain CA, the TLS CA). The daemon's CPU time is known
 * only with --pid (a local daemon); without it the ratio is wall-clock
 * based, and the bench says so.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"
#include "tools/bench.h"

int bench_target_opt(struct bench_target *t, int c, const char *arg)
{
	switch (c) {
	case BENCH_OPT_URL:
		t->url = arg;
		return 1;
	case BENCH_OPT_ADMIN_URL:
		t->admin_url = arg;
		return 1;
	case BENCH_OPT_ADMIN_TOKEN:
		t->admin_token = arg;
		return 1;
	case BENCH_OPT_PKI:
		t->pki = arg;
		return 1;
	case BENCH_OPT_PID:
		if (brski_str_to_u64(arg, &t->pid, 4194304) != VOUCHER_OK || t->pid == 0)
			return -1;
		return 1;
	default:
		return 0;
	}
}

/* "https://IPv4:port" (anything after the authority ignored) into host and
 * port; the load generator connects to a numeric address. */
static int origin_split(const char *url, char *host, size_t hsize, uint16_t *port)
{
	char hp[128];
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	n = strcspn(url + 8, "/");
	if (n == 0 || n >= sizeof(hp))
		return -1;
	memcpy(hp, url + 8, n);
	hp[n] = '\0';
	return bench_split_hostport(hp, host, hsize, port);
}

int bench_target_check(const struct bench_target *t, const char *prog)
{
	char host[64];
	uint16_t port;

	if (!t->url) {
		if (t->admin_url || t->admin_token || t->pki || t->pid) {
			fprintf(stderr,
			        "%s: --admin-url, --admin-token, --pki and --pid go with --url\n",
			        prog);
			return -1;
		}
		return 0;
	}
	if (!t->admin_url || !t->admin_token || !t->pki) {
		fprintf(stderr,
		        "%s: --url needs --admin-url and --admin-token (owners and devices are "
		        "registered through the admin API) and --pki (that deployment's `brski "
		        "pki` "
		        "dir)\n",
		        prog);
		return -1;
	}
	if (strlen(t->url) > 200 || strlen(t->admin_url) > 200 || strlen(t->pki) > 500 ||
	    strlen(t->admin_token) > 190 || origin_split(t->url, host, sizeof(host), &port) < 0 ||
	    strncmp(t->admin_url, "https://", 8) != 0) {
		fprintf(stderr, "%s: --url and --admin-url are https://IPv4:port origins\n", prog);
		return -1;
	}
	return 0;
}

int bench_target_resolve(const struct bench_target *t, char *host, size_t hsize, uint16_t *port,
                         char *admin, size_t asize, char *token, size_t tsize)
{
	size_t n = strlen(t->admin_url);

	if (origin_split(t->url, host, hsize, port) < 0)
		return -1;
	while (n > 0 && t->admin_url[n - 1] == '/')
		n--;
	snprintf(admin, asize, "%.*s", (int)n, t->admin_url);
	snprintf(token, tsize, "%s", t->admin_token);
	return 0;
}

void bench_print_ratio(double per_cpu, double wall, double limit, int have_cpu, const char *what)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		ncpu = 1;
	if (have_cpu) {
		printf("ratio basis: %s per daemon CPU-second / limit per core\n", what);
		printf("ratio=%.3f\n", limit > 0 ? per_cpu / limit : 0.0);
	} else {
		printf("ratio basis: wall clock (no --pid: the daemon's CPU time is unknown): %s/s "
		       "/ "
		       "(limit per core x %ld cores)\n",
		       what, ncpu);
		printf("ratio=%.3f\n", limit > 0 ? wall / (limit * (double)ncpu) : 0.0);
	}
}

int bench_target_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/brski-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "brski bench: cannot make a temp dir %s\n", dir);
		dir[0] = '\0';
		return -1;
	}
	return 0;
}
