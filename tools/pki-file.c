/* brski pki: files, loopback ports and the admin token. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/compat.h"
#include "tools/pki.h"

voucher_err pki_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           struct pki_err *err)
{
	const uint8_t *p = data;
	voucher_err r = VOUCHER_OK;

	/* Unlink and create exclusively: an old file's mode or owner never
	 * carries over, and a symlink planted at path is not followed. */
	if ((r = pki_unlink(path, err)) != VOUCHER_OK)
		return r;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return pki_fail(err, -errno, "failed to create %s (%s)", path, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0) {
		r = pki_fail(err, -errno, "failed to set the mode of %s (%s)", path,
		             strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = pki_fail(err, VOUCHER_EIO, "failed to write %s (%s)", path,
			             n < 0 ? strerror(errno) : "no progress");
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
out:
	if (close(fd) != 0 && r == VOUCHER_OK)
		r = pki_fail(err, VOUCHER_EIO, "failed to write %s (%s)", path, strerror(errno));
	return r;
}

voucher_err pki_mkdir(const char *path, struct pki_err *err)
{
	struct stat st;
	if (mkdir(path, 0700) == 0)
		return VOUCHER_OK;
	if (errno != EEXIST)
		return pki_fail(err, -errno, "failed to create directory %s (%s)", path,
		                strerror(errno));
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return pki_fail(err, VOUCHER_EEXIST, "%s exists and is not a directory", path);
	return VOUCHER_OK;
}

voucher_err pki_unlink(const char *path, struct pki_err *err)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return pki_fail(err, -errno, "failed to remove %s (%s)", path, strerror(errno));
	return VOUCHER_OK;
}

voucher_err pki_path(char out[PKI_PATH_MAX], struct pki_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, PKI_PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PKI_PATH_MAX) {
		out[0] = '\0';
		return pki_fail(err, VOUCHER_E_TOO_LARGE, "path too long (limit %d bytes)",
		                PKI_PATH_MAX - 1);
	}
	return VOUCHER_OK;
}

voucher_err pki_pick_ports(uint16_t *ports, size_t n, struct pki_err *err)
{
	int fds[PKI_NPORTS];
	voucher_err r = VOUCHER_OK;
	size_t open_fds = 0;

	if (n > PKI_NPORTS)
		return pki_fail(err, VOUCHER_EINVAL, "at most %d ports", PKI_NPORTS);
	for (; open_fds < n; open_fds++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
		socklen_t sl = sizeof(sa);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = pki_fail(err, -errno, "failed to open a socket (%s)", strerror(errno));
			break;
		}
		fds[open_fds] = fd;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
			r = pki_fail(err, -errno, "failed to find a free port on 127.0.0.1 (%s)",
			             strerror(errno));
			open_fds++;
			break;
		}
		ports[open_fds] = ntohs(sa.sin_port);
	}
	/* Only now: while all are bound, the kernel cannot hand out one twice. */
	for (size_t i = 0; i < open_fds; i++)
		close(fds[i]);
	return r;
}

voucher_err pki_make_token(char out[PKI_TOKEN_HEX_LEN + 1], struct pki_err *err)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[PKI_TOKEN_HEX_LEN / 2];
	int g = gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw));
	if (g < 0)
		return pki_fail(err, VOUCHER_E_CRYPTO,
		                "failed to draw the admin token (GnuTLS: %s)", gnutls_strerror(g));
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[PKI_TOKEN_HEX_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return VOUCHER_OK;
}
