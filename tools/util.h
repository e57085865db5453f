/* Small helpers the brski subcommands share (tools/util.c). */
#ifndef BRSKI_TOOL_UTIL_H
#define BRSKI_TOOL_UTIL_H

#include <stdbool.h>

#include <voucher/error.h>

#include "common/buf.h"

/* Print "prog: <message>" and a newline on standard error; returns code,
 * the exit status, so a command can `return brski_fail(...)`. */
int brski_fail(const char *prog, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Append the whole file path to out (its ceiling bounds the read); with
 * dash_stdin, "-" is standard input. Errors: VOUCHER_ENOENT, VOUCHER_EACCES
 * or VOUCHER_EIO (opening or reading), VOUCHER_E_TOO_LARGE. */
voucher_err brski_read_file(const char *path, bool dash_stdin, struct brski_buf *out);

#endif
