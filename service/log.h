/*
 * Logging for the daemons: one line per event on stderr, with a level
 * threshold. The level and the program name are process-wide (set once by
 * main, read by every thread).
 */
#ifndef SVC_LOG_H
#define SVC_LOG_H

#include <stdbool.h>

#include <voucher/error.h>

enum svc_log_level {
	SVC_LOG_ERROR = 0,
	SVC_LOG_WARN = 1,
	SVC_LOG_INFO = 2,
	SVC_LOG_DEBUG = 3,
};

/* Program name shown on every line (borrowed; must outlive the process's
 * logging, typically a string literal). */
void svc_log_init(const char *ident);
void svc_log_set_level(enum svc_log_level level);
/* "error", "warn", "info", "debug" -> level; VOUCHER_EINVAL otherwise. */
voucher_err svc_log_level_parse(const char *name, enum svc_log_level *out);
bool svc_log_enabled(enum svc_log_level level);

/* Write one line. Control characters in the formatted text (which may carry
 * peer-supplied bytes) are replaced by '?', so a line can never be split or
 * forged. Lines are cut at 2 KiB. Thread-safe: one write(2) per line. */
void svc_log(enum svc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with "func: ... (<voucher_strerror(r)>)" appended. */
void svc_log_r(enum svc_log_level level, const char *func, voucher_err r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_err(...)       svc_log(SVC_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)      svc_log(SVC_LOG_WARN, __VA_ARGS__)
#define log_info(...)      svc_log(SVC_LOG_INFO, __VA_ARGS__)
#define log_debug(...)     svc_log(SVC_LOG_DEBUG, __VA_ARGS__)
#define log_err_r(r, ...)  svc_log_r(SVC_LOG_ERROR, __func__, (r), __VA_ARGS__)
#define log_warn_r(r, ...) svc_log_r(SVC_LOG_WARN, __func__, (r), __VA_ARGS__)

#endif
