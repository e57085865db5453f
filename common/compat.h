/* OpenBSD functions that glibc lacks, detected by configure. */
#ifndef BRSKI_COMPAT_H
#define BRSKI_COMPAT_H

#include <stddef.h>
#include <string.h>

#ifndef HAVE_EXPLICIT_BZERO
void explicit_bzero(void *p, size_t n);
#endif
#ifndef HAVE_TIMINGSAFE_BCMP
/* 0 when equal; the time taken depends only on n. */
int timingsafe_bcmp(const void *a, const void *b, size_t n);
#endif
#ifndef HAVE_FREEZERO
/* Zero n bytes of p, then free it. NULL is a no-op. */
void freezero(void *p, size_t n);
#endif

#endif
