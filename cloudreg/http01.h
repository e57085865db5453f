/*
 * cloudregd answers ACME http-01 challenges itself ([acme] http01_listen):
 * a small plain-HTTP listener that serves
 *   GET /.well-known/acme-challenge/<token>  ->  <token>.<thumbprint>
 * for any well-formed token, "stateless" in the sense of RFC 8555 8.3: the
 * key authorization is derived from the token and the account key's
 * thumbprint, so every cloudregd instance that shares the store (and so the
 * account key) answers for every order, across restarts and SIGHUP, with no
 * token bookkeeping. It serves nothing else (404), never reads a body, and
 * closes idle connections quickly: validation requests come from the CA.
 */
#ifndef CREG_HTTP01_H
#define CREG_HTTP01_H

#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

struct creg_http01;

/* Listen on host:port (port 0: any free port). The socket has SO_REUSEPORT
 * so that the backend built on SIGHUP can bind before the old one stops.
 * thumbprint is copied. *out is new. */
voucher_err creg_http01_start(const char *host, uint16_t port, const char *thumbprint,
                              struct creg_http01 **out, char *err, size_t errlen);
uint16_t creg_http01_port(const struct creg_http01 *h);
/* Requests answered with a key authorization (for logs and tests). */
unsigned long creg_http01_served(const struct creg_http01 *h);
void creg_http01_stop(struct creg_http01 *h); /* NULL ok */

/* The body for a request path, or NULL for 404. Pure, for the unit test. */
voucher_err creg_http01_answer(const char *path, const char *thumbprint, char *out, size_t outlen);

#endif
