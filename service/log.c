/* stderr logging: see log.h. */
#include <config.h> /* the build's, not service/config.h */

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "service/log.h"

#define LOG_LINE_MAX 2048

static _Atomic int log_level = SVC_LOG_INFO;
static const char *log_ident = "brski";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void svc_log_init(const char *ident)
{
	if (ident)
		log_ident = ident;
}

void svc_log_set_level(enum svc_log_level level)
{
	atomic_store(&log_level, (int)level);
}

voucher_err svc_log_level_parse(const char *name, enum svc_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum svc_log_level)i;
			return VOUCHER_OK;
		}
	}
	return VOUCHER_EINVAL;
}

bool svc_log_enabled(enum svc_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

static void log_write(enum svc_log_level level, const char *func, voucher_err r, const char *fmt,
                      va_list ap) __attribute__((format(printf, 4, 0)));

static void log_write(enum svc_log_level level, const char *func, voucher_err r, const char *fmt,
                      va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t off = 0;
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	             "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld]: %s: ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (long)(tv.tv_usec / 1000), log_ident, (long)getpid(), level_names[level]);
	if (n < 0)
		return;
	off = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (func && off < sizeof(line)) {
		n = snprintf(line + off, sizeof(line) - off, "%s: ", func);
		if (n > 0)
			off += (size_t)n < sizeof(line) - off ? (size_t)n : sizeof(line) - off - 1;
	}
	size_t msg_start = off;
	n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	if (n > 0)
		off += (size_t)n < sizeof(line) - off ? (size_t)n : sizeof(line) - off - 1;
	if (func) {
		n = snprintf(line + off, sizeof(line) - off, " (%s)", voucher_strerror(r));
		if (n > 0)
			off += (size_t)n < sizeof(line) - off ? (size_t)n : sizeof(line) - off - 1;
	}
	/* The message may carry peer bytes: never let them end the line. */
	for (size_t i = msg_start; i < off; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per line keeps lines from concurrent threads whole; a
	 * failed write to stderr has nowhere else to be reported. */
	ssize_t w = write(STDERR_FILENO, line, off);
	(void)w;
}

void svc_log(enum svc_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!svc_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_write(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void svc_log_r(enum svc_log_level level, const char *func, voucher_err r, const char *fmt, ...)
{
	va_list ap;

	if (!svc_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_write(level, func ? func : "?", r, fmt, ap);
	va_end(ap);
}
