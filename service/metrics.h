/*
 * Prometheus metrics: requests by listener, route and status, a latency
 * histogram per route, and process-wide error counters. Routes are
 * registered once at start (single-threaded); counting is lock-free
 * (relaxed atomics) from any thread; rendering reads a consistent-enough
 * snapshot without stopping the writers.
 */
#ifndef SVC_METRICS_H
#define SVC_METRICS_H

#include <stdint.h>

#include "common/buf.h"

#define SVC_METRICS_MAX_ROUTES 128

enum svc_metric_counter {
	SVC_METRIC_STORE_ERRORS,
	SVC_METRIC_TLS_HANDSHAKE_FAILURES,
	SVC_METRIC_UPSTREAM_ERRORS,
	SVC_METRIC_CERT_CACHE_HITS,   /* EST: answered from the certificate cache */
	SVC_METRIC_CERT_CACHE_MISSES, /* EST: not in the cache (a job) */
	SVC_METRIC__COUNT
};

struct svc_metrics;

/* *out is new; free with svc_metrics_free. */
voucher_err svc_metrics_new(struct svc_metrics **out);
void svc_metrics_free(struct svc_metrics *m);

/* Register a series for (listener, method, route) and return its slot, or
 * -1 when the table is full (the requests are then not counted by route).
 * Strings are copied. Not thread-safe: call before serving. */
int svc_metrics_route(struct svc_metrics *m, const char *listener, const char *method,
                      const char *route);

/* Count one finished request on a slot (-1 is ignored). Thread-safe. */
void svc_metrics_request(struct svc_metrics *m, int slot, unsigned status, uint64_t usec);
void svc_metrics_inc(struct svc_metrics *m, enum svc_metric_counter c);
/* Requests being processed now (the in-flight gauge); +1 or -1. */
void svc_metrics_inflight(struct svc_metrics *m, int delta);
uint64_t svc_metrics_get(const struct svc_metrics *m, enum svc_metric_counter c);
/* Requests counted on a slot with a status (for tests). */
uint64_t svc_metrics_get_requests(const struct svc_metrics *m, int slot, unsigned status);

/* Append the text exposition format (version 0.0.4) to out. */
voucher_err svc_metrics_render(const struct svc_metrics *m, struct brski_buf *out);

#define SVC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
