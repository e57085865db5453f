/* The http-01 responder (http01.h). It includes microhttpd.h itself, the
 * one exception to "only service/http.c sees MHD": service/http.c is an
 * HTTPS-only listener (it requires server credentials), and http-01 is
 * plain HTTP on port 80 by definition (RFC 8555 8.3). */
#include <config.h>

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cloudreg/acme.h"
#include "cloudreg/http01.h"
#include "service/log.h"

#define PREFIX "/.well-known/acme-challenge/"

struct creg_http01 {
	struct MHD_Daemon *mhd;
	int fd;
	uint16_t port;
	char thumbprint[64];
	atomic_ulong served;
};

voucher_err creg_http01_answer(const char *path, const char *thumbprint, char *out, size_t outlen)
{
	size_t n = strlen(PREFIX);

	if (!path || strncmp(path, PREFIX, n) != 0 || !acme_token_ok(path + n))
		return VOUCHER_E_NOT_FOUND;
	return acme_key_authz(path + n, thumbprint, out, outlen);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *body,
                               const char *ctype)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **ctx)
{
	struct creg_http01 *h = cls;
	char body[512];

	(void)version;
	(void)upload_data;
	/* Answer on the first call: no request body is ever read. */
	if (!*ctx) {
		*ctx = h;
		if (*upload_size == 0 && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
			               "text/plain");
	}
	*upload_size = 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		               "text/plain");
	if (creg_http01_answer(url, h->thumbprint, body, sizeof(body)) != VOUCHER_OK)
		return respond(conn, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain");
	atomic_fetch_add(&h->served, 1);
	log_debug("acme: answered http-01 %s", url);
	return respond(conn, MHD_HTTP_OK, body, "application/octet-stream");
}

static int listen_on(const char *host, uint16_t port, uint16_t *bound, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ps[8];
	int fd = -1, one = 1, g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	if ((g = getaddrinfo(host, ps, &hints, &ai)) != 0) {
		snprintf(err, errlen, "[acme] http01_listen %s:%u: %s", host, (unsigned)port,
		         gai_strerror(g));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "failed to listen on [acme] http01_listen %s:%u (%s)", host,
		         (unsigned)port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6)
		*bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

voucher_err creg_http01_start(const char *host, uint16_t port, const char *thumbprint,
                              struct creg_http01 **out, char *err, size_t errlen)
{
	struct creg_http01 *h;

	*out = NULL;
	if (!thumbprint || strlen(thumbprint) >= sizeof(h->thumbprint))
		return VOUCHER_EINVAL;
	if (!(h = calloc(1, sizeof(*h))))
		return VOUCHER_ENOMEM;
	memcpy(h->thumbprint, thumbprint, strlen(thumbprint) + 1);
	if ((h->fd = listen_on(host, port, &h->port, err, errlen)) < 0) {
		free(h);
		return VOUCHER_EIO;
	}
	h->mhd = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, h,
	        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->fd, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)64, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)16384, MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, errlen, "failed to start the http-01 listener on %s:%u", host,
		         (unsigned)h->port);
		close(h->fd);
		free(h);
		return VOUCHER_EIO;
	}
	log_info("acme: answering http-01 on %s:%u", host, (unsigned)h->port);
	*out = h;
	return VOUCHER_OK;
}

uint16_t creg_http01_port(const struct creg_http01 *h)
{
	return h->port;
}

unsigned long creg_http01_served(const struct creg_http01 *h)
{
	return atomic_load(&((struct creg_http01 *)h)->served);
}

void creg_http01_stop(struct creg_http01 *h)
{
	if (!h)
		return;
	/* MHD closes a socket given with MHD_OPTION_LISTEN_SOCKET itself. */
	MHD_stop_daemon(h->mhd);
	free(h);
}
