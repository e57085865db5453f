#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/str.h"

voucher_err brski_str_number(const char **p, uint64_t *out, uint64_t max)
{
	const char *s = *p;
	uint64_t v = 0;
	*out = 0;
	if (*s < '0' || *s > '9')
		return VOUCHER_E_MALFORMED;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return VOUCHER_ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return VOUCHER_OK;
}

voucher_err brski_str_to_u64(const char *s, uint64_t *out, uint64_t max)
{
	const char *p = s;
	voucher_err r = brski_str_number(&p, out, max);
	if (r != VOUCHER_OK)
		return r;
	if (*p != '\0') {
		*out = 0;
		return VOUCHER_E_TRAILING_DATA;
	}
	return VOUCHER_OK;
}

bool brski_str_caseeq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool brski_str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *brski_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *brski_hex_new(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(n * 2 + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}
