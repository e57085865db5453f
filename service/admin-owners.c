/* Owners (with deny lists and CRLs) and devices (bulk import, transfer):
 * the admin routes every daemon sharing the store serves (masad and
 * cloudregd; service/admin.h, svc_admin_owner_routes). Moved here from
 * masa/admin.c so that the cloud registrar serves the same owners and
 * devices without linking the MASA.
 *
 * Owner-scoped tokens (a reseller, a customer) reach only the routes
 * marked SVC_ADMIN_OWNER, and there only their own owner's records: every
 * such handler calls owner_allowed() before it reads or writes. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/x509.h>

#include "common/str.h"
#include "service/admin.h"

/* Canonical padded base64 (RFC 4648 section 4), as masad keys
 * idevid_issuer: VOUCHER_E_BAD_BASE64 for anything else. */
static voucher_err unb64_check(const char *in)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), pad = 0;

	if (n == 0 || n % 4 != 0)
		return VOUCHER_E_BAD_BASE64;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!strchr(alphabet, in[i]))
			return VOUCHER_E_BAD_BASE64;
	/* The bits a padded group does not use must be zero. */
	if (pad) {
		size_t v = (size_t)(strchr(alphabet, in[n - pad - 1]) - alphabet);
		if ((pad == 1 && (v & 3)) || (pad == 2 && (v & 15)))
			return VOUCHER_E_BAD_BASE64;
	}
	return VOUCHER_OK;
}

#define PEM_MAX    (64 * 1024)
#define URL_MAX    2048
#define SERIAL_MAX 64
#define IMPORT_MAX 10000 /* rows in one bulk import */

/* An owner-scoped token may act only on its owner. The answer for another
 * owner's record is 404, as if it did not exist: it sees nothing else. */
static bool owner_allowed(const struct svc_admin_ctx *c, const char *owner)
{
	return !c->token || !c->token->owner || (owner && strcmp(c->token->owner, owner) == 0);
}

static bool owner_scoped(const struct svc_admin_ctx *c)
{
	return c->token && c->token->owner;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *owner_json(const struct store_owner *o)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:I, s:I}", "name", o->name, "domain_ca",
	                 o->domain_ca_pem ? o->domain_ca_pem : "", "registrar_url",
	                 str_or_null(o->registrar_url), "est_url", str_or_null(o->est_url),
	                 "est_pin", str_or_null(o->est_pin_pem), "enroll_here", o->enroll_here,
	                 "created", (json_int_t)o->created, "updated", (json_int_t)o->updated);
}

static json_t *device_json(const struct store_device *d)
{
	return json_pack("{s:s, s:o, s:o, s:s, s:o, s:I, s:I}", "serial", d->serial,
	                 "idevid_issuer", str_or_null(d->idevid_issuer), "owner",
	                 str_or_null(d->owner), "mode", store_mode_name(d->mode),
	                 "additional_configuration_url",
	                 str_or_null(d->additional_configuration_url), "created",
	                 (json_int_t)d->created, "updated", (json_int_t)d->updated);
}

/* ---- input checks ---------------------------------------------------------- */

/* PEM certificates; with need_ca the first must be a CA certificate. */
static voucher_err check_pem_cert(const char *pem, bool need_ca, const char *member, char *why,
                                  size_t whylen)
{
	struct voucher_x509_chain *ch = NULL;
	gnutls_x509_crt_t crt = NULL;
	unsigned ca = 0;
	voucher_err r;

	r = voucher_x509_chain_load_mem((const uint8_t *)pem, strlen(pem), &ch);
	if (r != VOUCHER_OK) {
		snprintf(why, whylen, "member '%s' is not a PEM certificate (%s)", member,
		         voucher_strerror(r));
		return VOUCHER_EINVAL;
	}
	if (need_ca) {
		gnutls_datum_t d = {ch->der[0], (unsigned)ch->der_len[0]};
		int ret = -1;
		if (gnutls_x509_crt_init(&crt) == 0 &&
		    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) == 0)
			ret = gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca, NULL);
		gnutls_x509_crt_deinit(crt);
		if (ret < 0 || !ca) {
			snprintf(
			        why, whylen,
			        "member '%s' is not a CA certificate (no basicConstraints cA=TRUE)",
			        member);
			r = VOUCHER_EINVAL;
		}
	}
	voucher_x509_chain_free(ch);
	return r;
}

static voucher_err check_url(const char *url, const char *member, char *why, size_t whylen)
{
	if (!brski_str_startswith(url, "https://") || strlen(url) <= strlen("https://") ||
	    strpbrk(url, " \t\r\n\"<>\\^`{|}")) {
		snprintf(why, whylen, "member '%s' must be an https:// URL", member);
		return VOUCHER_EINVAL;
	}
	return VOUCHER_OK;
}

static voucher_err check_issuer(const char *b64, char *why, size_t whylen)
{
	voucher_err r = unb64_check(b64);

	if (r != VOUCHER_OK)
		snprintf(why, whylen,
		         "member 'idevid_issuer' must be base64 (RFC 4648, padded) of the IDevID's "
		         "authority key identifier");
	return r == VOUCHER_OK ? VOUCHER_OK : VOUCHER_EINVAL;
}

/* An owner name goes into URLs, logs and problem details: a CR or LF in it
 * would forge log lines (tests/hostile/cases.tsv ad-owner-crlf). */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static voucher_err check_serial(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n == 0 || n > SERIAL_MAX) {
		snprintf(why, whylen, "member 'serial' must be 1..%d characters", SERIAL_MAX);
		return VOUCHER_EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			snprintf(why, whylen, "member 'serial' must be printable ASCII");
			return VOUCHER_EINVAL;
		}
	return VOUCHER_OK;
}

/* ---- owners ---------------------------------------------------------------- */

static voucher_err owners_create(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *name = NULL, *ca = NULL, *reg = NULL, *est = NULL, *pin = NULL;
	bool enroll_here = false;
	const struct svc_admin_field fields[] = {
	        {"name", SVC_ADMIN_STR, true, false, 255, &name},
	        {"domain_ca", SVC_ADMIN_STR, true, false, PEM_MAX, &ca},
	        {"registrar_url", SVC_ADMIN_STR, false, true, URL_MAX, &reg},
	        {"est_url", SVC_ADMIN_STR, false, true, URL_MAX, &est},
	        {"est_pin", SVC_ADMIN_STR, false, true, PEM_MAX, &pin},
	        {"enroll_here", SVC_ADMIN_BOOL, false, false, 0, &enroll_here},
	};
	struct store_owner o = {0}, got = {0};
	char why[256], loc[320];
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	if (!*name || strchr(name, '/') || has_control(name))
		return svc_admin_problem(resp, VOUCHER_EINVAL,
		                         "member 'name' must be non-empty and without '/' or "
		                         "control characters");
	if (check_pem_cert(ca, true, "domain_ca", why, sizeof(why)) != VOUCHER_OK ||
	    (reg && check_url(reg, "registrar_url", why, sizeof(why)) != VOUCHER_OK) ||
	    (est && check_url(est, "est_url", why, sizeof(why)) != VOUCHER_OK) ||
	    (pin && check_pem_cert(pin, false, "est_pin", why, sizeof(why)) != VOUCHER_OK))
		return svc_admin_problem(resp, VOUCHER_EINVAL, "%s", why);
	o.name = (char *)name;
	o.domain_ca_pem = (char *)ca;
	o.registrar_url = (char *)reg;
	o.est_url = (char *)est;
	o.est_pin_pem = (char *)pin;
	o.enroll_here = enroll_here;
	r = store_owner_put(c->store, &o, STORE_PUT_CREATE, c->err, sizeof(c->err));
	if (r == VOUCHER_OK)
		r = store_owner_get(c->store, name, &got, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to create owner '%s': %s", name, c->err);
	svc_admin_audit_set(c, NULL, owner_json(&got));
	r = svc_admin_reply(resp, 201, owner_json(&got));
	snprintf(loc, sizeof(loc), SVC_ADMIN_PREFIX "/owners/%s", name);
	if (r == VOUCHER_OK)
		svc_resp_header(resp, "Location", loc);
	store_owner_clear(&got);
	return r;
}

static voucher_err owner_load(struct svc_admin_ctx *c, struct svc_resp *resp, struct store_owner *o)
{
	const char *name = svc_admin_param(c, "name");
	voucher_err r;

	if (!owner_allowed(c, name))
		return svc_admin_problem(resp, VOUCHER_E_NOT_FOUND, "no owner '%s'", name);
	r = store_owner_get(c->store, name, o, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "owner '%s': %s", name, c->err);
	return VOUCHER_OK;
}

static voucher_err owners_get(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_owner o = {0};
	voucher_err r;

	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	r = svc_admin_reply(resp, 200, owner_json(&o));
	store_owner_clear(&o);
	return r;
}

static voucher_err owners_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_page page;
	struct store_owner *v = NULL;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if ((r = svc_admin_page_start(c, resp, "owners", &page)) != VOUCHER_OK)
		return r;
	r = store_owner_list(c->store, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to list owners: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++)
		if (json_array_append_new(items, owner_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	store_owner_list_free(v, n);
	return svc_admin_reply_page(c, resp, "owners", items, page.next);
}

/* Replace *slot with a copy of v (NULL clears). */
static voucher_err set_field(char **slot, const char *v)
{
	char *copy = NULL;

	if (v && !(copy = brski_strdup(v)))
		return VOUCHER_ENOMEM;
	free(*slot);
	*slot = copy;
	return VOUCHER_OK;
}

static voucher_err owners_patch(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	json_t *ca = NULL, *reg = NULL, *est = NULL, *pin = NULL, *eh = NULL;
	const struct svc_admin_field fields[] = {
	        {"domain_ca", SVC_ADMIN_ANY, false, false, 0, &ca},
	        {"registrar_url", SVC_ADMIN_ANY, false, true, 0, &reg},
	        {"est_url", SVC_ADMIN_ANY, false, true, 0, &est},
	        {"est_pin", SVC_ADMIN_ANY, false, true, 0, &pin},
	        {"enroll_here", SVC_ADMIN_ANY, false, false, 0, &eh},
	};
	struct {
		json_t *j;
		const char *member;
		char **slot;
		size_t max;
	} strs[4];
	struct store_owner o = {0}, got = {0};
	json_t *before = NULL;
	char why[256];
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	/* The manufacturer decides who owns what and with which CA; an
	 * owner manages its registrar URL and EST pin (pin rollover). */
	if (owner_scoped(c) && (ca || est || eh))
		return svc_admin_problem(resp, VOUCHER_E_FORBIDDEN,
		                         "an owner-scoped token may change only registrar_url and "
		                         "est_pin");
	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	before = owner_json(&o);
	strs[0].j = ca, strs[0].member = "domain_ca", strs[0].slot = &o.domain_ca_pem;
	strs[1].j = reg, strs[1].member = "registrar_url", strs[1].slot = &o.registrar_url;
	strs[2].j = est, strs[2].member = "est_url", strs[2].slot = &o.est_url;
	strs[3].j = pin, strs[3].member = "est_pin", strs[3].slot = &o.est_pin_pem;
	for (size_t i = 0; i < 4; i++) {
		const char *v;
		if (!strs[i].j)
			continue;
		if (json_is_null(strs[i].j)) {
			free(*strs[i].slot);
			*strs[i].slot = NULL;
			continue;
		}
		if (!json_is_string(strs[i].j)) {
			r = svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
			                      "member '%s' must be a string", strs[i].member);
			goto out;
		}
		v = json_string_value(strs[i].j);
		if (i == 0)
			r = check_pem_cert(v, true, "domain_ca", why, sizeof(why));
		else if (i == 3)
			r = check_pem_cert(v, false, "est_pin", why, sizeof(why));
		else
			r = check_url(v, strs[i].member, why, sizeof(why));
		if (r != VOUCHER_OK) {
			r = svc_admin_problem(resp, VOUCHER_EINVAL, "%s", why);
			goto out;
		}
		if ((r = set_field(strs[i].slot, v)) != VOUCHER_OK) {
			r = svc_admin_problem(resp, r, "out of memory");
			goto out;
		}
	}
	if (eh) {
		if (!json_is_boolean(eh)) {
			r = svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
			                      "member 'enroll_here' must be a boolean");
			goto out;
		}
		o.enroll_here = json_is_true(eh);
	}
	r = store_owner_put(c->store, &o, STORE_PUT_UPDATE, c->err, sizeof(c->err));
	if (r == VOUCHER_OK)
		r = store_owner_get(c->store, o.name, &got, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to update owner '%s': %s", o.name, c->err);
		goto out;
	}
	svc_admin_audit_set(c, before, owner_json(&got));
	before = NULL;
	r = svc_admin_reply(resp, 200, owner_json(&got));
out:
	json_decref(before);
	store_owner_clear(&o);
	store_owner_clear(&got);
	return r;
}

static voucher_err owners_delete(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_owner o = {0};
	voucher_err r;

	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	r = store_owner_delete(c->store, o.name, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to delete owner '%s': %s", o.name, c->err);
	} else {
		svc_admin_audit_set(c, owner_json(&o), NULL);
		r = svc_admin_reply(resp, 200, owner_json(&o));
	}
	store_owner_clear(&o);
	return r;
}

/* ---- deny list and CRLs ------------------------------------------------------ */

static void hex32(const uint8_t h[32], char out[65])
{
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static voucher_err owners_deny_add(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *cert = NULL, *reason = NULL;
	const struct svc_admin_field fields[] = {
	        {"cert", SVC_ADMIN_STR, true, false, PEM_MAX, &cert},
	        {"reason", SVC_ADMIN_STR, false, true, 512, &reason},
	};
	struct voucher_x509_chain *ch = NULL;
	struct store_owner o = {0};
	uint8_t h[32];
	char hex[65];
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	r = voucher_x509_chain_load_mem((const uint8_t *)cert, strlen(cert), &ch);
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL,
		                      "member 'cert' is not a PEM certificate");
		goto out;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, ch->der[0], ch->der_len[0], h) != 0) {
		r = svc_admin_problem(resp, VOUCHER_E_CRYPTO, "failed to hash the certificate");
		goto out;
	}
	r = store_owner_deny_add(c->store, o.name, h, reason, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to deny the certificate: %s", c->err);
		goto out;
	}
	hex32(h, hex);
	svc_admin_audit_set(c, NULL,
	                    json_pack("{s:s, s:s, s:o}", "owner", o.name, "sha256", hex, "reason",
	                              str_or_null(reason)));
	r = svc_admin_reply(resp, 201,
	                    json_pack("{s:s, s:s, s:o}", "owner", o.name, "sha256", hex, "reason",
	                              str_or_null(reason)));
out:
	voucher_x509_chain_free(ch);
	store_owner_clear(&o);
	return r;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static voucher_err owners_deny_remove(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *hex = svc_admin_param(c, "sha256");
	struct store_owner o = {0};
	uint8_t h[32];
	voucher_err r;

	if (!hex || strlen(hex) != 64)
		return svc_admin_problem(resp, VOUCHER_E_NOT_FOUND,
		                         "the path must end in the certificate's SHA-256 (64 hex)");
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return svc_admin_problem(resp, VOUCHER_E_NOT_FOUND,
			                         "'%s' is not a lower-case hex SHA-256", hex);
		h[i] = (uint8_t)(hi << 4 | lo);
	}
	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	r = store_owner_deny_remove(c->store, o.name, h, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		r = svc_admin_problem(resp, r, "failed to remove the denial: %s", c->err);
	else {
		svc_admin_audit_set(c, json_pack("{s:s, s:s}", "owner", o.name, "sha256", hex),
		                    NULL);
		r = svc_admin_reply(resp, 200,
		                    json_pack("{s:s, s:s}", "owner", o.name, "sha256", hex));
	}
	store_owner_clear(&o);
	return r;
}

/* A CRL is accepted only when the owner's domain CA signed it. */
static voucher_err crl_check(const struct store_owner *o, const char *pem, struct store_crl *out,
                             char *why, size_t whylen)
{
	gnutls_x509_crl_t crl = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {NULL, 0};
	gnutls_datum_t ca = {(unsigned char *)o->domain_ca_pem, (unsigned)strlen(o->domain_ca_pem)};
	unsigned verify = 0;
	voucher_err r = VOUCHER_EINVAL;
	time_t next;

	if (gnutls_x509_crl_init(&crl) < 0)
		return VOUCHER_ENOMEM;
	if (gnutls_x509_crl_import(crl, &in, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(why, whylen, "member 'crl' is not a PEM X.509 CRL");
		goto out;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0 ||
	    gnutls_x509_trust_list_add_trust_mem(tl, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0) {
		snprintf(why, whylen, "the owner's domain CA is unusable");
		goto out;
	}
	{
		gnutls_x509_crt_t *cas = NULL;
		unsigned ncas = 0;
		bool ok = false;
		if (gnutls_x509_crt_list_import2(&cas, &ncas, &ca, GNUTLS_X509_FMT_PEM, 0) >= 0) {
			for (unsigned i = 0; i < ncas && !ok; i++)
				ok = gnutls_x509_crl_verify(crl, &cas[i], 1, 0, &verify) >= 0 &&
				     verify == 0;
			for (unsigned i = 0; i < ncas; i++)
				gnutls_x509_crt_deinit(cas[i]);
			gnutls_free(cas);
		}
		if (!ok) {
			snprintf(why, whylen, "the CRL is not signed by the owner's domain CA");
			goto out;
		}
	}
	if (gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &der) < 0) {
		snprintf(why, whylen, "failed to encode the CRL");
		goto out;
	}
	out->der = malloc(der.size);
	if (!out->der) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	memcpy(out->der, der.data, der.size);
	out->der_len = der.size;
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out->sha256);
	next = gnutls_x509_crl_get_next_update(crl);
	out->next_update = next == (time_t)-1 ? 0 : (int64_t)next;
	r = VOUCHER_OK;
out:
	gnutls_free(der.data);
	gnutls_x509_trust_list_deinit(tl, 1);
	gnutls_x509_crl_deinit(crl);
	return r;
}

static json_t *crl_json(const struct store_crl *c)
{
	char hex[65];
	hex32(c->sha256, hex);
	return json_pack("{s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)c->id, "owner", c->owner,
	                 "sha256", hex, "next_update", (json_int_t)c->next_update, "created",
	                 (json_int_t)c->created);
}

static voucher_err owners_crl_add(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *pem = NULL;
	const struct svc_admin_field fields[] = {
	        {"crl", SVC_ADMIN_STR, true, false, 1024 * 1024, &pem},
	};
	struct store_owner o = {0};
	struct store_crl crl = {0};
	char why[256] = "";
	int64_t id = 0;
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, 1, resp)) != VOUCHER_OK)
		return r;
	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	if ((r = crl_check(&o, pem, &crl, why, sizeof(why))) != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "%s", why[0] ? why : "out of memory");
		goto out;
	}
	crl.owner = o.name;
	r = store_owner_crl_add(c->store, &crl, &id, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to store the CRL: %s", c->err);
		goto out;
	}
	crl.id = id;
	crl.created = time(NULL);
	svc_admin_audit_set(c, NULL, crl_json(&crl));
	r = svc_admin_reply(resp, 201, crl_json(&crl));
out:
	crl.owner = NULL;
	store_crl_clear(&crl);
	store_owner_clear(&o);
	return r;
}

static voucher_err owners_crl_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_owner o = {0};
	struct store_page page;
	struct store_crl *v = NULL;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	if ((r = svc_admin_page_start(c, resp, "crls", &page)) == VOUCHER_OK)
		r = store_owner_crl_list(c->store, o.name, &page, &v, &n, c->err, sizeof(c->err));
	store_owner_clear(&o);
	if (r != VOUCHER_OK)
		return resp->status ? r
		                    : svc_admin_problem(resp, r, "failed to list CRLs: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++)
		if (json_array_append_new(items, crl_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	store_crl_list_free(v, n);
	return svc_admin_reply_page(c, resp, "crls", items, page.next);
}

static voucher_err owners_crl_delete(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_owner o = {0};
	int64_t id;
	voucher_err r;

	if ((r = svc_admin_param_id(c, resp, "id", &id)) != VOUCHER_OK)
		return r;
	if ((r = owner_load(c, resp, &o)) != VOUCHER_OK)
		return r;
	r = store_owner_crl_delete(c->store, o.name, id, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to delete CRL %lld: %s", (long long)id,
		                      c->err);
	} else {
		svc_admin_audit_set(
		        c, json_pack("{s:s, s:I}", "owner", o.name, "id", (json_int_t)id), NULL);
		r = svc_admin_reply(resp, 200,
		                    json_pack("{s:s, s:I}", "owner", o.name, "id", (json_int_t)id));
	}
	store_owner_clear(&o);
	return r;
}

/* ---- devices --------------------------------------------------------------- */

/* One device description from JSON, checked. Strings borrow from obj. */
static voucher_err device_from_json(json_t *obj, struct store_device *d, char *why, size_t whylen)
{
	const char *serial = NULL, *owner = NULL, *mode = NULL, *acu = NULL, *issuer = NULL;
	void *iter;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj)) {
		snprintf(why, whylen, "a device must be a JSON object");
		return VOUCHER_E_BAD_TYPE;
	}
	for (iter = json_object_iter(obj); iter; iter = json_object_iter_next(obj, iter)) {
		const char *k = json_object_iter_key(iter);
		json_t *v = json_object_iter_value(iter);
		const char **slot = strcmp(k, "serial") == 0                         ? &serial
		                    : strcmp(k, "owner") == 0                        ? &owner
		                    : strcmp(k, "mode") == 0                         ? &mode
		                    : strcmp(k, "additional_configuration_url") == 0 ? &acu
		                    : strcmp(k, "idevid_issuer") == 0                ? &issuer
		                                                                     : NULL;
		if (!slot) {
			snprintf(why, whylen, "unknown member '%.64s'", k);
			return VOUCHER_E_UNKNOWN_MEMBER;
		}
		if (json_is_null(v) && slot != &serial)
			continue;
		if (!json_is_string(v) || json_string_length(v) > URL_MAX) {
			snprintf(why, whylen, "member '%s' must be a string of at most %d bytes", k,
			         URL_MAX);
			return VOUCHER_E_BAD_TYPE;
		}
		*slot = json_string_value(v);
	}
	if (!serial) {
		snprintf(why, whylen, "member 'serial' is required");
		return VOUCHER_E_MISSING;
	}
	if (check_serial(serial, why, whylen) != VOUCHER_OK ||
	    (issuer && check_issuer(issuer, why, whylen) != VOUCHER_OK) ||
	    (acu && check_url(acu, "additional_configuration_url", why, whylen) != VOUCHER_OK))
		return VOUCHER_EINVAL;
	if (mode && store_mode_parse(mode, &d->mode) != VOUCHER_OK) {
		snprintf(why, whylen,
		         "member 'mode' must be \"redirect\", \"est-domain\" or \"enroll-here\"");
		return VOUCHER_EINVAL;
	}
	d->serial = (char *)serial;
	d->owner = (char *)owner;
	d->additional_configuration_url = (char *)acu;
	d->idevid_issuer = (char *)issuer;
	return VOUCHER_OK;
}

static voucher_err device_put_checked(struct svc_admin_ctx *c, const struct store_device *d,
                                      char *why, size_t whylen)
{
	voucher_err r = store_device_put(c->store, d, STORE_PUT_CREATE, c->err, sizeof(c->err));

	if (r == VOUCHER_E_NOT_FOUND) {
		snprintf(why, whylen, "owner '%.255s' does not exist", d->owner);
		return VOUCHER_EINVAL;
	}
	if (r == VOUCHER_E_CONFLICT)
		snprintf(why, whylen, "device '%.64s' already exists", d->serial);
	else if (r != VOUCHER_OK)
		snprintf(why, whylen, "%s", c->err);
	return r;
}

static void device_location(struct svc_resp *resp, const struct store_device *d)
{
	char loc[512];
	snprintf(loc, sizeof(loc), SVC_ADMIN_PREFIX "/devices/%s%s%s", d->serial,
	         d->idevid_issuer ? "?idevid_issuer=" : "",
	         d->idevid_issuer ? d->idevid_issuer : "");
	/* base64 may hold '+' and '/': the query is informational only. */
	svc_resp_header(resp, "Location", loc);
}

static voucher_err devices_create(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_device d, got = {0};
	char why[320];
	voucher_err r;

	if ((r = device_from_json(c->body, &d, why, sizeof(why))) != VOUCHER_OK)
		return svc_admin_problem(resp, r, "%s", why);
	if ((r = device_put_checked(c, &d, why, sizeof(why))) != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to create the device: %s", why);
	r = store_device_get(c->store, d.serial, d.idevid_issuer, &got, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to read the device back: %s", c->err);
	svc_admin_audit_set(c, NULL, device_json(&got));
	r = svc_admin_reply(resp, 201, device_json(&got));
	if (r == VOUCHER_OK)
		device_location(resp, &got);
	store_device_clear(&got);
	return r;
}

/* The device of the path (and ?idevid_issuer=), visible to the token. */
static voucher_err device_load(struct svc_admin_ctx *c, struct svc_resp *resp,
                               struct store_device *d)
{
	const char *serial = svc_admin_param(c, "serial");
	const char *issuer = svc_req_query(c->req, "idevid_issuer");
	voucher_err r;

	r = store_device_get(c->store, serial, issuer && *issuer ? issuer : NULL, d, c->err,
	                     sizeof(c->err));
	if (r == VOUCHER_OK && !owner_allowed(c, d->owner)) {
		store_device_clear(d);
		r = VOUCHER_E_NOT_FOUND;
	}
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "device '%s': %s", serial,
		                         r == VOUCHER_E_NOT_FOUND ? "no such device" : c->err);
	return VOUCHER_OK;
}

static voucher_err devices_get(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_device d = {0};
	voucher_err r;

	if ((r = device_load(c, resp, &d)) != VOUCHER_OK)
		return r;
	r = svc_admin_reply(resp, 200, device_json(&d));
	store_device_clear(&d);
	return r;
}

static voucher_err devices_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *owner = svc_req_query(c->req, "owner");
	const char *mode = svc_req_query(c->req, "mode");
	struct store_page page;
	struct store_device *v = NULL;
	enum store_mode m = STORE_MODE_REDIRECT;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if (owner_scoped(c)) {
		if (owner && strcmp(owner, c->token->owner) != 0)
			return svc_admin_reply_page(c, resp, "devices", json_array(), 0);
		owner = c->token->owner;
	}
	if (mode && store_mode_parse(mode, &m) != VOUCHER_OK)
		return svc_admin_problem(resp, VOUCHER_EINVAL,
		                         "mode must be redirect, est-domain or enroll-here");
	if ((r = svc_admin_page_start(c, resp, "devices", &page)) != VOUCHER_OK)
		return r;
	r = store_device_list(c->store, owner, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to list devices: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++) {
		if (mode && v[i].mode != m)
			continue; /* a filtered page may be short; next still says where to go on */
		if (json_array_append_new(items, device_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	}
	store_device_list_free(v, n);
	return svc_admin_reply_page(c, resp, "devices", items, page.next);
}

static voucher_err devices_patch(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	json_t *mode = NULL, *acu = NULL, *owner = NULL;
	const struct svc_admin_field fields[] = {
	        {"mode", SVC_ADMIN_ANY, false, false, 0, &mode},
	        {"additional_configuration_url", SVC_ADMIN_ANY, false, true, 0, &acu},
	        {"owner", SVC_ADMIN_ANY, false, true, 0, &owner},
	};
	struct store_device d = {0}, got = {0};
	json_t *before = NULL;
	char why[256];
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	if (owner && owner_scoped(c))
		return svc_admin_problem(resp, VOUCHER_E_FORBIDDEN,
		                         "an owner-scoped token cannot change a device's owner");
	if ((r = device_load(c, resp, &d)) != VOUCHER_OK)
		return r;
	before = device_json(&d);
	if (mode && (!json_is_string(mode) ||
	             store_mode_parse(json_string_value(mode), &d.mode) != VOUCHER_OK)) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL,
		                      "member 'mode' must be \"redirect\", \"est-domain\" or "
		                      "\"enroll-here\"");
		goto out;
	}
	if (acu) {
		if (!json_is_null(acu) &&
		    (!json_is_string(acu) ||
		     check_url(json_string_value(acu), "additional_configuration_url", why,
		               sizeof(why)) != VOUCHER_OK)) {
			r = svc_admin_problem(resp, VOUCHER_EINVAL,
			                      "member 'additional_configuration_url' must be an "
			                      "https:// URL or null");
			goto out;
		}
		if ((r = set_field(&d.additional_configuration_url,
		                   json_is_null(acu) ? NULL : json_string_value(acu))) !=
		    VOUCHER_OK)
			goto out;
	}
	if (owner) {
		if (!json_is_null(owner) && !json_is_string(owner)) {
			r = svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
			                      "member 'owner' must be a string or null");
			goto out;
		}
		if ((r = set_field(&d.owner,
		                   json_is_null(owner) ? NULL : json_string_value(owner))) !=
		    VOUCHER_OK)
			goto out;
	}
	r = store_device_put(c->store, &d, STORE_PUT_UPDATE, c->err, sizeof(c->err));
	if (r == VOUCHER_E_NOT_FOUND && d.owner) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL, "owner '%s' does not exist", d.owner);
		goto out;
	}
	if (r == VOUCHER_OK)
		r = store_device_get(c->store, d.serial, d.idevid_issuer, &got, c->err,
		                     sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to update device '%s': %s", d.serial,
		                      c->err);
		goto out;
	}
	svc_admin_audit_set(c, before, device_json(&got));
	before = NULL;
	r = svc_admin_reply(resp, 200, device_json(&got));
out:
	json_decref(before);
	store_device_clear(&d);
	store_device_clear(&got);
	return r;
}

static voucher_err devices_delete(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_device d = {0};
	voucher_err r;

	if ((r = device_load(c, resp, &d)) != VOUCHER_OK)
		return r;
	r = store_device_delete(c->store, d.serial, d.idevid_issuer, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to delete device '%s': %s", d.serial,
		                      c->err);
	} else {
		svc_admin_audit_set(c, device_json(&d), NULL);
		r = svc_admin_reply(resp, 200, device_json(&d));
	}
	store_device_clear(&d);
	return r;
}

/* Transfer of ownership: the audit events stay with the device, and the
 * previous owner keeps access to the events of its time. */
static voucher_err devices_transfer(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *owner = NULL;
	const struct svc_admin_field fields[] = {
	        {"owner", SVC_ADMIN_STR, true, true, 255, &owner},
	};
	struct store_device d = {0}, got = {0};
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, 1, resp)) != VOUCHER_OK)
		return r;
	if ((r = device_load(c, resp, &d)) != VOUCHER_OK)
		return r;
	r = store_device_set_owner(c->store, d.serial, d.idevid_issuer, owner, c->err,
	                           sizeof(c->err));
	if (r == VOUCHER_E_NOT_FOUND && owner) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL, "owner '%s' does not exist", owner);
		goto out;
	}
	if (r == VOUCHER_OK)
		r = store_device_get(c->store, d.serial, d.idevid_issuer, &got, c->err,
		                     sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to transfer device '%s': %s", d.serial,
		                      c->err);
		goto out;
	}
	svc_admin_audit_set(c, device_json(&d), device_json(&got));
	r = svc_admin_reply(resp, 200, device_json(&got));
out:
	store_device_clear(&d);
	store_device_clear(&got);
	return r;
}

/* ---- bulk import ------------------------------------------------------------- */

/* One CSV field (RFC 4180: quotes, doubled quotes). *p advances past the
 * field and its separator; *eol is set at the end of a record. */
static voucher_err csv_field(const char **p, struct brski_buf *out, bool *eol)
{
	const char *s = *p;

	brski_buf_reset(out);
	*eol = false;
	if (*s == '"') {
		s++;
		for (;;) {
			if (!*s)
				return VOUCHER_E_MALFORMED;
			if (*s == '"') {
				if (s[1] == '"') {
					if (brski_buf_putc(out, '"') != VOUCHER_OK)
						return VOUCHER_E_TOO_LARGE;
					s += 2;
					continue;
				}
				s++;
				break;
			}
			if (brski_buf_putc(out, (uint8_t)*s++) != VOUCHER_OK)
				return VOUCHER_E_TOO_LARGE;
		}
	} else {
		while (*s && *s != ',' && *s != '\n' && *s != '\r')
			if (brski_buf_putc(out, (uint8_t)*s++) != VOUCHER_OK)
				return VOUCHER_E_TOO_LARGE;
	}
	if (*s == ',') {
		s++;
	} else if (*s == '\r' || *s == '\n' || !*s) {
		if (*s == '\r')
			s++;
		if (*s == '\n')
			s++;
		*eol = true;
	} else {
		return VOUCHER_E_MALFORMED;
	}
	*p = s;
	return VOUCHER_OK;
}

static const char *const csv_columns[] = {"serial", "owner", "mode", "additional_configuration_url",
                                          "idevid_issuer"};
#define N_CSV_COLUMNS 5

/* CSV with a header row naming some of csv_columns, to a JSON array of
 * device objects (empty cells are absent members). */
static voucher_err csv_to_json(const char *csv, json_t **out, char *why, size_t whylen)
{
	struct brski_buf f;
	int col[N_CSV_COLUMNS + 1];
	size_t ncols = 0, line = 1;
	const char *p = csv;
	json_t *arr = json_array();
	voucher_err r = VOUCHER_OK;
	bool eol = false;

	*out = NULL;
	brski_buf_init(&f, URL_MAX + 1);
	if (!arr) {
		r = VOUCHER_ENOMEM;
		goto out;
	}
	while (!eol) {
		int idx = -1;
		if ((r = csv_field(&p, &f, &eol)) != VOUCHER_OK)
			break;
		for (int i = 0; i < N_CSV_COLUMNS; i++)
			if (strcmp(brski_buf_str(&f), csv_columns[i]) == 0)
				idx = i;
		if (idx < 0 || ncols == N_CSV_COLUMNS) {
			snprintf(
			        why, whylen,
			        "CSV line 1: unknown column '%.64s' (columns: serial, owner, mode, "
			        "additional_configuration_url, idevid_issuer)",
			        brski_buf_str(&f));
			r = VOUCHER_EINVAL;
			goto out;
		}
		col[ncols++] = idx;
	}
	if (r != VOUCHER_OK) {
		snprintf(why, whylen, "CSV line 1: malformed header");
		goto out;
	}
	while (*p) {
		json_t *row = json_object();
		size_t n = 0;
		line++;
		if (!row) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
		eol = false;
		while (!eol) {
			if ((r = csv_field(&p, &f, &eol)) != VOUCHER_OK || n >= ncols) {
				json_decref(row);
				snprintf(why, whylen, "CSV line %zu: %s", line,
				         r != VOUCHER_OK ? "malformed field"
				                         : "more fields than columns");
				r = VOUCHER_EINVAL;
				goto out;
			}
			if (f.len > 0 && json_object_set_new(row, csv_columns[col[n]],
			                                     json_string(brski_buf_str(&f))) != 0) {
				json_decref(row);
				r = VOUCHER_ENOMEM;
				goto out;
			}
			n++;
		}
		if (n == 1 && json_object_size(row) == 0) { /* blank line */
			json_decref(row);
			line--;
			continue;
		}
		if (json_array_append_new(arr, row) != 0) {
			r = VOUCHER_ENOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	brski_buf_free(&f);
	return r;
}

/* All or nothing: the framework's transaction is rolled back unless every
 * row is stored. The answer lists every row that failed, with its reason. */
static voucher_err devices_import(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	json_t *devices = NULL, *csvj = NULL, *list = NULL, *errors = NULL, *doc = NULL;
	const struct svc_admin_field fields[] = {
	        {"devices", SVC_ADMIN_ANY, false, false, 0, &devices},
	        {"csv", SVC_ADMIN_ANY, false, false, 0, &csvj},
	};
	char why[320] = "";
	size_t n, created = 0;
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, 2, resp)) != VOUCHER_OK)
		return r;
	if (!devices == !csvj)
		return svc_admin_problem(
		        resp, VOUCHER_E_MISSING,
		        "give exactly one of 'devices' (an array of device objects) "
		        "or 'csv' (text with a header row)");
	if (csvj) {
		if (!json_is_string(csvj))
			return svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
			                         "member 'csv' must be a string");
		if ((r = csv_to_json(json_string_value(csvj), &list, why, sizeof(why))) !=
		    VOUCHER_OK)
			return svc_admin_problem(resp, r, "%s", why[0] ? why : "out of memory");
	} else {
		if (!json_is_array(devices))
			return svc_admin_problem(resp, VOUCHER_E_BAD_TYPE,
			                         "member 'devices' must be an array");
		list = json_incref(devices);
	}
	n = json_array_size(list);
	if (n == 0 || n > IMPORT_MAX) {
		json_decref(list);
		return svc_admin_problem(resp, VOUCHER_EINVAL, "an import holds 1..%d devices",
		                         IMPORT_MAX);
	}
	errors = json_array();
	for (size_t i = 0; errors && i < n; i++) {
		struct store_device d;
		voucher_err e = device_from_json(json_array_get(list, i), &d, why, sizeof(why));
		if (e == VOUCHER_OK)
			e = device_put_checked(c, &d, why, sizeof(why));
		if (e == VOUCHER_OK) {
			created++;
			continue;
		}
		if (e == VOUCHER_E_STORE) {
			/* the transaction is gone: no point going on */
			r = e;
		}
		json_array_append_new(
		        errors, json_pack("{s:I, s:s}", "row", (json_int_t)(i + 1), "error", why));
		if (r == VOUCHER_E_STORE)
			break;
	}
	if (!errors) {
		json_decref(list);
		return svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
	}
	if (json_array_size(errors) > 0) {
		char *text;
		voucher_err status_err = r == VOUCHER_E_STORE ? r : VOUCHER_EINVAL;
		doc = json_pack("{s:s, s:s, s:i, s:s, s:O}", "type", "about:blank", "title",
		                svc_http_reason(svc_http_status(status_err)), "status",
		                (int)svc_http_status(status_err), "detail",
		                "the import was refused and nothing was stored; see errors",
		                "errors", errors);
		text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (text)
			svc_resp_set(resp, svc_http_status(status_err), SVC_ADMIN_PROBLEM_TYPE,
			             text, strlen(text));
		else
			svc_admin_problem(resp, VOUCHER_ENOMEM, "out of memory");
		free(text);
		json_decref(doc);
		json_decref(errors);
		json_decref(list);
		return status_err;
	}
	svc_admin_audit_set(c, NULL, json_pack("{s:I}", "imported", (json_int_t)created));
	r = svc_admin_reply(
	        resp, 201,
	        json_pack("{s:I, s:o}", "imported", (json_int_t)created, "errors", errors));
	json_decref(list);
	return r;
}

/* ---- the rows --------------------------------------------------------------- */

static const struct svc_admin_param device_filters[] = {
        {"owner", "only this owner's devices"},
        {"mode", "only devices in this mode (redirect, est-domain, enroll-here)"},
        {NULL, NULL},
};
static const struct svc_admin_param device_key[] = {
        {"idevid_issuer", "base64 idevid-issuer, for a serial that is not unique"},
        {NULL, NULL},
};

#define OWNER_JSON                                                                                 \
	"an owner: {name, domain_ca (PEM), registrar_url, est_url, est_pin (PEM), enroll_here, "   \
	"created, updated}"
#define DEVICE_JSON                                                                                \
	"a device: {serial, idevid_issuer, owner, mode, additional_configuration_url, created, "   \
	"updated}"
#define DEVICE_IN                                                                                  \
	"{serial, owner?, mode?: redirect|est-domain|enroll-here, additional_configuration_url?, " \
	"idevid_issuer? (base64)}"

const struct svc_admin_route svc_admin_owner_routes[] = {
        {"GET", "/owners", STORE_SCOPE_READ, SVC_ADMIN_PAGED, owners_list, 200, "list owners", NULL,
         "{items: [owner...], next}", NULL, 0, NULL},
        {"POST", "/owners", STORE_SCOPE_WRITE, SVC_ADMIN_JSON, owners_create, 201,
         "create an owner; domain_ca must be a CA certificate",
         "{name, domain_ca: PEM, registrar_url?, est_url?, est_pin?: PEM, enroll_here?: bool}",
         OWNER_JSON, NULL, 0, NULL},
        {"GET", "/owners/{name}", STORE_SCOPE_READ, SVC_ADMIN_OWNER, owners_get, 200, "one owner",
         NULL, OWNER_JSON, NULL, 0, NULL},
        {"PATCH", "/owners/{name}", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER | SVC_ADMIN_JSON,
         owners_patch, 200, "change an owner (owner-scoped tokens: registrar_url and est_pin only)",
         "{domain_ca?, registrar_url?, est_url?, est_pin?, enroll_here?} (null clears)", OWNER_JSON,
         NULL, 0, NULL},
        {"DELETE", "/owners/{name}", STORE_SCOPE_ADMIN, 0, owners_delete, 200,
         "delete an owner without devices", NULL, OWNER_JSON " as it was", NULL, 0, NULL},
        {"POST", "/owners/{name}/denied", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER | SVC_ADMIN_JSON,
         owners_deny_add, 201, "refuse a registrar certificate from now on", "{cert: PEM, reason?}",
         "{owner, sha256, reason}", NULL, 0, NULL},
        {"DELETE", "/owners/{name}/denied/{sha256}", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER,
         owners_deny_remove, 200, "lift a denial", NULL, "{owner, sha256}", NULL, 0, NULL},
        {"GET", "/owners/{name}/crls", STORE_SCOPE_READ, SVC_ADMIN_OWNER | SVC_ADMIN_PAGED,
         owners_crl_list, 200, "the owner's CRLs", NULL, "{items: [{id, sha256, next_update}]}",
         NULL, 0, NULL},
        {"POST", "/owners/{name}/crls", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER | SVC_ADMIN_JSON,
         owners_crl_add, 201, "upload a CRL signed by the owner's domain CA", "{crl: PEM}",
         "{id, owner, sha256, next_update, created}", NULL, 1024 * 1024 + 1024, NULL},
        {"DELETE", "/owners/{name}/crls/{id}", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER,
         owners_crl_delete, 200, "remove a CRL", NULL, "{owner, id}", NULL, 0, NULL},
        {"GET", "/devices", STORE_SCOPE_READ, SVC_ADMIN_OWNER | SVC_ADMIN_PAGED, devices_list, 200,
         "list devices (an owner-scoped token sees its own)", NULL, "{items: [device...], next}",
         device_filters, 0, NULL},
        {"POST", "/devices", STORE_SCOPE_WRITE, SVC_ADMIN_JSON, devices_create, 201,
         "create a device (it may have no owner yet)", DEVICE_IN, DEVICE_JSON, NULL, 0, NULL},
        {"POST", "/devices/import", STORE_SCOPE_WRITE, SVC_ADMIN_JSON, devices_import, 201,
         "bulk import, all or nothing; a refusal lists every failed row",
         "{devices: [" DEVICE_IN "...]} or {csv: text with a header row of serial, owner, mode, "
         "additional_configuration_url, idevid_issuer}",
         "{imported, errors: []}; on refusal a problem with errors: [{row, error}]", NULL,
         4 * 1024 * 1024, NULL},
        {"GET", "/devices/{serial}", STORE_SCOPE_READ, SVC_ADMIN_OWNER, devices_get, 200,
         "one device, with its owner and mode", NULL, DEVICE_JSON, device_key, 0, NULL},
        {"PATCH", "/devices/{serial}", STORE_SCOPE_WRITE, SVC_ADMIN_OWNER | SVC_ADMIN_JSON,
         devices_patch, 200, "change mode or additional_configuration_url (owner: admin only)",
         "{mode?, additional_configuration_url?, owner?}", DEVICE_JSON, device_key, 0, NULL},
        {"DELETE", "/devices/{serial}", STORE_SCOPE_WRITE, 0, devices_delete, 200,
         "delete a device", NULL, DEVICE_JSON " as it was", device_key, 0, NULL},
        {"POST", "/devices/{serial}/transfer", STORE_SCOPE_WRITE, SVC_ADMIN_JSON, devices_transfer,
         200, "transfer ownership; the audit history stays", "{owner: string|null}", DEVICE_JSON,
         device_key, 0, NULL},
};
const size_t svc_admin_owner_routes_len =
        sizeof(svc_admin_owner_routes) / sizeof(svc_admin_owner_routes[0]);
