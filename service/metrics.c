/* Prometheus counters: see metrics.h. */
#include <config.h> /* the build's, not service/config.h */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "service/metrics.h"

/* Statuses 100..599 each get a counter: no table of "known" statuses to
 * keep in sync with what handlers answer. */
#define STATUS_MIN 100
#define STATUS_N   500

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bucket_le_us[] = {500,     1000,    2500,    5000,    10000,
                                        25000,   50000,   100000,  250000,  500000,
                                        1000000, 2500000, 5000000, 10000000};
#define N_BUCKETS (sizeof(bucket_le_us) / sizeof(bucket_le_us[0]) + 1)

struct route_series {
	char *listener;
	char *method;
	char *route;
	_Atomic uint64_t status[STATUS_N];
	_Atomic uint64_t other_status;
	_Atomic uint64_t bucket[N_BUCKETS];
	_Atomic uint64_t sum_us;
	_Atomic uint64_t count;
};

struct svc_metrics {
	size_t n_routes;
	struct route_series *routes[SVC_METRICS_MAX_ROUTES];
	_Atomic uint64_t counters[SVC_METRIC__COUNT];
	_Atomic int64_t inflight;
};

static const struct {
	const char *name;
	const char *help;
} counter_info[SVC_METRIC__COUNT] = {
        [SVC_METRIC_STORE_ERRORS] = {"brski_store_errors_total",
                                     "Store (database) operations that failed."},
        [SVC_METRIC_TLS_HANDSHAKE_FAILURES] =
                {"brski_tls_handshake_failures_total",
                 "TLS connections closed before the handshake completed."},
        [SVC_METRIC_UPSTREAM_ERRORS] = {"brski_upstream_errors_total",
                                        "Requests to an upstream peer (MASA, CA) that failed."},
        [SVC_METRIC_CERT_CACHE_HITS] = {"brski_est_cert_cache_hits_total",
                                        "EST enrollments answered from the certificate cache."},
        [SVC_METRIC_CERT_CACHE_MISSES] = {"brski_est_cert_cache_misses_total",
                                          "EST enrollments the certificate cache could not "
                                          "answer."},
};

voucher_err svc_metrics_new(struct svc_metrics **out)
{
	struct svc_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return VOUCHER_ENOMEM;
	*out = m;
	return VOUCHER_OK;
}

void svc_metrics_free(struct svc_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_routes; i++) {
		free(m->routes[i]->listener);
		free(m->routes[i]->method);
		free(m->routes[i]->route);
		free(m->routes[i]);
	}
	free(m);
}

int svc_metrics_route(struct svc_metrics *m, const char *listener, const char *method,
                      const char *route)
{
	struct route_series *s;

	if (m->n_routes >= SVC_METRICS_MAX_ROUTES)
		return -1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->listener = brski_strdup(listener);
	s->method = brski_strdup(method);
	s->route = brski_strdup(route);
	if (!s->listener || !s->method || !s->route) {
		free(s->listener);
		free(s->method);
		free(s->route);
		free(s);
		return -1;
	}
	m->routes[m->n_routes] = s;
	return (int)m->n_routes++;
}

void svc_metrics_request(struct svc_metrics *m, int slot, unsigned status, uint64_t usec)
{
	struct route_series *s;
	size_t b;

	if (!m || slot < 0 || (size_t)slot >= m->n_routes)
		return;
	s = m->routes[slot];
	if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_N)
		atomic_fetch_add_explicit(&s->status[status - STATUS_MIN], 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&s->other_status, 1, memory_order_relaxed);
	for (b = 0; b < N_BUCKETS - 1; b++)
		if (usec <= bucket_le_us[b])
			break;
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, usec, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void svc_metrics_inc(struct svc_metrics *m, enum svc_metric_counter c)
{
	if (m && c < SVC_METRIC__COUNT)
		atomic_fetch_add_explicit(&m->counters[c], 1, memory_order_relaxed);
}

void svc_metrics_inflight(struct svc_metrics *m, int delta)
{
	if (m)
		atomic_fetch_add_explicit(&m->inflight, delta, memory_order_relaxed);
}

uint64_t svc_metrics_get(const struct svc_metrics *m, enum svc_metric_counter c)
{
	if (!m || c >= SVC_METRIC__COUNT)
		return 0;
	return atomic_load_explicit(&m->counters[c], memory_order_relaxed);
}

uint64_t svc_metrics_get_requests(const struct svc_metrics *m, int slot, unsigned status)
{
	if (!m || slot < 0 || (size_t)slot >= m->n_routes || status < STATUS_MIN ||
	    status >= STATUS_MIN + STATUS_N)
		return 0;
	return atomic_load_explicit(&m->routes[slot]->status[status - STATUS_MIN],
	                            memory_order_relaxed);
}

/* Label values are ours (route patterns, section names), but escape them as
 * the format requires anyway. */
static voucher_err put_label(struct brski_buf *out, const char *name, const char *value, bool first)
{
	voucher_err r = brski_buf_printf(out, "%s%s=\"", first ? "" : ",", name);

	for (const char *p = value; r == VOUCHER_OK && *p; p++) {
		if (*p == '\\' || *p == '"')
			r = brski_buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			r = brski_buf_puts(out, "\\n");
		else
			r = brski_buf_putc(out, (uint8_t)*p);
	}
	if (r == VOUCHER_OK)
		r = brski_buf_putc(out, '"');
	return r;
}

static voucher_err put_route_labels(struct brski_buf *out, const struct route_series *s,
                                    bool with_method)
{
	voucher_err r = put_label(out, "listener", s->listener, true);

	if (r == VOUCHER_OK && with_method)
		r = put_label(out, "method", s->method, false);
	if (r == VOUCHER_OK)
		r = put_label(out, "route", s->route, false);
	return r;
}

voucher_err svc_metrics_render(const struct svc_metrics *m, struct brski_buf *out)
{
	voucher_err r = VOUCHER_OK;

	r = brski_buf_puts(out, "# HELP brski_http_requests_total HTTP requests answered, by "
	                        "listener, route and status.\n"
	                        "# TYPE brski_http_requests_total counter\n");
	for (size_t i = 0; r == VOUCHER_OK && i < m->n_routes; i++) {
		const struct route_series *s = m->routes[i];
		for (unsigned st = 0; r == VOUCHER_OK && st < STATUS_N; st++) {
			uint64_t v = atomic_load_explicit(&s->status[st], memory_order_relaxed);
			if (!v)
				continue;
			r = brski_buf_puts(out, "brski_http_requests_total{");
			if (r == VOUCHER_OK)
				r = put_route_labels(out, s, true);
			if (r == VOUCHER_OK)
				r = brski_buf_printf(out, ",code=\"%u\"} %llu\n", st + STATUS_MIN,
				                     (unsigned long long)v);
		}
	}
	if (r == VOUCHER_OK)
		r = brski_buf_puts(out, "# HELP brski_http_request_duration_seconds Time from the "
		                        "request headers to the queued response.\n"
		                        "# TYPE brski_http_request_duration_seconds histogram\n");
	for (size_t i = 0; r == VOUCHER_OK && i < m->n_routes; i++) {
		const struct route_series *s = m->routes[i];
		uint64_t cum = 0;
		for (size_t b = 0; r == VOUCHER_OK && b < N_BUCKETS; b++) {
			cum += atomic_load_explicit(&s->bucket[b], memory_order_relaxed);
			r = brski_buf_puts(out, "brski_http_request_duration_seconds_bucket{");
			if (r == VOUCHER_OK)
				r = put_route_labels(out, s, true);
			if (r != VOUCHER_OK)
				break;
			if (b < N_BUCKETS - 1)
				r = brski_buf_printf(
				        out, ",le=\"%llu.%06llu\"} %llu\n",
				        (unsigned long long)(bucket_le_us[b] / 1000000),
				        (unsigned long long)(bucket_le_us[b] % 1000000),
				        (unsigned long long)cum);
			else
				r = brski_buf_printf(out, ",le=\"+Inf\"} %llu\n",
				                     (unsigned long long)cum);
		}
		uint64_t sum = atomic_load_explicit(&s->sum_us, memory_order_relaxed);
		uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
		if (r == VOUCHER_OK)
			r = brski_buf_puts(out, "brski_http_request_duration_seconds_sum{");
		if (r == VOUCHER_OK)
			r = put_route_labels(out, s, true);
		if (r == VOUCHER_OK)
			r = brski_buf_printf(out, "} %llu.%06llu\n",
			                     (unsigned long long)(sum / 1000000),
			                     (unsigned long long)(sum % 1000000));
		if (r == VOUCHER_OK)
			r = brski_buf_puts(out, "brski_http_request_duration_seconds_count{");
		if (r == VOUCHER_OK)
			r = put_route_labels(out, s, true);
		if (r == VOUCHER_OK)
			r = brski_buf_printf(out, "} %llu\n", (unsigned long long)count);
	}
	for (int c = 0; r == VOUCHER_OK && c < SVC_METRIC__COUNT; c++)
		r = brski_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		                     counter_info[c].name, counter_info[c].help,
		                     counter_info[c].name, counter_info[c].name,
		                     (unsigned long long)atomic_load_explicit(
		                             &m->counters[c], memory_order_relaxed));
	if (r == VOUCHER_OK)
		r = brski_buf_printf(
		        out,
		        "# HELP brski_http_requests_in_flight Requests being processed.\n"
		        "# TYPE brski_http_requests_in_flight gauge\n"
		        "brski_http_requests_in_flight %lld\n",
		        (long long)atomic_load_explicit(&m->inflight, memory_order_relaxed));
	return r;
}
