/*
 * brski_buf: a growing byte buffer with a ceiling.
 *
 * Every buffer is created with a maximum size; an append past it fails with
 * VOUCHER_E_TOO_LARGE and leaves the buffer as it was. Memory is zeroed when
 * released, since buffers carry keys and tokens. Shared by the library, the
 * daemons, the tool and the tests (like curl's curlx).
 */
#ifndef BRSKI_BUF_H
#define BRSKI_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

struct brski_buf {
	uint8_t *data; /* owned; NUL-terminated past len when non-NULL */
	size_t len;
	size_t cap;
	size_t max;
};

/* Initialise an empty buffer holding at most max bytes. */
void brski_buf_init(struct brski_buf *b, size_t max);
/* Zero and free the contents; the buffer is empty and reusable. NULL ok. */
void brski_buf_free(struct brski_buf *b);
/* Forget the contents but keep the allocation. */
void brski_buf_reset(struct brski_buf *b);
voucher_err brski_buf_put(struct brski_buf *b, const void *p, size_t n);
voucher_err brski_buf_puts(struct brski_buf *b, const char *s);
voucher_err brski_buf_putc(struct brski_buf *b, uint8_t c);
voucher_err brski_buf_printf(struct brski_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Hand the contents to the caller (free() them) and empty the buffer.
 * Returns NULL for an empty buffer; *len may be NULL. */
uint8_t *brski_buf_take(struct brski_buf *b, size_t *len);
static inline const char *brski_buf_str(const struct brski_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/* Size limits that apply across the project, in one place. */
#define BRSKI_MAX_VOUCHER_REQUEST (64 * 1024)       /* signed VR on the wire */
#define BRSKI_MAX_VOUCHER         (64 * 1024)       /* signed voucher */
#define BRSKI_MAX_JSON_DEPTH      16                /* nesting before libyang */
#define BRSKI_MAX_CERT_CHAIN      8                 /* certificates in a chain */
#define BRSKI_MAX_ADMIN_BODY      (4 * 1024 * 1024) /* bulk imports */
#define BRSKI_MAX_EST_BODY        (64 * 1024)       /* CSR and friends */

#endif
