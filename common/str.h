/*
 * Bounded parsing of numbers and strings from untrusted text. atoi, strtol
 * and sscanf are banned on network and file input (tests/checksrc.sh).
 */
#ifndef BRSKI_STR_H
#define BRSKI_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

/* Parse decimal digits at *p into *out (<= max); advances *p past them.
 * No sign, no whitespace. VOUCHER_E_MALFORMED on no digit, VOUCHER_ERANGE
 * above max. */
voucher_err brski_str_number(const char **p, uint64_t *out, uint64_t max);
/* The whole string s must be a decimal number <= max. */
voucher_err brski_str_to_u64(const char *s, uint64_t *out, uint64_t max);
/* Case-insensitive ASCII comparison of the first n bytes. */
bool brski_str_caseeq(const char *a, const char *b);
bool brski_str_startswith(const char *s, const char *prefix);
/* strdup that returns NULL for NULL. */
char *brski_strdup(const char *s);
/* Lower-case hex of the n bytes at p, a new string (NULL when out of
 * memory): how hashes appear in logs and admin answers. */
char *brski_hex_new(const uint8_t *p, size_t n);

#endif
