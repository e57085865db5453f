/*
 * The loopback load generator of `brski bench`: one thread per connection,
 * each a GnuTLS session over a TCP socket with Nagle off, sending HTTP/1.1
 * POSTs with keep-alive. The requests are pre-generated; an atomic index
 * hands each to exactly one connection, so none is ever replayed. The run
 * is bounded by the number of requests and by wall-clock time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/str.h"
#include "tools/bench.h"

#define LOAD_RESP_MAX (256 * 1024) /* a voucher is a few KiB */
#define LOAD_HEAD_MAX 1024

struct load_shared {
	const struct bench_load *b;
	gnutls_certificate_credentials_t cred;
	atomic_size_t next;
	double deadline, start;
	double *lat_ms; /* per request; < 0 when not answered */
	pthread_mutex_t mu;
	struct bench_result *r;
	double last_end;
	atomic_uint thread_ids; /* replay: connection k serves reqs[k], ... */
};

struct load_conn {
	int fd;
	gnutls_session_t s;
	uint8_t buf[LOAD_RESP_MAX];
};

static void conn_close(struct load_conn *c)
{
	if (c->s) {
		gnutls_deinit(c->s);
		c->s = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static int conn_open(struct load_shared *sh, gnutls_certificate_credentials_t cred,
                     struct load_conn *c, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	int one = 1, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(sh->b->port);
	if (inet_pton(AF_INET, sh->b->host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "%s is not an IPv4 address", sh->b->host);
		return -1;
	}
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect %s:%u: %s", sh->b->host, sh->b->port,
		         strerror(errno));
		conn_close(c);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((rc = gnutls_init(&c->s, GNUTLS_CLIENT)) < 0 ||
	    (rc = gnutls_set_default_priority(c->s)) < 0 ||
	    (rc = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred ? cred : sh->cred)) <
	            0) {
		snprintf(err, errlen, "TLS session: %s", gnutls_strerror(rc));
		conn_close(c);
		return -1;
	}
	/* A pledge's own credential has no trust anchors: its TLS is
	 * provisional (RFC 8995 section 5.1), as in `brski pledge`. */
	if (cred == NULL)
		gnutls_session_set_verify_cert(c->s, NULL, 0);
	gnutls_transport_set_int(c->s, c->fd);
	do
		rc = gnutls_handshake(c->s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		snprintf(err, errlen, "TLS handshake: %s", gnutls_strerror(rc));
		conn_close(c);
		return -1;
	}
	return 0;
}

static int send_all(gnutls_session_t s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = gnutls_record_send(s, p, n);
		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The value of header `name` in head[0..len), or NULL. */
static const char *find_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;
	while (p && p + 1 < end) {
		p++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t n = (size_t)(eol - v);
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			*vlen = n;
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* Read one response: *status, body in c->buf[*body..*body+*blen), *close
 * when the server ends the connection after it. 0 or -1. */
static int read_response(struct load_conn *c, unsigned *status, size_t *body, size_t *blen,
                         int *close_after)
{
	size_t have = 0, head_end = 0;
	for (;;) {
		if (have >= sizeof(c->buf) - 1)
			return -1;
		ssize_t n = gnutls_record_recv(c->s, c->buf + have, sizeof(c->buf) - 1 - have);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		c->buf[have] = '\0';
		char *e = strstr((char *)c->buf, "\r\n\r\n");
		if (e) {
			head_end = (size_t)(e - (char *)c->buf) + 4;
			break;
		}
	}
	const char *h = (const char *)c->buf;
	if (head_end < 12 || strncmp(h, "HTTP/1.", 7) != 0)
		return -1;
	char code[4] = {h[9], h[10], h[11], 0};
	uint64_t st = 0, cl = 0;
	if (brski_str_to_u64(code, &st, 999) != VOUCHER_OK)
		return -1;
	size_t vl = 0;
	const char *v = find_header(h, head_end, "Content-Length", &vl);
	char num[24];
	if (!v || vl == 0 || vl >= sizeof(num))
		return -1; /* the daemons always send a length */
	memcpy(num, v, vl);
	num[vl] = '\0';
	if (brski_str_to_u64(num, &cl, sizeof(c->buf) - 1 - head_end) != VOUCHER_OK)
		return -1;
	v = find_header(h, head_end, "Connection", &vl);
	*close_after = v && vl == 5 && strncasecmp(v, "close", 5) == 0;
	while (have < head_end + cl) {
		ssize_t n = gnutls_record_recv(c->s, c->buf + have, head_end + cl - have);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	*status = (unsigned)st;
	*body = head_end;
	*blen = cl;
	return 0;
}

static void note_failure(struct load_shared *sh, unsigned status, const char *text, size_t n)
{
	pthread_mutex_lock(&sh->mu);
	if (sh->r->first_error[0] == '\0') {
		sh->r->first_status = status;
		if (n >= sizeof(sh->r->first_error))
			n = sizeof(sh->r->first_error) - 1;
		memcpy(sh->r->first_error, text, n);
		sh->r->first_error[n] = '\0';
	}
	pthread_mutex_unlock(&sh->mu);
}

static void *load_thread(void *arg)
{
	struct load_shared *sh = arg;
	const struct bench_load *b = sh->b;
	struct load_conn *c = malloc(sizeof(*c));
	size_t ok = 0, failed = 0, sent = 0;
	unsigned hs = 0;
	char head[LOAD_HEAD_MAX], err[200];
	double last = 0;
	unsigned me = atomic_fetch_add(&sh->thread_ids, 1);
	size_t total = b->replay ? b->replay : b->nreqs, mine = 0, cur = (size_t)-1;

	if (!c)
		return NULL;
	c->fd = -1;
	c->s = NULL;
	for (;;) {
		size_t i = atomic_fetch_add(&sh->next, 1);
		if (i >= total)
			break;
		if (b->rate > 0) {
			/* Open loop: request i is due at start + i / rate. */
			double due = sh->start + (double)i / b->rate, now = bench_now();
			if (due > now) {
				struct timespec ts = {
				        (time_t)(due - now),
				        (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
		if (bench_now() >= sh->deadline)
			break;
		const struct bench_req *q = b->replay ? b->reqs : &b->reqs[i];
		if (b->replay) {
			/* This connection's request of the turn; a new request
			 * (another client certificate) needs a new connection. */
			size_t turn = mine++ / (b->burst ? b->burst : 1);
			size_t j = ((size_t)me + (size_t)b->connections * turn) % b->nreqs;
			if (j != cur)
				conn_close(c);
			cur = j;
			q = &b->reqs[j];
		}
		if (b->fresh)
			conn_close(c);
		if (c->s == NULL) {
			if (conn_open(sh, q->cred, c, err, sizeof(err)) < 0) {
				note_failure(sh, 0, err, strlen(err));
				failed++;
				if (b->fresh)
					continue; /* one pledge refused, not the daemon gone */
				break;
			}
			hs++;
		}
		int hl = snprintf(head, sizeof(head),
		                  "POST %s HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: %s\r\n"
		                  "Accept: %s\r\nContent-Length: %zu\r\n\r\n",
		                  b->path, b->host, b->port, b->content_type, b->accept, q->len);
		if (hl < 0 || (size_t)hl >= sizeof(head))
			break;
		double t0 = bench_now();
		unsigned status = 0;
		size_t body = 0, blen = 0;
		int close_after = 0;
		sent++;
		gnutls_record_cork(c->s);
		if (send_all(c->s, (const uint8_t *)head, (size_t)hl) < 0 ||
		    send_all(c->s, q->body, q->len) < 0 ||
		    gnutls_record_uncork(c->s, GNUTLS_RECORD_WAIT) < 0 ||
		    read_response(c, &status, &body, &blen, &close_after) < 0) {
			conn_close(c);
			failed++;
			note_failure(sh, 0, "the connection failed mid-request",
			             strlen("the connection failed mid-request"));
			continue;
		}
		last = bench_now();
		sh->lat_ms[i] = (last - t0) * 1000.0;
		if (status >= 200 && status < 400) {
			ok++;
		} else {
			failed++;
			note_failure(sh, status, (const char *)c->buf + body, blen);
		}
		if (close_after)
			conn_close(c);
	}
	conn_close(c);
	free(c);
	pthread_mutex_lock(&sh->mu);
	sh->r->ok += ok;
	sh->r->failed += failed;
	sh->r->sent += sent;
	sh->r->handshakes += hs;
	if (last > sh->last_end)
		sh->last_end = last;
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int bench_load_run(const struct bench_load *b, struct bench_result *r)
{
	struct load_shared sh;
	pthread_t th[BENCH_MAX_CONNECTIONS];
	unsigned n = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&sh, 0, sizeof(sh));
	sh.b = b;
	sh.r = r;
	atomic_init(&sh.next, 0);
	atomic_init(&sh.thread_ids, 0);
	pthread_mutex_init(&sh.mu, NULL);
	size_t total = b->replay ? b->replay : b->nreqs;
	if (b->connections == 0 || b->connections > BENCH_MAX_CONNECTIONS || b->nreqs == 0)
		return -1;
	if (!(sh.lat_ms = malloc(total * sizeof(double)))) {
		fprintf(stderr, "brski bench: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < total; i++)
		sh.lat_ms[i] = -1;
	if ((rc = gnutls_certificate_allocate_credentials(&sh.cred)) < 0 ||
	    (rc = gnutls_certificate_set_x509_trust_file(sh.cred, b->cafile,
	                                                 GNUTLS_X509_FMT_PEM)) <= 0 ||
	    (b->cert_chain && !b->fresh &&
	     (rc = gnutls_certificate_set_x509_key_file(sh.cred, b->cert_chain, b->key,
	                                                GNUTLS_X509_FMT_PEM)) < 0)) {
		fprintf(stderr, "brski bench: TLS credentials (%s, %s): %s\n", b->cafile,
		        b->cert_chain ? b->cert_chain : "no client certificate",
		        gnutls_strerror(rc));
		if (sh.cred)
			gnutls_certificate_free_credentials(sh.cred);
		free(sh.lat_ms);
		return -1;
	}
	sh.start = bench_now();
	sh.deadline = sh.start + b->seconds;
	for (; n < b->connections; n++)
		if (pthread_create(&th[n], NULL, load_thread, &sh) != 0)
			break;
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	r->wall = sh.last_end > sh.start ? sh.last_end - sh.start : 0;

	/* Latencies of the answered requests, sorted in place. */
	size_t m = 0;
	for (size_t i = 0; i < total; i++)
		if (sh.lat_ms[i] >= 0)
			sh.lat_ms[m++] = sh.lat_ms[i];
	if (m > 0) {
		qsort(sh.lat_ms, m, sizeof(double), cmp_double);
		r->p50_ms = sh.lat_ms[(m - 1) / 2];
		r->p99_ms = sh.lat_ms[(size_t)((double)(m - 1) * 0.99)];
		r->max_ms = sh.lat_ms[m - 1];
	}
	free(sh.lat_ms);
	gnutls_certificate_free_credentials(sh.cred);
	pthread_mutex_destroy(&sh.mu);
	if (r->sent == 0) {
		fprintf(stderr, "brski bench: no request was sent (%s)\n", r->first_error);
		return -1;
	}
	return 0;
}
