/*
 * The ACME CA backend of cloudregd ([ca] backend = acme): turns an EST
 * enrollment job into an RFC 8555 order (cloudreg/ca.h, cloudreg/acme.h).
 *
 * State that must survive a restart lives in the store: the account key
 * and URL (acme_account, keyed by the directory URL) and each job's order
 * (acme_orders: order URL, last status, finalize URL, certificate URL and,
 * in authz_urls, which authorizations have a dns-01 record published that
 * still has to be removed). An attempt always starts from the stored order:
 * a job is never given a second order while its first one can still
 * complete, and an order that is already processing or valid is never
 * finalized again, whoever (another worker, another host, a restarted
 * daemon) picks the job up.
 *
 * One attempt (issue()) drives the order as far as it gets within
 * [acme] issue_wait seconds, waiting between polls as long as the server's
 * Retry-After says (else a backoff from 10 ms up to [acme] poll_interval:
 * poll_delay_ms), and otherwise leaves the job pending (CREG_CA_RETRY) with
 * that delay.
 *
 * Pre-authorization (RFC 8555 7.4.1, RFC 9444): when the directory offers
 * newAuthz and the job's identifiers are all below the owner's subdomain,
 * the parent domain is authorized first, once; orders for pledge names
 * below it then need no challenge of their own where the server issues
 * subdomain certificates. The authorization is kept in the store
 * (acme_preauth: its URL, whether it is valid, whether our dns-01 record
 * may still be up, its "expires"), so neither a restart nor another
 * instance authorizes the domain again while it holds: each process asks
 * the server once (POST-as-GET) whether a stored authorization is still
 * valid before relying on it, and none is relied on within PREAUTH_MARGIN
 * seconds of its expiry. A failed pre-authorization is logged, the order
 * goes on with one authorization per identifier, and this process does not
 * try the domain again for PREAUTH_BACKOFF seconds (a back-off is not
 * stored: a restart tries again).
 */
#include <config.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <voucher/x509.h>

#include "cloudreg/acme.h"
#include "cloudreg/ca.h"
#include "cloudreg/hook.h"
#include "cloudreg/http01.h"
#include "common/compat.h"
#include "common/str.h"
#include "service/config.h"
#include "service/log.h"
#include "service/store.h"

#define PREAUTH_SLOTS   8
#define PREAUTH_KEEP    3600 /* seconds an authorization without "expires" is relied on */
#define PREAUTH_MARGIN  5    /* seconds before its expiry an authorization is not used */
#define PREAUTH_BACKOFF 300  /* seconds without pre-authorization after a refusal */
#define DNS_MAX         253

/* What this process knows beyond the store about one parent domain. */
struct preauth {
	char domain[DNS_MAX + 1];
	char confirmed[ACME_MAX_URL]; /* a stored authorization the server said is valid */
	int64_t backoff_until;        /* monotonic seconds; 0: none */
};

struct acme_backend {
	struct store *store;
	struct acme_client *c;
	char *directory;
	bool dns01;
	char *hook;
	unsigned hook_ms;
	unsigned wait_s;
	unsigned poll_s;
	struct creg_http01 *http01;

	pthread_mutex_t lock; /* preauth, account registration, issuers */
	struct preauth pre[PREAUTH_SLOTS];
	/* The issuers the CA sent with its most recent certificate (DER,
	 * issuing CA first), served by EST cacerts: replaced at every
	 * issuance that brings others, seeded at start from the newest valid
	 * certificate in the store. */
	uint8_t *issuer_der[CREG_CA_MAX_CHAIN];
	size_t issuer_len[CREG_CA_MAX_CHAIN];
	size_t n_issuers;
	/* [acme] ca_roots: the CA's roots, which ACME does not deliver;
	 * loaded once, never changed. */
	struct voucher_x509_chain *roots;
};

/* What one attempt knows about the job. */
struct job {
	struct acme_backend *b;
	const struct creg_ca_request *req;
	struct creg_ca_result *res;
	struct store_acme_order row; /* the stored order */
	json_t *deployed;            /* authz URL -> true: a dns-01 record to remove */
	json_t *responded;           /* challenge URL -> true: answered in this attempt */
	char *dns[ACME_MAX_IDENT];
	size_t n_dns;
	int64_t deadline;
};

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* First wait when the server sends no Retry-After. */
#define POLL_FIRST_MS 10

/* The wait before asking the ACME server again, in ms: what it said
 * (Retry-After, seconds), else a backoff that starts at POLL_FIRST_MS and
 * doubles with each poll of the same state up to [acme] poll_interval. Most
 * authorizations and orders are decided within milliseconds of the
 * challenge or the finalize (the server validates a record we published
 * before answering), so a fixed wait of seconds would be most of an
 * issuance; the doubling keeps a slow server from being asked often. */
static unsigned poll_delay_ms(const struct acme_backend *b, unsigned retry_after_s, unsigned *polls)
{
	unsigned ms = POLL_FIRST_MS, cap = b->poll_s * 1000;

	if (retry_after_s)
		return retry_after_s * 1000;
	for (unsigned i = 0; i < *polls && ms < cap; i++)
		ms *= 2;
	(*polls)++;
	return ms < cap ? ms : cap;
}

/* snprintf whose truncation is intended: messages are cut, never overflow. */
static void msgf(char *out, size_t outlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void msgf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

static void set_retry(struct creg_ca_result *res, unsigned after, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void set_retry(struct creg_ca_result *res, unsigned after, const char *fmt, ...)
{
	va_list ap;

	res->status = CREG_CA_RETRY;
	res->retry_after = after ? after : 1;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static void set_failed(struct creg_ca_result *res, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void set_failed(struct creg_ca_result *res, const char *fmt, ...)
{
	va_list ap;

	res->status = CREG_CA_FAILED;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

/* A failed ACME call becomes RETRY (temporary) or FAILED (the server
 * refused: a 4xx problem), with the server's words as sent. */
static void from_error(struct job *j, voucher_err e, unsigned retry_after, const char *msg)
{
	if (e == VOUCHER_E_PEER || e == VOUCHER_E_MALFORMED || e == VOUCHER_E_CONTENT_TYPE ||
	    e == VOUCHER_E_CONFIG)
		set_failed(j->res, "%s", msg);
	else
		set_retry(j->res, retry_after ? retry_after + 1 : j->b->poll_s, "%s", msg);
}

/* ---- configuration and account -------------------------------------------- */

static voucher_err read_eab_key(const char *path, struct brski_buf *key, char *err, size_t errlen)
{
	char text[512];
	size_t n;
	FILE *f = fopen(path, "re");
	voucher_err r;

	if (!f) {
		snprintf(err, errlen, "[acme] eab_hmac_key %s: cannot open", path);
		return VOUCHER_E_CONFIG;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n] = '\0';
	r = acme_b64url_decode(text, n, key);
	explicit_bzero(text, sizeof(text));
	if (r != VOUCHER_OK || key->len < 16) {
		snprintf(err, errlen,
		         "[acme] eab_hmac_key %s: not a base64url HMAC key of at least 16 bytes",
		         path);
		return VOUCHER_E_CONFIG;
	}
	return VOUCHER_OK;
}

/* The account key from the store, or a new one put there. Several
 * instances starting at once: the first insert wins, the others read it. */
static voucher_err load_account(struct acme_backend *b, const struct acme_opts *o, char *err,
                                size_t errlen)
{
	struct store_acme_account a = {0};
	char serr[STORE_ERRLEN];
	char *pem = NULL;
	voucher_err r;

	r = store_acme_account_get(b->store, b->directory, &a, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND) {
		if ((r = acme_client_new(o, NULL, &b->c, err, errlen)) != VOUCHER_OK)
			return r;
		if ((r = acme_key_pem(b->c, &pem)) != VOUCHER_OK)
			goto out;
		a.directory = b->directory;
		a.key_pem = pem;
		r = store_acme_account_put(b->store, &a, STORE_PUT_CREATE, serr, sizeof(serr));
		a.directory = a.key_pem = NULL;
		if (r == VOUCHER_OK) {
			log_info("acme: new ES256 account key for %s kept in the store",
			         b->directory);
			goto out;
		}
		if (r != VOUCHER_E_CONFLICT)
			goto store_failed;
		acme_client_free(b->c);
		b->c = NULL;
		r = store_acme_account_get(b->store, b->directory, &a, serr, sizeof(serr));
	}
	if (r != VOUCHER_OK)
		goto store_failed;
	if ((r = acme_client_new(o, a.key_pem, &b->c, err, errlen)) != VOUCHER_OK)
		goto out;
	if (a.kid && (r = acme_set_kid(b->c, a.kid)) != VOUCHER_OK)
		goto out;
	goto out;
store_failed:
	snprintf(err, errlen, "failed to keep the ACME account in the store (%s)", serr);
out:
	if (pem) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
	store_acme_account_clear(&a);
	return r;
}

/* Register once per account key; the kid goes to the store so that other
 * instances and restarts sign with it directly. */
static voucher_err ensure_registered(struct acme_backend *b, char *err, size_t errlen)
{
	struct store_acme_account a = {0};
	char serr[STORE_ERRLEN];
	char *kid = acme_kid_dup(b->c), *pem = NULL;
	voucher_err r = VOUCHER_OK;

	if (kid) {
		free(kid);
		return VOUCHER_OK;
	}
	pthread_mutex_lock(&b->lock);
	if ((kid = acme_kid_dup(b->c)))
		goto out;
	if ((r = acme_register(b->c, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!(kid = acme_kid_dup(b->c)) || (r = acme_key_pem(b->c, &pem)) != VOUCHER_OK) {
		r = r ? r : VOUCHER_ENOMEM;
		goto out;
	}
	a.directory = b->directory;
	a.key_pem = pem;
	a.kid = kid;
	if (store_acme_account_put(b->store, &a, STORE_PUT_UPDATE, serr, sizeof(serr)) !=
	    VOUCHER_OK)
		log_warn("acme: failed to keep the account URL in the store (%s); it is asked "
		         "for again after a restart",
		         serr);
out:
	pthread_mutex_unlock(&b->lock);
	if (pem) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
	free(kid);
	return r;
}

static void backend_free(struct acme_backend *b)
{
	if (!b)
		return;
	creg_http01_stop(b->http01);
	acme_client_free(b->c);
	free(b->directory);
	free(b->hook);
	for (size_t i = 0; i < b->n_issuers; i++)
		free(b->issuer_der[i]);
	voucher_x509_chain_free(b->roots);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Replace the issuers served by cacerts with certs[1..n-1] of an issued
 * chain (leaf first), taking ownership of those; the same issuers again
 * change nothing. Called with b->lock held. */
static void issuers_take(struct acme_backend *b, uint8_t **certs, const size_t *lens, size_t n)
{
	bool same;

	if (n < 2)
		return;
	same = n - 1 == b->n_issuers;
	for (size_t i = 1; same && i < n; i++)
		same = lens[i] == b->issuer_len[i - 1] &&
		       memcmp(certs[i], b->issuer_der[i - 1], lens[i]) == 0;
	if (same)
		return;
	for (size_t i = 0; i < b->n_issuers; i++) {
		free(b->issuer_der[i]);
		b->issuer_der[i] = NULL;
	}
	b->n_issuers = 0;
	for (size_t i = 1; i < n && b->n_issuers < CREG_CA_MAX_CHAIN; i++) {
		b->issuer_der[b->n_issuers] = certs[i];
		b->issuer_len[b->n_issuers++] = lens[i];
		certs[i] = NULL;
	}
}

/* After a start or a SIGHUP: the issuers of the newest certificate in the
 * store that has not expired, so that cacerts carries the CA's chain
 * before the next issuance. Without one (a new registrar), cacerts has no
 * intermediates until the first certificate is issued. */
static void issuers_seed(struct acme_backend *b)
{
	struct store_cert c = {0};
	uint8_t *certs[CREG_CA_MAX_CHAIN] = {NULL};
	size_t lens[CREG_CA_MAX_CHAIN], n = 0;
	char serr[STORE_ERRLEN] = "", msg[200] = "";
	voucher_err r;

	r = store_cert_get_latest(b->store, &c, serr, sizeof(serr));
	if (r == VOUCHER_E_NOT_FOUND)
		return;
	if (r != VOUCHER_OK) {
		log_warn("acme: failed to read the last issued certificate (%s); EST cacerts "
		         "has the CA's intermediates after the next issuance",
		         serr);
		return;
	}
	if (acme_pkcs7_certs(c.pkcs7, c.pkcs7_len, certs, lens, CREG_CA_MAX_CHAIN, &n, msg,
	                     sizeof(msg)) != VOUCHER_OK)
		log_warn("acme: the last issued certificate's chain in the store does not parse "
		         "(%s); EST cacerts has the CA's intermediates after the next issuance",
		         msg);
	else
		issuers_take(b, certs, lens, n);
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	store_cert_clear(&c);
}

/* [acme] ca_roots: CA certificates (PEM or DER), every one a CA. */
static voucher_err load_roots(struct acme_backend *b, const char *path, char *err, size_t errlen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d;
	voucher_err r;

	if ((r = voucher_x509_chain_load_file(path, &b->roots)) != VOUCHER_OK) {
		snprintf(err, errlen, "[acme] ca_roots %s: %s", path, voucher_strerror(r));
		return r == VOUCHER_ENOMEM ? r : VOUCHER_E_CONFIG;
	}
	if (b->roots->len == 0) {
		snprintf(err, errlen, "[acme] ca_roots %s holds no certificate", path);
		return VOUCHER_E_CONFIG;
	}
	for (size_t i = 0; i < b->roots->len; i++) {
		unsigned crit = 0;
		d.data = b->roots->der[i];
		d.size = (unsigned)b->roots->der_len[i];
		if (gnutls_x509_crt_init(&crt) < 0)
			return VOUCHER_ENOMEM;
		if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
		    gnutls_x509_crt_get_ca_status(crt, &crit) <= 0) {
			gnutls_x509_crt_deinit(crt);
			snprintf(err, errlen,
			         "[acme] ca_roots %s: certificate %zu is not a CA certificate",
			         path, i + 1);
			return VOUCHER_E_CONFIG;
		}
		gnutls_x509_crt_deinit(crt);
	}
	return VOUCHER_OK;
}

static voucher_err acme_create(const struct svc_config *cfg, struct store *store, void **out,
                               char *err, size_t errlen)
{
	struct acme_backend *b;
	struct acme_opts o = {0};
	struct brski_buf eab;
	const char *challenge = svc_config_str(cfg, "acme", "challenge");
	const char *hook = svc_config_str(cfg, "acme", "dns_hook");
	const char *eab_file = svc_config_str(cfg, "acme", "eab_hmac_key");
	const char *roots = svc_config_str(cfg, "acme", "ca_roots");
	voucher_err r;

	*out = NULL;
	brski_buf_init(&eab, 256);
	if (!(b = calloc(1, sizeof(*b))))
		return VOUCHER_ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->store = store;
	o.directory = svc_config_str(cfg, "acme", "directory");
	o.trust = svc_config_str(cfg, "acme", "trust");
	o.contact = svc_config_str(cfg, "acme", "contact");
	o.timeout = (unsigned)svc_config_int(cfg, "acme", "timeout");
	o.eab_kid = svc_config_str(cfg, "acme", "eab_kid");
	b->hook_ms = (unsigned)svc_config_int(cfg, "acme", "hook_timeout") * 1000u;
	b->wait_s = (unsigned)svc_config_int(cfg, "acme", "issue_wait");
	b->poll_s = (unsigned)svc_config_int(cfg, "acme", "poll_interval");
	b->dns01 = challenge && strcmp(challenge, "dns-01") == 0;
	if (!o.directory) {
		snprintf(err, errlen, "[ca] backend = acme needs [acme] directory");
		r = VOUCHER_E_CONFIG;
		goto fail;
	}
	if (b->dns01 && !hook) {
		snprintf(err, errlen, "[acme] challenge = dns-01 needs [acme] dns_hook");
		r = VOUCHER_E_CONFIG;
		goto fail;
	}
	if (!b->dns01 && !svc_config_is_set(cfg, "acme", "http01_listen")) {
		snprintf(err, errlen, "[acme] challenge = http-01 needs [acme] http01_listen");
		r = VOUCHER_E_CONFIG;
		goto fail;
	}
	if (o.eab_kid) {
		if (!eab_file) {
			snprintf(err, errlen, "[acme] eab_kid needs [acme] eab_hmac_key");
			r = VOUCHER_E_CONFIG;
			goto fail;
		}
		if ((r = read_eab_key(eab_file, &eab, err, errlen)) != VOUCHER_OK)
			goto fail;
		o.eab_key = eab.data;
		o.eab_key_len = eab.len;
	}
	if (roots && (r = load_roots(b, roots, err, errlen)) != VOUCHER_OK)
		goto fail;
	r = VOUCHER_ENOMEM;
	if (!(b->directory = brski_strdup(o.directory)) ||
	    (hook && !(b->hook = brski_strdup(hook))))
		goto fail;
	if ((r = load_account(b, &o, err, errlen)) != VOUCHER_OK)
		goto fail;
	if (!b->dns01) {
		char host[256];
		uint16_t port;
		if ((r = svc_config_hostport(cfg, "acme", "http01_listen", host, sizeof(host),
		                             &port)) != VOUCHER_OK ||
		    (r = creg_http01_start(host, port, acme_thumbprint(b->c), &b->http01, err,
		                           errlen)) != VOUCHER_OK)
			goto fail;
	}
	issuers_seed(b);
	brski_buf_free(&eab);
	log_info("acme: CA backend on %s (%s)", b->directory, b->dns01 ? "dns-01" : "http-01");
	*out = b;
	return VOUCHER_OK;
fail:
	brski_buf_free(&eab);
	backend_free(b);
	return r;
}

static void acme_destroy(void *backend)
{
	backend_free(backend);
}

/* EST cacerts after [registrar] domain_ca: the issuers of the most recent
 * certificate, then the configured roots (each certificate once). */
static voucher_err acme_issuers(void *backend, struct creg_ca_result *out)
{
	struct acme_backend *b = backend;
	voucher_err r = VOUCHER_OK;

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n_issuers && r == VOUCHER_OK; i++)
		r = creg_ca_result_add(out, b->issuer_der[i], b->issuer_len[i]);
	pthread_mutex_unlock(&b->lock);
	/* The result holds CREG_CA_MAX_CHAIN: roots beyond are left out
	 * (cacerts serves no more than that anyway). */
	for (size_t i = 0;
	     b->roots && i < b->roots->len && r == VOUCHER_OK && out->n_chain < CREG_CA_MAX_CHAIN;
	     i++) {
		bool dup = false;
		for (size_t k = 0; k < out->n_chain && !dup; k++)
			dup = out->chain_len[k] == b->roots->der_len[i] &&
			      memcmp(out->chain[k], b->roots->der[i], out->chain_len[k]) == 0;
		if (!dup)
			r = creg_ca_result_add(out, b->roots->der[i], b->roots->der_len[i]);
	}
	return r;
}

/* ---- the job's identifiers ----------------------------------------------- */

static bool dns_name_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > DNS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || (c == '*' && i == 0)) ||
		    ++label > 63)
			return false;
	}
	return label > 0;
}

/* The dNSName SANs of the CSR: what the order must name, since the CA
 * checks the CSR against the order's identifiers. */
static voucher_err csr_names(struct job *j, char *err, size_t errlen)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d = {(unsigned char *)j->req->csr, (unsigned)j->req->csr_len};
	voucher_err r = VOUCHER_E_MALFORMED;
	int g;

	if (gnutls_x509_crq_init(&crq) < 0)
		return VOUCHER_ENOMEM;
	if ((g = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER)) < 0) {
		snprintf(err, errlen, "the CSR does not parse (%s)", gnutls_strerror(g));
		goto out;
	}
	for (unsigned i = 0;; i++) {
		char name[DNS_MAX + 2];
		size_t len = sizeof(name);
		unsigned type = 0, crit = 0;
		g = gnutls_x509_crq_get_subject_alt_name(crq, i, name, &len, &type, &crit);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g == GNUTLS_E_SHORT_MEMORY_BUFFER) {
			snprintf(err, errlen, "the CSR has a subjectAltName longer than %d bytes",
			         DNS_MAX);
			goto out;
		}
		if (g < 0) {
			snprintf(err, errlen, "the CSR's subjectAltName does not parse (%s)",
			         gnutls_strerror(g));
			goto out;
		}
		if (type != GNUTLS_SAN_DNSNAME)
			continue;
		if (!dns_name_ok(name, len) || strlen(name) != len) {
			snprintf(err, errlen, "the CSR's dNSName is not a DNS name");
			goto out;
		}
		if (j->n_dns == ACME_MAX_IDENT) {
			snprintf(err, errlen, "the CSR names more than %d DNS names",
			         ACME_MAX_IDENT);
			goto out;
		}
		if (!(j->dns[j->n_dns] = brski_strdup(name))) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
		j->n_dns++;
	}
	if (j->n_dns == 0) {
		snprintf(err, errlen,
		         "the CSR names no DNS name (subjectAltName dNSName): an ACME CA certifies "
		         "DNS names; ask csrattrs for the SAN template");
		goto out;
	}
	r = VOUCHER_OK;
out:
	gnutls_x509_crq_deinit(crq);
	return r;
}

/* ---- stored order ---------------------------------------------------------- */

static voucher_err save_order(struct job *j, const struct acme_order *o, bool create)
{
	char serr[STORE_ERRLEN];
	char *authz = json_dumps(j->deployed, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_acme_order row = {
	        .job_id = j->req->job_id,
	        .order_url = (char *)o->url,
	        .state = (char *)acme_status_name(o->status),
	        .authz_urls = authz,
	        .finalize_url = (char *)o->finalize,
	        .cert_url = o->certificate[0] ? (char *)o->certificate : NULL,
	};
	voucher_err r;

	if (!authz)
		return VOUCHER_ENOMEM;
	r = store_acme_order_put(j->b->store, &row, create ? STORE_PUT_CREATE : STORE_PUT_UPDATE,
	                         serr, sizeof(serr));
	free(authz);
	if (r != VOUCHER_OK)
		log_warn("acme: job %lld: failed to keep order %s in the store (%s)",
		         (long long)j->req->job_id, o->url, serr);
	return r;
}

/* ---- challenges ----------------------------------------------------------- */

static const char *chall_type(const struct acme_backend *b)
{
	return b->dns01 ? "dns-01" : "http-01";
}

/* Run the dns-01 hook: add|del IDENTIFIER RECORD VALUE. */
static voucher_err run_hook(struct job *j, const char *verb, const struct acme_authz *a,
                            const struct acme_challenge *ch, enum creg_hook_result *hr, char *msg,
                            size_t msglen)
{
	char ka[512], value[64], record[DNS_MAX + 32], out[CREG_HOOK_OUTPUT];
	const char *argv[6];
	voucher_err r;

	if ((r = acme_key_authz(ch->token, acme_thumbprint(j->b->c), ka, sizeof(ka))) !=
	            VOUCHER_OK ||
	    (r = acme_dns01_value(ka, value, sizeof(value))) != VOUCHER_OK) {
		snprintf(msg, msglen, "the dns-01 challenge for %s has no usable token",
		         a->identifier);
		*hr = CREG_HOOK_PERMANENT;
		return r;
	}
	snprintf(record, sizeof(record), "_acme-challenge.%s.", a->identifier);
	argv[0] = j->b->hook;
	argv[1] = verb;
	argv[2] = a->identifier;
	argv[3] = record;
	argv[4] = value;
	argv[5] = NULL;
	r = creg_hook_run(argv, j->b->hook_ms, hr, out, sizeof(out));
	if (*hr != CREG_HOOK_OK)
		snprintf(msg, msglen, "dns-01 hook %s %s %s failed: %s", j->b->hook, verb,
		         a->identifier, out[0] ? out : voucher_strerror(r));
	else
		log_info("acme: job %lld: dns-01 hook %s %s done", (long long)j->req->job_id, verb,
		         record);
	return r;
}

static const struct acme_challenge *find_chall(const struct acme_backend *b,
                                               const struct acme_authz *a)
{
	for (size_t i = 0; i < a->n_chall; i++)
		if (strcmp(a->chall[i].type, chall_type(b)) == 0 && a->chall[i].token[0])
			return &a->chall[i];
	return NULL;
}

static bool is_deployed(struct job *j, const char *url)
{
	return json_is_true(json_object_get(j->deployed, url));
}

/* Remove a published dns-01 record (best effort: a record left behind is
 * harmless to the next validation, and the job must not fail for it). */
static void cleanup(struct job *j, const char *url, const struct acme_authz *a)
{
	const struct acme_challenge *ch;
	enum creg_hook_result hr;
	char msg[512];

	if (!is_deployed(j, url))
		return;
	if (j->b->dns01 && (ch = find_chall(j->b, a)) &&
	    run_hook(j, "del", a, ch, &hr, msg, sizeof(msg)) != VOUCHER_OK && hr != CREG_HOOK_OK)
		log_warn("acme: job %lld: %s", (long long)j->req->job_id, msg);
	json_object_del(j->deployed, url);
}

/* Remove every record still published for the job: once the order has
 * left "pending" its authorizations are decided, and an order may become
 * ready without our ever seeing an authorization valid. */
static void cleanup_all(struct job *j)
{
	const char *url;
	json_t *v, *keys = json_array();
	char msg[800];

	if (!keys)
		return;
	json_object_foreach(j->deployed, url, v) json_array_append_new(keys, json_string(url));
	for (size_t i = 0; i < json_array_size(keys); i++) {
		struct acme_authz a;
		const char *u = json_string_value(json_array_get(keys, i));
		if (acme_get_authz(j->b->c, u, &a, msg, sizeof(msg)) == VOUCHER_OK)
			cleanup(j, u, &a);
		else
			log_warn("acme: job %lld: cannot read %s to remove its dns-01 record (%s)",
			         (long long)j->req->job_id, u, msg);
	}
	json_decref(keys);
}

/* The first problem an invalid authorization's challenges carry. */
static void authz_problem(const struct acme_authz *a, char *out, size_t outlen)
{
	for (size_t i = 0; i < a->n_chall; i++) {
		if (a->chall[i].error.type[0] || a->chall[i].error.detail[0]) {
			char p[700];
			acme_problem_format(&a->chall[i].error, p, sizeof(p));
			msgf(out, outlen, "the %s challenge for %s failed: %s", a->chall[i].type,
			     a->identifier, p);
			return;
		}
	}
	snprintf(out, outlen, "the authorization for %s is %s", a->identifier,
	         acme_status_name(a->status));
}

enum step {
	STEP_DONE,    /* the authorization is valid */
	STEP_WAIT,    /* validation in progress */
	STEP_STOPPED, /* res is set (failed or retry) */
};

/* Move one authorization forward: publish and trigger its challenge when it
 * is pending and not yet triggered. */
static enum step advance_authz(struct job *j, const char *url, const struct acme_order *o,
                               unsigned *retry_after, int64_t *expires)
{
	struct acme_authz a;
	const struct acme_challenge *ch;
	struct acme_challenge resp;
	char msg[800];
	voucher_err r;

	if ((r = acme_get_authz(j->b->c, url, &a, msg, sizeof(msg))) != VOUCHER_OK) {
		from_error(j, r, 0, msg);
		return STEP_STOPPED;
	}
	if (a.retry_after > *retry_after)
		*retry_after = a.retry_after;
	if (expires)
		*expires = a.expires;
	switch (a.status) {
	case ACME_S_VALID:
		cleanup(j, url, &a);
		return STEP_DONE;
	case ACME_S_PENDING:
		break;
	default:
		authz_problem(&a, msg, sizeof(msg));
		cleanup(j, url, &a);
		set_failed(j->res, "%s", msg);
		return STEP_STOPPED;
	}
	if (!(ch = find_chall(j->b, &a))) {
		set_failed(j->res, "the ACME server offers no %s challenge for %s",
		           chall_type(j->b), a.identifier);
		return STEP_STOPPED;
	}
	/* Answered, by us in this attempt or already decided: the server
	 * updates the authorization after the challenge (Pebble shows a
	 * valid challenge in a pending authorization for a moment), and a
	 * second answer to a challenge that is no longer pending is an error
	 * ("Cannot update challenge with status valid"). */
	if (ch->status == ACME_S_PROCESSING || ch->status == ACME_S_VALID ||
	    (j->responded && json_object_get(j->responded, ch->url)))
		return STEP_WAIT;
	if (ch->status != ACME_S_PENDING) {
		authz_problem(&a, msg, sizeof(msg));
		set_failed(j->res, "%s", msg);
		return STEP_STOPPED;
	}
	if (j->b->dns01) {
		enum creg_hook_result hr;
		/* Marked before the hook runs: a crash in between leaves a
		 * record that the next attempt removes. */
		json_object_set_new(j->deployed, url, json_true());
		if (o)
			save_order(j, o, false);
		if (run_hook(j, "add", &a, ch, &hr, msg, sizeof(msg)) != VOUCHER_OK ||
		    hr != CREG_HOOK_OK) {
			if (hr == CREG_HOOK_PERMANENT)
				set_failed(j->res, "%s", msg);
			else
				set_retry(j->res, j->b->poll_s, "%s", msg);
			return STEP_STOPPED;
		}
	}
	memset(&resp, 0, sizeof(resp));
	if ((r = acme_challenge_respond(j->b->c, ch->url, &resp, msg, sizeof(msg))) != VOUCHER_OK) {
		from_error(j, r, 0, msg);
		return STEP_STOPPED;
	}
	if (!j->responded)
		j->responded = json_object();
	if (j->responded)
		json_object_set_new(j->responded, ch->url, json_true());
	log_info("acme: job %lld: %s challenge for %s started", (long long)j->req->job_id, ch->type,
	         a.identifier);
	return resp.status == ACME_S_VALID ? STEP_DONE : STEP_WAIT;
}

/* ---- pre-authorization ---------------------------------------------------- */

static bool below(const char *name, const char *parent)
{
	size_t n = strlen(name), p = strlen(parent);

	return n > p + 1 && name[n - p - 1] == '.' && strcasecmp(name + n - p, parent) == 0;
}

/* This process's slot for parent (found, free, or the oldest back-off),
 * under b->lock. */
static struct preauth *preauth_slot(struct acme_backend *b, const char *parent)
{
	struct preauth *free_slot = NULL;

	for (size_t i = 0; i < PREAUTH_SLOTS; i++) {
		if (strcmp(b->pre[i].domain, parent) == 0)
			return &b->pre[i];
		if (!free_slot && !b->pre[i].domain[0])
			free_slot = &b->pre[i];
	}
	if (!free_slot)
		free_slot = &b->pre[0];
	memset(free_slot, 0, sizeof(*free_slot));
	snprintf(free_slot->domain, sizeof(free_slot->domain), "%s", parent);
	return free_slot;
}

/* After a refusal, no pre-authorization of parent for a while (in this
 * process): each job orders its own names meanwhile. The stored record
 * goes, since the server no longer honours it. */
static void preauth_backoff(struct acme_backend *b, const char *parent)
{
	char serr[STORE_ERRLEN];
	struct preauth *slot;

	pthread_mutex_lock(&b->lock);
	slot = preauth_slot(b, parent);
	slot->confirmed[0] = '\0';
	slot->backoff_until = now_s() + PREAUTH_BACKOFF;
	pthread_mutex_unlock(&b->lock);
	if (store_acme_preauth_delete(b->store, b->directory, parent, serr, sizeof(serr)) !=
	    VOUCHER_OK)
		log_warn("acme: failed to forget the pre-authorization of %s (%s)", parent, serr);
}

/* Keep the state of parent's authorization in the store. expires 0 (the
 * server gave none): PREAUTH_KEEP from now. */
static void preauth_save(struct acme_backend *b, const char *parent, const char *url, bool valid,
                         bool published, int64_t expires)
{
	struct store_acme_preauth row = {
	        .directory = b->directory,
	        .domain = (char *)parent,
	        .authz_url = (char *)url,
	        .valid = valid,
	        .published = published,
	        .expires = expires > 0 ? expires : (int64_t)time(NULL) + PREAUTH_KEEP,
	};
	char serr[STORE_ERRLEN];

	if (store_acme_preauth_put(b->store, &row, serr, sizeof(serr)) != VOUCHER_OK)
		log_warn("acme: failed to keep the pre-authorization of %s in the store (%s); it "
		         "is asked for again after a restart",
		         parent, serr);
}

enum confirm {
	CONFIRM_VALID,   /* the server says it is valid */
	CONFIRM_GONE,    /* it is not (or the server does not know it) */
	CONFIRM_UNKNOWN, /* no answer now: keep it, ask again next time */
};

/* A stored authorization of parent that this process has not used yet:
 * whether the server still says it is valid (it may have been deactivated
 * or revoked meanwhile). */
static enum confirm preauth_confirm(struct job *j, const char *parent, const char *url)
{
	struct acme_backend *b = j->b;
	struct acme_authz a;
	char msg[800];
	voucher_err r;

	if ((r = acme_get_authz(b->c, url, &a, msg, sizeof(msg))) != VOUCHER_OK) {
		bool gone =
		        r == VOUCHER_E_PEER || r == VOUCHER_E_NOT_FOUND || r == VOUCHER_E_MALFORMED;
		log_warn("acme: cannot read the stored pre-authorization of %s (%s); %s", parent,
		         msg, gone ? "authorizing again" : "ordering without relying on it");
		return gone ? CONFIRM_GONE : CONFIRM_UNKNOWN;
	}
	if (a.status != ACME_S_VALID) {
		log_info("acme: the stored pre-authorization of %s is %s at the CA; authorizing "
		         "again",
		         parent, acme_status_name(a.status));
		return CONFIRM_GONE;
	}
	if (a.expires > 0)
		preauth_save(b, parent, url, true, false, a.expires);
	pthread_mutex_lock(&b->lock);
	snprintf(preauth_slot(b, parent)->confirmed, ACME_MAX_URL, "%s", url);
	pthread_mutex_unlock(&b->lock);
	log_info("acme: %s is pre-authorized (kept in the store, valid at the CA: %s)", parent,
	         url);
	return CONFIRM_VALID;
}

/* Authorize the owner's subdomain once (RFC 9444 style). Returns false when
 * the job must stop here (res set: the pre-authorization is still being
 * validated); true to go on with the order either way. */
static bool preauthorize(struct job *j)
{
	struct acme_backend *b = j->b;
	const char *parent = j->req->subdomain;
	struct store_acme_preauth row = {0};
	char url[ACME_MAX_URL] = "", msg[800], serr[STORE_ERRLEN];
	struct acme_authz a;
	bool published = false, confirmed;
	int64_t now = now_s(), wall = (int64_t)time(NULL), expires = 0;
	unsigned polls = 0, delay;
	voucher_err r;

	if (!parent || !acme_has_new_authz(b->c))
		return true;
	for (size_t i = 0; i < j->n_dns; i++)
		if (!below(j->dns[i], parent))
			return true;
	pthread_mutex_lock(&b->lock);
	{
		struct preauth *slot = preauth_slot(b, parent);
		if (slot->backoff_until > now) {
			pthread_mutex_unlock(&b->lock);
			return true;
		}
		slot->backoff_until = 0;
	}
	pthread_mutex_unlock(&b->lock);

	r = store_acme_preauth_get(b->store, b->directory, parent, &row, serr, sizeof(serr));
	if (r != VOUCHER_OK && r != VOUCHER_E_NOT_FOUND)
		log_warn("acme: failed to read the pre-authorization of %s (%s)", parent, serr);
	if (r == VOUCHER_OK) {
		/* A record of ours may still be up for an earlier attempt: the
		 * order's cleanup removes it once the authorization is decided. */
		if (row.published)
			json_object_set_new(j->deployed, row.authz_url, json_true());
		if (row.expires <= wall + PREAUTH_MARGIN) {
			log_info(
			        "acme: the stored pre-authorization of %s has expired; authorizing "
			        "again",
			        parent);
		} else if (row.valid) {
			pthread_mutex_lock(&b->lock);
			confirmed = strcmp(preauth_slot(b, parent)->confirmed, row.authz_url) == 0;
			pthread_mutex_unlock(&b->lock);
			if (confirmed ||
			    preauth_confirm(j, parent, row.authz_url) != CONFIRM_GONE) {
				store_acme_preauth_clear(&row);
				return true;
			}
		} else {
			/* Still being validated: go on with it. */
			snprintf(url, sizeof(url), "%s", row.authz_url);
			published = row.published;
		}
		if (!url[0] && store_acme_preauth_delete(b->store, b->directory, parent, serr,
		                                         sizeof(serr)) != VOUCHER_OK)
			log_warn("acme: failed to forget the pre-authorization of %s (%s)", parent,
			         serr);
	}
	store_acme_preauth_clear(&row);

	for (;;) {
		enum step st;
		unsigned ra = 0;
		if (!url[0]) {
			r = acme_new_authz(b->c, parent, url, sizeof(url), &a, msg, sizeof(msg));
			if (r != VOUCHER_OK) {
				log_warn("acme: pre-authorization of %s failed, ordering each name "
				         "(%s)",
				         parent, msg);
				preauth_backoff(b, parent);
				return true;
			}
			log_info("acme: pre-authorizing %s: %s", parent, url);
			/* Kept before anything is published, so that another
			 * attempt resumes this authorization. */
			preauth_save(b, parent, url, false, false, a.expires);
		}
		/* An earlier attempt's record is removed once the
		 * authorization is decided, as for an order's. */
		if (published)
			json_object_set_new(j->deployed, url, json_true());
		st = advance_authz(j, url, NULL, &ra, &expires);
		published = is_deployed(j, url);
		if (st == STEP_STOPPED) {
			log_warn("acme: pre-authorization of %s: %s; ordering each name", parent,
			         j->res->message);
			memset(j->res, 0, sizeof(*j->res));
			j->res->status = CREG_CA_RETRY;
			preauth_backoff(b, parent);
			break;
		}
		delay = poll_delay_ms(b, ra, &polls);
		if (st == STEP_DONE || now_s() + (int64_t)(delay / 1000) > j->deadline) {
			/* Decided: our record goes now, not with some later
			 * order (nothing else of this job is published yet). */
			if (st == STEP_DONE && published) {
				cleanup_all(j);
				published = is_deployed(j, url);
			}
			preauth_save(b, parent, url, st == STEP_DONE, published, expires);
			if (st == STEP_DONE) {
				pthread_mutex_lock(&b->lock);
				snprintf(preauth_slot(b, parent)->confirmed, ACME_MAX_URL, "%s",
				         url);
				pthread_mutex_unlock(&b->lock);
				log_info("acme: %s is pre-authorized", parent);
				return true;
			}
			set_retry(j->res, ra ? ra : b->poll_s,
			          "waiting for the ACME server to validate %s", parent);
			return false;
		}
		sleep_ms(delay);
	}
	return true;
}

/* ---- issue ----------------------------------------------------------------- */

static voucher_err take_chain(struct job *j, const struct brski_buf *p7)
{
	uint8_t *certs[CREG_CA_MAX_CHAIN] = {NULL};
	size_t lens[CREG_CA_MAX_CHAIN], n = 0;
	gnutls_x509_crt_t leaf = NULL;
	gnutls_datum_t d;
	char msg[320];
	voucher_err r;

	if ((r = acme_pkcs7_certs(p7->data, p7->len, certs, lens, CREG_CA_MAX_CHAIN, &n, msg,
	                          sizeof(msg))) != VOUCHER_OK) {
		set_failed(j->res, "the ACME certificate: %s", msg);
		return VOUCHER_OK;
	}
	for (size_t i = 0; i < n && r == VOUCHER_OK; i++)
		r = creg_ca_result_add(j->res, certs[i], lens[i]);
	if (r == VOUCHER_OK) {
		d.data = certs[0];
		d.size = (unsigned)lens[0];
		if (gnutls_x509_crt_init(&leaf) < 0 ||
		    gnutls_x509_crt_import(leaf, &d, GNUTLS_X509_FMT_DER) < 0)
			r = VOUCHER_E_CERT;
		else
			j->res->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(leaf);
		gnutls_x509_crt_deinit(leaf);
	}
	if (r == VOUCHER_OK) {
		j->res->status = CREG_CA_ISSUED;
		/* The issuers of the most recent certificate serve EST
		 * cacerts (acme_issuers copies them under the lock). */
		pthread_mutex_lock(&j->b->lock);
		issuers_take(j->b, certs, lens, n);
		pthread_mutex_unlock(&j->b->lock);
	}
	for (size_t i = 0; i < n; i++)
		free(certs[i]);
	return r;
}

static void job_clear(struct job *j)
{
	for (size_t i = 0; i < j->n_dns; i++)
		free(j->dns[i]);
	json_decref(j->deployed);
	json_decref(j->responded);
	store_acme_order_clear(&j->row);
}

static voucher_err load_deployed(struct job *j)
{
	json_error_t je;

	if (j->row.authz_urls && j->row.authz_urls[0])
		j->deployed = json_loads(j->row.authz_urls, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j->deployed)) {
		json_decref(j->deployed);
		j->deployed = json_object();
	}
	return j->deployed ? VOUCHER_OK : VOUCHER_ENOMEM;
}

static voucher_err acme_issue(void *backend, const struct creg_ca_request *req,
                              struct creg_ca_result *res, char *err, size_t errlen)
{
	struct acme_backend *b = backend;
	struct job j = {.b = b, .req = req, .res = res};
	struct acme_order o = {0};
	struct brski_buf p7;
	char msg[800], serr[STORE_ERRLEN];
	unsigned polls = 0;
	enum acme_status waited_status = ACME_S_UNKNOWN;
	voucher_err r;

	brski_buf_init(&p7, ACME_MAX_RESPONSE);
	res->status = CREG_CA_RETRY;
	j.deadline = now_s() + b->wait_s;
	if ((r = csr_names(&j, msg, sizeof(msg))) != VOUCHER_OK) {
		if (r == VOUCHER_ENOMEM)
			goto out;
		set_failed(res, "%s", msg);
		r = VOUCHER_OK;
		goto out;
	}
	/* The directory first: whether it offers newAuthz decides the flow. */
	if ((r = acme_directory(b->c, msg, sizeof(msg))) != VOUCHER_OK ||
	    (r = ensure_registered(b, msg, sizeof(msg))) != VOUCHER_OK) {
		from_error(&j, r, 0, msg);
		r = VOUCHER_OK;
		goto out;
	}
	r = store_acme_order_get_by_job(b->store, req->job_id, &j.row, serr, sizeof(serr));
	if (r != VOUCHER_OK && r != VOUCHER_E_NOT_FOUND) {
		snprintf(err, errlen, "failed to read the job's ACME order (%s)", serr);
		goto out;
	}
	if ((r = load_deployed(&j)) != VOUCHER_OK)
		goto out;
	if (j.row.order_url) {
		r = acme_get_order(b->c, j.row.order_url, &o, msg, sizeof(msg));
		if (r == VOUCHER_E_NOT_FOUND) {
			/* The CA no longer knows the order (it lost its state):
			 * it can never complete, so this is the one case where
			 * the job gets a new order. */
			log_warn("acme: job %lld: order %s is gone at the CA (%s); ordering again",
			         (long long)req->job_id, j.row.order_url, msg);
			json_object_clear(j.deployed);
			store_acme_order_clear(&j.row);
		} else if (r != VOUCHER_OK) {
			from_error(&j, r, o.retry_after, msg);
			r = VOUCHER_OK;
			goto out;
		} else {
			log_info("acme: job %lld: resuming order %s (%s)", (long long)req->job_id,
			         o.url, acme_status_name(o.status));
		}
	}
	if (!j.row.order_url) {
		if (!preauthorize(&j)) {
			r = VOUCHER_OK;
			goto out;
		}
		r = acme_new_order(b->c, (const char *const *)j.dns, j.n_dns, &o, msg, sizeof(msg));
		if (r != VOUCHER_OK) {
			from_error(&j, r, o.retry_after, msg);
			r = VOUCHER_OK;
			goto out;
		}
		/* A re-enrollment is an order like any other: the CSR already
		 * carries the names of the certificate being renewed. */
		log_info("acme: job %lld: order %s for %s (%s%s)", (long long)req->job_id, o.url,
		         j.dns[0], acme_status_name(o.status),
		         req->reenroll ? ", re-enrollment" : "");
		/* Stored before anything else happens, so that no later crash can
		 * lead to a second order for this job. */
		if ((r = save_order(&j, &o, true)) != VOUCHER_OK) {
			snprintf(err, errlen, "failed to keep ACME order %s for job %lld", o.url,
			         (long long)req->job_id);
			goto out;
		}
	}
	for (;;) {
		unsigned ra = o.retry_after;
		bool wait = false;

		if (o.status != ACME_S_PENDING && json_object_size(j.deployed) > 0) {
			cleanup_all(&j);
			save_order(&j, &o, false);
		}
		switch (o.status) {
		case ACME_S_VALID:
			if (!o.certificate[0]) {
				set_failed(res, "the valid ACME order %s has no certificate URL",
				           o.url);
				goto done;
			}
			save_order(&j, &o, false);
			r = acme_download(b->c, o.certificate, &p7, msg, sizeof(msg));
			if (r != VOUCHER_OK) {
				from_error(&j, r, 0, msg);
				goto done;
			}
			if ((r = take_chain(&j, &p7)) != VOUCHER_OK)
				goto out;
			log_info("acme: job %lld: certificate from %s", (long long)req->job_id,
			         o.certificate);
			goto done;
		case ACME_S_READY:
			save_order(&j, &o, false);
			r = acme_finalize(b->c, &o, req->csr, req->csr_len, msg, sizeof(msg));
			if (r == VOUCHER_E_CONFLICT) {
				/* orderNotReady: someone else got there first, or the
				 * server changed its mind; read the order again. */
				wait = true;
				break;
			}
			if (r != VOUCHER_OK) {
				from_error(&j, r, o.retry_after, msg);
				goto done;
			}
			log_info("acme: job %lld: finalized %s (%s)", (long long)req->job_id, o.url,
			         acme_status_name(o.status));
			save_order(&j, &o, false);
			continue;
		case ACME_S_PROCESSING:
			wait = true;
			break;
		case ACME_S_PENDING: {
			bool all = true;
			for (size_t i = 0; i < o.n_authz; i++) {
				enum step st = advance_authz(&j, o.authz[i], &o, &ra, NULL);
				if (st == STEP_STOPPED) {
					save_order(&j, &o, false);
					goto done;
				}
				if (st != STEP_DONE)
					all = false;
			}
			save_order(&j, &o, false);
			wait = !all;
			break;
		}
		default: {
			char p[700] = "";
			if (o.error.type[0])
				acme_problem_format(&o.error, p, sizeof(p));
			set_failed(res, "the ACME order %s is %s%s%s", o.url,
			           acme_status_name(o.status), p[0] ? ": " : "", p);
			cleanup_all(&j);
			save_order(&j, &o, false);
			goto done;
		}
		}
		if (wait) {
			unsigned delay;
			/* Each state waited out is a new wait: the backoff
			 * starts again when the order moves on. */
			if (o.status != waited_status) {
				waited_status = o.status;
				polls = 0;
			}
			delay = poll_delay_ms(b, ra, &polls);
			if (now_s() + (int64_t)(delay / 1000) > j.deadline) {
				/* +1: the job scheduler counts whole seconds, and
				 * the CA said "not before". */
				set_retry(res, delay / 1000 + 1, "waiting for ACME order %s (%s)",
				          o.url, acme_status_name(o.status));
				goto done;
			}
			sleep_ms(delay);
		}
		if ((r = acme_get_order(b->c, o.url, &o, msg, sizeof(msg))) != VOUCHER_OK) {
			from_error(&j, r, o.retry_after, msg);
			goto done;
		}
	}
done:
	r = VOUCHER_OK;
out:
	if (res->status != CREG_CA_ISSUED && r == VOUCHER_OK)
		log_info("acme: job %lld: %s: %s", (long long)req->job_id,
		         res->status == CREG_CA_FAILED ? "failed" : "pending", res->message);
	brski_buf_free(&p7);
	job_clear(&j);
	return r;
}

const struct creg_ca_ops creg_ca_acme_ops = {
        .name = "acme",
        .create = acme_create,
        .issue = acme_issue,
        .issuers = acme_issuers,
        .destroy = acme_destroy,
};
