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
#include <time.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>
#ifdef HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

#include "common/str.h"
#include "service/store.h"
#include "tools/bench.h"
#include "tools/brski.h"

#define STORE_MAX_DEVICES 100000000u
#define STORE_TX_ROWS     10000u   /* rows per transaction while filling */
#define STORE_BULK_ROWS   1000000u /* rows per transaction of a bulk fill */

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

/* The bulk fill: the owner through the store API (the schema is the
 * store's), then the devices straight into the devices table, bypassing
 * the API so that 10 million rows take minutes, not hours: one prepared
 * INSERT in transactions of STORE_BULK_ROWS on SQLite, COPY FROM STDIN on
 * PostgreSQL. The rows are what store_device_put writes for a device with
 * only a serial and an owner (the other columns take their defaults). */
static int bulk_sqlite(const char *path, uint64_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char serial[32];
	int64_t now = (int64_t)time(NULL);
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO devices (serial, owner, created_at, updated_at)"
	                       " VALUES (?1, 'bench', ?2, ?2)",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (uint64_t i = 0; i < n;) {
		if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			goto out;
		for (uint64_t k = 0; k < STORE_BULK_ROWS && i < n; k++, i++) {
			serial_of(serial, sizeof(serial), i);
			if (sqlite3_bind_text(st, 1, serial, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
			    sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
			    sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
				goto out;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "brski bench store: bulk fill of %s: %s\n", path,
		        db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

#ifdef HAVE_POSTGRESQL
static int bulk_pg(const char *uri, uint64_t n)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res = NULL;
	char buf[64 * 1024];
	size_t used = 0;
	long long now = (long long)time(NULL);
	int rc = -1;

	if (PQstatus(c) != CONNECTION_OK)
		goto out;
	res = PQexec(c, "COPY devices (serial, owner, created_at, updated_at) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		goto out;
	PQclear(res);
	res = NULL;
	for (uint64_t i = 0; i < n; i++) {
		char serial[32];
		serial_of(serial, sizeof(serial), i);
		int w = snprintf(buf + used, sizeof(buf) - used, "%s\tbench\t%lld\t%lld\n", serial,
		                 now, now);
		if (w < 0 || (size_t)w >= sizeof(buf) - used) {
			if (PQputCopyData(c, buf, (int)used) != 1)
				goto out;
			used = 0;
			i--; /* this row again, into the emptied buffer */
			continue;
		}
		used += (size_t)w;
	}
	if ((used > 0 && PQputCopyData(c, buf, (int)used) != 1) || PQputCopyEnd(c, NULL) != 1)
		goto out;
	res = PQgetResult(c);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto out;
	PQclear(res);
	/* Vacuumed and analyzed now, so that autovacuum does not do it
	 * (competing for the CPU) while the lookups are measured. */
	res = PQexec(c, "VACUUM ANALYZE devices");
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
out:
	if (rc < 0)
		fprintf(stderr, "brski bench store: COPY into %s failed: %s\n", uri,
		        PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	return rc;
}
#endif

static int fill_bulk(struct store *s, const char *database, uint64_t n, double *secs)
{
	char err[STORE_ERRLEN];
	struct store_owner o = {.name = "bench", .domain_ca_pem = (char *)bench_ca_pem};
	double t0 = bench_now();
	int rc;

	if (store_owner_put(s, &o, STORE_PUT_UPSERT, err, sizeof(err)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench store: owner: %s\n", err);
		return -1;
	}
	if (strncmp(database, "postgresql://", 13) == 0 ||
	    strncmp(database, "postgres://", 11) == 0)
#ifdef HAVE_POSTGRESQL
		rc = bulk_pg(database, n);
#else
		rc = -1;
#endif
	else
		rc = bulk_sqlite(strncmp(database, "sqlite:", 7) == 0 ? database + 7 : database, n);
	*secs = bench_now() - t0;
	return rc;
}

/* PostgreSQL does a lookup's work in its server processes: their CPU
 * time is read from /proc (the cluster runs on this machine, as with
 * tests/lib/pg.sh) for every backend connected to the same database
 * other than the one asking. After the warm-up, so the store's pooled
 * connections exist. */
#define PG_MAX_BACKENDS 32
struct pg_backends {
	pid_t pid[PG_MAX_BACKENDS];
	unsigned n;
};

static int pg_backends_find(const char *uri, struct pg_backends *b)
{
	memset(b, 0, sizeof(*b));
#ifdef HAVE_POSTGRESQL
	PGconn *c = PQconnectdb(uri);
	PGresult *res = NULL;
	int rc = -1;

	if (PQstatus(c) != CONNECTION_OK)
		goto out;
	/* Client backends only: an autovacuum worker on the freshly filled
	 * table is not a lookup's work. */
	res = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
	                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	for (int i = 0; i < PQntuples(res) && b->n < PG_MAX_BACKENDS; i++) {
		uint64_t pid = 0;
		if (brski_str_to_u64(PQgetvalue(res, i, 0), &pid, 4194304) == VOUCHER_OK && pid > 0)
			b->pid[b->n++] = (pid_t)pid;
	}
	rc = b->n > 0 ? 0 : -1;
out:
	if (rc < 0)
		fprintf(stderr, "brski bench store: cannot find the server processes of %s: %s\n",
		        uri, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	return rc;
#else
	(void)uri;
	return -1;
#endif
}

/* Their CPU seconds in all (0 without backends). */
static double pg_backends_cpu(const struct pg_backends *b)
{
	double t = 0;
	for (unsigned i = 0; b && i < b->n; i++) {
		double c = bench_proc_cpu(b->pid[i]);
		if (c > 0)
			t += c;
	}
	return t;
}

/* Lookups of random serials among the first n for about `slice` CPU
 * seconds; adds the CPU time and count. */
static int lookups(struct store *s, uint64_t n, double slice, const struct pg_backends *pg,
                   double *cpu, double *srv, double *wall, unsigned long *count)
{
	char err[STORE_ERRLEN], serial[32];
	uint64_t rnd[64];
	double s0 = pg_backends_cpu(pg), t0 = bench_thread_cpu(), t1, w0 = bench_now();
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
	*wall += bench_now() - w0;
	*srv += pg_backends_cpu(pg) - s0;
	return 0;
}

/* ---- the full request: masad over the network ---------------------------- */

/* A masad of its own fresh `brski pki init` serving `database`. */
struct req_daemon {
	char dir[512], pki[600], conf[700], log[700], cafile[700], admin[200], token[200];
	pid_t pid;
	CURL *curl;
	struct curl_slist *hdr;
	struct pg_backends pg; /* with PostgreSQL: masad's server processes */
};

static size_t discard_cb(char *data, size_t sz, size_t nm, void *ud)
{
	(void)data;
	(void)ud;
	return sz * nm;
}

/* Copy the masad configuration of the pki with its [daemon] database
 * replaced. */
static int conf_with_db(const char *src, const char *dst, const char *database)
{
	FILE *in = fopen(src, "r"), *out = in ? fopen(dst, "w") : NULL;
	char line[1024];
	int rc = -1;

	if (!in || !out)
		goto out;
	while (fgets(line, sizeof(line), in)) {
		if (strncmp(line, "database", 8) == 0 && strchr(" \t=", line[8]))
			fprintf(out, "database = %s\n", database);
		else
			fputs(line, out);
	}
	rc = 0;
out:
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static int req_daemon_start(struct req_daemon *d, const char *masad, const char *database)
{
	char src[700], admin_hp[128], tf[700];

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	if (bench_tmp_pki(d->dir, sizeof(d->dir)) != 0)
		return -1;
	snprintf(d->pki, sizeof(d->pki), "%s/pki", d->dir);
	snprintf(src, sizeof(src), "%s/masad.conf", d->pki);
	snprintf(d->conf, sizeof(d->conf), "%s/masad-bench.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/masad.log", d->dir);
	snprintf(d->cafile, sizeof(d->cafile), "%s/tls-ca.crt", d->pki);
	snprintf(tf, sizeof(tf), "%s/admin-token", d->pki);
	FILE *f = fopen(tf, "r");
	if (!f || !fgets(d->token, sizeof(d->token), f)) {
		if (f)
			fclose(f);
		fprintf(stderr, "brski bench store: cannot read %s\n", tf);
		return -1;
	}
	fclose(f);
	d->token[strcspn(d->token, "\r\n")] = '\0';
	if (bench_ini_get(src, "admin", "listen", admin_hp, sizeof(admin_hp)) < 0 ||
	    conf_with_db(src, d->conf, database) < 0) {
		fprintf(stderr, "brski bench store: cannot write %s\n", d->conf);
		return -1;
	}
	snprintf(d->admin, sizeof(d->admin), "https://%s", admin_hp);
	char *argv[] = {(char *)masad, "-c", d->conf, NULL};
	if (bench_run_logged(argv, d->log, &d->pid) < 0) {
		d->pid = -1;
		return -1;
	}
	if (bench_wait_ready(d->pid, d->cafile, d->admin, d->log) < 0)
		return -1;
	char auth[300];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token);
	if (!(d->curl = curl_easy_init()) || !(d->hdr = curl_slist_append(NULL, auth)))
		return -1;
	curl_easy_setopt(d->curl, CURLOPT_CAINFO, d->cafile);
	curl_easy_setopt(d->curl, CURLOPT_CAPATH, NULL); /* that CA only */
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, d->hdr);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(d->curl, CURLOPT_TCP_NODELAY, 1L);
	return 0;
}

static void req_daemon_stop(struct req_daemon *d)
{
	if (d->curl)
		curl_easy_cleanup(d->curl);
	curl_slist_free_all(d->hdr);
	if (d->pid > 0)
		bench_stop_daemon(d->pid);
	bench_rm_tree(d->dir);
	memset(d, 0, sizeof(*d));
}

/* count GET /admin/v1/devices/{random serial} over one keep-alive
 * connection; adds the daemon's CPU seconds and the requests answered. */
static int req_slice(struct req_daemon *d, uint64_t n, unsigned count, double *cpu,
                     unsigned long *done)
{
	char url[300], serial[32];
	uint64_t rnd[64];
	double c0 = bench_proc_cpu(d->pid) + pg_backends_cpu(&d->pg);

	for (unsigned i = 0; i < count; i++) {
		if (i % 64 == 0 && gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
			return -1;
		long status = 0;
		serial_of(serial, sizeof(serial), rnd[i % 64] % n);
		snprintf(url, sizeof(url), "%s/admin/v1/devices/%s", d->admin, serial);
		curl_easy_setopt(d->curl, CURLOPT_URL, url);
		CURLcode cc = curl_easy_perform(d->curl);
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status != 200) {
			fprintf(stderr, "brski bench store: GET %s: %s %ld\n", url,
			        curl_easy_strerror(cc), status);
			bench_print_file(d->log);
			return -1;
		}
	}
	double c1 = bench_proc_cpu(d->pid) + pg_backends_cpu(&d->pg);
	if (c0 < 0 || c1 < 0)
		return -1;
	*cpu += c1 - c0;
	*done += count;
	return 0;
}

/* Both stores behind a masad each, looked up with alternating slices of
 * requests; prints the per-request daemon CPU and returns the ratio. */
static int full_requests(const char *db_big, uint64_t big, const char *db_small, uint64_t small,
                         uint64_t seconds, unsigned warm, double *ratio)
{
	struct req_daemon db, ds;
	char masad[1100];
	double cb = 0, cs = 0, w0 = 0;
	unsigned long nb = 0, ns = 0;
	int rc = -1;

	memset(&db, 0, sizeof(db));
	memset(&ds, 0, sizeof(ds));
	bench_find_daemon("masad", "masa", masad, sizeof(masad));
	if (req_daemon_start(&db, masad, db_big) < 0 || req_daemon_start(&ds, masad, db_small) < 0)
		goto out;
	/* Warm both (TLS session, the daemon's map of the file), then
	 * alternate. */
	if (req_slice(&db, big, warm, &w0, &(unsigned long){0}) < 0 ||
	    req_slice(&ds, small, warm, &w0, &(unsigned long){0}) < 0)
		goto out;
	if (strncmp(db_big, "postgres", 8) == 0 &&
	    (pg_backends_find(db_big, &db.pg) < 0 || pg_backends_find(db_small, &ds.pg) < 0))
		goto out;
	double end = bench_now() + (double)seconds;
	while (bench_now() < end)
		if (req_slice(&db, big, 100, &cb, &nb) < 0 ||
		    req_slice(&ds, small, 100, &cs, &ns) < 0)
			goto out;
	double ub = cb / (double)nb * 1e6, us = cs / (double)ns * 1e6;
	printf("request (masad GET /admin/v1/devices/{serial}, TLS keep-alive), %llu devices: "
	       "%.0f us daemon CPU%s (%lu requests)\n",
	       (unsigned long long)big, ub, db.pg.n ? " + its PostgreSQL server processes" : "",
	       nb);
	printf("request (masad GET /admin/v1/devices/{serial}, TLS keep-alive), %llu devices: "
	       "%.0f us daemon CPU%s (%lu requests)\n",
	       (unsigned long long)small, us, ds.pg.n ? " + its PostgreSQL server processes" : "",
	       ns);
	printf("request ratio: %.3f\n", ub / us);
	*ratio = ub / us;
	rc = 0;
out:
	req_daemon_stop(&db);
	req_daemon_stop(&ds);
	return rc;
}

static void store_usage(FILE *out)
{
	fprintf(out,
	        "usage: brski bench store [--devices N] [--small N] [--seconds N]\n"
	        "                         [--database URI --database-small URI]\n"
	        "                         [--fill bulk|api] [--warmup MS] [--request] "
	        "[--filled]\n\n"
	        "Fill two stores: one with --devices (default 100000), one with --small\n"
	        "(default 10000) devices; then look up random serials in both\n"
	        "(store_device_get), in alternating slices of CPU time, after --warmup\n"
	        "milliseconds of CPU time of lookups in each (default 500). The last line is\n"
	        "ratio=R: the large store's lookup cost over the small one's. Default: two\n"
	        "SQLite files in a temp dir; --database and --database-small name empty\n"
	        "databases to use instead (e.g. PostgreSQL URIs). --fill bulk (default): the\n"
	        "schema and the owner through the store API, the devices by one prepared\n"
	        "INSERT in transactions of %u rows (SQLite) or COPY (PostgreSQL);\n"
	        "--fill api: store_device_put, %u rows per transaction. --request: also\n"
	        "the full request, a masad (fresh `brski pki init`) on each store answering\n"
	        "GET /admin/v1/devices/{random serial} over one TLS keep-alive connection,\n"
	        "in alternating slices of 100; printed as the daemon's CPU per request and\n"
	        "'request ratio'. --filled: the two databases already hold --devices and\n"
	        "--small devices from an earlier run with the same sizes (not filled again).\n"
	        "--sqlite-mmap-mib N: the [store] sqlite_mmap_mib of the stores (default\n"
	        "2048; 0: no memory map).\n"
	        "A report, never a verdict.\n",
	        STORE_BULK_ROWS, STORE_TX_ROWS);
}

int bench_store(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"devices", required_argument, NULL, 'd'},
	        {"small", required_argument, NULL, 'm'},
	        {"seconds", required_argument, NULL, 's'},
	        {"database", required_argument, NULL, 'D'},
	        {"database-small", required_argument, NULL, 'S'},
	        {"fill", required_argument, NULL, 'f'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"request", no_argument, NULL, 'r'},
	        {"filled", no_argument, NULL, 'F'},
	        {"sqlite-mmap-mib", required_argument, NULL, 'M'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint64_t big = 100000, small = 10000, seconds = 2, warm_ms = 500;
	int api_fill = 0, full_req = 0, filled = 0;
	uint64_t mmap_mib = 0;
	struct store_opts sopts;
	memset(&sopts, 0, sizeof(sopts));
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
		case 'f':
			if (strcmp(optarg, "api") != 0 && strcmp(optarg, "bulk") != 0)
				goto usage;
			api_fill = strcmp(optarg, "api") == 0;
			break;
		case 'r':
			full_req = 1;
			break;
		case 'F':
			filled = 1;
			break;
		case 'M':
			if (brski_str_to_u64(optarg, &mmap_mib, 1048576) != VOUCHER_OK)
				goto usage;
			sopts.sqlite_mmap = mmap_mib << 20;
			sopts.sqlite_mmap_off = mmap_mib == 0;
			break;
		case 'w':
			if (brski_str_to_u64(optarg, &warm_ms, 600000) != VOUCHER_OK)
				goto usage;
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
	if (store_open_opts(db_big, &sopts, &sb, err, sizeof(err)) != VOUCHER_OK ||
	    store_open_opts(db_small, &sopts, &ss, err, sizeof(err)) != VOUCHER_OK) {
		fprintf(stderr, "brski bench store: %s\n", err);
		goto out;
	}
	double tb = 0, ts = 0;
	if (filled && db_big == pb) {
		fprintf(stderr,
		        "brski bench store: --filled needs --database and --database-small\n");
		ret = BRSKI_EXIT_USAGE;
		goto out;
	}
	if (filled)
		printf("filled: by an earlier run (--filled)\n");
	else if (api_fill ? fill(ss, small, &ts) < 0 || fill(sb, big, &tb) < 0
	                  : fill_bulk(ss, db_small, small, &ts) < 0 ||
	                            fill_bulk(sb, db_big, big, &tb) < 0)
		goto out;
	else
		printf("filled (%s): %llu devices in %.1f s (%.0f/s), %llu devices in %.1f s "
		       "(%.0f/s)\n",
		       api_fill ? "store API, one store_device_put per row" : "bulk",
		       (unsigned long long)big, tb, (double)big / tb, (unsigned long long)small, ts,
		       (double)small / ts);
	double cb = 0, cs = 0, wb = 0, ws = 0, sb_cpu = 0, ss_cpu = 0, w = 0;
	unsigned long nb = 0, ns = 0;
	struct pg_backends pgb, pgs;
	int is_pg = strncmp(db_big, "postgres", 8) == 0;
	/* Warm both (page cache, prepared statements), then alternate. */
	if (lookups(sb, big, (double)warm_ms / 1000.0, NULL, &w, &w, &w, &(unsigned long){0}) < 0 ||
	    lookups(ss, small, (double)warm_ms / 1000.0, NULL, &w, &w, &w, &(unsigned long){0}) < 0)
		goto out;
	if (is_pg && (pg_backends_find(db_big, &pgb) < 0 || pg_backends_find(db_small, &pgs) < 0))
		goto out;
	double end = bench_now() + (double)seconds;
	do
		if (lookups(sb, big, 0.02, is_pg ? &pgb : NULL, &cb, &sb_cpu, &wb, &nb) < 0 ||
		    lookups(ss, small, 0.02, is_pg ? &pgs : NULL, &cs, &ss_cpu, &ws, &ns) < 0)
			goto out;
	while (bench_now() < end);
	/* The cost is CPU time: this process's and, with PostgreSQL, that of
	 * the server processes serving it. */
	double ub = (cb + sb_cpu) / (double)nb * 1e6, us = (cs + ss_cpu) / (double)ns * 1e6;
	printf("lookup, %llu devices: %.1f us CPU (%.1f here, %.1f server), %.1f us wall (%lu "
	       "lookups)\n",
	       (unsigned long long)big, ub, cb / (double)nb * 1e6, sb_cpu / (double)nb * 1e6,
	       wb / (double)nb * 1e6, nb);
	printf("lookup, %llu devices: %.1f us CPU (%.1f here, %.1f server), %.1f us wall (%lu "
	       "lookups)\n",
	       (unsigned long long)small, us, cs / (double)ns * 1e6, ss_cpu / (double)ns * 1e6,
	       ws / (double)ns * 1e6, ns);
	printf("wall ratio: %.3f\n", (wb / (double)nb) / (ws / (double)ns));
	if (full_req) {
		/* The store call ratio stays the last line's: it is the one
		 * with the lookup alone. */
		double rr = 0;
		store_close(sb);
		store_close(ss);
		sb = ss = NULL;
		/* As many warm-up requests as --warmup says milliseconds. */
		if (full_requests(db_big, big, db_small, small, seconds,
		                  warm_ms > 200 ? (unsigned)warm_ms : 200, &rr) < 0)
			goto out;
	}
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
