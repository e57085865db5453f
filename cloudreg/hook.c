/* Hook programs without a shell (hook.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cloudreg/hook.h"
#include "common/clock.h"

extern char **environ;

/* A pidfd lets poll() wake up when the child exits, with no SIGCHLD
 * handler (which would be process-wide state). Kernels without it get
 * a short poll interval instead. */
static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void keep_output(char *out, size_t outlen, size_t *used, const char *p, size_t n)
{
	for (size_t i = 0; i < n && out && *used + 1 < outlen; i++) {
		char c = p[i];
		out[(*used)++] =
		        (c == '\n' || c == '\t') ? ' ' : ((unsigned char)c < 0x20 ? '?' : c);
	}
	if (out && outlen)
		out[*used] = '\0';
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

voucher_err creg_hook_run(const char *const *argv, unsigned timeout_ms, enum creg_hook_result *res,
                          char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defaults;
	int pfd[2] = {-1, -1}, pidfd = -1, status = 0, rc;
	bool fa_ok = false, at_ok = false, exited = false, eof = false;
	size_t used = 0, nargs = 0;
	uint64_t deadline;
	voucher_err r = VOUCHER_OK;
	pid_t pid = -1;

	*res = CREG_HOOK_TEMPORARY;
	if (out && outlen)
		out[0] = '\0';
	while (argv && argv[nargs])
		nargs++;
	if (nargs == 0 || nargs > CREG_HOOK_MAX_ARGS || argv[0][0] != '/') {
		if (out)
			snprintf(out, outlen,
			         "a hook needs an absolute path and at most %d arguments",
			         CREG_HOOK_MAX_ARGS);
		return VOUCHER_EINVAL;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 || !(fa_ok = true) ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, pfd[1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, pfd[1], 2)) != 0 ||
	    (rc = posix_spawnattr_init(&at)) != 0 || !(at_ok = true))
		goto spawn_failed;
	/* Its own process group (a timeout kills the hook's children too), no
	 * blocked signals, and default dispositions for what the daemon may
	 * ignore (ignored signals survive exec). */
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGCHLD);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	if ((rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                                POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&at, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&at, &defaults)) != 0)
		goto spawn_failed;
	rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
	if (rc != 0)
		goto spawn_failed;
	close(pfd[1]);
	pfd[1] = -1;
	pidfd = pidfd_for(pid);
	deadline = brski_monotonic_ms() + timeout_ms;
	while (!exited) {
		struct pollfd p[2] = {{eof ? -1 : pfd[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
		uint64_t now = brski_monotonic_ms();
		int wait_ms;
		pid_t w;

		if (now >= deadline)
			break;
		wait_ms = (int)(deadline - now);
		if (pidfd < 0 && wait_ms > 50)
			wait_ms = 50;
		if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (!eof && (p[0].revents & (POLLIN | POLLHUP))) {
			char buf[256];
			ssize_t n = read(pfd[0], buf, sizeof(buf));
			if (n > 0)
				keep_output(out, outlen, &used, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				eof = true;
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			exited = true;
		else if (w < 0 && errno != EINTR) {
			if (out)
				snprintf(out, outlen, "lost track of hook %s (%s)", argv[0],
				         strerror(errno));
			r = VOUCHER_EIO;
			goto out;
		}
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (out) {
			trim(out);
			used = strlen(out);
			snprintf(out + used, outlen - used, "%skilled after %u ms",
			         used ? "; " : "", timeout_ms);
		}
		r = VOUCHER_ETIMEDOUT;
		goto out;
	}
	/* What the hook wrote before exiting (children holding the pipe are
	 * not waited for). */
	if (!eof) {
		int fl = fcntl(pfd[0], F_GETFL);
		char buf[256];
		ssize_t n;
		if (fl >= 0)
			fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK);
		while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
			keep_output(out, outlen, &used, buf, (size_t)n);
	}
	if (out)
		trim(out);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		*res = CREG_HOOK_OK;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		*res = CREG_HOOK_PERMANENT;
	if (out && *res != CREG_HOOK_OK) {
		char why[48];
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "signal %d",
			         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s(%s)", used ? " " : "", why);
	}
	goto out;
spawn_failed:
	if (out)
		snprintf(out, outlen, "failed to start hook %s (%s)", argv[0], strerror(rc));
	r = rc == ENOENT ? VOUCHER_ENOENT : rc == EACCES ? VOUCHER_EACCES : -rc;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	return r;
}
