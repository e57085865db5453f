/*
 * brski bench store: the cost of a device lookup (store_device_get of a
 * random serial) in a store of many devices against the same in a store
 * of few, both filled in the same run through the store API (bulk inserts
 * in transactions). The last line is ratio=R, the large store's lookup
 * cost over the small store's; the goal is at most 1.2 (an index, not a
 * scan).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/str.h"
#include "service/store.h"
#include "tools/bench.h"
#include "tools/brski.h"

#define STORE_MAX_DEVICES 100000000u
#define STORE_TX_ROWS     10000u /* rows per transaction while filling */

/* A placeholder CA: the store keeps the text, it does not parse it. */
static const char bench_ca_pem[] = "-----BEGIN CERTIFICATE-----\nYmVuY2g=\n"
                                   "-----END CERTIFICATE-----\n";

static void serial_of(char *out, size_t size, uint64_t i)
{
	snprintf(out, size, "bench-%010llu", (unsigned long long)i);
}

static int fill(struct store *s, uint64_t n, double *secs)
{
	char err[STORE_ERRLEN], serial[32];
	struct store_owner o = {.name = "bench", .domain_ca_pem = (char *)bench_ca_pem};
	voucher_err e;
	double t0 = bench_now();

	if ((e = store_owner_put(s, &o, STORE_PUT_UPSERT, err, sizeof(err))) != VOUCHER_OK) {
		fprintf(stderr, "brski bench store: owner: %s\n", err);
		return -1;
	}
	for (uint64_t i = 0; i < n;) {
		struct store *tx = NULL;
		if ((e = store_begin(s, &tx, err, sizeof(err))) != VOUCHER_OK) {
			fprintf(stderr, "brski bench store: begin: %s\n", err);
			return -1;
		}
		for (uint64_t k = 0; k < STORE_TX_ROWS && i < n; k++, i++) {
			struct store_device d = {.serial = serial, .owner = "bench"};
			serial_of(serial, sizeof(serial), i);
			if ((e = store_device_put(tx, &d, STORE_PUT_CREATE, err, sizeof(err))) !=
			    VOUCHER_OK) {
				fprintf(stderr, "brski bench store: device %s: %s\n", serial, err);
				store_rollback(tx);
				return -1;
			}
		}
		if ((e = store_commit(tx, err, sizeof(err))) != VOUCHER_OK) {
			fprintf(stderr, "brski bench store: commit: %s\n", err);
			return -1;
		}
	}
	*secs = bench_now() - t0;
	return 0;
}

/* Lookups of random serials among the first n for about `slice` CPU
 * seconds; adds the CPU time and count. */
static int lookups(struct store *s, uint64_t n, double slice, double *cpu, unsigned long *count)
{
	char err[STORE_ERRLEN], serial[32];
	uint64_t rnd[64];
	double t0 = bench_thread_cpu(), t1;
	unsigned k = 64;

	do {
		if (k == 64) {
			if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
				return -1;
			k = 0;
		}
		struct store_device d;
		memset(&d, 0, sizeof(d));
		serial_of(serial, sizeof(serial), rnd[k++] % n);
		voucher_err e = store_device_get(s, serial, NULL, &d, err, sizeof(err));
		store_device_clear(&d);
		if (e != VOUCHER_OK) {
			fprintf(stderr, "brski bench store: lookup %s: %s\n", serial, err);
			return -1;
		}
		(*count)++;
	} while ((t1 = bench_thread_cpu()) - t0 < slice);
	*cpu += t1 - t0;
	return 0;
}

static void store_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench store [--devices N] [--small N] [--seconds N]\n"
	        "                         [--database URI --database-small URI]\n\n"
	        "Fill two stores through the store API (bulk inserts, %u rows per\n"
	        "transaction): one with --devices (default 100000), one with --small (default\n"
	        "10000) devices; then look up random serials in both, in alternating slices of\n"
	        "CPU time. The last line is ratio=R: the large store's lookup cost over the\n"
	        "small one's. Default: two SQLite files in a temp dir; --database and\n"
	        "--database-small name empty databases to use instead (e.g. PostgreSQL URIs).\n"
	        "A report, never a verdict.\n",
	        STORE_TX_ROWS);
}

int bench_store(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"devices", required_argument, NULL, 'd'},
	        {"small", required_argument, NULL, 'm'},
	        {"seconds", required_argument, NULL, 's'},
	        {"database", required_argument, NULL, 'D'},
	        {"database-small", required_argument, NULL, 'S'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t big = 100000, small = 10000, seconds = 2;
	const char *db_big = NULL, *db_small = NULL;
	char dir[512] = "", pb[600], ps[600], err[STORE_ERRLEN];
	struct store *sb = NULL, *ss = NULL;
	int c, ret = BRSKI_EXIT_IO;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (brski_str_to_u64(optarg, &big, STORE_MAX_DEVICES) != VOUCHER_OK ||
			    big == 0)
				goto usage;
			break;
		case 'm':
			if (brski_str_to_u64(optarg, &small, STORE_MAX_DEVICES) != VOUCHER_OK ||
			    small == 0)
				goto usage;
			break;
		case 's':
			if (brski_str_to_u64(optarg, &seconds, BENCH_MAX_SECONDS) != VOUCHER_OK ||
			    seconds == 0)
				goto usage;
			break;
		case 'D':
			db_big = optarg;
			break;
		case 'S':
			db_small = optarg;
			break;
		case 'h':
			store_usage(stdout);
			return BRSKI_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (optind != argc || (db_big == NULL) != (db_small == NULL))
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (db_big == NULL) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/brski-bench-store-XXXXXX",
		         tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "brski bench store: cannot make a temp dir\n");
			dir[0] = '\0';
			goto out;
		}
		snprintf(pb, sizeof(pb), "%s/large.db", dir);
		snprintf(ps, sizeof(ps), "%s/small.db", dir);
		db_big = pb;
		db_small = ps;
	}
	if (store_open(db_big, &sb, err, sizeof(err)) != VOUCHER_OK ||
	    store_open(db_small, &ss, err, sizeof(err)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench store: %s\n", err);
		goto out;
	}
	double tb = 0, ts = 0;
	if (fill(ss, small, &ts) < 0 || fill(sb, big, &tb) < 0)
		goto out;
	printf("filled: %llu devices in %.1f s (%.0f/s), %llu devices in %.1f s (%.0f/s)\n",
	       (unsigned long long)big, tb, (double)big / tb, (unsigned long long)small, ts,
	       (double)small / ts);
	double cb = 0, cs = 0, end = bench_now() + (double)seconds;
	unsigned long nb = 0, ns = 0;
	/* Warm both (page cache, prepared statements), then alternate. */
	if (lookups(sb, big, 0.05, &(double){0}, &(unsigned long){0}) < 0 ||
	    lookups(ss, small, 0.05, &(double){0}, &(unsigned long){0}) < 0)
		goto out;
	while (bench_now() < end)
		if (lookups(sb, big, 0.02, &cb, &nb) < 0 || lookups(ss, small, 0.02, &cs, &ns) < 0)
			goto out;
	double ub = cb / (double)nb * 1e6, us = cs / (double)ns * 1e6;
	printf("lookup, %llu devices: %.1f us CPU (%lu lookups)\n", (unsigned long long)big, ub,
	       nb);
	printf("lookup, %llu devices: %.1f us CPU (%lu lookups)\n", (unsigned long long)small, us,
	       ns);
	printf("ratio=%.3f\n", ub / us);
	ret = BRSKI_EXIT_OK;
out:
	store_close(sb);
	store_close(ss);
	if (dir[0])
		bench_rm_tree(dir);
	return ret;
usage:
	store_usage(stderr);
	return BRSKI_EXIT_USAGE;
}
