/* MASA calls that outlive the pledge's request (creg.h).
 *
 * A registrar voucher-request is handed to a worker thread, and the pledge's
 * request waits up to [registrar] masa_timeout for the answer. When the MASA
 * is slower, the pledge gets 202 + Retry-After while the call goes on (at
 * most masa_pending seconds), and its retry of the same voucher-request
 * finds the call here: the MASA is asked once.
 *
 * A call is found by the SHA-256 of the pledge voucher-request exactly as
 * sent, and the serial of the TLS client certificate that sent it. The
 * voucher is bound to the pledge's nonce, so a request with another nonce is
 * another call; it also replaces the pledge's older call, whose answer
 * nobody will ask for (one call per pledge at a time).
 *
 * The table is in memory: a restart loses calls in progress, and the
 * pledge's next retry starts a new one (docs/PROTOCOL.md says why).
 *
 * Workers are started on demand up to [registrar] masa_max_inflight and
 * stay: each keeps its libcurl handle, so its connection to the MASA is
 * reused by the next call. */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudreg/creg.h"
#include "common/clock.h"
#include "common/str.h"
#include "service/log.h"

/* Threads are started at most this many; masa_max_inflight may ask more. */
#define CREG_PEND_MAX_WORKERS 1024

enum call_state { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct creg_pending {
	unsigned refs; /* guarded by creg_pend.lock */
	uint8_t hash[32];
	char *serial;
	struct creg_keys *k; /* a reference: the keys the call was made with */
	char *url, *trust, *ctype, *accept;
	uint8_t *rvr;
	size_t rvr_len;
	enum call_state state;
	bool listed;    /* in the table (false once answered or replaced) */
	bool abandoned; /* replaced before it ran: skip the MASA */
	uint64_t start_ms, done_ms;
	voucher_err err;
	struct creg_masa_result res;
	struct creg_pending *next;  /* table */
	struct creg_pending *qnext; /* queue */
};

struct creg_pend {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a call was queued, or stop */
	pthread_cond_t done; /* a call finished, or stop */
	struct creg_pending *list;
	struct creg_pending *qhead, *qtail;
	size_t n_listed;  /* calls in the table */
	size_t n_busy;    /* queued or running */
	size_t n_queued;  /* queued, not yet taken by a worker */
	size_t n_workers; /* started */
	size_t n_idle;    /* waiting for work */
	pthread_t threads[CREG_PEND_MAX_WORKERS];
	bool stopping;
	struct creg_app *app;
};

static void keys_ref(struct creg_app *app, struct creg_keys *k)
{
	pthread_mutex_lock(&app->lock);
	k->refs++;
	pthread_mutex_unlock(&app->lock);
}

static void call_free(struct creg_app *app, struct creg_pending *c)
{
	if (!c)
		return;
	creg_app_put_keys(app, c->k);
	free(c->serial);
	free(c->url);
	free(c->trust);
	free(c->ctype);
	free(c->accept);
	free(c->rvr);
	creg_masa_result_free(&c->res);
	free(c);
}

/* Drop one reference; the caller holds pd->lock. Returns the call when it
 * is to be freed (outside the lock). */
static struct creg_pending *unref_locked(struct creg_pending *c)
{
	return --c->refs == 0 ? c : NULL;
}

static void unlist_locked(struct creg_pend *pd, struct creg_pending *c)
{
	for (struct creg_pending **pp = &pd->list; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			c->listed = false;
			pd->n_listed--;
			return;
		}
}

/* Answers nobody fetched: dropped masa_pending seconds after they came. */
static void sweep_locked(struct creg_pend *pd, uint64_t now, struct creg_pending **dead)
{
	struct creg_pending **pp = &pd->list;

	while (*pp) {
		struct creg_pending *c = *pp;
		if (c->state == CALL_DONE &&
		    now >= c->done_ms + (uint64_t)c->k->masa_pending * 1000u) {
			*pp = c->next;
			c->next = NULL;
			c->listed = false;
			pd->n_listed--;
			if (unref_locked(c)) {
				c->next = *dead;
				*dead = c;
			}
			continue;
		}
		pp = &c->next;
	}
}

static void free_dead(struct creg_app *app, struct creg_pending *dead)
{
	while (dead) {
		struct creg_pending *n = dead->next;
		call_free(app, dead);
		dead = n;
	}
}

static void *worker(void *arg)
{
	struct creg_pend *pd = arg;
	struct creg_app *app = pd->app;

	pthread_mutex_lock(&pd->lock);
	for (;;) {
		struct creg_pending *c, *dead;
		unsigned limit;

		while (!pd->stopping && !pd->qhead) {
			pd->n_idle++;
			pthread_cond_wait(&pd->work, &pd->lock);
			pd->n_idle--;
		}
		if (pd->stopping)
			break;
		c = pd->qhead;
		pd->n_queued--;
		pd->qhead = c->qnext;
		if (!pd->qhead)
			pd->qtail = NULL;
		c->qnext = NULL;
		if (c->abandoned) {
			c->err = VOUCHER_EAGAIN;
			snprintf(c->res.error, sizeof(c->res.error),
			         "replaced by a newer voucher-request of the same pledge");
		} else {
			c->state = CALL_RUNNING;
			pthread_mutex_unlock(&pd->lock);
			/* The call may go on after the pledge got its 202, up to
			 * masa_pending from when the pledge asked. */
			limit = c->k->masa_pending > c->k->masa_timeout ? c->k->masa_pending
			                                                : c->k->masa_timeout;
			{
				uint64_t waited = (brski_monotonic_ms() - c->start_ms) / 1000u;
				limit = waited + 1 < limit ? limit - (unsigned)waited : 1;
			}
			c->err = creg_masa_post_to(app, c->k, c->url, c->trust, limit, c->ctype,
			                           c->accept, c->rvr, c->rvr_len, &c->res);
			pthread_mutex_lock(&pd->lock);
		}
		c->state = CALL_DONE;
		c->done_ms = brski_monotonic_ms();
		pd->n_busy--;
		pthread_cond_broadcast(&pd->done);
		dead = unref_locked(c);
		if (dead) {
			pthread_mutex_unlock(&pd->lock);
			call_free(app, dead);
			pthread_mutex_lock(&pd->lock);
		}
	}
	pthread_mutex_unlock(&pd->lock);
	return NULL;
}

voucher_err creg_pend_new(struct creg_app *app, struct creg_pend **out)
{
	struct creg_pend *pd = calloc(1, sizeof(*pd));

	*out = NULL;
	if (!pd)
		return VOUCHER_ENOMEM;
	pthread_mutex_init(&pd->lock, NULL);
	pthread_cond_init(&pd->work, NULL);
	{
		pthread_condattr_t ca;
		/* Waits are measured on the monotonic clock. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&pd->done, &ca);
		pthread_condattr_destroy(&ca);
	}
	pd->app = app;
	*out = pd;
	return VOUCHER_OK;
}

void creg_pend_free(struct creg_pend *pd)
{
	struct creg_pending *dead = NULL;
	size_t n;

	if (!pd)
		return;
	pthread_mutex_lock(&pd->lock);
	pd->stopping = true;
	/* A worker inside libcurl notices this in its progress callback. */
	atomic_store(&pd->app->masa_cancel, true);
	pthread_cond_broadcast(&pd->work);
	pthread_cond_broadcast(&pd->done);
	n = pd->n_workers;
	pthread_mutex_unlock(&pd->lock);
	for (size_t i = 0; i < n; i++)
		pthread_join(pd->threads[i], NULL);
	/* No request thread is left (the listeners are closed): what remains
	 * is the table's and the queue's references. */
	while (pd->qhead) {
		struct creg_pending *c = pd->qhead;
		pd->qhead = c->qnext;
		if (unref_locked(c)) {
			c->next = dead;
			dead = c;
		}
	}
	while (pd->list) {
		struct creg_pending *c = pd->list;
		pd->list = c->next;
		if (unref_locked(c)) {
			c->next = dead;
			dead = c;
		}
	}
	free_dead(pd->app, dead);
	pthread_cond_destroy(&pd->work);
	pthread_cond_destroy(&pd->done);
	pthread_mutex_destroy(&pd->lock);
	free(pd);
}

voucher_err creg_pend_find(struct creg_app *app, const uint8_t hash[32], const char *serial,
                           struct creg_pending **out)
{
	struct creg_pend *pd = app->pend;
	struct creg_pending *dead = NULL;
	uint64_t now = brski_monotonic_ms();

	*out = NULL;
	pthread_mutex_lock(&pd->lock);
	sweep_locked(pd, now, &dead);
	for (struct creg_pending *c = pd->list; c; c = c->next)
		if (memcmp(c->hash, hash, 32) == 0 && strcmp(c->serial, serial) == 0) {
			c->refs++;
			*out = c;
			break;
		}
	pthread_mutex_unlock(&pd->lock);
	free_dead(app, dead);
	return *out ? VOUCHER_OK : VOUCHER_E_NOT_FOUND;
}

static voucher_err dup_into(char **dst, const char *s)
{
	if (!s)
		return VOUCHER_OK;
	return (*dst = brski_strdup(s)) ? VOUCHER_OK : VOUCHER_ENOMEM;
}

voucher_err creg_pend_start(struct creg_app *app, struct creg_keys *k, const uint8_t hash[32],
                            const char *serial, const char *url, const char *trust,
                            const char *ctype, const char *accept, uint8_t **rvr, size_t rvr_len,
                            struct creg_pending **out)
{
	struct creg_pend *pd = app->pend;
	struct creg_pending *c = calloc(1, sizeof(*c)), *dead = NULL, *found = NULL;
	voucher_err e;
	int perr = 0;

	*out = NULL;
	if (!c)
		return VOUCHER_ENOMEM;
	creg_masa_result_init(&c->res);
	memcpy(c->hash, hash, 32);
	keys_ref(app, k);
	c->k = k;
	if ((e = dup_into(&c->serial, serial)) != VOUCHER_OK ||
	    (e = dup_into(&c->url, url)) != VOUCHER_OK ||
	    (e = dup_into(&c->trust, trust)) != VOUCHER_OK ||
	    (e = dup_into(&c->ctype, ctype)) != VOUCHER_OK ||
	    (e = dup_into(&c->accept, accept)) != VOUCHER_OK) {
		call_free(app, c);
		return e;
	}
	c->rvr = *rvr;
	c->rvr_len = rvr_len;
	*rvr = NULL;
	c->start_ms = brski_monotonic_ms();

	pthread_mutex_lock(&pd->lock);
	if (pd->stopping) {
		e = VOUCHER_EAGAIN;
		goto unlock;
	}
	/* Another request with the same body may have started it meanwhile;
	 * an older call of the same pledge is replaced. */
	for (struct creg_pending **pp = &pd->list; *pp;) {
		struct creg_pending *o = *pp;
		if (strcmp(o->serial, serial) != 0) {
			pp = &o->next;
			continue;
		}
		if (memcmp(o->hash, hash, 32) == 0) {
			o->refs++;
			found = o;
			break;
		}
		*pp = o->next;
		o->next = NULL;
		o->listed = false;
		o->abandoned = true;
		pd->n_listed--;
		log_info("masa: a new voucher-request of serial %s replaces its pending one",
		         serial);
		if (unref_locked(o)) {
			o->next = dead;
			dead = o;
		}
	}
	if (found) {
		*out = found;
		e = VOUCHER_OK;
		goto unlock;
	}
	if (pd->n_busy >= k->max_inflight || pd->n_listed >= k->masa_pending_max) {
		e = VOUCHER_EAGAIN;
		goto unlock;
	}
	/* A worker that was woken but has not taken its call yet still
	 * counts as idle: compare with the calls waiting for one. */
	if (pd->n_queued + 1 > pd->n_idle && pd->n_workers < k->max_inflight &&
	    pd->n_workers < CREG_PEND_MAX_WORKERS) {
		perr = pthread_create(&pd->threads[pd->n_workers], NULL, worker, pd);
		if (perr == 0)
			pd->n_workers++;
		else if (pd->n_workers == 0) {
			/* Nobody would ever run it. */
			log_err("masa: failed to start a worker thread (%s)", strerror(perr));
			e = VOUCHER_EAGAIN;
			goto unlock;
		}
	}
	/* One reference for the table, one for the queue, one for the caller. */
	c->refs = 3;
	c->listed = true;
	c->next = pd->list;
	pd->list = c;
	pd->n_listed++;
	if (pd->qtail)
		pd->qtail->qnext = c;
	else
		pd->qhead = c;
	pd->qtail = c;
	pd->n_queued++;
	pd->n_busy++;
	pthread_cond_signal(&pd->work);
	*out = c;
	c = NULL;
	e = VOUCHER_OK;
unlock:
	pthread_mutex_unlock(&pd->lock);
	free_dead(app, dead);
	call_free(app, c);
	return e;
}

bool creg_pend_wait(struct creg_app *app, struct creg_pending *c, unsigned timeout_s)
{
	struct creg_pend *pd = app->pend;
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)timeout_s;
	pthread_mutex_lock(&pd->lock);
	while (c->state != CALL_DONE && !pd->stopping)
		if (pthread_cond_timedwait(&pd->done, &pd->lock, &until) == ETIMEDOUT)
			break;
	done = c->state == CALL_DONE;
	/* Answered: the next request of this body is a new call. */
	if (done && c->listed) {
		unlist_locked(pd, c);
		/* The table's reference; the caller's keeps it alive. */
		c->refs--;
	}
	pthread_mutex_unlock(&pd->lock);
	return done;
}

voucher_err creg_pend_outcome(const struct creg_pending *c, const struct creg_masa_result **res,
                              const char **url)
{
	*res = &c->res;
	*url = c->url;
	return c->err;
}

void creg_pend_put(struct creg_app *app, struct creg_pending *c)
{
	struct creg_pend *pd = app->pend;

	if (!c)
		return;
	pthread_mutex_lock(&pd->lock);
	c = unref_locked(c);
	pthread_mutex_unlock(&pd->lock);
	call_free(app, c);
}
