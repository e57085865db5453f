/* Small helpers the brski subcommands share (tools/util.c). */
#ifndef BRSKI_TOOL_UTIL_H
#define BRSKI_TOOL_UTIL_H

/* Print "prog: <message>" and a newline on standard error; returns code,
 * the exit status, so a command can `return brski_fail(...)`. */
int brski_fail(const char *prog, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
