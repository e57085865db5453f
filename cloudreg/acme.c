/* The ACME protocol client (acme.h). */
#include <config.h>

#include <curl/curl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloudreg/acme.h"
#include "cloudreg/https.h"
#include "common/compat.h"
#include "common/str.h"
#include "service/log.h"

#define JOSE_CT      "application/jose+json"
#define PKCS7_CT     "application/pkcs7-mime"
#define PEM_CHAIN_CT "application/pem-certificate-chain"

struct acme_client {
	pthread_mutex_t lock;
	char *directory;
	char *trust;
	unsigned timeout;
	char *contact;
	char *eab_kid;
	uint8_t *eab_key;
	size_t eab_key_len;

	gnutls_privkey_t key;
	char jwk[256];       /* {"crv":"P-256","kty":"EC","x":"..","y":".."} */
	char thumbprint[64]; /* base64url(SHA-256(jwk)) */
	char *kid;           /* account URL */

	bool have_dir;
	char new_nonce[ACME_MAX_URL];
	char new_account[ACME_MAX_URL];
	char new_order[ACME_MAX_URL];
	char new_authz[ACME_MAX_URL]; /* "" when not offered */

	struct acme_nonces nonces;
	CURL *curl;
};

/* One HTTP answer. */
struct resp {
	long status;
	struct brski_buf body;
	char location[ACME_MAX_URL];
	char ctype[128];
	unsigned retry_after;
	struct acme_nonces *pool; /* Replay-Nonce values go here */
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- base64url ------------------------------------------------------------ */

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

voucher_err acme_b64url(const uint8_t *in, size_t len, struct brski_buf *out)
{
	voucher_err r = VOUCHER_OK;
	size_t i;

	for (i = 0; i + 2 < len && r == VOUCHER_OK; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		char q[4] = {b64u[v >> 18], b64u[(v >> 12) & 63], b64u[(v >> 6) & 63],
		             b64u[v & 63]};
		r = brski_buf_put(out, q, 4);
	}
	if (r == VOUCHER_OK && len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		char q[2] = {b64u[v >> 18], b64u[(v >> 12) & 63]};
		r = brski_buf_put(out, q, 2);
	} else if (r == VOUCHER_OK && len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		char q[3] = {b64u[v >> 18], b64u[(v >> 12) & 63], b64u[(v >> 6) & 63]};
		r = brski_buf_put(out, q, 3);
	}
	return r;
}

static int b64u_val(char ch)
{
	const char *p;

	if (ch == '\0' || !(p = strchr(b64u, ch)))
		return -1;
	return (int)(p - b64u);
}

voucher_err acme_b64url_decode(const char *in, size_t len, struct brski_buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return VOUCHER_E_BAD_BASE64;
	for (i = 0; i < len; i++) {
		int v = b64u_val(in[i]);
		voucher_err r;
		if (v < 0)
			return VOUCHER_E_BAD_BASE64;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if ((r = brski_buf_putc(out, (uint8_t)(acc >> bits))) != VOUCHER_OK)
				return r;
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return VOUCHER_E_BAD_BASE64;
	return VOUCHER_OK;
}

bool acme_token_ok(const char *token)
{
	size_t n = token ? strlen(token) : 0;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (b64u_val(token[i]) < 0)
			return false;
	return true;
}

/* ---- nonce pool ----------------------------------------------------------- */

bool acme_nonce_put(struct acme_nonces *p, const char *value, size_t len)
{
	if (len == 0 || len > ACME_NONCE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (b64u_val(value[i]) < 0)
			return false;
	/* A full pool drops its oldest nonce: newer ones are less likely to
	 * have expired on the server. */
	if (p->n == ACME_NONCE_POOL) {
		memmove(p->v[0], p->v[1], sizeof(p->v[0]) * (ACME_NONCE_POOL - 1));
		p->n--;
	}
	memcpy(p->v[p->n], value, len);
	p->v[p->n][len] = '\0';
	p->n++;
	return true;
}

bool acme_nonce_take(struct acme_nonces *p, char *out, size_t outlen)
{
	size_t len;

	if (p->n == 0)
		return false;
	p->n--;
	len = strlen(p->v[p->n]);
	if (len >= outlen)
		return false;
	memcpy(out, p->v[p->n], len + 1);
	explicit_bzero(p->v[p->n], sizeof(p->v[p->n]));
	return true;
}

/* ---- problem documents ------------------------------------------------------ */

static void copy_clean(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	/* Bounded, and control characters replaced: the text ends up in logs
	 * and in the answer to the pledge. */
	for (i = 0; src && src[i] && i + 1 < dstlen; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	dst[i] = '\0';
}

static void problem_from_json(const json_t *j, unsigned status, struct acme_problem *p)
{
	memset(p, 0, sizeof(*p));
	p->status = status;
	copy_clean(p->type, sizeof(p->type), json_string_value(json_object_get(j, "type")));
	copy_clean(p->detail, sizeof(p->detail), json_string_value(json_object_get(j, "detail")));
	/* A problem with subproblems (RFC 8555 6.7.1) names the identifier in
	 * each; the first one says which identifier the server refused. */
	const json_t *sub = json_array_get(json_object_get(j, "subproblems"), 0);
	if (json_is_object(sub) && strlen(p->detail) + 4 < sizeof(p->detail)) {
		const char *sd = json_string_value(json_object_get(sub, "detail"));
		const char *sv = json_string_value(
		        json_object_get(json_object_get(sub, "identifier"), "value"));
		char extra[256];
		if (sd) {
			snprintf(extra, sizeof(extra), " [%s: %s]", sv ? sv : "?", sd);
			size_t n = strlen(p->detail);
			copy_clean(p->detail + n, sizeof(p->detail) - n, extra);
		}
	}
}

voucher_err acme_problem_parse(const uint8_t *body, size_t len, unsigned status,
                               struct acme_problem *p)
{
	json_error_t je;
	json_t *j;

	memset(p, 0, sizeof(*p));
	p->status = status;
	if (!body || len == 0)
		return VOUCHER_E_MALFORMED;
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return VOUCHER_E_MALFORMED;
	}
	problem_from_json(j, status, p);
	json_decref(j);
	return VOUCHER_OK;
}

void acme_problem_format(const struct acme_problem *p, char *out, size_t outlen)
{
	char st[16] = "";

	if (p->status)
		snprintf(st, sizeof(st), "%u ", p->status);
	snprintf(out, outlen, "ACME server: %s%s: %s", st, p->type[0] ? p->type : "(no type)",
	         p->detail[0] ? p->detail : "(no detail)");
}

static bool problem_is(const struct acme_problem *p, const char *name)
{
	static const char pfx[] = "urn:ietf:params:acme:error:";

	return strncmp(p->type, pfx, sizeof(pfx) - 1) == 0 &&
	       strcmp(p->type + sizeof(pfx) - 1, name) == 0;
}

/* ---- key and JWS ---------------------------------------------------------- */

/* Left-pad or strip leading zeros to exactly n bytes (EC coordinates and
 * signature halves come back with or without a sign byte). */
static voucher_err fixed(const gnutls_datum_t *d, uint8_t *out, size_t n)
{
	const uint8_t *p = d->data;
	size_t len = d->size;

	while (len > n && *p == 0) {
		p++;
		len--;
	}
	if (len > n)
		return VOUCHER_E_CRYPTO;
	memset(out, 0, n - len);
	memcpy(out + n - len, p, len);
	return VOUCHER_OK;
}

static voucher_err b64u_str(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	struct brski_buf b;
	voucher_err r;

	brski_buf_init(&b, outlen);
	if ((r = acme_b64url(in, len, &b)) == VOUCHER_OK) {
		if (b.len + 1 > outlen)
			r = VOUCHER_E_TOO_LARGE;
		else
			memcpy(out, brski_buf_str(&b), b.len + 1);
	}
	brski_buf_free(&b);
	return r;
}

static voucher_err load_key(struct acme_client *c, const char *key_pem, char *err, size_t errlen)
{
	gnutls_x509_privkey_t xk = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0}, k = {NULL, 0};
	uint8_t xy[64], digest[32];
	char xs[48], ys[48];
	voucher_err r = VOUCHER_E_KEY;
	int g;

	if (gnutls_x509_privkey_init(&xk) < 0)
		return VOUCHER_ENOMEM;
	if (key_pem) {
		gnutls_datum_t d = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
		if ((g = gnutls_x509_privkey_import2(xk, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
			errf(err, errlen, "failed to read the ACME account key from the store (%s)",
			     gnutls_strerror(g));
			goto out;
		}
	} else if ((g = gnutls_x509_privkey_generate(
	                    xk, GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
	                    0)) < 0) {
		errf(err, errlen, "failed to generate the ACME account key (%s)",
		     gnutls_strerror(g));
		goto out;
	}
	if ((g = gnutls_x509_privkey_export_ecc_raw(xk, &curve, &x, &y, &k)) < 0 ||
	    curve != GNUTLS_ECC_CURVE_SECP256R1) {
		errf(err, errlen, "the ACME account key is not an EC P-256 key (ES256)");
		goto out;
	}
	if (fixed(&x, xy, 32) != VOUCHER_OK || fixed(&y, xy + 32, 32) != VOUCHER_OK ||
	    b64u_str(xy, 32, xs, sizeof(xs)) != VOUCHER_OK ||
	    b64u_str(xy + 32, 32, ys, sizeof(ys)) != VOUCHER_OK) {
		errf(err, errlen, "the ACME account key has malformed coordinates");
		goto out;
	}
	/* RFC 7638: members in lexicographic order, no whitespace; the same
	 * bytes serve as the jwk header and as the thumbprint input. */
	snprintf(c->jwk, sizeof(c->jwk),
	         "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, c->jwk, strlen(c->jwk), digest) < 0 ||
	    b64u_str(digest, sizeof(digest), c->thumbprint, sizeof(c->thumbprint)) != VOUCHER_OK) {
		r = VOUCHER_E_CRYPTO;
		goto out;
	}
	if (gnutls_privkey_init(&c->key) < 0 ||
	    gnutls_privkey_import_x509(c->key, xk, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		errf(err, errlen, "failed to load the ACME account key");
		goto out;
	}
	xk = NULL; /* owned by c->key now */
	r = VOUCHER_OK;
out:
	gnutls_free(x.data);
	gnutls_free(y.data);
	if (k.data) {
		explicit_bzero(k.data, k.size);
		gnutls_free(k.data);
	}
	gnutls_x509_privkey_deinit(xk);
	return r;
}

voucher_err acme_key_pem(struct acme_client *c, char **pem)
{
	gnutls_x509_privkey_t xk = NULL;
	gnutls_datum_t out = {NULL, 0};
	voucher_err r = VOUCHER_E_KEY;

	*pem = NULL;
	if (gnutls_privkey_export_x509(c->key, &xk) < 0)
		return VOUCHER_E_KEY;
	if (gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
	                                      &out) < 0)
		goto out;
	if (!(*pem = malloc(out.size + 1))) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	memcpy(*pem, out.data, out.size);
	(*pem)[out.size] = '\0';
	r = VOUCHER_OK;
out:
	if (out.data) {
		explicit_bzero(out.data, out.size);
		gnutls_free(out.data);
	}
	gnutls_x509_privkey_deinit(xk);
	return r;
}

const char *acme_thumbprint(const struct acme_client *c)
{
	return c->thumbprint;
}

const char *acme_jwk(const struct acme_client *c)
{
	return c->jwk;
}

/* ES256 over "protected.payload": GnuTLS signs DER (r, s); JWS wants the two
 * integers as 32 bytes each (RFC 7518 3.4). */
static voucher_err es256(gnutls_privkey_t key, const char *input, size_t len, struct brski_buf *out)
{
	gnutls_datum_t d = {(unsigned char *)input, (unsigned)len}, sig = {NULL, 0};
	gnutls_datum_t rr = {NULL, 0}, ss = {NULL, 0};
	uint8_t rs[64];
	voucher_err r = VOUCHER_E_CRYPTO;

	if (gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0, &d, &sig) < 0 ||
	    gnutls_decode_rs_value(&sig, &rr, &ss) < 0)
		goto out;
	if (fixed(&rr, rs, 32) != VOUCHER_OK || fixed(&ss, rs + 32, 32) != VOUCHER_OK)
		goto out;
	r = acme_b64url(rs, sizeof(rs), out);
out:
	gnutls_free(sig.data);
	gnutls_free(rr.data);
	gnutls_free(ss.data);
	return r;
}

/* {"protected":P,"payload":Y,"signature":S} with P and Y already encoded. */
static voucher_err jws_finish(const struct brski_buf *prot, const struct brski_buf *pay,
                              const struct brski_buf *sig, struct brski_buf *out)
{
	return brski_buf_printf(out,
	                        "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
	                        brski_buf_str(prot), brski_buf_str(pay), brski_buf_str(sig));
}

voucher_err acme_jws(struct acme_client *c, const char *url, const char *nonce, const char *kid,
                     const char *payload, struct brski_buf *out)
{
	struct brski_buf hdr, prot, pay, input, sig;
	json_t *h = NULL;
	char *hs = NULL;
	voucher_err r = VOUCHER_ENOMEM;

	brski_buf_init(&hdr, 4096);
	brski_buf_init(&prot, 8192);
	brski_buf_init(&pay, ACME_MAX_RESPONSE);
	brski_buf_init(&input, ACME_MAX_RESPONSE);
	brski_buf_init(&sig, 256);
	if (kid)
		h = json_pack("{s:s, s:s, s:s, s:s}", "alg", "ES256", "kid", kid, "nonce", nonce,
		              "url", url);
	else
		h = json_pack("{s:s, s:o, s:s, s:s}", "alg", "ES256", "jwk",
		              json_loads(c->jwk, 0, NULL), "nonce", nonce, "url", url);
	if (!h || !(hs = json_dumps(h, JSON_COMPACT)))
		goto out;
	if ((r = acme_b64url((const uint8_t *)hs, strlen(hs), &prot)) != VOUCHER_OK)
		goto out;
	/* POST-as-GET (RFC 8555 6.3) has the empty string as its payload. */
	if (payload &&
	    (r = acme_b64url((const uint8_t *)payload, strlen(payload), &pay)) != VOUCHER_OK)
		goto out;
	if ((r = brski_buf_printf(&input, "%s.%s", brski_buf_str(&prot), brski_buf_str(&pay))) !=
	            VOUCHER_OK ||
	    (r = es256(c->key, brski_buf_str(&input), input.len, &sig)) != VOUCHER_OK)
		goto out;
	r = jws_finish(&prot, &pay, &sig, out);
out:
	free(hs);
	json_decref(h);
	brski_buf_free(&hdr);
	brski_buf_free(&prot);
	brski_buf_free(&pay);
	brski_buf_free(&input);
	brski_buf_free(&sig);
	return r;
}

/* The externalAccountBinding member (RFC 8555 7.3.4): the account JWK
 * signed with HS256 under the CA-provided key. */
static voucher_err eab_jws(struct acme_client *c, char **out)
{
	struct brski_buf prot, pay, input, sig, res;
	json_t *h = NULL;
	char *hs = NULL;
	uint8_t mac[32];
	voucher_err r = VOUCHER_ENOMEM;

	*out = NULL;
	brski_buf_init(&prot, 8192);
	brski_buf_init(&pay, 1024);
	brski_buf_init(&input, 16384);
	brski_buf_init(&sig, 128);
	brski_buf_init(&res, 16384);
	if (!(h = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", c->eab_kid, "url",
	                    c->new_account)) ||
	    !(hs = json_dumps(h, JSON_COMPACT)))
		goto out;
	if ((r = acme_b64url((const uint8_t *)hs, strlen(hs), &prot)) != VOUCHER_OK ||
	    (r = acme_b64url((const uint8_t *)c->jwk, strlen(c->jwk), &pay)) != VOUCHER_OK ||
	    (r = brski_buf_printf(&input, "%s.%s", brski_buf_str(&prot), brski_buf_str(&pay))) !=
	            VOUCHER_OK)
		goto out;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->eab_key, c->eab_key_len, input.data, input.len,
	                     mac) < 0) {
		r = VOUCHER_E_CRYPTO;
		goto out;
	}
	if ((r = acme_b64url(mac, sizeof(mac), &sig)) != VOUCHER_OK ||
	    (r = jws_finish(&prot, &pay, &sig, &res)) != VOUCHER_OK)
		goto out;
	*out = (char *)brski_buf_take(&res, NULL);
	r = *out ? VOUCHER_OK : VOUCHER_ENOMEM;
out:
	explicit_bzero(mac, sizeof(mac));
	free(hs);
	json_decref(h);
	brski_buf_free(&prot);
	brski_buf_free(&pay);
	brski_buf_free(&input);
	brski_buf_free(&sig);
	brski_buf_free(&res);
	return r;
}

/* ---- client ------------------------------------------------------------- */

voucher_err acme_client_new(const struct acme_opts *o, const char *key_pem,
                            struct acme_client **out, char *err, size_t errlen)
{
	struct acme_client *c;
	voucher_err r;

	*out = NULL;
	if (!o->directory || !brski_str_startswith(o->directory, "https://")) {
		errf(err, errlen, "the ACME directory must be an https:// URL");
		return VOUCHER_E_CONFIG;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return VOUCHER_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->timeout = o->timeout ? o->timeout : 30;
	if (!(c->directory = brski_strdup(o->directory)) ||
	    (o->trust && !(c->trust = brski_strdup(o->trust))) ||
	    (o->contact && !(c->contact = brski_strdup(o->contact))) ||
	    (o->eab_kid && !(c->eab_kid = brski_strdup(o->eab_kid)))) {
		r = VOUCHER_ENOMEM;
		goto fail;
	}
	if (o->eab_kid) {
		if (!o->eab_key || o->eab_key_len == 0 || !(c->eab_key = malloc(o->eab_key_len))) {
			errf(err, errlen, "external account binding needs its HMAC key");
			r = o->eab_key_len ? VOUCHER_ENOMEM : VOUCHER_E_CONFIG;
			goto fail;
		}
		memcpy(c->eab_key, o->eab_key, o->eab_key_len);
		c->eab_key_len = o->eab_key_len;
	}
	if ((r = load_key(c, key_pem, err, errlen)) != VOUCHER_OK)
		goto fail;
	if (!(c->curl = curl_easy_init())) {
		r = VOUCHER_ENOMEM;
		goto fail;
	}
	*out = c;
	return VOUCHER_OK;
fail:
	acme_client_free(c);
	return r;
}

void acme_client_free(struct acme_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c->directory);
	free(c->trust);
	free(c->contact);
	free(c->eab_kid);
	freezero(c->eab_key, c->eab_key_len);
	free(c->kid);
	explicit_bzero(&c->nonces, sizeof(c->nonces));
	pthread_mutex_destroy(&c->lock);
	free(c);
}

char *acme_kid_dup(struct acme_client *c)
{
	char *s;

	pthread_mutex_lock(&c->lock);
	s = brski_strdup(c->kid);
	pthread_mutex_unlock(&c->lock);
	return s;
}

voucher_err acme_set_kid(struct acme_client *c, const char *kid)
{
	char *s = brski_strdup(kid);

	if (kid && !s)
		return VOUCHER_ENOMEM;
	pthread_mutex_lock(&c->lock);
	free(c->kid);
	c->kid = s;
	pthread_mutex_unlock(&c->lock);
	return VOUCHER_OK;
}

/* ---- HTTP ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;

	/* Short count stops the transfer: the response bound. */
	if (brski_buf_put(&r->body, data, size * nmemb) != VOUCHER_OK)
		return 0;
	return size * nmemb;
}

static void header_value(const char *line, size_t len, size_t namelen, char *out, size_t outlen)
{
	const char *v = line + namelen;
	size_t n = len - namelen;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= outlen) {
		out[0] = '\0'; /* too long to be ours: as if absent */
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t len = size * nmemb;

	/* A new status line (after 100 Continue, say) starts a new answer. */
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		r->location[0] = '\0';
		return len;
	}
	if (len > 14 && strncasecmp(line, "Replay-Nonce:", 13) == 0) {
		char nonce[ACME_NONCE_MAX + 1];
		header_value(line, len, 13, nonce, sizeof(nonce));
		if (nonce[0])
			acme_nonce_put(r->pool, nonce, strlen(nonce));
	} else if (len > 10 && strncasecmp(line, "Location:", 9) == 0) {
		header_value(line, len, 9, r->location, sizeof(r->location));
	}
	return len;
}

static void resp_init(struct resp *r, struct acme_client *c)
{
	memset(r, 0, sizeof(*r));
	brski_buf_init(&r->body, ACME_MAX_RESPONSE);
	r->pool = &c->nonces;
}

static void resp_free(struct resp *r)
{
	brski_buf_free(&r->body);
}

/* One exchange over the client's handle; the lock is held. */
static voucher_err http(struct acme_client *c, const char *method, const char *url,
                        const struct brski_buf *body, const char *accept, struct resp *r, char *err,
                        size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *t;
	char acc[160];
	CURL *h = c->curl;
	curl_off_t ra = 0;
	char *ct = NULL;
	CURLcode cc;

	brski_buf_reset(&r->body);
	r->status = 0;
	r->location[0] = r->ctype[0] = '\0';
	r->retry_after = 0;
	/* reset keeps the live connection and TLS session (STYLE note 3) */
	curl_easy_reset(h);
	creg_https_setup(h, url, c->trust);
	curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION " (ACME)");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ACME_MAX_RESPONSE);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body->data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
		if (!(t = curl_slist_append(hdrs, "Content-Type: " JOSE_CT)))
			goto nomem;
		hdrs = t;
	}
	snprintf(acc, sizeof(acc), "Accept: %s", accept ? accept : "application/json");
	if (!(t = curl_slist_append(hdrs, acc)))
		goto nomem;
	hdrs = t;
	/* No "Expect: 100-continue" round trip for our small bodies. */
	if (!(t = curl_slist_append(hdrs, "Expect:")))
		goto nomem;
	hdrs = t;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
			errf(err, errlen,
			     "the ACME server's answer from %s is larger than %u bytes", url,
			     (unsigned)ACME_MAX_RESPONSE);
		else
			errf(err, errlen, "failed to reach the ACME server at %s: %s (%s)", url,
			     curl_easy_strerror(cc), errbuf[0] ? errbuf : "no detail");
		return VOUCHER_E_NETWORK;
	}
	long fresh = 0;
	/* One connection serves the whole backend (STYLE note 3): a new one
	 * is worth a debug line (the test counts them). */
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &fresh) == CURLE_OK && fresh > 0)
		log_debug("acme: opened a new connection for %s %s", method, url);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		copy_clean(r->ctype, sizeof(r->ctype), ct);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		r->retry_after = ra > 86400 ? 86400 : (unsigned)ra;
	return VOUCHER_OK;
nomem:
	curl_slist_free_all(hdrs);
	return VOUCHER_ENOMEM;
}

static bool ctype_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	return strncasecmp(ctype, want, n) == 0 && (ctype[n] == '\0' || ctype[n] == ';');
}

static json_t *parse_object(const struct resp *r)
{
	json_error_t je;
	json_t *j;

	if (r->body.len == 0)
		return NULL;
	j = json_loadb((const char *)r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Map an error answer to a code and a message naming the problem as sent. */
static voucher_err answer_error(const struct resp *r, const char *what, struct acme_problem *p,
                                char *err, size_t errlen)
{
	char msg[700];

	if (acme_problem_parse(r->body.data, r->body.len, (unsigned)r->status, p) != VOUCHER_OK)
		snprintf(p->detail, sizeof(p->detail), "HTTP %ld without a problem document",
		         r->status);
	acme_problem_format(p, msg, sizeof(msg));
	errf(err, errlen, "%s: %s", what, msg);
	if (problem_is(p, "rateLimited") || r->status == 503)
		return VOUCHER_EAGAIN;
	if (r->status >= 500)
		return VOUCHER_E_NETWORK;
	if (problem_is(p, "orderNotReady"))
		return VOUCHER_E_CONFLICT;
	return VOUCHER_E_PEER;
}

static voucher_err fetch_directory(struct acme_client *c, char *err, size_t errlen)
{
	struct resp r;
	json_t *j = NULL;
	voucher_err e;
	static const struct {
		const char *name;
		size_t off;
		bool required;
	} members[] = {
	        {"newNonce", offsetof(struct acme_client, new_nonce), true},
	        {"newAccount", offsetof(struct acme_client, new_account), true},
	        {"newOrder", offsetof(struct acme_client, new_order), true},
	        {"newAuthz", offsetof(struct acme_client, new_authz), false},
	};

	if (c->have_dir)
		return VOUCHER_OK;
	resp_init(&r, c);
	if ((e = http(c, "GET", c->directory, NULL, NULL, &r, err, errlen)) != VOUCHER_OK)
		goto out;
	if (r.status != 200 || !(j = parse_object(&r))) {
		errf(err, errlen, "the ACME directory %s answered %ld%s", c->directory, r.status,
		     r.status == 200 ? " but not with a JSON object" : "");
		e = r.status >= 500 || r.status == 0 ? VOUCHER_E_NETWORK : VOUCHER_E_PEER;
		goto out;
	}
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const char *v = json_string_value(json_object_get(j, members[i].name));
		char *dst = (char *)c + members[i].off;
		if (!v && !members[i].required) {
			dst[0] = '\0';
			continue;
		}
		if (!v || !brski_str_startswith(v, "https://") || strlen(v) >= ACME_MAX_URL) {
			errf(err, errlen, "the ACME directory %s has no usable %s", c->directory,
			     members[i].name);
			e = VOUCHER_E_MALFORMED;
			goto out;
		}
		memcpy(dst, v, strlen(v) + 1);
	}
	if (json_is_true(json_object_get(json_object_get(j, "meta"), "externalAccountRequired")) &&
	    !c->eab_kid) {
		errf(err, errlen,
		     "the ACME server %s requires external account binding: set [acme] eab_kid and "
		     "eab_hmac_key",
		     c->directory);
		e = VOUCHER_E_CONFIG;
		goto out;
	}
	c->have_dir = true;
	e = VOUCHER_OK;
out:
	json_decref(j);
	resp_free(&r);
	return e;
}

voucher_err acme_directory(struct acme_client *c, char *err, size_t errlen)
{
	voucher_err r;

	pthread_mutex_lock(&c->lock);
	r = fetch_directory(c, err, errlen);
	pthread_mutex_unlock(&c->lock);
	return r;
}

bool acme_has_new_authz(struct acme_client *c)
{
	bool b;

	pthread_mutex_lock(&c->lock);
	b = c->have_dir && c->new_authz[0] != '\0';
	pthread_mutex_unlock(&c->lock);
	return b;
}

static voucher_err get_nonce(struct acme_client *c, char *nonce, size_t len, char *err,
                             size_t errlen)
{
	struct resp r;
	voucher_err e;

	if (acme_nonce_take(&c->nonces, nonce, len))
		return VOUCHER_OK;
	resp_init(&r, c);
	e = http(c, "HEAD", c->new_nonce, NULL, NULL, &r, err, errlen);
	resp_free(&r);
	if (e != VOUCHER_OK)
		return e;
	if (!acme_nonce_take(&c->nonces, nonce, len)) {
		errf(err, errlen, "the ACME server's newNonce (%s) gave no usable Replay-Nonce",
		     c->new_nonce);
		return VOUCHER_E_MALFORMED;
	}
	return VOUCHER_OK;
}

static void sleep_s(unsigned s)
{
	struct timespec ts = {(time_t)s, 0};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A signed POST (the lock is held): retried only on badNonce (with a fresh
 * nonce, which the error answer itself usually brings) and on a short
 * rateLimited/503 wait. The answer is in r whatever its status; the
 * return value says whether it is a success (2xx). */
static voucher_err post(struct acme_client *c, const char *url, const char *payload, bool use_jwk,
                        const char *accept, const char *what, struct resp *r,
                        struct acme_problem *prob, char *err, size_t errlen)
{
	struct brski_buf jws;
	struct acme_problem tmp;
	char nonce[ACME_NONCE_MAX + 1];
	voucher_err e = VOUCHER_OK;
	unsigned tries = 0;

	if (!prob)
		prob = &tmp;
	memset(prob, 0, sizeof(*prob));
	if ((e = fetch_directory(c, err, errlen)) != VOUCHER_OK)
		return e;
	if (!use_jwk && !c->kid) {
		errf(err, errlen, "no ACME account yet");
		return VOUCHER_EINVAL;
	}
	brski_buf_init(&jws, ACME_MAX_RESPONSE);
	for (;;) {
		brski_buf_reset(&jws);
		if ((e = get_nonce(c, nonce, sizeof(nonce), err, errlen)) != VOUCHER_OK ||
		    (e = acme_jws(c, url, nonce, use_jwk ? NULL : c->kid, payload, &jws)) !=
		            VOUCHER_OK ||
		    (e = http(c, "POST", url, &jws, accept, r, err, errlen)) != VOUCHER_OK)
			break;
		if (r->status >= 200 && r->status < 300) {
			e = VOUCHER_OK;
			break;
		}
		e = answer_error(r, what, prob, err, errlen);
		tries++;
		if (problem_is(prob, "badNonce") && tries <= ACME_NONCE_RETRIES) {
			log_debug("acme: %s: badNonce from %s, retrying with a fresh nonce (%u)",
			          what, url, tries);
			continue;
		}
		if (!use_jwk && problem_is(prob, "accountDoesNotExist")) {
			/* The CA forgot the account (a test CA restarted, an
			 * operator deleted it): register the key again on the
			 * next attempt instead of failing every job for good. */
			log_warn("acme: the account %s is unknown to %s; registering again", c->kid,
			         c->directory);
			free(c->kid);
			c->kid = NULL;
			e = VOUCHER_E_UNAUTHENTICATED;
			break;
		}
		if (e == VOUCHER_EAGAIN && r->retry_after <= ACME_SHORT_WAIT && tries <= 2) {
			log_info("acme: %s: %s; retrying in %u s", what, prob->type,
			         r->retry_after ? r->retry_after : 1);
			sleep_s(r->retry_after ? r->retry_after : 1);
			continue;
		}
		break;
	}
	brski_buf_free(&jws);
	return e;
}

voucher_err acme_register(struct acme_client *c, char *err, size_t errlen)
{
	struct resp r;
	json_t *p = NULL;
	char *eab = NULL, *body = NULL;
	voucher_err e;

	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	if ((e = fetch_directory(c, err, errlen)) != VOUCHER_OK)
		goto out;
	e = VOUCHER_ENOMEM;
	if (!(p = json_pack("{s:b}", "termsOfServiceAgreed", 1)))
		goto out;
	if (c->contact && json_object_set_new(p, "contact", json_pack("[s]", c->contact)) != 0)
		goto out;
	if (c->eab_kid) {
		if ((e = eab_jws(c, &eab)) != VOUCHER_OK)
			goto out;
		e = VOUCHER_ENOMEM;
		if (json_object_set_new(p, "externalAccountBinding", json_loads(eab, 0, NULL)) != 0)
			goto out;
	}
	if (!(body = json_dumps(p, JSON_COMPACT)))
		goto out;
	if ((e = post(c, c->new_account, body, true, NULL, "failed to create the ACME account", &r,
	              NULL, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!brski_str_startswith(r.location, "https://")) {
		errf(err, errlen,
		     "the ACME server's newAccount answer has no account URL (Location)");
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	free(c->kid);
	if (!(c->kid = brski_strdup(r.location))) {
		e = VOUCHER_ENOMEM;
		goto out;
	}
	log_info("acme: account %s at %s (%s)", c->kid, c->directory,
	         r.status == 201 ? "created" : "existing");
	e = VOUCHER_OK;
out:
	free(body);
	if (eab)
		free(eab);
	json_decref(p);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

/* ---- objects ------------------------------------------------------------------ */

static const char *const status_names[] = {
        [ACME_S_UNKNOWN] = "unknown", [ACME_S_PENDING] = "pending",
        [ACME_S_READY] = "ready",     [ACME_S_PROCESSING] = "processing",
        [ACME_S_VALID] = "valid",     [ACME_S_INVALID] = "invalid",
        [ACME_S_EXPIRED] = "expired", [ACME_S_DEACTIVATED] = "deactivated",
        [ACME_S_REVOKED] = "revoked",
};

enum acme_status acme_status_parse(const char *s)
{
	for (size_t i = 1; s && i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_S_UNKNOWN;
}

const char *acme_status_name(enum acme_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[s];
}

static bool url_copy(char *dst, const char *src)
{
	if (!src || !brski_str_startswith(src, "https://") || strlen(src) >= ACME_MAX_URL)
		return false;
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

static voucher_err order_from_json(const json_t *j, struct acme_order *o, char *err, size_t errlen)
{
	const json_t *a = json_object_get(j, "authorizations");
	const char *cert = json_string_value(json_object_get(j, "certificate"));
	const json_t *pe = json_object_get(j, "error");
	size_t i;

	o->status = acme_status_parse(json_string_value(json_object_get(j, "status")));
	if (o->status == ACME_S_UNKNOWN || !json_is_array(a) ||
	    !url_copy(o->finalize, json_string_value(json_object_get(j, "finalize")))) {
		errf(err, errlen, "the ACME order %s lacks status, authorizations or finalize",
		     o->url[0] ? o->url : "(new)");
		return VOUCHER_E_MALFORMED;
	}
	if (json_array_size(a) > ACME_MAX_AUTHZ) {
		errf(err, errlen, "the ACME order has %zu authorizations (at most %d handled)",
		     json_array_size(a), ACME_MAX_AUTHZ);
		return VOUCHER_E_TOO_LARGE;
	}
	o->n_authz = 0;
	for (i = 0; i < json_array_size(a); i++) {
		if (!url_copy(o->authz[i], json_string_value(json_array_get(a, i)))) {
			errf(err, errlen, "the ACME order has a malformed authorization URL");
			return VOUCHER_E_MALFORMED;
		}
		o->n_authz++;
	}
	o->certificate[0] = '\0';
	if (cert && !url_copy(o->certificate, cert)) {
		errf(err, errlen, "the ACME order has a malformed certificate URL");
		return VOUCHER_E_MALFORMED;
	}
	memset(&o->error, 0, sizeof(o->error));
	if (json_is_object(pe))
		problem_from_json(pe, 0, &o->error);
	return VOUCHER_OK;
}

/* n decimal digits at *p (advanced), or -1. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

voucher_err acme_time_parse(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, off = 0;
	int64_t days, yy, era, yoe, doe;
	unsigned m;

	*out = 0;
	if (!s)
		return VOUCHER_E_MALFORMED;
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 ||
	    *p++ != '-' || (d = digits(&p, 2)) < 1 || d > 31 || (*p != 'T' && *p != 't'))
		return VOUCHER_E_MALFORMED;
	p++;
	if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
	    mi > 59 || *p++ != ':' || (sec = digits(&p, 2)) < 0 || sec > 60)
		return VOUCHER_E_MALFORMED;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return VOUCHER_E_MALFORMED;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if ((oh = digits(&p, 2)) < 0 || oh > 23 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0 || om > 59)
			return VOUCHER_E_MALFORMED;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return VOUCHER_E_MALFORMED;
	}
	if (*p != '\0')
		return VOUCHER_E_MALFORMED;
	/* Days since 1970-01-01 of a proleptic Gregorian date (the civil
	 * calendar algorithm: March-based years). */
	yy = (int64_t)y - (mo <= 2);
	era = (yy >= 0 ? yy : yy - 399) / 400;
	yoe = yy - era * 400;
	m = (unsigned)(mo + (mo > 2 ? -3 : 9));
	doe = yoe * 365 + yoe / 4 - yoe / 100 + (int64_t)((153 * m + 2) / 5) + d - 1;
	days = era * 146097 + doe - 719468;
	*out = days * 86400 + h * 3600 + mi * 60 + sec - off;
	return VOUCHER_OK;
}

static voucher_err authz_from_json(const json_t *j, struct acme_authz *a, char *err, size_t errlen)
{
	const json_t *id = json_object_get(j, "identifier");
	const json_t *ch = json_object_get(j, "challenges");

	memset(a, 0, sizeof(*a));
	a->status = acme_status_parse(json_string_value(json_object_get(j, "status")));
	if (a->status == ACME_S_UNKNOWN || !json_is_object(id) || !json_is_array(ch)) {
		errf(err, errlen, "an ACME authorization lacks status, identifier or challenges");
		return VOUCHER_E_MALFORMED;
	}
	copy_clean(a->identifier, sizeof(a->identifier),
	           json_string_value(json_object_get(id, "value")));
	a->wildcard = json_is_true(json_object_get(j, "wildcard"));
	/* Required for a valid authorization (RFC 8555 7.1.4); without a
	 * readable one the caller relies on it no longer than its own limit. */
	if (acme_time_parse(json_string_value(json_object_get(j, "expires")), &a->expires) !=
	    VOUCHER_OK)
		a->expires = 0;
	for (size_t i = 0; i < json_array_size(ch) && a->n_chall < ACME_MAX_CHALL; i++) {
		const json_t *c = json_array_get(ch, i);
		struct acme_challenge *x = &a->chall[a->n_chall];
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *token = json_string_value(json_object_get(c, "token"));
		const json_t *pe = json_object_get(c, "error");

		/* Unknown challenge types are skipped, not errors (RFC 8555 8). */
		if (!type || strlen(type) >= sizeof(x->type) ||
		    !url_copy(x->url, json_string_value(json_object_get(c, "url"))))
			continue;
		memcpy(x->type, type, strlen(type) + 1);
		x->status = acme_status_parse(json_string_value(json_object_get(c, "status")));
		if (token && acme_token_ok(token))
			memcpy(x->token, token, strlen(token) + 1);
		if (json_is_object(pe))
			problem_from_json(pe, 0, &x->error);
		a->n_chall++;
	}
	return VOUCHER_OK;
}

voucher_err acme_new_order(struct acme_client *c, const char *const *dns, size_t n,
                           struct acme_order *o, char *err, size_t errlen)
{
	struct resp r;
	json_t *p = NULL, *ids, *j = NULL;
	char *body = NULL;
	voucher_err e = VOUCHER_ENOMEM;

	memset(o, 0, sizeof(*o));
	if (n == 0 || n > ACME_MAX_IDENT)
		return VOUCHER_EINVAL;
	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	if (!(ids = json_array()) || !(p = json_pack("{s:o}", "identifiers", ids)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(
		            ids, json_pack("{s:s, s:s}", "type", "dns", "value", dns[i])) != 0)
			goto out;
	if (!(body = json_dumps(p, JSON_COMPACT)))
		goto out;
	if ((e = fetch_directory(c, err, errlen)) != VOUCHER_OK ||
	    (e = post(c, c->new_order, body, false, NULL, "failed to create the ACME order", &r,
	              NULL, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!url_copy(o->url, r.location) || !(j = parse_object(&r))) {
		errf(err, errlen, "the ACME server's newOrder answer has no order URL or object");
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	e = order_from_json(j, o, err, errlen);
out:
	/* Also on failure: a rate limit's Retry-After tells the caller when. */
	o->retry_after = r.retry_after;
	free(body);
	json_decref(j);
	json_decref(p);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

voucher_err acme_get_order(struct acme_client *c, const char *url, struct acme_order *o, char *err,
                           size_t errlen)
{
	struct resp r;
	json_t *j = NULL;
	char u[ACME_MAX_URL];
	voucher_err e;

	/* url may be o->url itself (re-reading an order in place). */
	if (!url_copy(u, url))
		return VOUCHER_EINVAL;
	memset(o, 0, sizeof(*o));
	memcpy(o->url, u, sizeof(o->url));
	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	if ((e = post(c, o->url, NULL, false, NULL, "failed to read the ACME order", &r, NULL, err,
	              errlen)) != VOUCHER_OK) {
		if (r.status == 404)
			e = VOUCHER_E_NOT_FOUND; /* the CA lost it: the caller may order anew */
		goto out;
	}
	if (!(j = parse_object(&r))) {
		errf(err, errlen, "the ACME order %s is not a JSON object", o->url);
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	e = order_from_json(j, o, err, errlen);
out:
	/* Also on failure: a rate limit's Retry-After tells the caller when. */
	o->retry_after = r.retry_after;
	json_decref(j);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

static voucher_err authz_call(struct acme_client *c, const char *url, const char *payload,
                              const char *what, char *loc, size_t loclen, struct acme_authz *a,
                              char *err, size_t errlen)
{
	struct resp r;
	json_t *j = NULL;
	voucher_err e;

	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	if ((e = fetch_directory(c, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!url)
		url = c->new_authz;
	if (!url[0]) {
		errf(err, errlen, "the ACME server offers no newAuthz");
		e = VOUCHER_ENOTSUP;
		goto out;
	}
	if ((e = post(c, url, payload, false, NULL, what, &r, NULL, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!(j = parse_object(&r))) {
		errf(err, errlen, "%s: the answer is not a JSON object", what);
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	if (loc) {
		if (strlen(r.location) >= loclen || !brski_str_startswith(r.location, "https://")) {
			errf(err, errlen, "%s: no authorization URL (Location)", what);
			e = VOUCHER_E_MALFORMED;
			goto out;
		}
		memcpy(loc, r.location, strlen(r.location) + 1);
	}
	e = authz_from_json(j, a, err, errlen);
	a->retry_after = r.retry_after;
out:
	json_decref(j);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

voucher_err acme_new_authz(struct acme_client *c, const char *dns, char *url, size_t urllen,
                           struct acme_authz *a, char *err, size_t errlen)
{
	json_t *p = json_pack("{s:{s:s, s:s}}", "identifier", "type", "dns", "value", dns);
	char *body = p ? json_dumps(p, JSON_COMPACT) : NULL;
	voucher_err e = VOUCHER_ENOMEM;

	if (body)
		e = authz_call(c, NULL, body, "failed to pre-authorize the parent domain", url,
		               urllen, a, err, errlen);
	free(body);
	json_decref(p);
	return e;
}

voucher_err acme_get_authz(struct acme_client *c, const char *url, struct acme_authz *a, char *err,
                           size_t errlen)
{
	return authz_call(c, url, NULL, "failed to read the ACME authorization", NULL, 0, a, err,
	                  errlen);
}

voucher_err acme_challenge_respond(struct acme_client *c, const char *url,
                                   struct acme_challenge *ch, char *err, size_t errlen)
{
	struct resp r;
	json_t *j = NULL;
	voucher_err e;

	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	/* The payload is the empty object: "respond to this challenge". */
	if ((e = post(c, url, "{}", false, NULL, "failed to start the ACME challenge", &r, NULL,
	              err, errlen)) != VOUCHER_OK)
		goto out;
	if (ch && (j = parse_object(&r))) {
		ch->status = acme_status_parse(json_string_value(json_object_get(j, "status")));
		if (json_is_object(json_object_get(j, "error")))
			problem_from_json(json_object_get(j, "error"), 0, &ch->error);
	}
out:
	json_decref(j);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

voucher_err acme_finalize(struct acme_client *c, struct acme_order *o, const uint8_t *csr,
                          size_t csr_len, char *err, size_t errlen)
{
	struct brski_buf b64;
	struct resp r;
	json_t *p = NULL, *j = NULL;
	char *body = NULL;
	voucher_err e;

	brski_buf_init(&b64, ACME_MAX_RESPONSE);
	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	/* The pledge's CSR goes to the CA byte for byte: it is what the
	 * pledge signed, and the certificate must be for its key. */
	if ((e = acme_b64url(csr, csr_len, &b64)) != VOUCHER_OK)
		goto out;
	e = VOUCHER_ENOMEM;
	if (!(p = json_pack("{s:s}", "csr", brski_buf_str(&b64))) ||
	    !(body = json_dumps(p, JSON_COMPACT)))
		goto out;
	if ((e = post(c, o->finalize, body, false, NULL, "failed to finalize the ACME order", &r,
	              &o->error, err, errlen)) != VOUCHER_OK)
		goto out;
	if (!(j = parse_object(&r))) {
		errf(err, errlen, "the ACME finalize answer is not a JSON object");
		e = VOUCHER_E_MALFORMED;
		goto out;
	}
	e = order_from_json(j, o, err, errlen);
out:
	/* Also on failure: a rate limit's Retry-After tells the caller when. */
	o->retry_after = r.retry_after;
	free(body);
	json_decref(j);
	json_decref(p);
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	brski_buf_free(&b64);
	return e;
}

voucher_err acme_download(struct acme_client *c, const char *url, struct brski_buf *out, char *err,
                          size_t errlen)
{
	struct resp r;
	struct acme_problem prob;
	voucher_err e;

	pthread_mutex_lock(&c->lock);
	resp_init(&r, c);
	/* draft-ietf-acme-integrations: ask for PKCS#7 (what EST serves). */
	e = post(c, url, NULL, false, PKCS7_CT, "failed to download the certificate", &r, &prob,
	         err, errlen);
	/* A server that refuses the type outright gets the default asked for. */
	if (e != VOUCHER_OK && r.status == 406)
		e = post(c, url, NULL, false, PEM_CHAIN_CT, "failed to download the certificate",
		         &r, &prob, err, errlen);
	if (e != VOUCHER_OK)
		goto out;
	if (ctype_is(r.ctype, PKCS7_CT)) {
		e = brski_buf_put(out, r.body.data, r.body.len);
	} else if (ctype_is(r.ctype, PEM_CHAIN_CT) ||
	           (r.body.len > 10 && memcmp(r.body.data, "-----BEGIN", 10) == 0)) {
		log_debug("acme: %s came as %s, converting it to PKCS#7", url,
		          r.ctype[0] ? r.ctype : "PEM");
		e = acme_pem_chain_to_pkcs7(r.body.data, r.body.len, out, err, errlen);
	} else {
		errf(err, errlen, "the certificate at %s came as '%s', neither PKCS#7 nor PEM", url,
		     r.ctype);
		e = VOUCHER_E_CONTENT_TYPE;
	}
out:
	resp_free(&r);
	pthread_mutex_unlock(&c->lock);
	return e;
}

/* ---- certificates --------------------------------------------------------- */

/* Whether a's issuer DN equals b's subject DN. */
static bool issued_by(gnutls_x509_crt_t a, gnutls_x509_crt_t b)
{
	return gnutls_x509_crt_check_issuer(a, b) != 0;
}

/* Put the m certificates in chain order: order[0] is the leaf (the one
 * that issued none of the others), then its issuers, then whatever is not
 * on the leaf's path, as sent. VOUCHER_E_MALFORMED when there is no leaf
 * (the same certificate twice, or issuers in a cycle). */
static voucher_err chain_order(gnutls_x509_crt_t *crt, size_t m, size_t *order, char *err,
                               size_t errlen)
{
	bool used[ACME_MAX_CHAIN] = {false};
	size_t k = 0, i, j;

	for (i = 0; i < m && k == 0; i++) {
		bool issuer_of_other = false;
		for (j = 0; j < m; j++)
			if (j != i && issued_by(crt[j], crt[i]))
				issuer_of_other = true;
		if (!issuer_of_other) {
			order[k++] = i;
			used[i] = true;
		}
	}
	if (k == 0) {
		errf(err, errlen,
		     "the certificates form no chain (no leaf: a certificate twice, "
		     "or issuers in a cycle)");
		return VOUCHER_E_MALFORMED;
	}
	while (k < m) {
		size_t last = order[k - 1], next = m;
		if (issued_by(crt[last], crt[last]))
			break; /* self-signed: the root ends the chain */
		for (j = 0; j < m; j++)
			if (!used[j] && issued_by(crt[last], crt[j]))
				next = j;
		if (next == m)
			break;
		order[k++] = next;
		used[next] = true;
	}
	for (j = 0; j < m; j++)
		if (!used[j])
			order[k++] = j;
	return VOUCHER_OK;
}

voucher_err acme_pem_chain_to_pkcs7(const uint8_t *pem, size_t len, struct brski_buf *out,
                                    char *err, size_t errlen)
{
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)len}, der = {NULL, 0};
	gnutls_x509_crt_t *list = NULL;
	gnutls_pkcs7_t p7 = NULL;
	unsigned n = 0;
	voucher_err r = VOUCHER_E_MALFORMED;
	int g;

	if (len == 0 || len > ACME_MAX_RESPONSE) {
		errf(err, errlen, "the certificate chain is empty or too large");
		return VOUCHER_E_MALFORMED;
	}
	if ((g = gnutls_x509_crt_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0)) < 0 ||
	    n == 0) {
		errf(err, errlen, "the certificate chain does not parse as PEM certificates (%s)",
		     g < 0 ? gnutls_strerror(g) : "none found");
		goto out;
	}
	if (n > ACME_MAX_CHAIN) {
		errf(err, errlen, "the certificate chain has %u certificates (at most %d)", n,
		     ACME_MAX_CHAIN);
		r = VOUCHER_E_TOO_LARGE;
		goto out;
	}
	/* Refuse what acme_pkcs7_certs could not put back in order. */
	size_t order[ACME_MAX_CHAIN];
	if ((r = chain_order(list, n, order, err, errlen)) != VOUCHER_OK)
		goto out;
	r = VOUCHER_E_MALFORMED;
	if (gnutls_pkcs7_init(&p7) < 0) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((g = gnutls_pkcs7_set_crt(p7, list[i])) < 0) {
			errf(err, errlen, "failed to add certificate %u to PKCS#7 (%s)", i,
			     gnutls_strerror(g));
			r = VOUCHER_E_CRYPTO;
			goto out;
		}
	}
	if ((g = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &der)) < 0) {
		errf(err, errlen, "failed to encode PKCS#7 (%s)", gnutls_strerror(g));
		r = VOUCHER_E_CRYPTO;
		goto out;
	}
	r = brski_buf_put(out, der.data, der.size);
out:
	gnutls_free(der.data);
	gnutls_pkcs7_deinit(p7);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return r;
}

voucher_err acme_pkcs7_certs(const uint8_t *der, size_t len, uint8_t **certs, size_t *lens,
                             size_t max, size_t *n, char *err, size_t errlen)
{
	gnutls_datum_t in = {(unsigned char *)der, (unsigned)len};
	gnutls_x509_crt_t crt[ACME_MAX_CHAIN] = {NULL};
	gnutls_datum_t raw[ACME_MAX_CHAIN];
	size_t order[ACME_MAX_CHAIN];
	gnutls_pkcs7_t p7 = NULL;
	size_t m = 0, i;
	voucher_err r = VOUCHER_E_MALFORMED;
	int g, cnt;

	*n = 0;
	memset(raw, 0, sizeof(raw));
	if (gnutls_pkcs7_init(&p7) < 0)
		return VOUCHER_ENOMEM;
	if ((g = gnutls_pkcs7_import(p7, &in, GNUTLS_X509_FMT_DER)) < 0) {
		errf(err, errlen, "the certificate is not PKCS#7 (%s)", gnutls_strerror(g));
		goto out;
	}
	cnt = gnutls_pkcs7_get_crt_count(p7);
	if (cnt <= 0 || (size_t)cnt > max || cnt > ACME_MAX_CHAIN) {
		errf(err, errlen, "the PKCS#7 holds %d certificates (1..%zu expected)", cnt,
		     max < ACME_MAX_CHAIN ? max : (size_t)ACME_MAX_CHAIN);
		goto out;
	}
	m = (size_t)cnt;
	for (i = 0; i < m; i++) {
		if (gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &raw[i]) < 0 ||
		    gnutls_x509_crt_init(&crt[i]) < 0 ||
		    gnutls_x509_crt_import(crt[i], &raw[i], GNUTLS_X509_FMT_DER) < 0) {
			errf(err, errlen, "certificate %zu of the PKCS#7 does not parse", i);
			goto out;
		}
	}
	/* DER sorts a SET OF, so the order in the PKCS#7 says nothing: EST
	 * clients take the first certificate as theirs. */
	if ((r = chain_order(crt, m, order, err, errlen)) != VOUCHER_OK)
		goto out;
	r = VOUCHER_E_MALFORMED;
	for (i = 0; i < m; i++) {
		if (!(certs[i] = malloc(raw[order[i]].size))) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(certs[i], raw[order[i]].data, raw[order[i]].size);
		lens[i] = raw[order[i]].size;
		*n = i + 1;
	}
	r = VOUCHER_OK;
out:
	if (r != VOUCHER_OK) {
		for (i = 0; i < *n; i++) {
			free(certs[i]);
			certs[i] = NULL;
		}
		*n = 0;
	}
	for (i = 0; i < ACME_MAX_CHAIN; i++) {
		gnutls_free(raw[i].data);
		if (crt[i])
			gnutls_x509_crt_deinit(crt[i]);
	}
	gnutls_pkcs7_deinit(p7);
	return r;
}

/* ---- challenges ----------------------------------------------------------- */

voucher_err acme_key_authz(const char *token, const char *thumbprint, char *out, size_t outlen)
{
	if (!acme_token_ok(token) || !thumbprint || !thumbprint[0])
		return VOUCHER_EINVAL;
	if ((size_t)snprintf(out, outlen, "%s.%s", token, thumbprint) >= outlen)
		return VOUCHER_E_TOO_LARGE;
	return VOUCHER_OK;
}

voucher_err acme_dns01_value(const char *key_authz, char *out, size_t outlen)
{
	uint8_t d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key_authz, strlen(key_authz), d) < 0)
		return VOUCHER_E_CRYPTO;
	return b64u_str(d, sizeof(d), out, outlen);
}
