/* Small helpers the brski subcommands share (tools/util.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

voucher_err brski_read_file(const char *path, bool dash_stdin, struct brski_buf *out)
{
	uint8_t chunk[8192];
	voucher_err e = VOUCHER_OK;
	FILE *f = dash_stdin && strcmp(path, "-") == 0 ? stdin : fopen(path, "rbe");

	if (f == NULL)
		return errno == ENOENT   ? VOUCHER_ENOENT
		       : errno == EACCES ? VOUCHER_EACCES
		                         : VOUCHER_EIO;
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		if (n > 0 && (e = brski_buf_put(out, chunk, n)) != VOUCHER_OK)
			break;
		if (n < sizeof(chunk)) {
			if (ferror(f))
				e = VOUCHER_EIO;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	return e;
}
