#include "config.h"

#include <stdlib.h>

#include "common/compat.h"

#ifndef HAVE_EXPLICIT_BZERO
void explicit_bzero(void *p, size_t n)
{
	/* The volatile function pointer keeps the compiler from eliding it. */
	static void *(*const volatile memset_v)(void *, int, size_t) = memset;
	memset_v(p, 0, n);
}
#endif

#ifndef HAVE_TIMINGSAFE_BCMP
int timingsafe_bcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc != 0;
}
#endif

#ifndef HAVE_FREEZERO
void freezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}
#endif
