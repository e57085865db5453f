/*
 * Request rate limits: token buckets keyed by a string (a source address, a
 * client certificate, a device serial), in a table of bounded size.
 *
 * A bucket holds at most `burst` tokens and gains `rate` tokens per `period`
 * seconds; each request takes one. A request that finds no token is refused
 * with the whole seconds after which one will be there (the Retry-After of a
 * 429). Keys are hashed with a per-process random seed and only the hash is
 * kept, so the table never holds what a client sent; when the table is full
 * the least recently used bucket of a probe window is reused (which can only
 * give a client a fresh burst, never refuse one wrongly).
 *
 * The daemon runner configures three process-wide limiters from [limits]
 * (svc_ratelimit_configure); the HTTP layer checks the address and
 * certificate limiters before a request reaches its route
 * (svc_ratelimit_request); the EST code takes a token from the per-serial
 * limiter only when it is about to ask the CA for a certificate
 * (svc_ratelimit_take), so cache hits never count.
 */
#ifndef SVC_RATELIMIT_H
#define SVC_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

struct svc_config;
struct svc_ratelimit;

/* A limiter of at most max_keys buckets; rate 0 means no limit (every take
 * succeeds). VOUCHER_EINVAL when burst is 0 with a rate, or period is 0. */
voucher_err svc_ratelimit_new(unsigned rate, unsigned period, unsigned burst, size_t max_keys,
                              struct svc_ratelimit **out);
void svc_ratelimit_free(struct svc_ratelimit *rl); /* NULL ok */

/* Take a token from the bucket of key (len bytes) at time now_ms (a
 * monotonic clock in milliseconds). true when taken; false when the bucket
 * is empty, with *retry_after (may be NULL) set to the seconds until a token
 * is back, at least 1. A NULL or unlimited limiter always gives. */
bool svc_ratelimit_take_at(struct svc_ratelimit *rl, const void *key, size_t len, uint64_t now_ms,
                           unsigned *retry_after);

/* The process-wide limiters, from the [limits] section. Called once by the
 * daemon runner before the listeners start; replaces what was configured. */
voucher_err svc_ratelimit_configure(const struct svc_config *cfg, char *err, size_t errlen);
/* Free the process-wide limiters (at exit). */
void svc_ratelimit_shutdown(void);

/* The per-serial limiter, for code about to ask a CA for a certificate for
 * this device serial: VOUCHER_OK when it may, VOUCHER_E_RATE_LIMITED with
 * *retry_after (seconds, may be NULL) when this serial has had its share.
 * Call it only on a cache miss. VOUCHER_OK when no limiter is configured. */
voucher_err svc_ratelimit_take(const char *serial, unsigned *retry_after);

/* The HTTP layer's check for one request on a listener: a token from the
 * bucket of the source address (host without port) and, when the client
 * presented one, of its leaf certificate (DER). false with *retry_after and
 * a reason naming which limit when one is empty. */
bool svc_ratelimit_request(const char *listener, const char *peer_addr, const uint8_t *cert,
                           size_t cert_len, unsigned *retry_after, char *reason, size_t reason_len);

#endif
