/*
 * Hook programs of cloudregd (the dns-01 hook of the ACME backend): run
 * without a shell, as uacme's hook_run does, with posix_spawn and an argv
 * only, so untrusted values (identifiers, tokens) can never become shell
 * syntax. The hook gets the daemon's environment, its own process group
 * (so a timeout kills its children too), /dev/null as stdin, and a pipe for
 * stdout and stderr whose first CREG_HOOK_OUTPUT bytes are kept for the
 * error message.
 *
 * Exit status contract (docs/CONFIG.md [acme] dns_hook):
 *   0              done
 *   1              permanent refusal (e.g. the name is outside the zone
 *                  the hook may update): the enrollment fails
 *   anything else  temporary failure: the enrollment is retried later
 * A hook that is still running after the time limit is killed (SIGKILL to
 * its process group) and counts as a temporary failure.
 */
#ifndef CREG_HOOK_H
#define CREG_HOOK_H

#include <stddef.h>

#include <voucher/error.h>

#define CREG_HOOK_OUTPUT   512
#define CREG_HOOK_MAX_ARGS 8

enum creg_hook_result {
	CREG_HOOK_OK = 0,
	CREG_HOOK_PERMANENT, /* exit 1 */
	CREG_HOOK_TEMPORARY, /* other exit, signal, timeout, cannot start */
};

/*
 * Run argv[0] with argv (NULL-terminated, at most CREG_HOOK_MAX_ARGS) and
 * wait at most timeout_ms. *res says how it ended; out (may be NULL) gets
 * what the hook printed (bounded, control characters replaced) or why it
 * failed. Returns VOUCHER_OK when the hook ran to an exit status (see *res),
 * VOUCHER_ETIMEDOUT when it was killed, VOUCHER_ENOENT/EACCES when it could
 * not be started, VOUCHER_ENOMEM. Thread-safe: it waits for its own child
 * only (pidfd), never for others.
 */
voucher_err creg_hook_run(const char *const *argv, unsigned timeout_ms, enum creg_hook_result *res,
                          char *out, size_t outlen);

#endif
