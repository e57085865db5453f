/* The registrar's HTTPS client toward the MASA (creg.h), on libcurl with
 * its GnuTLS backend.
 *
 * One easy handle per request thread, kept in thread-specific data: a
 * curl_easy_reset between calls keeps the live connection, the TLS session
 * cache and the DNS cache (STYLE note 3), so a busy registrar talks to its
 * MASA over a few long-lived TLS connections. The MASA's certificate is
 * always verified: against [registrar] masa_trust, or the masa_trust of
 * the pledge's manufacturer ([registrar] manufacturers). */
#include <config.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudreg/creg.h"
#include "cloudreg/https.h"
#include "common/str.h"
#include "service/log.h"
#include "service/metrics.h"

void creg_masa_result_init(struct creg_masa_result *r)
{
	memset(r, 0, sizeof(*r));
	brski_buf_init(&r->body, CREG_MASA_MAX_RESPONSE);
}

void creg_masa_result_free(struct creg_masa_result *r)
{
	if (r)
		brski_buf_free(&r->body);
}

voucher_err creg_masa_endpoint(const char *base, char **out)
{
	static const char leaf[] = "/requestvoucher";
	size_t n;
	char *s;

	*out = NULL;
	if (!base || !brski_str_startswith(base, "https://"))
		return VOUCHER_EINVAL;
	n = strlen(base);
	if (n >= sizeof(leaf) - 1 && strcmp(base + n - (sizeof(leaf) - 1), leaf) == 0)
		return (*out = brski_strdup(base)) ? VOUCHER_OK : VOUCHER_ENOMEM;
	while (n > 0 && base[n - 1] == '/')
		n--;
	/* A bare origin means the well-known tree (RFC 8995 section 2.4). */
	if (n <= strlen("https://"))
		return VOUCHER_EINVAL;
	if (!memchr(base + strlen("https://"), '/', n - strlen("https://"))) {
		static const char wk[] = "/.well-known/brski/requestvoucher";
		if (!(s = malloc(n + sizeof(wk))))
			return VOUCHER_ENOMEM;
		memcpy(s, base, n);
		memcpy(s + n, wk, sizeof(wk));
	} else {
		if (!(s = malloc(n + sizeof(leaf))))
			return VOUCHER_ENOMEM;
		memcpy(s, base, n);
		memcpy(s + n, leaf, sizeof(leaf));
	}
	*out = s;
	return VOUCHER_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct brski_buf *b = ud;

	/* Returning less than given makes curl stop: the response bound. */
	if (brski_buf_put(b, data, size * nmemb) != VOUCHER_OK)
		return 0;
	return size * nmemb;
}

static CURL *thread_handle(struct creg_app *app)
{
	CURL *h = pthread_getspecific(app->curl_key);

	if (h) {
		curl_easy_reset(h);
		return h;
	}
	if (!(h = curl_easy_init()))
		return NULL;
	if (pthread_setspecific(app->curl_key, h) != 0) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

static enum creg_masa_outcome classify(CURLcode c)
{
	switch (c) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return CREG_MASA_TLS;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return CREG_MASA_UNREACHABLE;
	case CURLE_OPERATION_TIMEDOUT:
		return CREG_MASA_TIMEOUT;
	default:
		return CREG_MASA_OTHER;
	}
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A non-zero return makes libcurl stop the transfer: the daemon is
 * stopping and a call that outlived its 202 must not hold the exit up. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	const struct creg_app *app = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&app->masa_cancel) ? 1 : 0;
}

/* One attempt; fills res and returns the outcome. */
static enum creg_masa_outcome attempt(struct creg_app *app, CURL *h, const char *trust,
                                      const struct creg_keys *k, const char *url,
                                      struct curl_slist *hdrs, const uint8_t *body, size_t len,
                                      long timeout_ms, struct creg_masa_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *ct = NULL;
	curl_off_t ra = 0;
	CURLcode c;

	brski_buf_reset(&res->body);
	res->status = 0;
	res->ctype[0] = '\0';
	res->retry_after = 0;
	creg_https_setup(h, url, trust);
	curl_easy_setopt(h, CURLOPT_SSLCERT, k->client_cert);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEY, k->client_key);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CREG_MASA_MAX_RESPONSE);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, app);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	c = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (c != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%s (%s)", curl_easy_strerror(c),
		         errbuf[0] ? errbuf : "no detail");
		if (c == CURLE_WRITE_ERROR || c == CURLE_FILESIZE_EXCEEDED)
			snprintf(res->error, sizeof(res->error),
			         "the MASA's answer is larger than %u bytes",
			         (unsigned)CREG_MASA_MAX_RESPONSE);
		return classify(c);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(res->ctype, sizeof(res->ctype), "%s", ct);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		res->retry_after = ra > 86400 ? 86400 : (long)ra;
	return CREG_MASA_ANSWERED;
}

voucher_err creg_masa_post(struct creg_app *app, const struct creg_keys *k, const char *url,
                           const char *ctype, const char *accept, const uint8_t *body, size_t len,
                           struct creg_masa_result *res)
{
	return creg_masa_post_to(app, k, url, k->masa_trust, k->masa_timeout, ctype, accept, body,
	                         len, res);
}

voucher_err creg_masa_post_to(struct creg_app *app, const struct creg_keys *k, const char *url,
                              const char *trust, unsigned timeout_s, const char *ctype,
                              const char *accept, const uint8_t *body, size_t len,
                              struct creg_masa_result *res)
{
	struct curl_slist *hdrs = NULL, *t;
	char line[512];
	uint64_t start = now_us(), deadline = start + (uint64_t)timeout_s * 1000000u;
	enum creg_masa_outcome o = CREG_MASA_OTHER;
	CURL *h = thread_handle(app);
	voucher_err e;

	res->attempts = 0;
	if (!h) {
		snprintf(res->error, sizeof(res->error), "failed to create a libcurl handle");
		res->outcome = CREG_MASA_OTHER;
		return VOUCHER_ENOMEM;
	}
	snprintf(line, sizeof(line), "Content-Type: %s", ctype);
	if (!(t = curl_slist_append(hdrs, line)))
		goto nomem;
	hdrs = t;
	snprintf(line, sizeof(line), "Accept: %.400s", accept);
	if (!(t = curl_slist_append(hdrs, line)))
		goto nomem;
	hdrs = t;
	/* No 100-continue round trip for a few kilobytes. */
	if (!(t = curl_slist_append(hdrs, "Expect:")))
		goto nomem;
	hdrs = t;

	for (;;) {
		uint64_t now = now_us();
		long left_ms = now < deadline ? (long)((deadline - now) / 1000u) : 0;
		bool again;

		if (left_ms <= 0) {
			o = CREG_MASA_TIMEOUT;
			snprintf(res->error, sizeof(res->error),
			         "no answer from the MASA within %u s", timeout_s);
			break;
		}
		res->attempts++;
		o = attempt(app, h, trust, k, url, hdrs, body, len, left_ms, res);
		/* Only what a second try can fix: a broken or refused
		 * connection and the MASA's own "try again" statuses. */
		again = o == CREG_MASA_UNREACHABLE ||
		        (o == CREG_MASA_ANSWERED &&
		         (res->status == 502 || res->status == 503 || res->status == 504));
		if (!again || res->attempts > k->masa_retries || atomic_load(&app->masa_cancel))
			break;
		if (o == CREG_MASA_ANSWERED)
			log_info("masa: %s answered %ld; retry %u of %u", url, res->status,
			         res->attempts, k->masa_retries);
		else
			log_info("masa: %s: %s; retry %u of %u", url, res->error, res->attempts,
			         k->masa_retries);
		/* A short pause that grows, inside the same deadline. */
		{
			struct timespec ts = {0, (long)(100000000L * (long)res->attempts)};
			nanosleep(&ts, NULL);
		}
	}
	res->outcome = o;
	if (app->metrics) {
		unsigned code = o == CREG_MASA_ANSWERED  ? (unsigned)res->status
		                : o == CREG_MASA_TIMEOUT ? 504
		                                         : 502;
		svc_metrics_request(app->metrics, app->masa_slot[o], code, now_us() - start);
		if (o != CREG_MASA_ANSWERED || res->status >= 400)
			svc_metrics_inc(app->metrics, SVC_METRIC_UPSTREAM_ERRORS);
	}
	curl_slist_free_all(hdrs);
	if (o == CREG_MASA_ANSWERED)
		return VOUCHER_OK;
	e = o == CREG_MASA_TIMEOUT ? VOUCHER_ETIMEDOUT : VOUCHER_E_NETWORK;
	return e;
nomem:
	curl_slist_free_all(hdrs);
	snprintf(res->error, sizeof(res->error), "out of memory");
	res->outcome = CREG_MASA_OTHER;
	return VOUCHER_ENOMEM;
}
