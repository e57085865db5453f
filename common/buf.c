#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"

void brski_buf_init(struct brski_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void brski_buf_free(struct brski_buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		freezero(b->data, b->cap);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void brski_buf_reset(struct brski_buf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->len);
		b->data[0] = 0;
	}
	b->len = 0;
}

/* Make room for n more bytes plus the terminating NUL. */
static voucher_err grow(struct brski_buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return VOUCHER_E_TOO_LARGE;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return VOUCHER_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	/* Copy rather than realloc so the old block can be wiped. */
	uint8_t *p = malloc(cap);
	if (p == NULL)
		return VOUCHER_ENOMEM;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		freezero(b->data, b->cap);
	}
	b->data = p;
	b->cap = cap;
	return VOUCHER_OK;
}

voucher_err brski_buf_put(struct brski_buf *b, const void *p, size_t n)
{
	voucher_err r = grow(b, n);
	if (r != VOUCHER_OK)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return VOUCHER_OK;
}

voucher_err brski_buf_puts(struct brski_buf *b, const char *s)
{
	return brski_buf_put(b, s, strlen(s));
}

voucher_err brski_buf_putc(struct brski_buf *b, uint8_t c)
{
	return brski_buf_put(b, &c, 1);
}

voucher_err brski_buf_printf(struct brski_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VOUCHER_EINVAL;
	voucher_err r = grow(b, (size_t)n);
	if (r != VOUCHER_OK)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return VOUCHER_OK;
}

uint8_t *brski_buf_take(struct brski_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
