/* Token-bucket rate limits: see ratelimit.h. */
#include <config.h> /* the build's, not service/config.h */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "common/clock.h"
#include "service/config.h"
#include "service/log.h"
#include "service/ratelimit.h"

#define PROBES 8 /* slots looked at for a key before one is reused */

struct bucket {
	uint64_t hash; /* 0 = free */
	uint64_t last_ms;
	uint64_t milli_tokens; /* tokens x 1000, so slow rates refill smoothly */
};

struct svc_ratelimit {
	pthread_mutex_t lock;
	uint64_t seed;
	unsigned rate, period, burst;
	size_t n;
	struct bucket *slots;
};

/* FNV-1a over a random seed and the key, then a final avalanche so nearby
 * keys (addresses differing in one digit) land far apart. The seed keeps a
 * client from choosing keys that all fall in one probe window. */
static uint64_t key_hash(uint64_t seed, const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

voucher_err svc_ratelimit_new(unsigned rate, unsigned period, unsigned burst, size_t max_keys,
                              struct svc_ratelimit **out)
{
	struct svc_ratelimit *rl;

	*out = NULL;
	if (period == 0 || (rate && burst == 0) || max_keys == 0)
		return VOUCHER_EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return VOUCHER_ENOMEM;
	rl->slots = calloc(max_keys, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return VOUCHER_ENOMEM;
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, &rl->seed, sizeof(rl->seed)) < 0)
		rl->seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->period = period;
	rl->burst = burst;
	rl->n = max_keys;
	*out = rl;
	return VOUCHER_OK;
}

void svc_ratelimit_free(struct svc_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/* The bucket of hash, refilled to now; a free or least recently used slot
 * of the probe window when the key has none. */
static struct bucket *find(struct svc_ratelimit *rl, uint64_t hash, uint64_t now_ms)
{
	/* rl->n >= 1 (svc_ratelimit_new), so the window has a first slot. */
	size_t start = (size_t)(hash % rl->n);
	struct bucket *victim = &rl->slots[start];

	for (size_t i = 0; i < PROBES && i < rl->n; i++) {
		struct bucket *b = &rl->slots[(start + i) % rl->n];
		if (b->hash == hash)
			return b;
		if (victim->hash && (!b->hash || b->last_ms < victim->last_ms))
			victim = b;
	}
	victim->hash = hash;
	victim->last_ms = now_ms;
	victim->milli_tokens = (uint64_t)rl->burst * 1000;
	return victim;
}

bool svc_ratelimit_take_at(struct svc_ratelimit *rl, const void *key, size_t len, uint64_t now_ms,
                           unsigned *retry_after)
{
	uint64_t full, period_ms, need;
	struct bucket *b;
	bool ok;

	if (!rl || rl->rate == 0)
		return true;
	full = (uint64_t)rl->burst * 1000;
	period_ms = (uint64_t)rl->period * 1000;
	pthread_mutex_lock(&rl->lock);
	b = find(rl, key_hash(rl->seed, key, len), now_ms);
	if (now_ms > b->last_ms) {
		/* rate tokens per period: rate*1000 milli-tokens per period_ms;
		 * a gap longer than it takes to fill the bucket from empty is
		 * cut to that, so the product below stays far from overflow
		 * (at most period_ms * burst * 1000 + rate * 1000). */
		uint64_t gap = now_ms - b->last_ms;
		uint64_t fill_ms = period_ms * rl->burst / rl->rate + 1;
		if (gap > fill_ms)
			gap = fill_ms;
		uint64_t add = gap * rl->rate * 1000 / period_ms;
		b->milli_tokens = b->milli_tokens + add > full ? full : b->milli_tokens + add;
		/* Move the clock of the bucket by the time those tokens took,
		 * not to now: what rounding left over counts next time. */
		if (b->milli_tokens == full)
			b->last_ms = now_ms;
		else
			b->last_ms += add * period_ms / ((uint64_t)rl->rate * 1000);
	}
	ok = b->milli_tokens >= 1000;
	if (ok) {
		b->milli_tokens -= 1000;
	} else if (retry_after) {
		need = 1000 - b->milli_tokens;
		/* milliseconds until `need` milli-tokens, rounded up to seconds */
		uint64_t ms = (need * period_ms + (uint64_t)rl->rate * 1000 - 1) /
		              ((uint64_t)rl->rate * 1000);
		*retry_after = (unsigned)((ms + 999) / 1000);
		if (*retry_after == 0)
			*retry_after = 1;
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

/* ---- the process-wide limiters ------------------------------------------ */

static struct svc_ratelimit *limit_addr, *limit_cert, *limit_serial;

static voucher_err make(const struct svc_config *cfg, const char *rate_key, const char *burst_key,
                        unsigned period, struct svc_ratelimit **out, char *err, size_t errlen)
{
	size_t max_keys = (size_t)svc_config_int(cfg, "limits", "max_keys");
	unsigned rate = (unsigned)svc_config_int(cfg, "limits", rate_key);
	unsigned burst = (unsigned)svc_config_int(cfg, "limits", burst_key);
	voucher_err r = svc_ratelimit_new(rate, period, burst, max_keys, out);

	if (r != VOUCHER_OK)
		snprintf(err, errlen, "[limits] %s/%s: %s", rate_key, burst_key,
		         voucher_strerror(r));
	return r;
}

voucher_err svc_ratelimit_configure(const struct svc_config *cfg, char *err, size_t errlen)
{
	struct svc_ratelimit *a = NULL, *c = NULL, *s = NULL;
	voucher_err r;

	if ((r = make(cfg, "address_rate", "address_burst", 1, &a, err, errlen)) != VOUCHER_OK ||
	    (r = make(cfg, "cert_rate", "cert_burst", 1, &c, err, errlen)) != VOUCHER_OK ||
	    (r = make(cfg, "serial_rate", "serial_burst", 3600, &s, err, errlen)) != VOUCHER_OK) {
		svc_ratelimit_free(a);
		svc_ratelimit_free(c);
		svc_ratelimit_free(s);
		return r;
	}
	/* Configured once, before any listener thread exists. */
	svc_ratelimit_shutdown();
	limit_addr = a;
	limit_cert = c;
	limit_serial = s;
	return VOUCHER_OK;
}

void svc_ratelimit_shutdown(void)
{
	svc_ratelimit_free(limit_addr);
	svc_ratelimit_free(limit_cert);
	svc_ratelimit_free(limit_serial);
	limit_addr = limit_cert = limit_serial = NULL;
}

voucher_err svc_ratelimit_take(const char *serial, unsigned *retry_after)
{
	if (!serial)
		return VOUCHER_EINVAL;
	if (!svc_ratelimit_take_at(limit_serial, serial, strlen(serial), brski_monotonic_ms(),
	                           retry_after)) {
		log_warn("serial %s: over the certificate issuance limit", serial);
		return VOUCHER_E_RATE_LIMITED;
	}
	return VOUCHER_OK;
}

bool svc_ratelimit_request(const char *listener, const char *peer_addr, const uint8_t *cert,
                           size_t cert_len, unsigned *retry_after, char *reason, size_t reason_len)
{
	char key[128];
	const char *colon;
	size_t hostlen;
	uint64_t now = brski_monotonic_ms();
	int n;

	/* "addr:port" or "[v6]:port": the port changes with every
	 * connection, the address is the client. */
	colon = peer_addr ? strrchr(peer_addr, ':') : NULL;
	hostlen = colon ? (size_t)(colon - peer_addr) : (peer_addr ? strlen(peer_addr) : 0);
	n = snprintf(key, sizeof(key), "%s|%.*s", listener, (int)hostlen,
	             peer_addr ? peer_addr : "");
	if (n > 0 && !svc_ratelimit_take_at(limit_addr, key,
	                                    (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1,
	                                    now, retry_after)) {
		snprintf(reason, reason_len, "too many requests from address %.*s", (int)hostlen,
		         peer_addr);
		return false;
	}
	if (cert && cert_len && limit_cert) {
		/* The listener name then the certificate, hashed together. */
		uint8_t buf[64 + 8192];
		size_t ln = strlen(listener) < 64 ? strlen(listener) : 64;
		size_t cl = cert_len < 8192 ? cert_len : 8192;
		memcpy(buf, listener, ln);
		memcpy(buf + ln, cert, cl);
		if (!svc_ratelimit_take_at(limit_cert, buf, ln + cl, now, retry_after)) {
			snprintf(reason, reason_len,
			         "too many requests with this client certificate");
			return false;
		}
	}
	return true;
}
