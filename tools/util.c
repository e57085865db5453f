/* Small helpers the brski subcommands share (tools/util.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "tools/util.h"

int brski_fail(const char *prog, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}
