/*
 * brski bench cloudreg: cloudregd (role cloud) from a fresh `brski pki
 * init`, an owner with a registrar URL and distinct devices in mode
 * redirect registered through the admin API, and pledges that each open a
 * new mutual-TLS connection with their own IDevID and post their own
 * voucher-request (unique nonce): the answer is the redirect decision, a
 * 307 to the owner's registrar. The limit is the server side of that
 * handshake (ECDHE, the cloud registrar's signature, the client
 * certificate's verification and chain validation), measured in process
 * in the same run; the ratio is redirects per daemon CPU-second over
 * handshakes per CPU-second.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <voucher/voucher.h>

#include "common/str.h"
#include "tools/bench.h"
#include "tools/brski.h"

#define CREG_MAX_REQUESTS 1000000u

static void cloudreg_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench cloudreg [--seconds N] [--connections N] [--requests N]\n"
	        "                            [--cloudregd PATH] [--keep]\n"
	        "                            [--url URL --admin-url URL --admin-token T --pki DIR\n"
	        "                             [--pid PID]]\n\n"
	        "Start cloudregd (next to this program in a build tree, else on PATH) with the\n"
	        "cloud configuration of a fresh `brski pki init`, register an owner and one\n"
	        "redirect-mode device per request through the admin API, and send each\n"
	        "pledge's voucher-request once over a new mutual-TLS connection with its own\n"
	        "IDevID (N connections at a time). Expects 307 to the owner's registrar. The\n"
	        "limit, measured in the same run, is the server side of one such handshake per\n"
	        "core. The last line is ratio=R: redirects per daemon CPU-second over it.\n\n"
	        "options:\n"
	        "  --seconds N      run time (default 5)\n"
	        "  --connections N  pledges at a time (default 2 x cores)\n"
	        "  --requests N     pledges pre-generated (default 300 x seconds)\n"
	        "  --cloudregd PATH the daemon to run\n"
	        "  --keep           keep the temp dir\n" BENCH_TARGET_USAGE "\n"
	        "exit status: 0 measured, 2 usage error, 3 setup failed.\n");
}

int bench_cloudreg(int argc, char **argv)
{
	static const struct option opts[] = {
	        BENCH_RUN_OPTIONS("cloudregd"),
	        {NULL, 0, NULL, 0},
	};
	struct bench_run_opts o = {.seconds = 5};
	pid_t cpu_pid = -1; /* the daemon whose CPU time counts */
	int c, ret = BRSKI_EXIT_IO, gen_ok = 0;
	char dir[512] = "", pki[600], conf[700], log[700], prefix[32];
	char admin_hp[128], brski_hp[128], host[64], admin[200], cafile[700], token[200] = "";
	char srv_chain[700], srv_key[700], mfg[700];
	uint16_t port = 0;
	pid_t pid = -1;
	struct bench_req *reqs = NULL;
	size_t made = 0;
	struct bench_gen g;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((c = bench_run_parse(argc, argv, opts, &o, CREG_MAX_REQUESTS, "brski bench cloudreg",
	                         cloudreg_usage)) != 0)
		return c > 0 ? BRSKI_EXIT_OK : BRSKI_EXIT_USAGE;
	bench_run_defaults(&o, 300, "cloudregd", "cloudreg");

	struct voucher_error_info ei;
	memset(&ei, 0, sizeof(ei));
	voucher_err le = voucher_lib_init(&ei);
	if (le != VOUCHER_OK) {
		fprintf(stderr, "brski bench: cannot load the YANG modules: %s (%s)\n",
		        voucher_strerror(le), ei.message);
		return BRSKI_EXIT_USAGE;
	}
	if (bench_run_dirs(&o, dir, sizeof(dir), pki, sizeof(pki)) < 0)
		goto out;
	/* By URL the deployment's cloud configuration still names the
	 * server credential the handshake limit is measured with. */
	snprintf(conf, sizeof(conf), "%s/cloudregd-cloud.conf", pki);
	snprintf(log, sizeof(log), "%s/cloudregd.log", dir);
	snprintf(cafile, sizeof(cafile), "%s/tls-ca.crt", pki);
	snprintf(mfg, sizeof(mfg), "%s/manufacturer-ca.crt", pki);
	if (bench_ini_get(conf, "admin", "listen", admin_hp, sizeof(admin_hp)) < 0 ||
	    bench_ini_get(conf, "brski", "listen", brski_hp, sizeof(brski_hp)) < 0 ||
	    bench_ini_get(conf, "brski", "cert", srv_chain, sizeof(srv_chain)) < 0 ||
	    bench_ini_get(conf, "brski", "key", srv_key, sizeof(srv_key)) < 0 ||
	    bench_split_hostport(brski_hp, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "brski bench: %s lacks [admin] or [brski] keys\n", conf);
		goto out;
	}
	snprintf(admin, sizeof(admin), "https://%s", admin_hp);
	if (o.tgt.url ? bench_target_resolve(&o.tgt, host, sizeof(host), &port, admin,
	                                     sizeof(admin), token, sizeof(token)) < 0
	              : bench_read_token(pki, token, sizeof(token)) < 0)
		goto out;
	if (bench_gen_init(&g, pki, dir, "127.0.0.1:1", srv_chain) < 0)
		goto out;
	gen_ok = 1;
	if (bench_gen_many(&g, "creg", 1, (size_t)o.nreq, &reqs, &made, prefix, sizeof(prefix)) <
	            0 ||
	    bench_daemon_up(&o, conf, log, cafile, admin, &pid, &cpu_pid) < 0)
		goto out;
	if (bench_register_devices(cafile, token, admin, pki,
	                           "https://127.0.0.1:1/.well-known/brski/requestvoucher", prefix,
	                           made) < 0)
		goto out;
	printf("daemon: %s (pid %d), %zu redirect devices registered through the admin API\n",
	       o.tgt.url ? o.tgt.url : o.daemon, (int)cpu_pid, made);

	/* The limit (the first pledge's IDevID as the client), before and
	 * after the load. */
	double hs_secs = 0, lim_s = o.seconds >= 4 ? 0.5 : 0.15 * (double)o.seconds;
	unsigned long hs_n = 0;
	char pchain[800], pkey[800];
	snprintf(pchain, sizeof(pchain), "%s/pledge.chain.pem", g.dir);
	snprintf(pkey, sizeof(pkey), "%s/pledge.key", g.dir);
	if (bench_handshake_measure(srv_chain, srv_key, pchain, pkey, mfg, lim_s, &hs_secs, &hs_n) <
	    0)
		goto out;

	size_t warm = made / 20;
	struct bench_load b = {
	        .host = host,
	        .port = port,
	        .path = "/.well-known/brski/requestvoucher",
	        .content_type = "application/voucher-cms+json",
	        .accept = "application/voucher-cms+json",
	        .cafile = cafile,
	        .connections = (unsigned)o.conns,
	        .seconds = (double)o.seconds,
	        .reqs = reqs,
	        .nreqs = warm,
	        .fresh = 1,
	};
	struct bench_result wr;
	struct bench_phase peak;
	if (warm > 0 && bench_load_run(&b, &wr) < 0)
		goto out;
	if (bench_phase_run(&b, reqs + warm, made - warm, cpu_pid, &peak) < 0)
		goto out;
	const struct bench_result pr = peak.r;
	unsigned long rss0 = peak.rss0, rss1 = peak.rss1;
	if (bench_handshake_measure(srv_chain, srv_key, pchain, pkey, mfg, lim_s, &hs_secs, &hs_n) <
	    0)
		goto out;

	double limit = hs_secs > 0 ? (double)hs_n / hs_secs : 0;
	double dcpu = peak.cpu, per_cpu = dcpu > 0 ? (double)pr.ok / dcpu : 0;
	printf("limit mutual-TLS handshake (server side, in process): %.0f/s per core (%lu)\n",
	       limit, hs_n);
	printf("cloudregd: %zu redirects (%zu failed) in %.2f s over %llu connections at a time "
	       "(%u handshakes)\n",
	       pr.ok, pr.failed, pr.wall, (unsigned long long)o.conns, pr.handshakes);
	if (pr.failed > 0)
		printf("first failure: status %u: %.200s\n", pr.first_status, pr.first_error);
	printf("cloudregd throughput: %.0f redirects/s wall, %.0f per daemon CPU-second (%.2f CPU "
	       "s)\n",
	       pr.wall > 0 ? (double)pr.ok / pr.wall : 0, per_cpu, dcpu);
	printf("cloudregd latency (handshake + decision): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       pr.p50_ms, pr.p99_ms, pr.max_ms);
	printf("cloudregd RSS: %lu KiB before, %lu KiB after (%+.1f %%)\n", rss0, rss1,
	       rss0 ? 100.0 * ((double)rss1 - (double)rss0) / (double)rss0 : 0.0);
	bench_print_daemon_caches(cafile, token, admin);
	bench_print_ratio(per_cpu, pr.wall > 0 ? (double)pr.ok / pr.wall : 0, limit, dcpu > 0,
	                  "redirects");
	ret = pr.ok > 0 ? BRSKI_EXIT_OK : BRSKI_EXIT_BAD;
out:
	bench_stop_daemon(pid);
	if (ret != BRSKI_EXIT_OK && pid > 0)
		bench_print_file(log);
	bench_reqs_free(reqs, made);
	if (gen_ok)
		bench_gen_free(&g);
	if (o.keep)
		fprintf(stderr, "brski bench cloudreg: kept %s\n", dir);
	else
		bench_rm_tree(dir);
	return ret;
}
