/* Enrollment as jobs in the store (one per distinct CSR), a pool of worker
 * threads running the CA backend under leases, and the certificate cache
 * keyed by the SHA-256 of the CSR's DER. Nothing that matters is kept in
 * memory: a restart (or another instance sharing the database) picks up
 * pending jobs and expired leases. */
#include <config.h>

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cloudreg/est.h"
#include "common/clock.h"
#include "service/log.h"
#include "service/metrics.h"
#include "service/ratelimit.h"
#include "service/store.h"

struct creg_enroll {
	struct store *store;
	struct creg_ca *ca;
	struct creg_enroll_opts opts;
	char *subdomain;
	char holder[128];
	struct svc_metrics *metrics;
	int slot;
	atomic_uint_fast64_t issued;
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* a new job, or stop */
	pthread_cond_t finished; /* a worker finished an attempt */
	uint64_t attempts_done;  /* counts them, under lock */
	bool stop;
	unsigned n_threads;
	pthread_t *threads;
};

struct worker_arg {
	struct creg_enroll *e;
	unsigned index;
};

static void count(struct creg_enroll *e, unsigned status, uint64_t start)
{
	if (e->metrics)
		svc_metrics_request(e->metrics, e->slot, status,
		                    (brski_monotonic_ms() - start) * 1000u);
}

voucher_err creg_enroll_run_one(struct creg_enroll *e, const char *holder, bool *ran, char *err,
                                size_t errlen)
{
	struct store_job job = {0};
	struct creg_ca_request rq = {0};
	struct creg_ca_result res;
	struct brski_buf p7;
	char cerr[320] = "", serr[STORE_ERRLEN] = "";
	uint64_t start = brski_monotonic_ms();
	voucher_err r;

	*ran = false;
	creg_ca_result_init(&res);
	brski_buf_init(&p7, 1024 * 1024);
	r = store_job_claim(e->store, holder, e->opts.lease, &job, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND)
		return VOUCHER_OK;
	if (r != VOUCHER_OK) {
		snprintf(err, errlen, "failed to claim an enrollment job (%s)", serr);
		return r;
	}
	*ran = true;
	rq.job_id = job.id;
	rq.csr = job.csr;
	rq.csr_len = job.csr_len;
	rq.serial = job.serial ? job.serial : "";
	rq.owner = job.owner;
	rq.subdomain = e->opts.subdomain;
	/* From the job record, never from the request that made it: the
	 * worker may be another thread, process or host, after a restart. */
	rq.reenroll = job.reenroll;
	rq.attempt = job.attempts > 0 ? (unsigned)job.attempts : 1;
	r = e->ca->ops->issue(e->ca->backend, &rq, &res, cerr, sizeof(cerr));
	if (r != VOUCHER_OK) {
		log_err_r(
		        r, "enroll: job %lld (serial %s): CA backend %s failed: %s; retry in %u s",
		        (long long)job.id, rq.serial, e->ca->ops->name, cerr, e->opts.retry_after);
		count(e, 500, start);
		r = store_job_fail(e->store, job.id, holder, cerr, (int)e->opts.retry_after, serr,
		                   sizeof(serr));
		goto out;
	}
	switch (res.status) {
	case CREG_CA_ISSUED: {
		struct store_cert c = {0};
		if (res.n_chain == 0) {
			r = VOUCHER_E_CRYPTO;
			snprintf(err, errlen, "CA backend %s issued no certificate",
			         e->ca->ops->name);
			break;
		}
		if ((r = creg_pkcs7_certs_only((const uint8_t *const *)res.chain, res.chain_len,
		                               res.n_chain, &p7)) != VOUCHER_OK)
			break;
		memcpy(c.csr_sha256, job.csr_sha256, sizeof(c.csr_sha256));
		c.serial = job.serial;
		c.not_after = res.not_after;
		c.der = res.chain[0];
		c.der_len = res.chain_len[0];
		c.pkcs7 = p7.data;
		c.pkcs7_len = p7.len;
		/* The LDevID is recognised by this hash when it comes back as a
		 * TLS client certificate (creg_ldevid_lookup). */
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, c.der, c.der_len, c.cert_sha256) < 0) {
			r = VOUCHER_E_CRYPTO;
			snprintf(err, errlen, "failed to hash the certificate of job %lld",
			         (long long)job.id);
			break;
		}
		/* The cache first: a retry that finds the job done must find the
		 * certificate too. */
		if ((r = store_cert_put(e->store, &c, serr, sizeof(serr))) != VOUCHER_OK) {
			snprintf(err, errlen, "failed to cache the certificate of job %lld (%s)",
			         (long long)job.id, serr);
			break;
		}
		r = store_job_complete(e->store, job.id, holder, p7.data, p7.len, serr,
		                       sizeof(serr));
		if (r == VOUCHER_E_CONFLICT) {
			/* Our lease ran out and another worker took the job over. */
			log_warn("enroll: job %lld: lease lost to another worker; result dropped",
			         (long long)job.id);
			break;
		}
		atomic_fetch_add(&e->issued, 1);
		count(e, 201, start);
		log_info("enroll: job %lld: %s CA issued a certificate for serial %s (%s, attempt "
		         "%u)",
		         (long long)job.id, e->ca->ops->name, rq.serial,
		         rq.reenroll ? "re-enrollment" : "enrollment", rq.attempt);
		break;
	}
	case CREG_CA_RETRY:
		count(e, 202, start);
		log_info("enroll: job %lld (serial %s): %s; next attempt in %u s",
		         (long long)job.id, rq.serial, res.message,
		         res.retry_after ? res.retry_after : 1);
		r = store_job_fail(e->store, job.id, holder, res.message,
		                   (int)(res.retry_after ? res.retry_after : 1), serr,
		                   sizeof(serr));
		break;
	case CREG_CA_FAILED:
	default:
		count(e, 403, start);
		log_warn("enroll: job %lld (serial %s) refused by the %s CA: %s", (long long)job.id,
		         rq.serial, e->ca->ops->name, res.message);
		r = store_job_fail(e->store, job.id, holder, res.message, -1, serr, sizeof(serr));
		break;
	}
out:
	if (r != VOUCHER_OK && serr[0] && !err[0])
		snprintf(err, errlen, "job %lld: %s", (long long)job.id, serr);
	creg_ca_result_clear(&res);
	brski_buf_free(&p7);
	store_job_clear(&job);
	return r;
}

static void *worker(void *p)
{
	struct worker_arg *a = p;
	struct creg_enroll *e = a->e;
	char holder[160];

	snprintf(holder, sizeof(holder), "%s/%u", e->holder, a->index);
	free(a);
	for (;;) {
		char err[400] = "";
		bool ran = false;
		voucher_err r;

		pthread_mutex_lock(&e->lock);
		bool stop = e->stop;
		pthread_mutex_unlock(&e->lock);
		if (stop)
			break;
		r = creg_enroll_run_one(e, holder, &ran, err, sizeof(err));
		if (r != VOUCHER_OK)
			log_err_r(r, "enroll: %s", err);
		if (ran) {
			/* Wake the requests waiting for their new job. */
			pthread_mutex_lock(&e->lock);
			e->attempts_done++;
			pthread_cond_broadcast(&e->finished);
			pthread_mutex_unlock(&e->lock);
		}
		if (ran && r == VOUCHER_OK)
			continue;
		/* Idle (or the store failed): wait for a new job or the poll. */
		struct timespec ts = brski_realtime_in(e->opts.poll_ms);
		pthread_mutex_lock(&e->lock);
		if (!e->stop)
			pthread_cond_timedwait(&e->wake, &e->lock, &ts);
		pthread_mutex_unlock(&e->lock);
	}
	return NULL;
}

voucher_err creg_enroll_new(struct store *store, struct creg_ca *ca,
                            const struct creg_enroll_opts *opts, struct svc_metrics *metrics,
                            struct creg_enroll **out, char *err, size_t errlen)
{
	struct creg_enroll *e;
	char host[64] = "host";

	if (!(e = calloc(1, sizeof(*e))))
		return VOUCHER_ENOMEM;
	e->store = store;
	e->ca = ca;
	e->opts = *opts;
	e->opts.holder = NULL;
	e->opts.subdomain = NULL;
	if (!e->opts.lease)
		e->opts.lease = 60;
	if (!e->opts.retry_after)
		e->opts.retry_after = 1;
	if (!e->opts.poll_ms)
		e->opts.poll_ms = 1000;
	if (opts->subdomain && !(e->subdomain = strdup(opts->subdomain))) {
		free(e);
		return VOUCHER_ENOMEM;
	}
	e->opts.subdomain = e->subdomain;
	gethostname(host, sizeof(host) - 1);
	snprintf(e->holder, sizeof(e->holder), "%s:%ld", opts->holder ? opts->holder : host,
	         (long)getpid());
	e->metrics = metrics;
	e->slot = opts->metrics_slot >= 0 ? opts->metrics_slot
	          : metrics               ? svc_metrics_route(metrics, "ca", "ISSUE", ca->ops->name)
	                                  : -1;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	pthread_cond_init(&e->finished, NULL);
	if (opts->workers && !(e->threads = calloc(opts->workers, sizeof(*e->threads)))) {
		creg_enroll_free(e);
		return VOUCHER_ENOMEM;
	}
	for (unsigned i = 0; i < opts->workers; i++) {
		struct worker_arg *a = malloc(sizeof(*a));
		int g;
		if (!a) {
			creg_enroll_free(e);
			return VOUCHER_ENOMEM;
		}
		a->e = e;
		a->index = i;
		if ((g = pthread_create(&e->threads[i], NULL, worker, a)) != 0) {
			free(a);
			snprintf(err, errlen, "failed to start enrollment worker %u (%s)", i,
			         strerror(g));
			creg_enroll_free(e);
			return VOUCHER_EAGAIN;
		}
		e->n_threads++;
	}
	*out = e;
	return VOUCHER_OK;
}

void creg_enroll_free(struct creg_enroll *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->wake);
	pthread_cond_broadcast(&e->finished);
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < e->n_threads; i++)
		pthread_join(e->threads[i], NULL);
	free(e->threads);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->wake);
	pthread_cond_destroy(&e->finished);
	free(e->subdomain);
	free(e);
}

int creg_enroll_metrics_slot(const struct creg_enroll *e)
{
	return e ? e->slot : -1;
}

uint64_t creg_enroll_issued(const struct creg_enroll *e)
{
	return atomic_load(&((struct creg_enroll *)e)->issued);
}

void creg_enroll_answer_init(struct creg_enroll_answer *a)
{
	memset(a, 0, sizeof(*a));
	brski_buf_init(&a->pkcs7, 1024 * 1024);
}

void creg_enroll_answer_free(struct creg_enroll_answer *a)
{
	if (a)
		brski_buf_free(&a->pkcs7);
}

static voucher_err unavailable(struct creg_enroll_answer *a, const char *what, const char *serr)
{
	log_err("enroll: %s (%s)", what, serr);
	a->status = 503;
	a->retry_after = 1;
	snprintf(a->message, sizeof(a->message), "the enrollment database is unavailable; retry");
	return VOUCHER_E_STORE;
}

/* The cache entry for sha256, served only to its device. *hit when served
 * or refused. */
static voucher_err from_cache(struct creg_enroll *e, const uint8_t sha256[32], const char *serial,
                              struct creg_enroll_answer *a, bool *hit)
{
	struct store_cert c = {0};
	char serr[STORE_ERRLEN] = "";
	voucher_err r;

	*hit = false;
	r = store_cert_get_by_csr(e->store, sha256, &c, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND) {
		if (e->metrics)
			svc_metrics_inc(e->metrics, SVC_METRIC_CERT_CACHE_MISSES);
		return VOUCHER_OK;
	}
	if (r != VOUCHER_OK)
		return unavailable(a, "failed to read the certificate cache", serr);
	if (e->metrics)
		svc_metrics_inc(e->metrics, SVC_METRIC_CERT_CACHE_HITS);
	*hit = true;
	if (!c.serial || strcmp(c.serial, serial) != 0) {
		a->status = 403;
		snprintf(a->message, sizeof(a->message),
		         "this CSR was enrolled for another device");
		r = VOUCHER_E_FORBIDDEN;
	} else {
		a->status = 200;
		a->cached = true;
		r = brski_buf_put(&a->pkcs7, c.pkcs7, c.pkcs7_len);
	}
	store_cert_clear(&c);
	return r;
}

voucher_err creg_enroll_request(struct creg_enroll *e, const uint8_t *csr, size_t csr_len,
                                const uint8_t sha256[32], const char *serial, const char *owner,
                                bool reenroll, struct creg_enroll_answer *a)
{
	struct store_job job = {0};
	char serr[STORE_ERRLEN] = "";
	bool hit = false, created = false;
	int64_t id = 0;
	voucher_err r;

	if ((r = from_cache(e, sha256, serial, a, &hit)) != VOUCHER_OK || hit)
		return r;
	r = store_job_get_by_csr(e->store, sha256, &job, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND) {
		unsigned wait = 0;
		/* A new CA request: the per-serial limit (cache hits and
		 * retries of a job never count). */
		if (svc_ratelimit_take(serial, &wait) != VOUCHER_OK) {
			a->status = 429;
			a->retry_after = wait ? wait : 1;
			snprintf(a->message, sizeof(a->message),
			         "device '%.64s' has asked for too many certificates; retry after "
			         "%u s",
			         serial, a->retry_after);
			return VOUCHER_E_RATE_LIMITED;
		}
		r = store_job_create_ex(e->store, sha256, csr, csr_len, serial, owner, reenroll,
		                        &id, serr, sizeof(serr));
		if (r == VOUCHER_OK) {
			created = true;
			log_info("enroll: job %lld created for serial %s%s", (long long)id, serial,
			         reenroll ? " (re-enrollment)" : "");
			pthread_mutex_lock(&e->lock);
			pthread_cond_signal(&e->wake);
			pthread_mutex_unlock(&e->lock);
		} else if (r != VOUCHER_E_CONFLICT) {
			return unavailable(a, "failed to create an enrollment job", serr);
		}
		/* Created now (or by a concurrent identical request). */
		r = store_job_get_by_csr(e->store, sha256, &job, serr, sizeof(serr));
	}
	if (r != VOUCHER_OK)
		return unavailable(a, "failed to read the enrollment job", serr);
	if (!job.serial || strcmp(job.serial, serial) != 0) {
		a->status = 403;
		snprintf(a->message, sizeof(a->message),
		         "this CSR is being enrolled for another device");
		r = VOUCHER_E_FORBIDDEN;
		goto out;
	}
	a->job_id = job.id;
	/* A CA that answers at once may finish while the first request waits.
	 * It wakes when one of this process's workers finishes an attempt
	 * (that job or another: the store says which), and at least every
	 * 20 ms, for a worker of another instance sharing the store. */
	if (created && e->opts.first_wait_ms && e->n_threads) {
		uint64_t until = brski_monotonic_ms() + e->opts.first_wait_ms;
		pthread_mutex_lock(&e->lock);
		uint64_t seen = e->attempts_done;
		pthread_mutex_unlock(&e->lock);
		while ((job.state == STORE_JOB_PENDING || job.state == STORE_JOB_RUNNING) &&
		       brski_monotonic_ms() < until) {
			struct timespec ts = brski_realtime_in(20);
			pthread_mutex_lock(&e->lock);
			while (e->attempts_done == seen && !e->stop &&
			       pthread_cond_timedwait(&e->finished, &e->lock, &ts) == 0)
				;
			seen = e->attempts_done;
			pthread_mutex_unlock(&e->lock);
			store_job_clear(&job);
			if ((r = store_job_get(e->store, a->job_id, &job, serr, sizeof(serr))) !=
			    VOUCHER_OK) {
				r = unavailable(a, "failed to read the enrollment job", serr);
				goto out;
			}
		}
	}
	/* first_wait_ms = 0: a new job's first answer is always 202, even
	 * when a worker was quicker than this request. */
	if (created && !e->opts.first_wait_ms) {
		a->status = 202;
		a->retry_after = e->opts.retry_after;
		r = VOUCHER_OK;
		goto out;
	}
	switch (job.state) {
	case STORE_JOB_DONE:
		if ((r = from_cache(e, sha256, serial, a, &hit)) != VOUCHER_OK || hit)
			goto out;
		/* Done, but the certificate expired out of the cache: anew. */
		if ((r = store_job_restart(e->store, job.id, serr, sizeof(serr))) != VOUCHER_OK &&
		    r != VOUCHER_E_CONFLICT) {
			r = unavailable(a, "failed to restart the enrollment job", serr);
			goto out;
		}
		a->status = 202;
		a->retry_after = e->opts.retry_after;
		r = VOUCHER_OK;
		break;
	case STORE_JOB_FAILED:
		/* Tell why once; the next identical request tries again. */
		a->status = 403;
		snprintf(a->message, sizeof(a->message), "enrollment refused: %s",
		         job.error ? job.error : "the CA refused the request");
		if (store_job_restart(e->store, job.id, serr, sizeof(serr)) != VOUCHER_OK)
			log_warn("enroll: failed to reset job %lld (%s)", (long long)job.id, serr);
		r = VOUCHER_E_FORBIDDEN;
		break;
	case STORE_JOB_PENDING:
	case STORE_JOB_RUNNING:
	default: {
		int64_t now = (int64_t)time(NULL);
		int64_t ra = job.run_after > now ? job.run_after - now : e->opts.retry_after;
		a->status = 202;
		a->retry_after = (unsigned)(ra < 1 ? 1 : ra > 86400 ? 86400 : ra);
		r = VOUCHER_OK;
		break;
	}
	}
out:
	store_job_clear(&job);
	return r;
}
