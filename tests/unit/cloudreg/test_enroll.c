/* cloudreg/enroll.c on a real SQLite store with a scripted CA backend:
 * the first request makes a job and gets 202, a worker runs it, the retry
 * gets the certificate; the identical CSR comes from the cache without a
 * new issuance and only for its own device; RETRY keeps the job pending
 * with the backend's delay, FAILED is told once and then retried, a broken
 * backend is retried; two workers racing over many jobs run each job
 * exactly once (leases); a worker pool answers within first_wait_ms. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cloudreg/est.h"
#include "service/store.h"

#define MAX_JOBS 64

/* The scripted backend: what the next issue() answers, and how often each
 * job was issued. */
struct fake {
	enum creg_ca_status next;
	voucher_err broken; /* non-OK: issue() fails like a broken backend */
	unsigned retry_after;
	atomic_uint calls;
	atomic_uint per_job[MAX_JOBS + 1];
	atomic_uint overlap; /* two calls for one job at once */
	atomic_uint busy[MAX_JOBS + 1];
	atomic_uint reenrolls; /* calls with req->reenroll set */
	atomic_uint enrolls;   /* calls without */
};

static voucher_err fake_issue(void *backend, const struct creg_ca_request *req,
                              struct creg_ca_result *res, char *err, size_t errlen)
{
	struct fake *f = backend;
	uint8_t cert[40];

	creg_ca_result_init(res);
	atomic_fetch_add(&f->calls, 1);
	atomic_fetch_add(req->reenroll ? &f->reenrolls : &f->enrolls, 1);
	if (req->job_id >= 1 && req->job_id <= MAX_JOBS) {
		if (atomic_fetch_add(&f->busy[req->job_id], 1) != 0)
			atomic_fetch_add(&f->overlap, 1);
		atomic_fetch_add(&f->per_job[req->job_id], 1);
		usleep(2000); /* long enough for a second worker to try */
		atomic_fetch_sub(&f->busy[req->job_id], 1);
	}
	if (f->broken != VOUCHER_OK) {
		snprintf(err, errlen, "the backend is broken");
		return f->broken;
	}
	res->status = f->next;
	switch (f->next) {
	case CREG_CA_ISSUED:
		/* Not a real certificate: the job machinery never parses it. */
		memset(cert, 0, sizeof(cert));
		snprintf((char *)cert, sizeof(cert), "cert for job %lld", (long long)req->job_id);
		assert_int_equal(creg_ca_result_add(res, cert, sizeof(cert)), VOUCHER_OK);
		res->not_after = (int64_t)time(NULL) + 3600;
		break;
	case CREG_CA_RETRY:
		res->retry_after = f->retry_after;
		snprintf(res->message, sizeof(res->message), "order pending");
		break;
	case CREG_CA_FAILED:
		snprintf(res->message, sizeof(res->message), "identifier not allowed");
		break;
	}
	return VOUCHER_OK;
}

static const struct creg_ca_ops fake_ops = {
        .name = "fake",
        .issue = fake_issue,
};

struct fixture {
	char path[64];
	struct store *store;
	struct fake fake;
	struct creg_ca ca;
	struct creg_enroll *e;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[STORE_ERRLEN];
	int fd;

	assert_non_null(fx);
	snprintf(fx->path, sizeof(fx->path), "/tmp/test-enroll-XXXXXX");
	fd = mkstemp(fx->path);
	assert_true(fd >= 0);
	close(fd);
	unlink(fx->path);
	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), VOUCHER_OK);
	fx->ca.ops = &fake_ops;
	fx->ca.backend = &fx->fake;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char p[80];

	creg_enroll_free(fx->e);
	store_close(fx->store);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	free(fx);
	return 0;
}

static void start(struct fixture *fx, unsigned workers, unsigned first_wait_ms)
{
	struct creg_enroll_opts o = {.workers = workers,
	                             .lease = 30,
	                             .first_wait_ms = first_wait_ms,
	                             .retry_after = 7,
	                             .poll_ms = 20,
	                             .metrics_slot = -1,
	                             .holder = "test"};
	char err[200] = "";

	assert_int_equal(creg_enroll_new(fx->store, &fx->ca, &o, NULL, &fx->e, err, sizeof(err)),
	                 VOUCHER_OK);
}

/* A distinct "CSR" per i (the job machinery only hashes and stores it). */
static void csr_of(unsigned i, uint8_t csr[16], uint8_t sha[32])
{
	memset(csr, 0, 16);
	snprintf((char *)csr, 16, "csr %u", i);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, csr, 16, sha), 0);
}

static unsigned ask_re(struct fixture *fx, unsigned i, const char *serial, bool reenroll,
                       struct creg_enroll_answer *a)
{
	uint8_t csr[16], sha[32];

	csr_of(i, csr, sha);
	creg_enroll_answer_free(a);
	creg_enroll_answer_init(a);
	creg_enroll_request(fx->e, csr, sizeof(csr), sha, serial, "owner", reenroll, a);
	return a->status;
}

static unsigned ask(struct fixture *fx, unsigned i, const char *serial,
                    struct creg_enroll_answer *a)
{
	return ask_re(fx, i, serial, false, a);
}

static bool run(struct fixture *fx)
{
	char err[300] = "";
	bool ran = false;

	assert_int_equal(creg_enroll_run_one(fx->e, "worker-a", &ran, err, sizeof(err)),
	                 VOUCHER_OK);
	return ran;
}

static void test_job_then_cache(void **state)
{
	struct fixture *fx = *state;
	struct creg_enroll_answer a, b;

	start(fx, 0, 0);
	creg_enroll_answer_init(&a);
	creg_enroll_answer_init(&b);
	fx->fake.next = CREG_CA_ISSUED;
	assert_int_equal(ask(fx, 1, "SN1", &a), 202);
	assert_int_equal(a.retry_after, 7);
	assert_true(a.job_id > 0);
	/* The same CSR again before a worker ran: the same job, still 202. */
	assert_int_equal(ask(fx, 1, "SN1", &b), 202);
	assert_int_equal(b.job_id, a.job_id);
	assert_true(run(fx));
	assert_false(run(fx)); /* nothing left */
	assert_int_equal(fx->fake.calls, 1);
	assert_int_equal(ask(fx, 1, "SN1", &a), 200);
	assert_true(a.cached);
	/* A certs-only PKCS#7 (SEQUENCE, signedData OID) holding what the
	 * backend issued. */
	assert_int_equal(a.pkcs7.data[0], 0x30);
	{
		bool found = false;
		for (size_t i = 0; i + 12 <= a.pkcs7.len && !found; i++)
			found = memcmp(a.pkcs7.data + i, "cert for job", 12) == 0;
		assert_true(found);
	}
	/* Identical CSR: the cache, no new issuance; another device: 403. */
	assert_int_equal(ask(fx, 1, "SN1", &b), 200);
	assert_int_equal(b.pkcs7.len, a.pkcs7.len);
	assert_memory_equal(b.pkcs7.data, a.pkcs7.data, a.pkcs7.len);
	assert_int_equal(fx->fake.calls, 1);
	assert_int_equal(ask(fx, 1, "SN2", &b), 403);
	assert_false(run(fx));
	assert_int_equal(creg_enroll_issued(fx->e), 1);
	creg_enroll_answer_free(&a);
	creg_enroll_answer_free(&b);
}

static void test_retry_and_failure(void **state)
{
	struct fixture *fx = *state;
	struct creg_enroll_answer a;
	struct store_job job = {0};
	char err[STORE_ERRLEN];

	start(fx, 0, 0);
	creg_enroll_answer_init(&a);
	/* RETRY: pending again, the 202 carries the backend's delay. */
	fx->fake.next = CREG_CA_RETRY;
	fx->fake.retry_after = 120;
	assert_int_equal(ask(fx, 2, "SN2", &a), 202);
	assert_true(run(fx));
	assert_false(run(fx)); /* not due yet */
	assert_int_equal(ask(fx, 2, "SN2", &a), 202);
	assert_true(a.retry_after > 100 && a.retry_after <= 120);
	assert_int_equal(store_job_get(fx->store, a.job_id, &job, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(job.state, STORE_JOB_PENDING);
	assert_string_equal(job.error, "order pending");
	store_job_clear(&job);

	/* FAILED: told once (403 with the reason), then tried again. */
	fx->fake.next = CREG_CA_FAILED;
	assert_int_equal(ask(fx, 3, "SN3", &a), 202);
	assert_true(run(fx));
	assert_int_equal(ask(fx, 3, "SN3", &a), 403);
	assert_non_null(strstr(a.message, "identifier not allowed"));
	fx->fake.next = CREG_CA_ISSUED;
	assert_int_equal(ask(fx, 3, "SN3", &a), 202);
	assert_true(run(fx));
	assert_int_equal(ask(fx, 3, "SN3", &a), 200);

	/* A broken backend: the job stays pending (retry later), not failed. */
	fx->fake.broken = VOUCHER_E_STORE;
	assert_int_equal(ask(fx, 4, "SN4", &a), 202);
	assert_true(run(fx));
	assert_int_equal(store_job_get(fx->store, a.job_id, &job, err, sizeof(err)), VOUCHER_OK);
	assert_int_equal(job.state, STORE_JOB_PENDING);
	assert_string_equal(job.error, "the backend is broken");
	store_job_clear(&job);
	assert_int_equal(ask(fx, 4, "SN4", &a), 202);
	creg_enroll_answer_free(&a);
}

struct racer {
	struct fixture *fx;
	const char *holder;
	unsigned ran;
};

static void *race(void *p)
{
	struct racer *r = p;
	char err[300];

	for (;;) {
		bool ran = false;
		if (creg_enroll_run_one(r->fx->e, r->holder, &ran, err, sizeof(err)) != VOUCHER_OK)
			break;
		if (!ran)
			break;
		r->ran++;
	}
	return NULL;
}

static void test_two_workers(void **state)
{
	struct fixture *fx = *state;
	struct creg_enroll_answer a;
	struct racer r1 = {fx, "worker-1", 0}, r2 = {fx, "worker-2", 0};
	pthread_t t1, t2;
	char serial[16];

	start(fx, 0, 0);
	creg_enroll_answer_init(&a);
	fx->fake.next = CREG_CA_ISSUED;
	for (unsigned i = 0; i < 40; i++) {
		snprintf(serial, sizeof(serial), "SN%u", i);
		assert_int_equal(ask(fx, 100 + i, serial, &a), 202);
	}
	assert_int_equal(pthread_create(&t1, NULL, race, &r1), 0);
	assert_int_equal(pthread_create(&t2, NULL, race, &r2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	/* Every job ran exactly once, never twice at once, and both workers
	 * took part. */
	assert_int_equal(r1.ran + r2.ran, 40);
	assert_int_equal(fx->fake.calls, 40);
	assert_int_equal(fx->fake.overlap, 0);
	for (unsigned j = 1; j <= 40; j++)
		assert_int_equal(fx->fake.per_job[j], 1);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(serial, sizeof(serial), "SN%u", i);
		assert_int_equal(ask(fx, 100 + i, serial, &a), 200);
	}
	assert_int_equal(fx->fake.calls, 40);
	creg_enroll_answer_free(&a);
}

static void test_pool_first_wait(void **state)
{
	struct fixture *fx = *state;
	struct creg_enroll_answer a;

	fx->fake.next = CREG_CA_ISSUED;
	start(fx, 2, 5000);
	creg_enroll_answer_init(&a);
	/* A quick CA: the first request waits for the worker and gets 200. */
	assert_int_equal(ask(fx, 7, "SN7", &a), 200);
	assert_int_equal(creg_enroll_issued(fx->e), 1);
	/* A slow one: pending after the wait, 202. */
	fx->fake.next = CREG_CA_RETRY;
	fx->fake.retry_after = 60;
	assert_int_equal(ask(fx, 8, "SN8", &a), 202);
	creg_enroll_answer_free(&a);
}

/* simplereenroll: the flag is kept with the job, so the backend gets it
 * from whoever runs the job, also after the store was closed and opened
 * again (a restart); the issued certificate is found again by the SHA-256
 * of its DER (the LDevID coming back as a TLS client certificate). */
static void test_reenroll_flag(void **state)
{
	struct fixture *fx = *state;
	struct creg_enroll_answer a;
	struct store_job job = {0};
	struct store_cert c = {0};
	char err[STORE_ERRLEN] = "";
	uint8_t cert[40], h[32];

	start(fx, 0, 0);
	creg_enroll_answer_init(&a);
	fx->fake.next = CREG_CA_ISSUED;
	assert_int_equal(ask_re(fx, 21, "SN21", true, &a), 202);
	assert_int_equal(ask_re(fx, 22, "SN22", false, &a), 202);
	assert_int_equal(store_job_get(fx->store, a.job_id, &job, err, sizeof(err)), VOUCHER_OK);
	assert_false(job.reenroll);
	store_job_clear(&job);
	/* A restart between the request and the worker. */
	creg_enroll_free(fx->e);
	fx->e = NULL;
	store_close(fx->store);
	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), VOUCHER_OK);
	start(fx, 0, 0);
	assert_true(run(fx));
	assert_true(run(fx));
	assert_false(run(fx));
	assert_int_equal(fx->fake.reenrolls, 1);
	assert_int_equal(fx->fake.enrolls, 1);
	assert_int_equal(ask_re(fx, 21, "SN21", true, &a), 200);

	/* The fake's certificate for the first job, by its hash: SN21's. */
	memset(cert, 0, sizeof(cert));
	snprintf((char *)cert, sizeof(cert), "cert for job %lld", 1LL);
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, cert, sizeof(cert), h), 0);
	assert_int_equal(store_cert_get_by_hash(fx->store, h, &c, err, sizeof(err)), VOUCHER_OK);
	assert_string_equal(c.serial, "SN21");
	store_cert_clear(&c);
	h[0] ^= 1;
	assert_int_equal(store_cert_get_by_hash(fx->store, h, &c, err, sizeof(err)),
	                 VOUCHER_E_NOT_FOUND);
	creg_enroll_answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_job_then_cache, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retry_and_failure, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_two_workers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pool_first_wait, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reenroll_flag, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
