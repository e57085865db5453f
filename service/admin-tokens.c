/*
 * Admin bearer tokens: /admin/v1/tokens and /admin/v1/whoami.
 *
 * A token is 256 random bits, hex encoded; the store keeps only its
 * SHA-256, so the text is shown once, in the answer that creates it.
 */
#include <config.h> /* the build's, not service/config.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/compat.h"
#include "service/admin.h"

#define TOKEN_NAME_MAX 128

voucher_err svc_admin_token_hash(const char *token, size_t len, uint8_t out[STORE_SHA256_LEN])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, out) != 0)
		return VOUCHER_E_CRYPTO;
	return VOUCHER_OK;
}

static json_t *time_or_null(int64_t t)
{
	return t ? json_integer((json_int_t)t) : json_null();
}

json_t *svc_admin_token_json(const struct store_token *t)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:I, s:o}", "id", (json_int_t)t->id, "name",
	                 t->name ? t->name : "", "scope", store_scope_name(t->scope), "owner",
	                 t->owner ? json_string(t->owner) : json_null(), "created",
	                 (json_int_t)t->created, "revoked", time_or_null(t->revoked));
}

/* One token by id, revoked or not (the store looks tokens up by hash; a
 * one-row page starting just before id finds it by id). */
static voucher_err token_get(struct store *s, int64_t id, struct store_token *out, char *err,
                             size_t errlen)
{
	struct store_page page = {.after = id - 1, .limit = 1};
	struct store_token *v = NULL;
	size_t n = 0;
	voucher_err r;

	memset(out, 0, sizeof(*out));
	r = store_token_list(s, &page, &v, &n, err, errlen);
	if (r != VOUCHER_OK)
		return r;
	if (n == 1 && v[0].id == id) {
		*out = v[0];
		memset(&v[0], 0, sizeof(v[0]));
	} else {
		r = VOUCHER_E_NOT_FOUND;
	}
	store_token_list_free(v, n);
	return r;
}

voucher_err svc_admin_whoami(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	return svc_admin_reply(resp, 200, svc_admin_token_json(c->token));
}

voucher_err svc_admin_tokens_create(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	const char *name = NULL, *scope = NULL, *owner = NULL;
	const struct svc_admin_field fields[] = {
	        {"name", SVC_ADMIN_STR, true, false, TOKEN_NAME_MAX, &name},
	        {"scope", SVC_ADMIN_STR, true, false, 16, &scope},
	        {"owner", SVC_ADMIN_STR, false, true, 255, &owner},
	};
	uint8_t raw[SVC_ADMIN_TOKEN_BYTES];
	char text[SVC_ADMIN_TOKEN_HEX + 1], loc[96];
	struct store_token t = {0}, got = {0};
	json_t *doc = NULL;
	int64_t id = 0;
	voucher_err r;

	if ((r = svc_admin_unpack(c->body, fields, sizeof(fields) / sizeof(fields[0]), resp)) !=
	    VOUCHER_OK)
		return r;
	if (!*name)
		return svc_admin_problem(resp, VOUCHER_EINVAL, "member 'name' must not be empty");
	if (store_scope_parse(scope, &t.scope) != VOUCHER_OK)
		return svc_admin_problem(resp, VOUCHER_EINVAL,
		                         "member 'scope' must be \"read\", \"write\" or \"admin\"");
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0)
		return svc_admin_problem(resp, VOUCHER_E_CRYPTO, "failed to draw a token");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	r = svc_admin_token_hash(text, SVC_ADMIN_TOKEN_HEX, t.sha256);
	t.name = (char *)name;
	t.owner = (char *)owner;
	if (r == VOUCHER_OK)
		r = store_token_create(c->store, &t, &id, c->err, sizeof(c->err));
	if (r == VOUCHER_E_NOT_FOUND && owner) {
		r = svc_admin_problem(resp, VOUCHER_EINVAL, "owner '%s' does not exist", owner);
		goto out;
	}
	if (r == VOUCHER_OK)
		r = token_get(c->store, id, &got, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to create the token: %s", c->err);
		goto out;
	}
	svc_admin_audit_set(c, NULL, svc_admin_token_json(&got));
	doc = svc_admin_token_json(&got);
	if (!doc || json_object_set_new(doc, "token", json_string(text)) != 0) {
		json_decref(doc);
		r = svc_admin_problem(resp, VOUCHER_ENOMEM, "failed to build the answer");
		goto out;
	}
	r = svc_admin_reply(resp, 201, doc);
	snprintf(loc, sizeof(loc), SVC_ADMIN_PREFIX "/tokens/%lld", (long long)id);
	if (r == VOUCHER_OK)
		svc_resp_header(resp, "Location", loc);
out:
	explicit_bzero(text, sizeof(text));
	store_token_clear(&got);
	return r;
}

voucher_err svc_admin_tokens_list(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_page page;
	struct store_token *v = NULL;
	json_t *items;
	size_t n = 0;
	voucher_err r;

	if ((r = svc_admin_page_start(c, resp, "tokens", &page)) != VOUCHER_OK)
		return r;
	r = store_token_list(c->store, &page, &v, &n, c->err, sizeof(c->err));
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to list tokens: %s", c->err);
	items = json_array();
	for (size_t i = 0; items && i < n; i++)
		if (json_array_append_new(items, svc_admin_token_json(&v[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	store_token_list_free(v, n);
	return svc_admin_reply_page(c, resp, "tokens", items, page.next);
}

voucher_err svc_admin_tokens_get(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_token t;
	int64_t id;
	voucher_err r;

	if ((r = svc_admin_param_id(c, resp, "id", &id)) != VOUCHER_OK)
		return r;
	r = token_get(c->store, id, &t, c->err, sizeof(c->err));
	if (r == VOUCHER_E_NOT_FOUND)
		return svc_admin_problem(resp, r, "no token with id %lld", (long long)id);
	if (r != VOUCHER_OK)
		return svc_admin_problem(resp, r, "failed to read token %lld: %s", (long long)id,
		                         c->err);
	r = svc_admin_reply(resp, 200, svc_admin_token_json(&t));
	store_token_clear(&t);
	return r;
}

voucher_err svc_admin_tokens_revoke(struct svc_admin_ctx *c, struct svc_resp *resp)
{
	struct store_token before = {0}, after = {0};
	int64_t id;
	voucher_err r;

	if ((r = svc_admin_param_id(c, resp, "id", &id)) != VOUCHER_OK)
		return r;
	r = token_get(c->store, id, &before, c->err, sizeof(c->err));
	if (r == VOUCHER_E_NOT_FOUND) {
		r = svc_admin_problem(resp, r, "no token with id %lld", (long long)id);
		goto out;
	}
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to read token %lld: %s", (long long)id,
		                      c->err);
		goto out;
	}
	if (before.revoked) {
		r = svc_admin_problem(resp, VOUCHER_E_CONFLICT, "token %lld is already revoked",
		                      (long long)id);
		goto out;
	}
	r = store_token_revoke(c->store, id, c->err, sizeof(c->err));
	if (r == VOUCHER_OK)
		r = token_get(c->store, id, &after, c->err, sizeof(c->err));
	if (r != VOUCHER_OK) {
		r = svc_admin_problem(resp, r, "failed to revoke token %lld: %s", (long long)id,
		                      c->err);
		goto out;
	}
	svc_admin_audit_set(c, svc_admin_token_json(&before), svc_admin_token_json(&after));
	r = svc_admin_reply(resp, 200, svc_admin_token_json(&after));
out:
	store_token_clear(&before);
	store_token_clear(&after);
	return r;
}
