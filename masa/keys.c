/* The MASA's keys and configured anchors, the application context that
 * swaps them on SIGHUP, and small encoding helpers. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "masa/masa.h"
#include "service/config.h"
#include "service/keys.h"

void masa_keys_free(struct masa_keys *k)
{
	if (!k)
		return;
	voucher_signer_free(k->signer);
	voucher_trust_free(k->manufacturer);
	voucher_x509_chain_free(k->cloud_regs);
	free(k->enroll_here_ca);
	free(k->enroll_here_est_url);
	free(k);
}

voucher_err masa_keys_load_files(const char *sign_key, const char *sign_cert,
                                 const char *manufacturer_ca, const char *cloud_regs,
                                 const char *enroll_here_ca, const char *enroll_here_est_url,
                                 struct masa_keys **out, char *err, size_t errlen)
{
	struct masa_keys *k = NULL;
	struct voucher_x509_chain *eh = NULL;
	voucher_err r;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return VOUCHER_ENOMEM;
	k->refs = 1;
	k->nonceless_lifetime = 1200;
	if ((r = svc_keys_load_signer(&k->signer, sign_key, sign_cert, "the voucher-signing key",
	                              err, errlen)) != VOUCHER_OK ||
	    (r = svc_keys_load_trust(&k->manufacturer, manufacturer_ca, "the manufacturer CAs", err,
	                             errlen)) != VOUCHER_OK)
		goto out;
	if (cloud_regs &&
	    (r = voucher_x509_chain_load_file(cloud_regs, &k->cloud_regs)) != VOUCHER_OK) {
		snprintf(err, errlen, "failed to load the cloud registrar certificates %s (%s)",
		         cloud_regs, voucher_strerror(r));
		goto out;
	}
	if (enroll_here_ca) {
		if ((r = voucher_x509_chain_load_file(enroll_here_ca, &eh)) != VOUCHER_OK) {
			snprintf(err, errlen, "failed to load the enroll-here CA %s (%s)",
			         enroll_here_ca, voucher_strerror(r));
			goto out;
		}
		/* The first certificate is the one pinned. */
		k->enroll_here_ca = malloc(eh->der_len[0]);
		if (!k->enroll_here_ca) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
		memcpy(k->enroll_here_ca, eh->der[0], eh->der_len[0]);
		k->enroll_here_ca_len = eh->der_len[0];
	}
	if (enroll_here_est_url && !(k->enroll_here_est_url = brski_strdup(enroll_here_est_url))) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	*out = k;
	k = NULL;
	r = VOUCHER_OK;
out:
	voucher_x509_chain_free(eh);
	masa_keys_free(k);
	return r;
}

voucher_err masa_keys_load(const struct svc_config *cfg, struct masa_keys **out, char *err,
                           size_t errlen)
{
	voucher_err r;

	r = masa_keys_load_files(
	        svc_config_str(cfg, "masa", "sign_key"), svc_config_str(cfg, "masa", "sign_cert"),
	        svc_config_str(cfg, "masa", "manufacturer_ca"),
	        svc_config_str(cfg, "masa", "cloud_registrar_cert"),
	        svc_config_str(cfg, "masa", "enroll_here_ca"),
	        svc_config_str(cfg, "masa", "enroll_here_est_url"), out, err, errlen);
	if (r != VOUCHER_OK)
		return r;
	(*out)->pin_registrar = strcmp(svc_config_str(cfg, "masa", "pinning"), "registrar") == 0;
	(*out)->nonceless_lifetime = svc_config_int(cfg, "masa", "nonceless_lifetime");
	return VOUCHER_OK;
}

voucher_err masa_app_new(struct store *store, struct masa_keys *keys, struct masa_app **out)
{
	struct masa_app *app = calloc(1, sizeof(*app));

	*out = NULL;
	if (!app)
		return VOUCHER_ENOMEM;
	if (pthread_mutex_init(&app->lock, NULL) != 0) {
		free(app);
		return VOUCHER_ENOMEM;
	}
	app->keys = keys;
	app->store = store;
	*out = app;
	return VOUCHER_OK;
}

void masa_app_free(struct masa_app *app)
{
	if (!app)
		return;
	masa_app_put_keys(app, app->keys);
	free(app->admin_table);
	pthread_mutex_destroy(&app->lock);
	free(app);
}

void masa_app_set_keys(struct masa_app *app, struct masa_keys *keys)
{
	struct masa_keys *old;

	pthread_mutex_lock(&app->lock);
	old = app->keys;
	app->keys = keys;
	pthread_mutex_unlock(&app->lock);
	masa_app_put_keys(app, old);
}

struct masa_keys *masa_app_get_keys(struct masa_app *app)
{
	struct masa_keys *k;

	pthread_mutex_lock(&app->lock);
	k = app->keys;
	if (k)
		k->refs++;
	pthread_mutex_unlock(&app->lock);
	return k;
}

void masa_app_put_keys(struct masa_app *app, struct masa_keys *k)
{
	bool last;

	if (!k)
		return;
	pthread_mutex_lock(&app->lock);
	last = --k->refs == 0;
	pthread_mutex_unlock(&app->lock);
	if (last)
		masa_keys_free(k);
}

voucher_err masa_fail_set(struct masa_fail *f, voucher_err err, const char *check, const char *fmt,
                          ...)
{
	va_list ap;

	f->err = err;
	f->check = check;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *masa_b64(const uint8_t *in, size_t len)
{
	size_t n = (len + 2) / 3 * 4;
	char *out, *p;

	if (len > SIZE_MAX / 2)
		return NULL;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	p = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;
		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		*p++ = b64_alphabet[(v >> 18) & 63];
		*p++ = b64_alphabet[(v >> 12) & 63];
		*p++ = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		*p++ = left > 2 ? b64_alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

voucher_err masa_unb64(const char *in, uint8_t **out, size_t *out_len)
{
	size_t n = strlen(in), o = 0;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (n == 0 || n % 4 != 0)
		return VOUCHER_E_BAD_BASE64;
	buf = malloc(n / 4 * 3);
	if (!buf)
		return VOUCHER_ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;
		for (int j = 0; j < 4; j++)
			v[j] = b64_value(in[i + j]);
		if (v[0] < 0 || v[1] < 0 || (v[2] < 0 && !(last && in[i + 2] == '=')) ||
		    (v[3] < 0 && !(last && in[i + 3] == '=')) || (v[2] < 0 && v[3] >= 0))
			goto bad;
		buf[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0) {
			buf[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
			if (v[3] >= 0)
				buf[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
			else if (v[2] & 3) /* non-canonical: bits left over */
				goto bad;
		} else if (v[1] & 15) {
			goto bad;
		}
	}
	*out = buf;
	*out_len = o;
	return VOUCHER_OK;
bad:
	free(buf);
	return VOUCHER_E_BAD_BASE64;
}

voucher_err masa_domain_id(const uint8_t *der, size_t len, char **out)
{
	uint8_t *ski = NULL, spki[32];
	size_t ski_len = 0;
	voucher_err r;

	*out = NULL;
	r = voucher_x509_ski(der, len, &ski, &ski_len);
	if (r == VOUCHER_OK) {
		*out = masa_b64(ski, ski_len);
		free(ski);
	} else if (r == VOUCHER_E_NOT_FOUND) {
		if ((r = voucher_x509_spki_sha256(der, len, spki)) != VOUCHER_OK)
			return r;
		*out = masa_b64(spki, sizeof(spki));
	} else {
		return r;
	}
	return *out ? VOUCHER_OK : VOUCHER_ENOMEM;
}
