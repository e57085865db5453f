/* Trust anchors, the shared chain check of every envelope, and the cache of
 * successful chain validations. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

#include <voucher/sign.h>
#include <voucher/x509.h>

#include "common/buf.h"
#include "envelope.h"

#define MAX_TRUST_FILE (4 * 1024 * 1024)
#define MAX_ANCHORS    1024

/* A chain validation that passed: which carried certificates, in which
 * order, formed the path, and while it stays valid. */
struct cache_slot {
	uint8_t key[32];   /* SHA-256 over the signer and the carried certificates */
	time_t not_before; /* latest activation time on the path */
	time_t not_after;  /* earliest expiry on the path */
	uint8_t path_len;  /* issuers after the signer */
	uint8_t path[BRSKI_MAX_CERT_CHAIN]; /* their indices in the carried pool */
	int used;
	uint8_t anchor[32]; /* shared cache: SHA-256 of the anchor's DER */
};

/* What a voucher_trust knows of each anchor it was given, for the shared
 * cache: the SHA-256 of its DER and of its subject Name. */
struct anchor_id {
	uint8_t der[32];
	uint8_t subject[32];
};

struct voucher_trust {
	gnutls_x509_trust_list_t tl;
	size_t count;
	int cache_on;
	pthread_mutex_t lock; /* guards slots and counters */
	struct cache_slot slots[VOUCHER_TRUST_CACHE_SLOTS];
	struct voucher_trust_stats st;
	struct anchor_id *anchors; /* n_anchors entries, in the order added */
	size_t n_anchors;
};

voucher_err voucher_trust_new(struct voucher_trust **out)
{
	struct voucher_trust *t;
	int rc;

	if (out == NULL)
		return VOUCHER_EINVAL;
	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VOUCHER_ENOMEM;
	if ((rc = gnutls_x509_trust_list_init(&t->tl, 0)) < 0) {
		free(t);
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		gnutls_x509_trust_list_deinit(t->tl, 1);
		free(t);
		return VOUCHER_ENOMEM;
	}
	t->cache_on = 1;
	*out = t;
	return VOUCHER_OK;
}

void voucher_trust_free(struct voucher_trust *t)
{
	if (t == NULL)
		return;
	gnutls_x509_trust_list_deinit(t->tl, 1);
	pthread_mutex_destroy(&t->lock);
	free(t->anchors);
	free(t);
}

size_t voucher_trust_count(const struct voucher_trust *t)
{
	return t ? t->count : 0;
}

static voucher_err anchor_id_of(gnutls_x509_crt_t crt, struct anchor_id *id)
{
	gnutls_datum_t der = {NULL, 0}, dn = {NULL, 0};
	int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
	if (rc >= 0)
		rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, id->der);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_raw_dn(crt, &dn);
	if (rc >= 0)
		rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, dn.data, dn.size, id->subject);
	gnutls_free(der.data);
	gnutls_free(dn.data);
	return vl_gnutls_err(rc, VOUCHER_E_CERT);
}

/* Hand parsed certificates to the trust list, which then owns them. */
static voucher_err add_crts(struct voucher_trust *t, gnutls_x509_crt_t *list, unsigned n)
{
	struct anchor_id *ids = NULL;
	voucher_err err = VOUCHER_OK;

	if (t->count + n > MAX_ANCHORS) {
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		return VOUCHER_E_TOO_LARGE;
	}
	ids = realloc(t->anchors, (t->n_anchors + n) * sizeof(*ids));
	if (ids == NULL)
		err = VOUCHER_ENOMEM;
	else
		t->anchors = ids;
	for (unsigned i = 0; i < n && err == VOUCHER_OK; i++)
		err = anchor_id_of(list[i], &ids[t->n_anchors + i]);
	if (err != VOUCHER_OK) {
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		return err;
	}
	int rc = gnutls_x509_trust_list_add_cas(t->tl, list, n, 0);
	if (rc < 0) {
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		return vl_gnutls_err(rc, VOUCHER_E_CERT);
	}
	t->count += (size_t)rc;
	t->n_anchors += n;
	/* New anchors can make a failed chain pass but never the reverse, so
	 * the cache (successes only) stays valid. */
	return VOUCHER_OK;
}

voucher_err voucher_trust_add_der(struct voucher_trust *t, const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt = NULL;

	if (t == NULL)
		return VOUCHER_EINVAL;
	voucher_err err = vl_crt_from_der(der, len, &crt);
	if (err != VOUCHER_OK)
		return err;
	return add_crts(t, &crt, 1);
}

voucher_err voucher_trust_add_pem(struct voucher_trust *t, const uint8_t *pem, size_t len)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;

	if (t == NULL || pem == NULL)
		return VOUCHER_EINVAL;
	if (len == 0)
		return VOUCHER_E_CERT;
	if (len > MAX_TRUST_FILE)
		return VOUCHER_E_TOO_LARGE;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
	int rc = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CERT);
	voucher_err err = n ? add_crts(t, list, n) : VOUCHER_E_CERT;
	gnutls_free(list);
	return err;
}

voucher_err voucher_trust_add_file(struct voucher_trust *t, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (t == NULL || path == NULL)
		return VOUCHER_EINVAL;
	voucher_err err = vl_read_file(path, MAX_TRUST_FILE, &data, &len);
	if (err != VOUCHER_OK)
		return err;
	if (data[0] == 0x30)
		err = voucher_trust_add_der(t, data, len);
	else
		err = voucher_trust_add_pem(t, data, len);
	free(data);
	return err;
}

void voucher_trust_stats(const struct voucher_trust *t, struct voucher_trust_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (t == NULL)
		return;
	pthread_mutex_t *lock = (pthread_mutex_t *)&t->lock;
	pthread_mutex_lock(lock);
	*st = t->st;
	st->entries = 0;
	for (size_t i = 0; i < VOUCHER_TRUST_CACHE_SLOTS; i++)
		st->entries += t->slots[i].used != 0;
	pthread_mutex_unlock(lock);
}

void voucher_trust_set_cache(struct voucher_trust *t, int enabled)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->cache_on = enabled != 0;
	if (!enabled)
		memset(t->slots, 0, sizeof(t->slots));
	pthread_mutex_unlock(&t->lock);
}

/* ---- the shared chain check --------------------------------------------- */

/* Validations without a trust list (trust == NULL: the farthest carried
 * certificate stands in as the anchor, see validate_temporary) depend on
 * nothing but the carried certificates and the time, so they are cached
 * like a trust list's, in this process-wide cache of their own: keyed by
 * the SHA-256 of the carried DER (signer first, then the others in the
 * order carried), kept while every certificate of the path is within its
 * validity, failures never kept. masad validates every registrar
 * voucher-request this way, and a registrar sends the same chain each
 * time: perf showed that validation (a trust list built, the anchor
 * parsed, the path parsed and its signature verified) at 8 % of masad's
 * CPU per voucher. The domain CA check that follows (masa/check.c) is
 * separate. */
static struct voucher_trust temporary_cache = {
        .cache_on = 1,
        .lock = PTHREAD_MUTEX_INITIALIZER,
};

void voucher_trust_temporary_stats(struct voucher_trust_stats *st)
{
	voucher_trust_stats(&temporary_cache, st);
}

/* Validations against trust lists, shared by every voucher_trust of the
 * process. An entry is keyed like a trust list's (the carried chain) and
 * names the anchor the path ended at; it answers for any trust list that
 * holds that same anchor (the SHA-256 of its DER) as its only anchor with
 * that subject Name, because GnuTLS then builds and checks the same path
 * against the same anchor. Entries are kept while every certificate of
 * the path is within its validity; failures are never kept; anchors only
 * ever get added to a trust list (a reload builds a new one), and an
 * added anchor can make a failure pass, never a pass fail. Why: a daemon
 * validates a pledge's IDevID chain twice, for its TLS client certificate
 * (service/tlsconf.c, the listener's anchors) and for the signer of its
 * voucher-request (the manufacturer CAs): perf put the second at 15 % of
 * cloudregd's CPU per pledge. */
static struct voucher_trust shared_cache = {
        .cache_on = 1,
        .lock = PTHREAD_MUTEX_INITIALIZER,
};

void voucher_trust_shared_stats(struct voucher_trust_stats *st)
{
	voucher_trust_stats(&shared_cache, st);
}

/* Whether t holds the anchor whose DER hashes to der as its only anchor
 * with that subject Name. */
static int anchor_unique(const struct voucher_trust *t, const uint8_t der[32])
{
	const struct anchor_id *found = NULL;

	for (size_t i = 0; i < t->n_anchors && found == NULL; i++)
		if (memcmp(t->anchors[i].der, der, 32) == 0)
			found = &t->anchors[i];
	if (found == NULL)
		return 0;
	for (size_t i = 0; i < t->n_anchors; i++)
		if (memcmp(t->anchors[i].subject, found->subject, 32) == 0 &&
		    memcmp(t->anchors[i].der, der, 32) != 0)
			return 0;
	return 1;
}

/* The anchor a validated path ended at, when t tells it without doubt:
 * the top of the path itself when it is self-signed and an anchor, else
 * the one anchor whose subject is the top's issuer. 0 when found. */
static int path_anchor(const struct voucher_trust *t, gnutls_x509_crt_t top,
                       const gnutls_datum_t *top_der, uint8_t out[32])
{
	gnutls_datum_t dn = {NULL, 0};
	uint8_t issuer[32];
	const struct anchor_id *found = NULL;

	if (gnutls_x509_crt_check_issuer(top, top)) {
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, top_der->data, top_der->size, out) < 0)
			return -1;
		return anchor_unique(t, out) ? 0 : -1;
	}
	if (gnutls_x509_crt_get_raw_issuer_dn(top, &dn) < 0)
		return -1;
	int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, dn.data, dn.size, issuer);
	gnutls_free(dn.data);
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < t->n_anchors; i++) {
		if (memcmp(t->anchors[i].subject, issuer, 32) != 0)
			continue;
		if (found != NULL && memcmp(found->der, t->anchors[i].der, 32) != 0)
			return -1; /* two anchors with that Name */
		found = &t->anchors[i];
	}
	if (found == NULL)
		return -1;
	memcpy(out, found->der, 32);
	return 0;
}

/* A shared entry for key that holds now and whose anchor t holds. */
static int shared_lookup(const struct voucher_trust *t, const uint8_t key[32], time_t now,
                         struct cache_slot *hit_out)
{
	struct cache_slot *s =
	        &shared_cache.slots[((size_t)key[0] << 8 | key[1]) % VOUCHER_TRUST_CACHE_SLOTS];
	int hit;

	pthread_mutex_lock(&shared_cache.lock);
	hit = s->used && memcmp(s->key, key, 32) == 0 && now >= s->not_before &&
	      now <= s->not_after;
	if (hit)
		*hit_out = *s;
	pthread_mutex_unlock(&shared_cache.lock);
	/* t's anchors do not change while t is in use */
	hit = hit && anchor_unique(t, hit_out->anchor);
	pthread_mutex_lock(&shared_cache.lock);
	if (hit)
		shared_cache.st.hits++;
	else
		shared_cache.st.misses++;
	pthread_mutex_unlock(&shared_cache.lock);
	return hit;
}

struct path {
	size_t n;
	gnutls_x509_crt_t crt[BRSKI_MAX_CERT_CHAIN];
	const gnutls_datum_t *der[BRSKI_MAX_CERT_CHAIN];
};

static int same_der(const gnutls_datum_t *a, const gnutls_datum_t *b)
{
	return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* Every certificate of the path within its validity at now. */
static voucher_err check_times(const struct path *p, time_t now, time_t *nb, time_t *na)
{
	*nb = 0;
	*na = (time_t)-1 > 0 ? (time_t)-1 : (time_t)((~(unsigned long long)0) >> 1);
	for (size_t i = 0; i < p->n; i++) {
		time_t b = gnutls_x509_crt_get_activation_time(p->crt[i]);
		time_t a = gnutls_x509_crt_get_expiration_time(p->crt[i]);
		if (b == (time_t)-1 || a == (time_t)-1)
			return VOUCHER_E_CERT;
		if (now < b || now > a)
			return VOUCHER_E_EXPIRED;
		if (b > *nb)
			*nb = b;
		if (a < *na)
			*na = a;
	}
	return VOUCHER_OK;
}

/* The cache key: the signer and the other carried certificates, in the
 * order carried, each length-prefixed so that different splits differ. */
static voucher_err carried_key(const gnutls_datum_t *signer, const gnutls_datum_t *const *pool,
                               size_t npool, uint8_t key[32])
{
	gnutls_hash_hd_t h = NULL;
	int rc = gnutls_hash_init(&h, GNUTLS_DIG_SHA256);
	if (rc < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	for (size_t i = 0; i <= npool; i++) {
		const gnutls_datum_t *d = i == 0 ? signer : pool[i - 1];
		uint8_t l[4] = {(uint8_t)(d->size >> 24), (uint8_t)(d->size >> 16),
		                (uint8_t)(d->size >> 8), (uint8_t)d->size};
		gnutls_hash(h, l, sizeof(l));
		gnutls_hash(h, d->data, d->size);
	}
	gnutls_hash_deinit(h, key);
	return VOUCHER_OK;
}

static struct cache_slot *slot_for(const struct voucher_trust *t, const uint8_t key[32])
{
	size_t i = ((size_t)key[0] << 8 | key[1]) % VOUCHER_TRUST_CACHE_SLOTS;
	return (struct cache_slot *)&t->slots[i];
}

/* On a hit, copy the path out of the slot (under the lock: a writer may
 * replace the slot right after). */
static int cache_lookup(const struct voucher_trust *t, const uint8_t key[32], time_t now,
                        struct cache_slot *hit_out)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&t->lock;
	struct voucher_trust_stats *st = (struct voucher_trust_stats *)&t->st;
	int hit = 0;

	pthread_mutex_lock(lock);
	if (t->cache_on) {
		struct cache_slot *s = slot_for(t, key);
		hit = s->used && memcmp(s->key, key, 32) == 0 && now >= s->not_before &&
		      now <= s->not_after;
		if (hit)
			*hit_out = *s;
	}
	if (hit)
		st->hits++;
	else
		st->misses++;
	pthread_mutex_unlock(lock);
	return hit;
}

static void cache_store(const struct voucher_trust *t, const struct cache_slot *entry, int ok)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&t->lock;
	struct voucher_trust_stats *st = (struct voucher_trust_stats *)&t->st;

	pthread_mutex_lock(lock);
	if (!ok)
		st->failures++;
	else if (t->cache_on)
		*slot_for(t, entry->key) = *entry;
	pthread_mutex_unlock(lock);
}

static voucher_err map_status(unsigned status)
{
	if (status == 0)
		return VOUCHER_OK;
	if (status & GNUTLS_CERT_REVOKED)
		return VOUCHER_E_REVOKED;
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return VOUCHER_E_EXPIRED;
	return VOUCHER_E_UNTRUSTED;
}

/* Validate the path against tl (GnuTLS checks signatures, CA basic
 * constraints, path length, key usage of CAs, validity times). */
static voucher_err validate(gnutls_x509_trust_list_t tl, const struct path *p)
{
	unsigned status = 0;
	int rc = gnutls_x509_trust_list_verify_crt2(tl, (gnutls_x509_crt_t *)p->crt, (unsigned)p->n,
	                                            NULL, 0, 0, &status, NULL);
	if (rc < 0)
		return vl_gnutls_err(rc, VOUCHER_E_UNTRUSTED);
	return map_status(status);
}

/* trust == NULL: the farthest certificate on the path stands in as a
 * temporary anchor so that the rest of the path is still checked. */
static voucher_err validate_temporary(const struct path *p)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t top = NULL;
	gnutls_datum_t der;
	voucher_err err;
	int rc;

	if ((rc = gnutls_x509_trust_list_init(&tl, 0)) < 0)
		return vl_gnutls_err(rc, VOUCHER_E_CRYPTO);
	/* The list takes ownership of what it is given: give it a copy. */
	der = *p->der[p->n - 1];
	if ((err = vl_crt_from_der(der.data, der.size, &top)) != VOUCHER_OK)
		goto out;
	if ((rc = gnutls_x509_trust_list_add_cas(tl, &top, 1, 0)) < 0) {
		gnutls_x509_crt_deinit(top);
		err = vl_gnutls_err(rc, VOUCHER_E_CERT);
		goto out;
	}
	err = validate(tl, p);
out:
	gnutls_x509_trust_list_deinit(tl, 1);
	return err;
}

static voucher_err chain_push(struct voucher_verified *v, const gnutls_datum_t *der)
{
	uint8_t *copy = malloc(der->size);
	if (copy == NULL)
		return VOUCHER_ENOMEM;
	memcpy(copy, der->data, der->size);
	v->chain[v->chain_len] = copy;
	v->chain_der_len[v->chain_len] = der->size;
	v->chain_len++;
	return VOUCHER_OK;
}

static void chain_clear(struct voucher_verified *v)
{
	for (size_t i = 0; i < v->chain_len; i++)
		free(v->chain[i]);
	free(v->chain);
	free(v->chain_der_len);
	v->chain = NULL;
	v->chain_der_len = NULL;
	v->chain_len = 0;
}

/* Record the chain in v: the signer, the path (indices into pool), then
 * what was carried but is not on the path. */
static voucher_err record_chain(struct voucher_verified *v, const gnutls_datum_t *signer,
                                const gnutls_datum_t *const *pool, size_t npool,
                                const uint8_t *path, size_t path_len)
{
	int on_path[BRSKI_MAX_CERT_CHAIN] = {0};
	voucher_err err = VOUCHER_OK;
	size_t total = 1 + npool;

	if ((v->chain = calloc(total, sizeof(*v->chain))) == NULL ||
	    (v->chain_der_len = calloc(total, sizeof(*v->chain_der_len))) == NULL)
		return VOUCHER_ENOMEM;
	err = chain_push(v, signer);
	for (size_t i = 0; i < path_len && err == VOUCHER_OK; i++) {
		on_path[path[i]] = 1;
		err = chain_push(v, pool[path[i]]);
	}
	for (size_t i = 0; i < npool && err == VOUCHER_OK; i++)
		if (!on_path[i])
			err = chain_push(v, pool[i]);
	return err;
}

/* vl_chain_verify, and the window in which its answer holds. */
static voucher_err chain_verify(const struct voucher_trust *trust, const gnutls_datum_t *signer_der,
                                const gnutls_datum_t *certs, size_t ncerts,
                                struct voucher_verified *v, time_t *from, time_t *until)
{
	gnutls_x509_crt_t parsed[BRSKI_MAX_CERT_CHAIN] = {NULL};
	const gnutls_datum_t *pool[BRSKI_MAX_CERT_CHAIN];
	int on_path[BRSKI_MAX_CERT_CHAIN] = {0};
	struct path p = {0};
	struct cache_slot entry;
	size_t npool = 0;
	voucher_err err;
	time_t now = time(NULL);

	chain_clear(v);
	memset(&entry, 0, sizeof(entry));
	if (signer_der == NULL || (ncerts > 0 && certs == NULL))
		return VOUCHER_EINVAL;
	/* The pool: the carried certificates other than the signer. */
	for (size_t i = 0; i < ncerts; i++) {
		if (same_der(&certs[i], signer_der))
			continue;
		int dup = 0;
		for (size_t j = 0; j < npool; j++)
			dup |= same_der(pool[j], &certs[i]);
		if (dup)
			continue;
		if (npool + 1 >= BRSKI_MAX_CERT_CHAIN)
			return VOUCHER_E_TOO_LARGE;
		pool[npool++] = &certs[i];
	}
	/* A chain validated before, still within every validity period: no
	 * parsing, no signature checks. */
	const struct voucher_trust *cache = trust != NULL ? trust : &temporary_cache;
	struct cache_slot hit;
	if ((err = carried_key(signer_der, pool, npool, entry.key)) != VOUCHER_OK)
		return err;
	int own = cache_lookup(cache, entry.key, now, &hit);
	if (own ||
	    (trust != NULL && trust->cache_on && shared_lookup(trust, entry.key, now, &hit))) {
		*from = hit.not_before;
		*until = hit.not_after;
		if (!own)
			cache_store(trust, &hit, 1); /* from the shared cache: keep it here too */
		err = record_chain(v, signer_der, pool, npool, hit.path, hit.path_len);
		if (err != VOUCHER_OK)
			chain_clear(v);
		return err;
	}
	if ((err = vl_crt_from_der(signer_der->data, signer_der->size, &p.crt[0])) != VOUCHER_OK)
		goto out;
	p.der[0] = signer_der;
	p.n = 1;
	for (size_t i = 0; i < npool; i++)
		if ((err = vl_crt_from_der(pool[i]->data, pool[i]->size, &parsed[i])) != VOUCHER_OK)
			goto out;
	/* Walk up: the issuer of the last certificate among those left, until
	 * a self-signed certificate or no issuer is carried. */
	while (p.n < BRSKI_MAX_CERT_CHAIN) {
		gnutls_x509_crt_t last = p.crt[p.n - 1];
		if (gnutls_x509_crt_check_issuer(last, last))
			break;
		size_t found = npool;
		for (size_t i = 0; i < npool && found == npool; i++)
			if (!on_path[i] && gnutls_x509_crt_check_issuer(last, parsed[i]))
				found = i;
		if (found == npool)
			break;
		on_path[found] = 1;
		entry.path[entry.path_len++] = (uint8_t)found;
		p.crt[p.n] = parsed[found];
		p.der[p.n] = pool[found];
		p.n++;
	}
	if ((err = check_times(&p, now, &entry.not_before, &entry.not_after)) != VOUCHER_OK)
		goto out;
	*from = entry.not_before;
	*until = entry.not_after;
	if (trust != NULL) {
		err = validate(trust->tl, &p);
		entry.used = 1;
		cache_store(trust, &entry, err == VOUCHER_OK);
		if (err != VOUCHER_OK)
			goto out;
		if (trust->cache_on &&
		    path_anchor(trust, p.crt[p.n - 1], p.der[p.n - 1], entry.anchor) == 0)
			cache_store(&shared_cache, &entry, 1);
	} else {
		err = validate_temporary(&p);
		entry.used = 1;
		cache_store(cache, &entry, err == VOUCHER_OK);
		if (err != VOUCHER_OK)
			goto out;
	}
	err = record_chain(v, signer_der, pool, npool, entry.path, entry.path_len);
	if (err == VOUCHER_OK)
		vl_x509_facts_prime(signer_der->data, signer_der->size, p.crt[0]);
out:
	gnutls_x509_crt_deinit(p.crt[0]);
	for (size_t i = 0; i < npool; i++)
		gnutls_x509_crt_deinit(parsed[i]);
	if (err != VOUCHER_OK)
		chain_clear(v);
	return err;
}

voucher_err vl_chain_verify(const struct voucher_trust *trust, const gnutls_datum_t *signer_der,
                            const gnutls_datum_t *certs, size_t ncerts, struct voucher_verified *v)
{
	time_t from, until;

	return chain_verify(trust, signer_der, certs, ncerts, v, &from, &until);
}

voucher_err voucher_trust_check_chain(const struct voucher_trust *t, const uint8_t *const *der,
                                      const size_t *der_len, size_t n, time_t *not_before,
                                      time_t *not_after)
{
	gnutls_datum_t certs[BRSKI_MAX_CERT_CHAIN];
	struct voucher_verified v;
	voucher_err err;

	if (t == NULL || der == NULL || der_len == NULL || n == 0 || not_before == NULL ||
	    not_after == NULL)
		return VOUCHER_EINVAL;
	*not_before = *not_after = 0;
	if (n > BRSKI_MAX_CERT_CHAIN)
		return VOUCHER_E_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		if (der[i] == NULL || der_len[i] == 0 || der_len[i] > VL_MAX_CERT)
			return VOUCHER_E_CERT;
		certs[i] = (gnutls_datum_t){(unsigned char *)der[i], (unsigned)der_len[i]};
	}
	memset(&v, 0, sizeof(v));
	err = chain_verify(t, &certs[0], certs + 1, n - 1, &v, not_before, not_after);
	chain_clear(&v);
	if (err != VOUCHER_OK)
		*not_before = *not_after = 0;
	return err;
}
