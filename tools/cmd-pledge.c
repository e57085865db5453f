/*
 * brski pledge: a simulated device running the pledge side of BRSKI with a
 * cloud registrar (RFC 8995, draft-ietf-anima-brski-cloud-20).
 *
 * TLS is GnuTLS used directly, not libcurl: the pledge must put the
 * certificate the server presented into proximity-registrar-cert before it
 * sends the request on that same session, must keep a provisional server
 * chain to validate later against pinned-domain-cert, and validates the EST
 * server against the pin alone. HTTP/1.1 is the small subset the daemons
 * speak: one request at a time, Content-Length bodies.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include <voucher/error.h>
#include <voucher/sign.h>
#include <voucher/voucher.h>
#include <voucher/x509.h>

#include "common/buf.h"
#include "common/compat.h"
#include "cloudreg/est.h"
#include "common/str.h"
#include "tools/brski.h"
#include "tools/util.h"

#define PROG "brski pledge"

/* Exit statuses beyond BRSKI_EXIT_* (documented in --help). */
enum {
	PLEDGE_EXIT_REFUSED = 4, /* a registrar or EST server answered with an error */
};

#define MAX_HEADER    (16 * 1024)
#define MAX_BODY      (1024 * 1024)
#define MAX_CHAIN     8
#define HOPS_DEFAULT  24 /* cloud-20 4.1: a limit "in the dozens" */
#define WAIT_CAP      60 /* RFC 8995 5.6: Retry-After is capped at 60 s */
#define TRIES_DEFAULT 5  /* 202 answers waited out per registrar */
#define RV_PATH       "/.well-known/brski/requestvoucher"

/* ---- output ---------------------------------------------------------------- */

/* One line per step on stdout. */
static void step(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(const char *what, const char *fmt, ...)
{
	va_list ap;
	printf("%-15s ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A peer's body for a person: printable, bounded. */
static void printable(const struct brski_buf *b, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < b->len && o + 1 < outlen; i++) {
		uint8_t c = b->data[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' ? ' ' : '?');
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* ---- URLs --------------------------------------------------------------------- */

struct url {
	char host[256]; /* without brackets */
	char port[8];
	char path[512];
	bool ip; /* host is an IP literal */
	char origin[300];
};

/* https://host[:port][/path]; an empty path becomes def_path. */
static bool url_parse(const char *s, const char *def_path, struct url *u)
{
	const char *h, *end, *p;
	size_t hl;
	unsigned char tmp[16];

	memset(u, 0, sizeof(*u));
	if (!brski_str_startswith(s, "https://"))
		return false;
	h = s + 8;
	p = strchr(h, '/');
	end = p ? p : h + strlen(h);
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return false;
		hl = (size_t)(rb - h - 1);
		if (hl == 0 || hl >= sizeof(u->host))
			return false;
		memcpy(u->host, h + 1, hl);
		h = rb + 1;
		if (h < end && *h != ':')
			return false;
	} else {
		const char *c = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((c ? c : end) - h);
		if (hl == 0 || hl >= sizeof(u->host))
			return false;
		memcpy(u->host, h, hl);
		h = c ? c : end;
	}
	if (h < end && *h == ':') {
		uint64_t port;
		const char *q = h + 1;
		char digits[8];
		size_t dl = (size_t)(end - q);
		if (dl == 0 || dl >= sizeof(digits))
			return false;
		memcpy(digits, q, dl);
		digits[dl] = '\0';
		q = digits;
		if (brski_str_number(&q, &port, 65535) != VOUCHER_OK || *q || port == 0)
			return false;
		snprintf(u->port, sizeof(u->port), "%u", (unsigned)port);
	} else {
		snprintf(u->port, sizeof(u->port), "443");
	}
	snprintf(u->path, sizeof(u->path), "%s", (p && strcmp(p, "/") != 0) ? p : def_path);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return false;
	u->ip = inet_pton(AF_INET, u->host, tmp) == 1 || inet_pton(AF_INET6, u->host, tmp) == 1;
	snprintf(u->origin, sizeof(u->origin), "https://%s%s%s:%s", strchr(u->host, ':') ? "[" : "",
	         u->host, strchr(u->host, ':') ? "]" : "", u->port);
	return true;
}

/* ---- TLS connections ---------------------------------------------------------- */

struct conn {
	int fd;
	gnutls_session_t s;
	struct url url;
	size_t n_peer;
	uint8_t *peer[MAX_CHAIN]; /* the server's chain as presented, DER */
	size_t peer_len[MAX_CHAIN];
	bool implicit_ok; /* validated by the implicit trust anchors + name */
	char implicit_why[200];
	bool closed; /* the server asked to close, or did */
};

static void conn_close(struct conn *c)
{
	if (c->s) {
		gnutls_bye(c->s, GNUTLS_SHUT_WR);
		gnutls_deinit(c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->n_peer; i++)
		free(c->peer[i]);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Connect and handshake without judging the server, then keep its chain
 * and record whether the implicit trust anchors (cred's trust list) and
 * the name validate it. */
static int conn_open(struct conn *c, const struct url *u, gnutls_certificate_credentials_t cred,
                     unsigned timeout)
{
	struct addrinfo hints = {0}, *ai = NULL, *a;
	struct timeval tv = {(time_t)timeout, 0};
	const gnutls_datum_t *peers;
	unsigned n = 0, status = 0;
	int g;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->url = *u;
	hints.ai_socktype = SOCK_STREAM;
	if ((g = getaddrinfo(u->host, u->port, &hints, &ai)) != 0)
		return brski_fail(PROG, BRSKI_EXIT_IO, "failed to resolve %s (%s)", u->host,
		                  gai_strerror(g));
	for (a = ai; a; a = a->ai_next) {
		c->fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (c->fd < 0)
			continue;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return brski_fail(PROG, BRSKI_EXIT_IO, "failed to connect to %s (%s)", u->origin,
		                  strerror(errno));
	if (gnutls_init(&c->s, GNUTLS_CLIENT) < 0 || gnutls_set_default_priority(c->s) < 0 ||
	    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred) < 0) {
		conn_close(c);
		return brski_fail(PROG, BRSKI_EXIT_IO, "failed to set up a TLS session");
	}
	/* SNI only for names (RFC 6066 forbids literals). */
	if (!u->ip)
		gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, u->host, strlen(u->host));
	gnutls_transport_set_int(c->s, c->fd);
	gnutls_handshake_set_timeout(c->s, timeout * 1000);
	do
		g = gnutls_handshake(c->s);
	while (g < 0 && !gnutls_error_is_fatal(g));
	if (g < 0) {
		int rc = brski_fail(PROG, BRSKI_EXIT_IO, "TLS handshake with %s failed (%s)",
		                    u->origin, gnutls_strerror(g));
		conn_close(c);
		return rc;
	}
	peers = gnutls_certificate_get_peers(c->s, &n);
	for (unsigned i = 0; peers && i < n && i < MAX_CHAIN; i++) {
		if (!(c->peer[i] = malloc(peers[i].size))) {
			conn_close(c);
			return brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");
		}
		memcpy(c->peer[i], peers[i].data, peers[i].size);
		c->peer_len[i] = peers[i].size;
		c->n_peer++;
	}
	if (c->n_peer == 0) {
		conn_close(c);
		return brski_fail(PROG, BRSKI_EXIT_BAD, "%s presented no certificate", u->origin);
	}
	g = gnutls_certificate_verify_peers3(c->s, u->host, &status);
	if (g == 0 && status == 0) {
		c->implicit_ok = true;
	} else {
		gnutls_datum_t out = {0};
		if (g == 0 && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
		                                                           &out, 0) == 0) {
			snprintf(c->implicit_why, sizeof(c->implicit_why), "%s", out.data);
			gnutls_free(out.data);
		} else {
			snprintf(c->implicit_why, sizeof(c->implicit_why), "%s",
			         gnutls_strerror(g));
		}
	}
	return BRSKI_EXIT_OK;
}

static int send_all(struct conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = gnutls_record_send(c->s, b, n);
		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

struct http_resp {
	unsigned status;
	char ctype[128];
	char location[600];
	long retry_after; /* -1: absent */
	struct brski_buf body;
};

static void resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	brski_buf_init(&r->body, MAX_BODY);
}

static void resp_free(struct http_resp *r)
{
	brski_buf_free(&r->body);
}

static bool header_is(const char *line, const char *name, const char **value)
{
	size_t n = strlen(name);
	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*value = line + n + 1;
	while (**value == ' ' || **value == '\t')
		(*value)++;
	return true;
}

/* One request and its response on c. Returns BRSKI_EXIT_OK or an exit
 * status after printing why. */
static int http(struct conn *c, const char *method, const char *path, const char *ctype,
                const char *accept, const uint8_t *body, size_t len, struct http_resp *r)
{
	char head[2048], *hdr = NULL, *line, *save = NULL;
	size_t have = 0, hdr_end = 0;
	uint64_t clen = 0;
	bool has_clen = false, chunked = false;
	int n;

	n = snprintf(head, sizeof(head),
	             "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: brski-pledge/%s\r\n%s%s%s%s%s%s"
	             "Content-Length: %zu\r\n\r\n",
	             method, path, c->url.origin + 8, PACKAGE_VERSION,
	             ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
	             accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "", len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "request header too long");
	if (send_all(c, head, (size_t)n) != 0 || (len && send_all(c, body, len) != 0)) {
		c->closed = true;
		return brski_fail(PROG, BRSKI_EXIT_IO, "failed to send the request to %s",
		                  c->url.origin);
	}
	if (!(hdr = malloc(MAX_HEADER + 1)))
		return brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");
	/* Headers: read until the blank line; what follows is body. */
	for (;;) {
		ssize_t got;
		char *eoh;
		if (have == MAX_HEADER) {
			free(hdr);
			return brski_fail(PROG, BRSKI_EXIT_BAD,
			                  "response headers from %s over %d bytes", c->url.origin,
			                  MAX_HEADER);
		}
		got = gnutls_record_recv(c->s, hdr + have, MAX_HEADER - have);
		if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
			continue;
		if (got <= 0) {
			free(hdr);
			c->closed = true;
			return brski_fail(PROG, BRSKI_EXIT_IO,
			                  "%s closed the connection without an answer (%s)",
			                  c->url.origin,
			                  got < 0 ? gnutls_strerror((int)got) : "EOF");
		}
		have += (size_t)got;
		hdr[have] = '\0';
		if ((eoh = strstr(hdr, "\r\n\r\n")) != NULL) {
			hdr_end = (size_t)(eoh - hdr) + 4;
			*eoh = '\0';
			break;
		}
	}
	line = strtok_r(hdr, "\r\n", &save);
	if (!line || strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12) {
		free(hdr);
		return brski_fail(PROG, BRSKI_EXIT_BAD, "%s sent no HTTP status line",
		                  c->url.origin);
	}
	{
		const char *p = line + 9;
		uint64_t st;
		if (brski_str_number(&p, &st, 599) != VOUCHER_OK || st < 100) {
			free(hdr);
			return brski_fail(PROG, BRSKI_EXIT_BAD, "bad HTTP status line from %s",
			                  c->url.origin);
		}
		r->status = (unsigned)st;
		/* HTTP/1.0 closes after the response unless told otherwise. */
		if (line[7] == '0')
			c->closed = true;
	}
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		const char *v;
		if (header_is(line, "Content-Length", &v)) {
			if (brski_str_number(&v, &clen, MAX_BODY) != VOUCHER_OK) {
				free(hdr);
				return brski_fail(PROG, BRSKI_EXIT_BAD,
				                  "bad or too large Content-Length from %s",
				                  c->url.origin);
			}
			has_clen = true;
		} else if (header_is(line, "Content-Type", &v)) {
			snprintf(r->ctype, sizeof(r->ctype), "%s", v);
		} else if (header_is(line, "Location", &v)) {
			snprintf(r->location, sizeof(r->location), "%s", v);
		} else if (header_is(line, "Retry-After", &v)) {
			uint64_t ra;
			if (brski_str_number(&v, &ra, 86400 * 4) == VOUCHER_OK)
				r->retry_after = (long)ra;
		} else if (header_is(line, "Connection", &v)) {
			if (strcasecmp(v, "close") == 0)
				c->closed = true;
		} else if (header_is(line, "Transfer-Encoding", &v)) {
			chunked = strcasecmp(v, "identity") != 0;
		}
	}
	if (chunked) {
		free(hdr);
		return brski_fail(PROG, BRSKI_EXIT_BAD,
		                  "%s sent a chunked body (this pledge expects Content-Length)",
		                  c->url.origin);
	}
	if (have > hdr_end &&
	    brski_buf_put(&r->body, hdr + hdr_end,
	                  has_clen && have - hdr_end > clen ? clen : have - hdr_end) !=
	            VOUCHER_OK) {
		free(hdr);
		return brski_fail(PROG, BRSKI_EXIT_BAD, "body from %s too large", c->url.origin);
	}
	free(hdr);
	while (!has_clen || r->body.len < clen) {
		uint8_t buf[8192];
		size_t want = has_clen ? (size_t)clen - r->body.len : sizeof(buf);
		ssize_t got =
		        gnutls_record_recv(c->s, buf, want < sizeof(buf) ? want : sizeof(buf));
		if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
			continue;
		if (got <= 0) {
			c->closed = true;
			if (!has_clen)
				break; /* the body ends with the connection */
			return brski_fail(PROG, BRSKI_EXIT_IO, "%s closed the connection mid-body",
			                  c->url.origin);
		}
		if (brski_buf_put(&r->body, buf, (size_t)got) != VOUCHER_OK)
			return brski_fail(PROG, BRSKI_EXIT_BAD, "body from %s over %d bytes",
			                  c->url.origin, MAX_BODY);
	}
	if (!has_clen)
		c->closed = true;
	return BRSKI_EXIT_OK;
}

/* ---- certificates ------------------------------------------------------------- */

static bool is_ca(const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	unsigned ca = 0;
	bool yes = false;

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0)
		yes = gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca, NULL) >= 0 && ca;
	gnutls_x509_crt_deinit(crt);
	return yes;
}

/* Validate a server chain (leaf first) with pin as the sole trust anchor
 * (RFC 8995 5.6.2; RFC 7030 3.3.1). With name != NULL the leaf must also
 * match it: an IP literal against the IP SANs, a DNS name as a DNS-ID. */
static bool chain_pinned(uint8_t *const *chain, const size_t *lens, size_t n, const uint8_t *pin,
                         size_t pin_len, const char *name, bool name_is_ip, char *why,
                         size_t whylen)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t anchor = NULL, crts[MAX_CHAIN] = {0};
	gnutls_datum_t d = {(unsigned char *)pin, (unsigned)pin_len};
	unsigned status = 0, ncrt = 0;
	bool ok = false;
	int g;

	snprintf(why, whylen, "internal error");
	if (gnutls_x509_trust_list_init(&tl, 0) < 0 || gnutls_x509_crt_init(&anchor) < 0)
		goto out;
	if (gnutls_x509_crt_import(anchor, &d, GNUTLS_X509_FMT_DER) < 0) {
		snprintf(why, whylen, "pinned-domain-cert does not parse");
		gnutls_x509_crt_deinit(anchor);
		goto out;
	}
	if (gnutls_x509_trust_list_add_cas(tl, &anchor, 1, 0) != 1) {
		gnutls_x509_crt_deinit(anchor);
		goto out;
	}
	for (size_t i = 0; i < n && i < MAX_CHAIN; i++) {
		gnutls_datum_t c = {chain[i], (unsigned)lens[i]};
		if (gnutls_x509_crt_init(&crts[i]) < 0 ||
		    gnutls_x509_crt_import(crts[i], &c, GNUTLS_X509_FMT_DER) < 0) {
			snprintf(why, whylen, "the server's certificate %zu does not parse", i);
			ncrt = (unsigned)i + 1;
			goto out;
		}
		ncrt = (unsigned)i + 1;
	}
	/* The pin may be the server's own certificate (RFC 8995 5.6.2). */
	if (lens[0] == pin_len && memcmp(chain[0], pin, pin_len) == 0) {
		status = 0;
	} else {
		g = gnutls_x509_trust_list_verify_crt(tl, crts, ncrt, 0, &status, NULL);
		if (g < 0) {
			snprintf(why, whylen, "%s", gnutls_strerror(g));
			goto out;
		}
	}
	if (status != 0) {
		gnutls_datum_t out = {0};
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out,
		                                                 0) == 0) {
			snprintf(why, whylen, "%s", out.data);
			gnutls_free(out.data);
		}
		goto out;
	}
	if (name && name_is_ip) {
		unsigned char ip[16];
		int af = strchr(name, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(af, name, ip) != 1 ||
		    !gnutls_x509_crt_check_ip(crts[0], ip, af == AF_INET ? 4 : 16, 0)) {
			snprintf(why, whylen, "the certificate has no IP address SAN %s", name);
			goto out;
		}
	} else if (name && !gnutls_x509_crt_check_hostname2(crts[0], name, 0)) {
		snprintf(why, whylen, "the certificate does not name %s (DNS-ID)", name);
		goto out;
	}
	ok = true;
out:
	for (unsigned i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_x509_trust_list_deinit(tl, 1);
	return ok;
}

/* ---- the manifest and the pledge's identity ------------------------------------ */

struct pledge {
	const char *pki;
	const char *serial;
	const char *cloud;
	const char *registrar;
	bool voucher_only;
	bool pop; /* --pop: channel binding in the CSR even unasked */
	enum voucher_envelope env;
	unsigned max_hops;
	unsigned tries;
	unsigned timeout;

	json_t *manifest;
	const char *tls_ca, *idevid_chain, *idevid_key, *masa_ca, *masa_sign, *cloud_url;
	struct voucher_x509_chain *masa_signer; /* for COSE vouchers without x5bag */
	gnutls_certificate_credentials_t cred;
	struct voucher_signer *signer;
	struct voucher_trust *masa_trust;
	uint8_t *idevid;
	size_t idevid_len;
	uint8_t *aki;
	size_t aki_len;
};

static int pledge_load(struct pledge *p)
{
	json_error_t je;
	json_t *pledges, *it;
	char path[4096];
	struct voucher_x509_chain *chain = NULL;
	size_t i;
	voucher_err e;
	int g;

	snprintf(path, sizeof(path), "%s/pki.json", p->pki);
	if (!(p->manifest = json_load_file(path, JSON_REJECT_DUPLICATES, &je)))
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to read %s (%s)", path, je.text);
	/* Not strict: the manifest describes much more than a pledge needs. */
	if (json_unpack_ex(p->manifest, &je, 0, "{s:s, s:o, s:{s:s, s:s}, s:{s:s}}", "tls_ca",
	                   &p->tls_ca, "pledges", &pledges, "masa", "ca_cert", &p->masa_ca,
	                   "sign_cert", &p->masa_sign, "cloud_registrar", "url",
	                   &p->cloud_url) != 0 ||
	    !json_is_array(pledges))
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "%s: %s", path, je.text);
	json_array_foreach(pledges, i, it)
	{
		const char *s = NULL, *c = NULL, *k = NULL;
		if (json_unpack(it, "{s:s, s:s, s:s}", "serial", &s, "cert", &c, "key", &k) == 0 &&
		    strcmp(s, p->serial) == 0) {
			p->idevid_chain = c;
			p->idevid_key = k;
		}
	}
	if (!p->idevid_chain)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "%s lists no pledge with serial '%s'",
		                  path, p->serial);
	if ((e = voucher_signer_load(&p->signer, p->idevid_key, p->idevid_chain)) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to load the IDevID %s (%s)",
		                  p->idevid_chain, voucher_strerror(e));
	if ((e = voucher_x509_chain_load_file(p->idevid_chain, &chain)) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to read %s (%s)", p->idevid_chain,
		                  voucher_strerror(e));
	p->idevid = chain->der[0];
	p->idevid_len = chain->der_len[0];
	chain->der[0] = NULL;
	voucher_x509_chain_free(chain);
	if ((e = voucher_x509_idevid_issuer(p->idevid, p->idevid_len, &p->aki, &p->aki_len)) !=
	    VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE,
		                  "the IDevID has no usable issuer key id (%s)",
		                  voucher_strerror(e));
	if ((e = voucher_trust_new(&p->masa_trust)) != VOUCHER_OK ||
	    (e = voucher_trust_add_file(p->masa_trust, p->masa_ca)) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to load the MASA anchor %s (%s)",
		                  p->masa_ca, voucher_strerror(e));
	/* A constrained pledge knows the MASA's signing certificate: the
	 * registrar strips it from COSE vouchers (cBRSKI). */
	if ((e = voucher_x509_chain_load_file(p->masa_sign, &p->masa_signer)) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to read the MASA signer %s (%s)",
		                  p->masa_sign, voucher_strerror(e));
	if ((g = gnutls_certificate_allocate_credentials(&p->cred)) < 0 ||
	    (g = gnutls_certificate_set_x509_key_file2(p->cred, p->idevid_chain, p->idevid_key,
	                                               GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "failed to load the IDevID for TLS (%s)",
		                  gnutls_strerror(g));
	/* The implicit trust anchor database (RFC 7030 3.6.1). */
	if ((g = gnutls_certificate_set_x509_trust_file(p->cred, p->tls_ca, GNUTLS_X509_FMT_PEM)) <=
	    0)
		return brski_fail(PROG, BRSKI_EXIT_USAGE,
		                  "failed to load the implicit trust anchors %s (%s)", p->tls_ca,
		                  g < 0 ? gnutls_strerror(g) : "no certificate");
	return BRSKI_EXIT_OK;
}

static void pledge_free(struct pledge *p)
{
	if (p->cred)
		gnutls_certificate_free_credentials(p->cred);
	voucher_signer_free(p->signer);
	voucher_trust_free(p->masa_trust);
	voucher_x509_chain_free(p->masa_signer);
	free(p->idevid);
	free(p->aki);
	json_decref(p->manifest);
}

/* A pledge voucher-request with a fresh nonce, naming the server's leaf. */
static int make_pvr(struct pledge *p, const struct conn *c, uint8_t nonce[16], uint8_t **out,
                    size_t *out_len)
{
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei = {0};
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	voucher_err e;
	int rc = BRSKI_EXIT_OK;

	if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, 16) < 0)
		return brski_fail(PROG, BRSKI_EXIT_IO, "no randomness for the nonce");
	if ((e = voucher_artifact_new(VOUCHER_KIND_REQUEST, &a)) != VOUCHER_OK ||
	    (e = voucher_artifact_set_time(a, VOUCHER_LEAF_CREATED_ON, time(NULL))) != VOUCHER_OK ||
	    (e = voucher_artifact_set_assertion(a, VOUCHER_ASSERTION_PROXIMITY)) != VOUCHER_OK ||
	    (e = voucher_artifact_set_string(a, VOUCHER_LEAF_SERIAL_NUMBER, p->serial)) !=
	            VOUCHER_OK ||
	    (e = voucher_artifact_set_binary(a, VOUCHER_LEAF_NONCE, nonce, 16)) != VOUCHER_OK ||
	    (e = voucher_artifact_set_binary(a, VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT, c->peer[0],
	                                     c->peer_len[0])) != VOUCHER_OK)
		goto err;
	e = p->env == VOUCHER_ENV_COSE
	            ? voucher_artifact_to_cbor(a, 0, &payload, &payload_len, &ei)
	            : voucher_artifact_to_json(a, 0, &payload, &payload_len, &ei);
	if (e != VOUCHER_OK)
		goto err;
	if ((e = voucher_sign(p->env, p->signer, payload, payload_len, out, out_len)) != VOUCHER_OK)
		goto err;
	goto out;
err:
	rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to make the voucher-request (%s%s%s)",
	                voucher_strerror(e), ei.message[0] ? ": " : "", ei.message);
out:
	free(payload);
	voucher_artifact_free(a);
	return rc;
}

/* RFC 8995 5.6.1 and 5.7: everything a pledge checks on a voucher. */
struct voucher_info {
	uint8_t *pin;
	size_t pin_len;
	char *est_domain;
	char assertion[24];
	/* For the log: the fields a person checks, as text. */
	char created_on[32];
	char expires_on[32];    /* "" when the voucher has none */
	char idevid_issuer[96]; /* base64, as in the voucher; "" when none */
};

static int validate_voucher(struct pledge *p, const struct http_resp *r, const uint8_t nonce[16],
                            struct voucher_info *vi, char *why, size_t whylen)
{
	enum voucher_envelope env = voucher_envelope_from_media_type(r->ctype);
	struct voucher_verified *v = NULL;
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei = {0};
	const uint8_t *b;
	size_t n;
	const char *s;
	enum voucher_assertion as;
	time_t exp;
	voucher_err e;
	int rc = BRSKI_EXIT_BAD;

	if (env == VOUCHER_ENV_NONE) {
		snprintf(why, whylen, "Content-Type '%s' is not a voucher type", r->ctype);
		goto out;
	}
	if (env == VOUCHER_ENV_COSE)
		e = voucher_cose_verify_with_certs(
		        r->body.data, r->body.len, (const uint8_t *const *)p->masa_signer->der,
		        p->masa_signer->der_len, p->masa_signer->len, p->masa_trust, &v);
	else
		e = voucher_verify(env, r->body.data, r->body.len, p->masa_trust, &v);
	if (e != VOUCHER_OK) {
		snprintf(why, whylen,
		         "the voucher signature does not verify with the MASA anchor (%s)",
		         voucher_strerror(e));
		goto out;
	}
	if ((e = voucher_artifact_parse(v->payload, v->payload_len, VOUCHER_KIND_VOUCHER, 0, &a,
	                                &ei)) != VOUCHER_OK) {
		snprintf(why, whylen, "the voucher is invalid: %s", ei.message);
		goto out;
	}
	if (voucher_artifact_get_string(a, VOUCHER_LEAF_SERIAL_NUMBER, &s) != VOUCHER_OK ||
	    strcmp(s, p->serial) != 0) {
		snprintf(why, whylen, "serial-number is not this pledge's");
		goto out;
	}
	if (voucher_artifact_get_binary(a, VOUCHER_LEAF_IDEVID_ISSUER, &b, &n) == VOUCHER_OK) {
		gnutls_datum_t in = {(unsigned char *)(uintptr_t)b, (unsigned)n}, txt = {0};
		if (n != p->aki_len || memcmp(b, p->aki, n) != 0) {
			snprintf(why, whylen, "idevid-issuer is not this pledge's");
			goto out;
		}
		if (gnutls_base64_encode2(&in, &txt) == 0) {
			snprintf(vi->idevid_issuer, sizeof(vi->idevid_issuer), "%.*s",
			         (int)txt.size, (const char *)txt.data);
			gnutls_free(txt.data);
		}
	}
	{
		time_t t;
		if (voucher_artifact_get_time(a, VOUCHER_LEAF_CREATED_ON, &t) != VOUCHER_OK ||
		    voucher_time_format(t, vi->created_on, sizeof(vi->created_on)) != VOUCHER_OK)
			snprintf(vi->created_on, sizeof(vi->created_on), "?");
	}
	if (voucher_artifact_get_binary(a, VOUCHER_LEAF_NONCE, &b, &n) != VOUCHER_OK || n != 16 ||
	    timingsafe_bcmp(b, nonce, 16) != 0) {
		snprintf(why, whylen, "the nonce is not the one this pledge sent");
		goto out;
	}
	if (voucher_artifact_get_time(a, VOUCHER_LEAF_EXPIRES_ON, &exp) == VOUCHER_OK &&
	    exp <= time(NULL)) {
		snprintf(why, whylen, "the voucher has expired");
		goto out;
	}
	if (voucher_artifact_get_time(a, VOUCHER_LEAF_EXPIRES_ON, &exp) == VOUCHER_OK &&
	    voucher_time_format(exp, vi->expires_on, sizeof(vi->expires_on)) != VOUCHER_OK)
		snprintf(vi->expires_on, sizeof(vi->expires_on), "?");
	/* Policy: any assertion this model knows; a nonced voucher is fresh. */
	if (voucher_artifact_get_assertion(a, &as) != VOUCHER_OK ||
	    !(as == VOUCHER_ASSERTION_VERIFIED || as == VOUCHER_ASSERTION_LOGGED ||
	      as == VOUCHER_ASSERTION_PROXIMITY)) {
		snprintf(why, whylen, "the voucher has no acceptable assertion");
		goto out;
	}
	snprintf(vi->assertion, sizeof(vi->assertion), "%s", voucher_assertion_name(as));
	if (voucher_artifact_get_binary(a, VOUCHER_LEAF_PINNED_DOMAIN_CERT, &b, &n) != VOUCHER_OK ||
	    n == 0) {
		snprintf(why, whylen,
		         "the voucher has no pinned-domain-cert (enrollment in this "
		         "domain is not possible)");
		goto out;
	}
	if (!(vi->pin = malloc(n))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	memcpy(vi->pin, b, n);
	vi->pin_len = n;
	if (voucher_artifact_get_string(a, VOUCHER_LEAF_EST_DOMAIN, &s) == VOUCHER_OK &&
	    !(vi->est_domain = brski_strdup(s))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	rc = BRSKI_EXIT_OK;
out:
	voucher_artifact_free(a);
	voucher_verified_free(v);
	return rc;
}

/* voucher_status (RFC 8995 5.7); the answer is ignored, as the RFC says. */
static void send_status(struct pledge *p, struct conn *c, const char *what, bool ok,
                        const char *reason)
{
	struct http_resp r;
	char body[600];
	int n;

	n = snprintf(body, sizeof(body), "{\"version\":1,\"status\":%s%s%s%s}",
	             ok ? "true" : "false", reason ? ",\"reason\":\"" : "", reason ? reason : "",
	             reason ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		return;
	if (c->closed) {
		struct url u = c->url;
		conn_close(c);
		if (conn_open(c, &u, p->cred, p->timeout) != BRSKI_EXIT_OK) {
			step(what, "not sent: no connection to %s", u.origin);
			return;
		}
	}
	resp_init(&r);
	if (http(c, "POST",
	         what[0] == 'v' ? "/.well-known/brski/voucher_status"
	                        : "/.well-known/brski/enrollstatus",
	         "application/json", NULL, (const uint8_t *)body, (size_t)n, &r) == BRSKI_EXIT_OK)
		step(what, "sent %s to %s (answer %u)", ok ? "success" : "failure", c->url.origin,
		     r.status);
	resp_free(&r);
}

/* ---- EST enrollment (RFC 7030, RFC 8995 5.9) ------------------------------------ */

#define EST_PATH "/.well-known/est"

/* The EST server and what authenticates it: the voucher's pin. */
struct est_server {
	struct url url;
	const uint8_t *pin;
	size_t pin_len;
	bool pin_ca;
};

/* Connect with cred and check the server against the pin, as for the
 * first EST contact. */
static int est_connect(struct pledge *p, const struct est_server *x,
                       gnutls_certificate_credentials_t cred, struct conn *c)
{
	char why[400];
	int rc;

	if ((rc = conn_open(c, &x->url, cred, p->timeout)) != BRSKI_EXIT_OK)
		return rc;
	if (!chain_pinned(c->peer, c->peer_len, c->n_peer, x->pin, x->pin_len,
	                  (x->pin_ca || x->url.ip) ? x->url.host : NULL, x->url.ip, why,
	                  sizeof(why))) {
		conn_close(c);
		return brski_fail(PROG, BRSKI_EXIT_BAD,
		                  "EST server %s does not validate with the pin: %s", x->url.origin,
		                  why);
	}
	return BRSKI_EXIT_OK;
}

/* An EST path under the server's base path. */
static void est_path(const struct est_server *x, const char *op, char *out, size_t outlen)
{
	const char *base = x->url.path;
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0) {
		base = EST_PATH;
		n = strlen(EST_PATH);
	}
	snprintf(out, outlen, "%.*s/%s", (int)n, base, op);
}

/* Decode an EST base64 body into der; prints why on failure. */
static int est_body(const struct conn *c, const char *op, const struct http_resp *r,
                    struct brski_buf *der)
{
	if (creg_b64_decode_body(r->body.data, r->body.len, der) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_BAD,
		                  "%s from %s: the body is not base64 (RFC 8951)", op,
		                  c->url.origin);
	return BRSKI_EXIT_OK;
}

/* Channel binding of the session: tls-unique under TLS 1.2, tls-exporter
 * under TLS 1.3 (RFC 9266), as base64 for the challengePassword. */
static int channel_binding(struct conn *c, char *out, size_t outlen, const char **name)
{
	gnutls_datum_t d = {0};
	struct brski_buf b;
	bool tls13 = gnutls_protocol_get_version(c->s) == GNUTLS_TLS1_3;
	int g;

	*name = tls13 ? "tls-exporter" : "tls-unique";
	g = gnutls_session_channel_binding(
	        c->s, tls13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE, &d);
	if (g < 0)
		return brski_fail(PROG, BRSKI_EXIT_IO, "no %s channel binding on the session (%s)",
		                  *name, gnutls_strerror(g));
	brski_buf_init(&b, outlen);
	/* One line: a challengePassword is a single string. */
	for (unsigned i = 0; i < d.size; i += 48) {
		unsigned n = d.size - i < 48 ? d.size - i : 48;
		if (creg_b64_encode_body(d.data + i, n, &b) != VOUCHER_OK)
			break;
		b.len -= 1; /* the LF after each line */
	}
	gnutls_free(d.data);
	if (b.len + 1 > outlen) {
		brski_buf_free(&b);
		return brski_fail(PROG, BRSKI_EXIT_IO, "channel binding too long");
	}
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	brski_buf_free(&b);
	return BRSKI_EXIT_OK;
}

/* A CSR for key: subject CN and serialNumber = the serial, the SAN the
 * csrattrs template asks for, and with pop the session's channel binding. */
static int make_csr(struct pledge *p, struct conn *c, const struct creg_csrattrs *attrs, bool pop,
                    gnutls_x509_privkey_t key, struct brski_buf *der)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t out = {0};
	char cb[256];
	const char *cb_name = NULL;
	unsigned len = (unsigned)strlen(p->serial);
	int rc = BRSKI_EXIT_OK, g;

	if (gnutls_x509_crq_init(&crq) < 0)
		return brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");
	if ((g = gnutls_x509_crq_set_version(crq, 1)) < 0 ||
	    (g = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, p->serial,
	                                       len)) < 0 ||
	    (g = gnutls_x509_crq_set_dn_by_oid(crq, CREG_OID_SUBJECT_SERIAL, 0, p->serial, len)) <
	            0 ||
	    (g = gnutls_x509_crq_set_key(crq, key)) < 0 ||
	    (attrs->san_dns && (g = gnutls_x509_crq_set_subject_alt_name(
	                                crq, GNUTLS_SAN_DNSNAME, attrs->san_dns,
	                                (unsigned)strlen(attrs->san_dns), GNUTLS_FSAN_SET)) < 0)) {
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to build the CSR (%s)",
		                gnutls_strerror(g));
		goto out;
	}
	if (pop) {
		if ((rc = channel_binding(c, cb, sizeof(cb), &cb_name)) != BRSKI_EXIT_OK)
			goto out;
		if ((g = gnutls_x509_crq_set_challenge_password(crq, cb)) < 0) {
			rc = brski_fail(PROG, BRSKI_EXIT_IO,
			                "failed to set the challengePassword (%s)",
			                gnutls_strerror(g));
			goto out;
		}
	}
	if ((g = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (g = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &out)) < 0) {
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to sign the CSR (%s)",
		                gnutls_strerror(g));
		goto out;
	}
	brski_buf_reset(der);
	if (brski_buf_put(der, out.data, out.size) != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "CSR too large");
		goto out;
	}
	step("csr", "new P-256 key, subject CN=%s serialNumber=%s%s%s%s%s", p->serial, p->serial,
	     attrs->san_dns ? ", SAN " : "", attrs->san_dns ? attrs->san_dns : "",
	     pop ? ", challengePassword = " : "", pop ? cb_name : "");
out:
	gnutls_free(out.data);
	gnutls_x509_crq_deinit(crq);
	return rc;
}

static int write_pem(const char *path, const char *label, const gnutls_datum_t *ders, size_t n,
                     mode_t mode)
{
	FILE *f;
	int fd, rc = BRSKI_EXIT_OK;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) < 0 || fchmod(fd, mode) != 0 ||
	    !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return brski_fail(PROG, BRSKI_EXIT_IO, "failed to write %s (%s)", path,
		                  strerror(errno));
	}
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t pem = {0};
		if (gnutls_pem_base64_encode2(label, &ders[i], &pem) < 0 ||
		    fwrite(pem.data, 1, pem.size, f) != pem.size)
			rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to write %s", path);
		gnutls_free(pem.data);
	}
	if (fclose(f) != 0 && rc == BRSKI_EXIT_OK)
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to write %s (%s)", path,
		                strerror(errno));
	return rc;
}

/* The issued certificate must be for our key. */
static bool same_key(const uint8_t *der, size_t len, gnutls_x509_privkey_t key)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	uint8_t a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);
	bool ok = false;

	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &al) >= 0 &&
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &bl) >= 0)
		ok = al == bl && memcmp(a, b, al) == 0;
	gnutls_x509_crt_deinit(crt);
	return ok;
}

static void crt_names(const uint8_t *der, size_t len, char *subj, char *iss, size_t n)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len}, s = {0}, i = {0};

	snprintf(subj, n, "?");
	snprintf(iss, n, "?");
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0) {
		if (gnutls_x509_crt_get_dn3(crt, &s, 0) >= 0)
			snprintf(subj, n, "%s", s.data);
		if (gnutls_x509_crt_get_issuer_dn3(crt, &i, 0) >= 0)
			snprintf(iss, n, "%s", i.data);
	}
	gnutls_free(s.data);
	gnutls_free(i.data);
	gnutls_x509_crt_deinit(crt);
}

/* cacerts, csrattrs, simpleenroll (waiting out 202s), the LDevID written
 * under the pki directory, enrollstatus over TLS with the LDevID. */
/* "peer subject S, issuer I" of a connection's leaf, for the log. */
static void peer_names(const struct conn *c, char *out, size_t n)
{
	char subj[300], iss[300];

	crt_names(c->peer[0], c->peer_len[0], subj, iss, sizeof(subj));
	snprintf(out, n, "peer subject %s, issuer %s", subj, iss);
}

static int enroll(struct pledge *p, const struct est_server *x)
{
	struct conn c = {.fd = -1};
	struct http_resp r;
	struct brski_buf der, csr;
	struct creg_csrattrs attrs = {0};
	gnutls_x509_privkey_t key = NULL;
	gnutls_certificate_credentials_t ldev = NULL;
	uint8_t *certs[MAX_CHAIN];
	size_t lens[MAX_CHAIN], n = 0;
	char path[600], text[400], err[300], crt_path[4200], key_path[4200];
	char subj[300], iss[300];
	bool pop;
	unsigned tries = 0;
	int rc, g;

	resp_init(&r);
	brski_buf_init(&der, MAX_BODY);
	brski_buf_init(&csr, CREG_CSR_MAX);
	if ((rc = est_connect(p, x, p->cred, &c)) != BRSKI_EXIT_OK)
		goto out;
	/* cacerts (RFC 8995 5.9.1: SHOULD), for the LDevID's chain. */
	est_path(x, "cacerts", path, sizeof(path));
	if ((rc = http(&c, "GET", path, NULL, "application/pkcs7-mime", NULL, 0, &r)) !=
	    BRSKI_EXIT_OK)
		goto out;
	if (r.status != 200) {
		step("cacerts", "GET %s%s: %u", x->url.origin, path, r.status);
		printable(&r.body, text, sizeof(text));
		rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED, "cacerts: %s answered %u: %s",
		                x->url.origin, r.status, text);
		goto out;
	}
	if ((rc = est_body(&c, "cacerts", &r, &der)) != BRSKI_EXIT_OK)
		goto out;
	if (creg_pkcs7_parse(der.data, der.len, certs, lens, MAX_CHAIN, &n, err, sizeof(err)) !=
	    VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "cacerts from %s: %s", x->url.origin, err);
		goto out;
	}
	crt_names(certs[0], lens[0], subj, iss, sizeof(subj));
	step("cacerts", "GET %s%s: %u, %zu certificate(s), first %s", x->url.origin, path, r.status,
	     n, subj);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	n = 0;
	/* csrattrs (MUST). */
	if (c.closed) {
		conn_close(&c);
		if ((rc = est_connect(p, x, p->cred, &c)) != BRSKI_EXIT_OK)
			goto out;
	}
	resp_free(&r);
	resp_init(&r);
	brski_buf_reset(&der);
	est_path(x, "csrattrs", path, sizeof(path));
	if ((rc = http(&c, "GET", path, NULL, "application/csrattrs", NULL, 0, &r)) !=
	    BRSKI_EXIT_OK)
		goto out;
	if (r.status == 200) {
		if ((rc = est_body(&c, "csrattrs", &r, &der)) != BRSKI_EXIT_OK)
			goto out;
		if (creg_csrattrs_decode(der.data, der.len, &attrs, err, sizeof(err)) !=
		    VOUCHER_OK) {
			rc = brski_fail(PROG, BRSKI_EXIT_BAD, "csrattrs from %s: %s", x->url.origin,
			                err);
			goto out;
		}
	} else if (r.status != 204 && r.status != 404) {
		step("csrattrs", "GET %s%s: %u", x->url.origin, path, r.status);
		printable(&r.body, text, sizeof(text));
		rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED, "csrattrs: %s answered %u: %s",
		                x->url.origin, r.status, text);
		goto out;
	}
	pop = attrs.pop || p->pop;
	step("csrattrs", "GET %s%s: %u, %zu attribute(s)%s%s%s", x->url.origin, path, r.status,
	     attrs.n_oids, attrs.san_dns ? ", SAN " : "", attrs.san_dns ? attrs.san_dns : "",
	     attrs.pop ? ", challengePassword (proof of possession)" : "");
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    (g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
	                                      0)) < 0) {
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to generate a key");
		goto out;
	}
	if ((rc = make_csr(p, &c, &attrs, pop, key, &csr)) != BRSKI_EXIT_OK)
		goto out;
	/* simpleenroll; a 202 is waited out (Retry-After, capped) and the same
	 * CSR sent again (a new one only when the binding changed). */
	est_path(x, "simpleenroll", path, sizeof(path));
	for (;;) {
		brski_buf_reset(&der);
		if (c.closed) {
			conn_close(&c);
			if ((rc = est_connect(p, x, p->cred, &c)) != BRSKI_EXIT_OK)
				goto out;
			if (pop && (rc = make_csr(p, &c, &attrs, pop, key, &csr)) != BRSKI_EXIT_OK)
				goto out;
		}
		if (creg_b64_encode_body(csr.data, csr.len, &der) != VOUCHER_OK) {
			rc = brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");
			goto out;
		}
		resp_free(&r);
		resp_init(&r);
		if ((rc = http(&c, "POST", path, "application/pkcs10", CREG_EST_PKCS7_TYPE,
		               der.data, der.len, &r)) != BRSKI_EXIT_OK)
			goto out;
		step("simpleenroll", "POST %s%s (application/pkcs10, base64): %u", x->url.origin,
		     path, r.status);
		if (r.status != 202)
			break;
		if (++tries > p->tries) {
			rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED,
			                "simpleenroll: still 202 after %u tries", p->tries);
			goto out;
		}
		long wait = r.retry_after < 0 ? WAIT_CAP : r.retry_after;
		if (wait > WAIT_CAP)
			wait = WAIT_CAP;
		step("wait", "202 from %s: retry in %ld s", x->url.origin, wait);
		sleep((unsigned)wait);
	}
	if (r.status != 200) {
		printable(&r.body, text, sizeof(text));
		rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED, "simpleenroll: %s answered %u: %s",
		                x->url.origin, r.status, text);
		goto out;
	}
	brski_buf_reset(&der);
	if ((rc = est_body(&c, "simpleenroll", &r, &der)) != BRSKI_EXIT_OK)
		goto out;
	if (creg_pkcs7_parse(der.data, der.len, certs, lens, MAX_CHAIN, &n, err, sizeof(err)) !=
	    VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "simpleenroll from %s: %s", x->url.origin,
		                err);
		goto out;
	}
	/* RFC 7030 4.2.3: the issued certificate comes first. */
	if (!same_key(certs[0], lens[0], key)) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD,
		                "the first certificate from %s is not for our key", x->url.origin);
		goto out;
	}
	{
		gnutls_datum_t ds[MAX_CHAIN], kd = {0};
		for (size_t i = 0; i < n; i++) {
			ds[i].data = certs[i];
			ds[i].size = (unsigned)lens[i];
		}
		snprintf(crt_path, sizeof(crt_path), "%s/pledges/%s.ldevid.crt", p->pki, p->serial);
		snprintf(key_path, sizeof(key_path), "%s/pledges/%s.ldevid.key", p->pki, p->serial);
		if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, 0, &kd) < 0) {
			rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to export the key");
			goto out;
		}
		rc = write_pem(key_path, "PRIVATE KEY", &kd, 1, 0600);
		gnutls_memset(kd.data, 0, kd.size);
		gnutls_free(kd.data);
		if (rc != BRSKI_EXIT_OK ||
		    (rc = write_pem(crt_path, "CERTIFICATE", ds, n, 0644)) != BRSKI_EXIT_OK)
			goto out;
	}
	crt_names(certs[0], lens[0], subj, iss, sizeof(subj));
	step("ldevid", "%s (key %s)", crt_path, key_path);
	/* enrollstatus (RFC 8995 5.9.4) over TLS with the new certificate. */
	conn_close(&c);
	if ((g = gnutls_certificate_allocate_credentials(&ldev)) < 0 ||
	    (g = gnutls_certificate_set_x509_key_file2(ldev, crt_path, key_path,
	                                               GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		rc = brski_fail(PROG, BRSKI_EXIT_IO, "failed to load the LDevID for TLS (%s)",
		                gnutls_strerror(g));
		goto out;
	}
	if ((rc = est_connect(p, x, ldev, &c)) != BRSKI_EXIT_OK)
		goto out;
	resp_free(&r);
	resp_init(&r);
	{
		static const char ok[] = "{\"version\":1,\"status\":true}";
		if ((rc = http(&c, "POST", "/.well-known/brski/enrollstatus", "application/json",
		               NULL, (const uint8_t *)ok, sizeof(ok) - 1, &r)) != BRSKI_EXIT_OK)
			goto out;
	}
	{
		char peer[640];
		peer_names(&c, peer, sizeof(peer));
		step("enrollstatus", "sent success to %s over TLS with the LDevID (answer %u); %s",
		     x->url.origin, r.status, peer);
	}
	if (r.status != 200) {
		printable(&r.body, text, sizeof(text));
		rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED, "enrollstatus: %s answered %u: %s",
		                x->url.origin, r.status, text);
		goto out;
	}
	step("enrolled", "subject %s, issuer %s", subj, iss);
	rc = BRSKI_EXIT_OK;
out:
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (ldev)
		gnutls_certificate_free_credentials(ldev);
	creg_csrattrs_clear(&attrs);
	brski_buf_free(&der);
	brski_buf_free(&csr);
	resp_free(&r);
	conn_close(&c);
	return rc;
}

/* ---- the flow ------------------------------------------------------------------ */

#define MAX_VISITED 64

static int run(struct pledge *p)
{
	char visited[MAX_VISITED]
	            [sizeof(((struct url *)0)->origin) + sizeof(((struct url *)0)->path)];
	size_t n_visited = 0;
	struct conn c = {.fd = -1};
	struct url u;
	struct http_resp r;
	struct voucher_info vi = {0};
	uint8_t nonce[16], *pvr = NULL;
	size_t pvr_len = 0;
	unsigned hops = 0;
	bool from_cloud = p->registrar == NULL, provisional = false;
	const char *start = p->registrar ? p->registrar : (p->cloud ? p->cloud : p->cloud_url);
	char why[400], text[400], peer[640];
	int rc;

	resp_init(&r);
	if (!url_parse(start, RV_PATH, &u)) {
		rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "'%s' is not an https URL", start);
		goto out;
	}
	step("identity", "serial %s, IDevID %s", p->serial, p->idevid_chain);
	for (;;) {
		unsigned tries = 0;
		char here[sizeof(visited[0])];

		/* cloud-20 4.1: never revisit a location within one attempt. */
		snprintf(here, sizeof(here), "%s%s", u.origin, u.path);
		for (size_t i = 0; i < n_visited; i++)
			if (strcmp(visited[i], here) == 0) {
				rc = brski_fail(PROG, BRSKI_EXIT_BAD,
				                "redirect loop: %s was visited before", here);
				goto out;
			}
		if (n_visited < MAX_VISITED)
			memcpy(visited[n_visited++], here, sizeof(here));

		if ((rc = conn_open(&c, &u, p->cred, p->timeout)) != BRSKI_EXIT_OK)
			goto out;
		if (from_cloud && hops == 0 && !c.implicit_ok) {
			rc = brski_fail(
			        PROG, BRSKI_EXIT_BAD,
			        "the cloud registrar %s does not validate with the implicit trust "
			        "anchors (%s)",
			        u.origin, c.implicit_why);
			goto out;
		}
		/* Whoever the implicit anchors do not validate is an owner
		 * registrar: provisional TLS (RFC 8995 5.1). */
		provisional = !c.implicit_ok;
		peer_names(&c, peer, sizeof(peer));
		step("connect", "%s (%s); %s", u.origin,
		     provisional ? "provisional TLS: not validated yet"
		     : hops == 0 && from_cloud
		             ? "cloud registrar, validated by the implicit trust anchors"
		             : "validated by the implicit trust anchors",
		     peer);
		free(pvr);
		pvr = NULL;
		if ((rc = make_pvr(p, &c, nonce, &pvr, &pvr_len)) != BRSKI_EXIT_OK)
			goto out;
		for (;;) {
			resp_free(&r);
			resp_init(&r);
			if (c.closed) {
				struct url keep = c.url;
				conn_close(&c);
				if ((rc = conn_open(&c, &keep, p->cred, p->timeout)) !=
				    BRSKI_EXIT_OK)
					goto out;
			}
			rc = http(&c, "POST", u.path, voucher_envelope_media_type(p->env),
			          voucher_envelope_media_type(p->env), pvr, pvr_len, &r);
			if (rc != BRSKI_EXIT_OK)
				goto out;
			step("requestvoucher", "POST %s%s (%s, fresh nonce): %u", u.origin, u.path,
			     voucher_envelope_media_type(p->env), r.status);
			if (r.status != 202)
				break;
			/* RFC 8995 5.6: wait (capped) and resend the same request. */
			if (++tries > p->tries) {
				rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED,
				                "still 202 after %u tries at %s", p->tries,
				                u.origin);
				goto out;
			}
			{
				long wait = r.retry_after < 0 ? WAIT_CAP : r.retry_after;
				if (wait > WAIT_CAP)
					wait = WAIT_CAP;
				step("wait", "202 from %s: retry in %ld s", u.origin, wait);
				sleep((unsigned)wait);
			}
		}
		if (r.status == 307) {
			struct url next;
			if (provisional) {
				send_status(p, &c, "voucher_status", false,
				            "redirect from an owner registrar refused");
				rc = brski_fail(
				        PROG, BRSKI_EXIT_BAD,
				        "%s is an owner registrar (provisional TLS) and answered "
				        "307: "
				        "refused (cloud-20 4.1)",
				        u.origin);
				goto out;
			}
			if (++hops > p->max_hops) {
				rc = brski_fail(PROG, BRSKI_EXIT_BAD, "more than %u redirects",
				                p->max_hops);
				goto out;
			}
			if (!url_parse(r.location, RV_PATH, &next)) {
				rc = brski_fail(PROG, BRSKI_EXIT_BAD,
				                "307 from %s with an unusable Location '%s'",
				                u.origin, r.location);
				goto out;
			}
			step("redirect", "307 to %s (hop %u)", r.location, hops);
			conn_close(&c);
			u = next;
			continue;
		}
		if (r.status != 200) {
			printable(&r.body, text, sizeof(text));
			if (r.retry_after >= 0)
				step("refused", "%u from %s, Retry-After %ld: %s", r.status,
				     u.origin, r.retry_after, text);
			else
				step("refused", "%u from %s: %s", r.status, u.origin, text);
			rc = brski_fail(PROG, PLEDGE_EXIT_REFUSED, "%s answered %u: %s", u.origin,
			                r.status, text);
			goto out;
		}
		break;
	}

	if ((rc = validate_voucher(p, &r, nonce, &vi, why, sizeof(why))) != BRSKI_EXIT_OK) {
		step("voucher", "REJECTED: %s", why);
		send_status(p, &c, "voucher_status", false, "voucher rejected");
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "voucher from %s rejected: %s", u.origin,
		                why);
		goto out;
	}
	step("voucher",
	     "valid: signed by the MASA anchor, serial %s, nonce matches, assertion %s, "
	     "created-on %s%s%s%s%s, pin is %s",
	     p->serial, vi.assertion, vi.created_on, vi.expires_on[0] ? ", expires-on " : "",
	     vi.expires_on, vi.idevid_issuer[0] ? ", idevid-issuer " : "", vi.idevid_issuer,
	     is_ca(vi.pin, vi.pin_len) ? "a CA" : "an end-entity");
	{
		uint8_t fp[32];
		char hex[65];
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, vi.pin, vi.pin_len, fp) == 0) {
			for (size_t i = 0; i < sizeof(fp); i++)
				snprintf(hex + 2 * i, 3, "%02x", fp[i]);
			step("pin", "pinned-domain-cert SHA-256 %s", hex);
		}
	}
	if (provisional) {
		if (!chain_pinned(c.peer, c.peer_len, c.n_peer, vi.pin, vi.pin_len, NULL, false,
		                  why, sizeof(why))) {
			step("registrar",
			     "REJECTED: its TLS chain does not validate with "
			     "pinned-domain-cert (%s)",
			     why);
			send_status(p, &c, "voucher_status", false,
			            "registrar does not match the pin");
			rc = brski_fail(PROG, BRSKI_EXIT_BAD,
			                "the provisional registrar %s does not chain to the "
			                "pinned-domain-cert: %s",
			                u.origin, why);
			goto out;
		}
		step("registrar",
		     "%s validated with pinned-domain-cert (provisional TLS now trusted)",
		     u.origin);
	}
	if (vi.est_domain)
		step("est-domain", "%s", vi.est_domain);
	send_status(p, &c, "voucher_status", true, NULL);
	if (p->voucher_only) {
		printf("summary: voucher accepted for %s from %s%s%s; stopped before EST "
		       "(--voucher-only)\n",
		       p->serial, u.origin, vi.est_domain ? ", est-domain " : "",
		       vi.est_domain ? vi.est_domain : "");
		rc = BRSKI_EXIT_OK;
		goto out;
	}
	{
		/* The EST server: est-domain, else the registrar we talked to
		 * (RFC 8995 5.9: a registrar is its pledges' EST server). */
		struct est_server x = {.pin = vi.pin, .pin_len = vi.pin_len};
		struct conn e = {.fd = -1};
		x.pin_ca = is_ca(vi.pin, vi.pin_len);
		if (vi.est_domain) {
			if (!url_parse(vi.est_domain, EST_PATH, &x.url)) {
				rc = brski_fail(PROG, BRSKI_EXIT_BAD,
				                "est-domain '%s' is not an https URL",
				                vi.est_domain);
				goto out;
			}
			/* RFC 7030 3.3.1 with the pin as the explicit anchor; a CA
			 * pin also needs the name (cloud-20 4.2); an IP literal must
			 * be in the certificate's SANs either way. */
			if ((rc = est_connect(p, &x, p->cred, &e)) != BRSKI_EXIT_OK) {
				step("est",
				     "REJECTED: %s does not validate with pinned-domain-cert",
				     x.url.origin);
				send_status(p, &c, "voucher_status", false,
				            "EST server does not match the pin");
				goto out;
			}
			peer_names(&e, peer, sizeof(peer));
			step("est", "%s authenticated by pinned-domain-cert%s; %s", x.url.origin,
			     x.url.ip   ? " (IP address in its SAN)"
			     : x.pin_ca ? " (DNS-ID checked)"
			                : "",
			     peer);
			conn_close(&e);
		} else {
			x.url = u;
			snprintf(x.url.path, sizeof(x.url.path), "%s", EST_PATH);
			step("est", "%s (the registrar, already validated by the pin)", u.origin);
		}
		conn_close(&c);
		if ((rc = enroll(p, &x)) != BRSKI_EXIT_OK)
			goto out;
	}
	printf("summary: voucher accepted for %s from %s; enrolled\n", p->serial, u.origin);
	rc = BRSKI_EXIT_OK;
out:
	free(pvr);
	free(vi.pin);
	free(vi.est_domain);
	resp_free(&r);
	conn_close(&c);
	return rc;
}

/* ---- command line ----------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: brski pledge --pki DIR --serial S [options]\n"
	        "\n"
	        "A simulated device: mutual TLS with its IDevID to the cloud registrar\n"
	        "(validated by the implicit trust anchors, pki.json tls_ca), a pledge\n"
	        "voucher-request with a fresh nonce and proximity-registrar-cert, 307s\n"
	        "followed with a fresh nonce per hop (only from registrars the implicit\n"
	        "anchors validate; loops and more than --max-hops redirects abort),\n"
	        "provisional TLS to an owner registrar, the voucher validated (MASA anchor\n"
	        "pki.json masa.ca_cert, serial, idevid-issuer, nonce, expiry, assertion),\n"
	        "the provisional registrar then validated against pinned-domain-cert,\n"
	        "voucher_status sent; then the EST server (est-domain) authenticated by the\n"
	        "pin (IP literal: its IP SAN; CA pin: DNS-ID); EST enrollment there:\n"
	        "cacerts, csrattrs, a CSR for a new P-256 key (SAN from the csrattrs\n"
	        "template, channel binding in challengePassword when asked for or with\n"
	        "--pop), simpleenroll waiting out 202s (Retry-After capped at 60 s), the\n"
	        "LDevID written to DIR/pledges/SERIAL.ldevid.{crt,key}, enrollstatus over\n"
	        "TLS with the LDevID. One line per step on stdout.\n"
	        "\n"
	        "options:\n"
	        "  --pki DIR          the PKI made by `brski pki init` (required)\n"
	        "  --serial S         which pledge of DIR/pki.json (required)\n"
	        "  --cloud URL        the cloud registrar (default: pki.json cloud_registrar.url)\n"
	        "  --registrar URL    skip the cloud: a local registrar found on the network\n"
	        "  --voucher-only     stop after the voucher and voucher_status (no EST contact)\n"
	        "  --pop              put the TLS channel binding in the CSR even unasked\n"
	        "  --format F         cms (default), cose or jws voucher-requests\n"
	        "  --max-hops N       redirects followed at most (default %d)\n"
	        "  --tries N          202 answers waited out per registrar or EST server\n"
	        "                     (default %d)\n"
	        "  --timeout S        network timeout per step in seconds (default 30)\n"
	        "  --help             show this help\n"
	        "\n"
	        "exit status: 0 enrolled (or voucher accepted, with --voucher-only), 1\n"
	        "something failed validation (voucher, pin, a 307 from an owner registrar, a\n"
	        "loop, too many hops, a certificate not for our key), 2 usage error (also:\n"
	        "the YANG modules not found, see BRSKI_YANG_DIR), 3 I/O\n"
	        "or network error, 4 a registrar or EST server refused (its status and text\n"
	        "are printed).\n",
	        HOPS_DEFAULT, TRIES_DEFAULT);
}

int brski_cmd_pledge(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"pki", required_argument, NULL, 'p'},
	        {"serial", required_argument, NULL, 's'},
	        {"cloud", required_argument, NULL, 'c'},
	        {"registrar", required_argument, NULL, 'r'},
	        {"voucher-only", no_argument, NULL, 'v'},
	        {"pop", no_argument, NULL, 'P'},
	        {"format", required_argument, NULL, 'f'},
	        {"max-hops", required_argument, NULL, 'm'},
	        {"tries", required_argument, NULL, 't'},
	        {"timeout", required_argument, NULL, 'T'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct pledge p = {.env = VOUCHER_ENV_CMS,
	                   .max_hops = HOPS_DEFAULT,
	                   .tries = TRIES_DEFAULT,
	                   .timeout = 30};
	int c, rc;

	/* A peer that closes early is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		uint64_t n;
		const char *q = optarg;
		switch (c) {
		case 'p':
			p.pki = optarg;
			break;
		case 's':
			p.serial = optarg;
			break;
		case 'c':
			p.cloud = optarg;
			break;
		case 'r':
			p.registrar = optarg;
			break;
		case 'v':
			p.voucher_only = true;
			break;
		case 'P':
			p.pop = true;
			break;
		case 'f':
			p.env = strcmp(optarg, "cms") == 0    ? VOUCHER_ENV_CMS
			        : strcmp(optarg, "cose") == 0 ? VOUCHER_ENV_COSE
			        : strcmp(optarg, "jws") == 0  ? VOUCHER_ENV_JWS
			                                      : VOUCHER_ENV_NONE;
			if (p.env == VOUCHER_ENV_NONE)
				return brski_fail(PROG, BRSKI_EXIT_USAGE,
				                  "--format: cms, cose or jws");
			break;
		case 'm':
		case 't':
		case 'T':
			if (brski_str_number(&q, &n, 1000) != VOUCHER_OK || *q || n == 0)
				return brski_fail(PROG, BRSKI_EXIT_USAGE, "--%s: a number 1..1000",
				                  c == 'm'   ? "max-hops"
				                  : c == 't' ? "tries"
				                             : "timeout");
			if (c == 'm')
				p.max_hops = (unsigned)n;
			else if (c == 't')
				p.tries = (unsigned)n;
			else
				p.timeout = (unsigned)n;
			break;
		case 'h':
			usage(stdout);
			return BRSKI_EXIT_OK;
		default:
			usage(stderr);
			return BRSKI_EXIT_USAGE;
		}
	}
	if (optind != argc || !p.pki || !p.serial) {
		usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	{
		/* The YANG modules before any network step, as brski voucher
		 * does: a broken installation is a usage/environment error
		 * (exit 2), reported before the first "connect" line. */
		struct voucher_error_info ei;
		voucher_err e;
		memset(&ei, 0, sizeof(ei));
		if ((e = voucher_lib_init(&ei)) != VOUCHER_OK)
			return brski_fail(PROG, BRSKI_EXIT_USAGE,
			                  "cannot load the YANG modules: %s (set BRSKI_YANG_DIR "
			                  "to the directory holding them)",
			                  ei.message[0] ? ei.message : voucher_strerror(e));
	}
	if ((rc = pledge_load(&p)) == BRSKI_EXIT_OK)
		rc = run(&p);
	pledge_free(&p);
	return rc;
}
