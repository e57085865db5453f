/*
 * brski pki: the daemon configurations and the pki.json manifest.
 *
 * Sections and keys are exactly those of docs/CONFIG.md: the daemons refuse
 * unknown keys, so nothing here is decorative. Every path is absolute.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "tools/pki.h"

#define CONF_MAX (64 * 1024)

void pki_origin(const struct pki_layout *l, enum pki_port p, char out[32])
{
	snprintf(out, 32, "https://127.0.0.1:%u", (unsigned)l->port[p]);
}

/* An INI file under construction; the first failed append sticks in r. */
struct ini {
	struct brski_buf b;
	voucher_err r;
};

static void ini_section(struct ini *f, const char *name)
{
	if (f->r == VOUCHER_OK)
		f->r = brski_buf_printf(&f->b, "%s[%s]\n", f->b.len > 0 ? "\n" : "", name);
}

static void ini_str(struct ini *f, const char *key, const char *value)
{
	if (f->r == VOUCHER_OK)
		f->r = brski_buf_printf(&f->b, "%s = %s\n", key, value);
}

static void ini_listen(struct ini *f, const struct pki_layout *l, enum pki_port p)
{
	if (f->r == VOUCHER_OK)
		f->r = brski_buf_printf(&f->b, "listen = 127.0.0.1:%u\n", (unsigned)l->port[p]);
}

/* A listener section: listen, cert (leaf first), key, client_cert. */
static void ini_listener(struct ini *f, const struct pki_layout *l, const char *section,
                         enum pki_port p, enum pki_id cred, const char *client_cert)
{
	ini_section(f, section);
	ini_listen(f, l, p);
	ini_str(f, "cert", l->files[cred].chain);
	ini_str(f, "key", l->files[cred].key);
	ini_str(f, "client_cert", client_cert);
}

static void ini_admin(struct ini *f, const struct pki_layout *l, enum pki_port p, enum pki_id cred)
{
	ini_listener(f, l, "admin", p, cred, "none");
	ini_str(f, "bootstrap_token_file", l->token_file);
}

static void ini_header(struct ini *f, const char *what, const char *run)
{
	brski_buf_init(&f->b, CONF_MAX);
	f->r = brski_buf_printf(&f->b,
	                        "; %s, made by `brski pki init` (a demo/test PKI).\n"
	                        "; Run: %s\n",
	                        what, run);
}

static voucher_err ini_finish(struct ini *f, const char *path, struct pki_err *err)
{
	voucher_err r = f->r;
	if (r != VOUCHER_OK)
		r = pki_fail(err, r, "failed to build %s (%s)", path, voucher_strerror(r));
	else
		r = pki_write_file(path, f->b.data, f->b.len, 0644, err);
	brski_buf_free(&f->b);
	return r;
}

static voucher_err write_masa(const struct pki_layout *l, struct pki_err *err)
{
	struct ini f;
	char run[PKI_PATH_MAX + 16];
	snprintf(run, sizeof(run), "masad -c %s", l->conf_masa);
	ini_header(&f, "masad: the MASA", run);
	ini_section(&f, "daemon");
	ini_str(&f, "role", "masa");
	ini_str(&f, "database", l->cloud_db);
	ini_listener(&f, l, "brski", PKI_PORT_MASA, PKI_MASA_TLS, "request");
	ini_admin(&f, l, PKI_PORT_MASA_ADMIN, PKI_MASA_TLS);
	ini_section(&f, "masa");
	ini_str(&f, "sign_cert", l->files[PKI_MASA_SIGN].chain);
	ini_str(&f, "sign_key", l->files[PKI_MASA_SIGN].key);
	ini_str(&f, "manufacturer_ca", l->files[PKI_MFG_CA].crt);
	/* The leaf alone: every certificate in this bundle is trusted to ask
	 * on an owner's behalf, so its issuer must not be in it. */
	ini_str(&f, "cloud_registrar_cert", l->files[PKI_CLOUD_REG].crt);
	ini_str(&f, "enroll_here_ca", l->files[PKI_CLOUD_DCA].crt);
	/* est-domain of enroll-here vouchers: the cloud registrar's EST. */
	char est_origin[32];
	pki_origin(l, PKI_PORT_CLOUD_EST, est_origin);
	ini_str(&f, "enroll_here_est_url", est_origin);
	ini_str(&f, "pinning", "domain-ca");
	return ini_finish(&f, l->conf_masa, err);
}

/* [registrar]: both cloudregd roles talk to the MASA the same way. */
static void ini_registrar(struct ini *f, const struct pki_layout *l, enum pki_id reg,
                          enum pki_id domain_ca)
{
	ini_section(f, "registrar");
	ini_str(f, "cert", l->files[reg].chain);
	ini_str(f, "key", l->files[reg].key);
	ini_str(f, "manufacturer_ca", l->files[PKI_MFG_CA].crt);
	ini_str(f, "masa_trust", l->files[PKI_TLS_CA].crt);
	ini_str(f, "domain_ca", l->files[domain_ca].crt);
}

static void ini_local_ca(struct ini *f, const struct pki_layout *l, enum pki_id ca)
{
	ini_section(f, "ca");
	ini_str(f, "backend", "local");
	ini_str(f, "cert", l->files[ca].crt);
	ini_str(f, "key", l->files[ca].key);
}

static voucher_err write_cloud(const struct pki_layout *l, struct pki_err *err)
{
	struct ini f;
	char run[PKI_PATH_MAX + 16];
	snprintf(run, sizeof(run), "cloudregd -c %s", l->conf_cloud);
	ini_header(&f, "cloudregd: the cloud registrar (with the enroll-here EST server)", run);
	ini_section(&f, "daemon");
	ini_str(&f, "role", "cloud");
	ini_str(&f, "database", l->cloud_db);
	/* Pledges must present their IDevID to the cloud registrar. */
	ini_listener(&f, l, "brski", PKI_PORT_CLOUD, PKI_CLOUD_REG, "require");
	ini_listener(&f, l, "est", PKI_PORT_CLOUD_EST, PKI_CLOUD_EST, "request");
	ini_admin(&f, l, PKI_PORT_CLOUD_ADMIN, PKI_CLOUD_REG);
	ini_registrar(&f, l, PKI_CLOUD_REG, PKI_CLOUD_DCA);
	ini_local_ca(&f, l, PKI_CLOUD_DCA);
	return ini_finish(&f, l->conf_cloud, err);
}

static voucher_err write_owner(const struct pki_layout *l, struct pki_err *err)
{
	struct ini f;
	char run[PKI_PATH_MAX + 16];
	snprintf(run, sizeof(run), "cloudregd -c %s", l->conf_owner);
	ini_header(&f, "cloudregd: the registrar of owner " PKI_OWNER_NAME, run);
	ini_section(&f, "daemon");
	ini_str(&f, "role", "registrar");
	ini_str(&f, "database", l->owner_db);
	ini_listener(&f, l, "brski", PKI_PORT_OWNER, PKI_OWNER_REG, "request");
	ini_listener(&f, l, "est", PKI_PORT_OWNER_EST, PKI_OWNER_EST, "request");
	ini_admin(&f, l, PKI_PORT_OWNER_ADMIN, PKI_OWNER_REG);
	ini_registrar(&f, l, PKI_OWNER_REG, PKI_OWNER_DCA);
	if (l->acme_directory == NULL) {
		ini_local_ca(&f, l, PKI_OWNER_DCA);
		ini_str(&f, "subdomain", PKI_OWNER_SUBDOMAIN);
	} else {
		ini_section(&f, "ca");
		ini_str(&f, "backend", "acme");
		ini_str(&f, "subdomain", PKI_OWNER_SUBDOMAIN);
		ini_section(&f, "acme");
		ini_str(&f, "directory", l->acme_directory);
		ini_str(&f, "trust", l->acme_trust);
		ini_str(&f, "challenge", "http-01");
		ini_str(&f, "http01_listen", l->acme_http01_listen);
	}
	return ini_finish(&f, l->conf_owner, err);
}

voucher_err pki_write_configs(const struct pki_layout *l, struct pki_err *err)
{
	voucher_err r;
	if ((r = write_masa(l, err)) != VOUCHER_OK || (r = write_cloud(l, err)) != VOUCHER_OK ||
	    (r = write_owner(l, err)) != VOUCHER_OK)
		return r;
	return VOUCHER_OK;
}

/* {"cert": chain or CA certificate, "key": key} */
static json_t *cert_key(const char *cert, const char *key)
{
	return json_pack("{s:s, s:s}", "cert", cert, "key", key);
}

/* {"url": origin, "cert": leaf first, "key": key} */
static json_t *service(const struct pki_layout *l, enum pki_port p, enum pki_id cred)
{
	char url[32];
	pki_origin(l, p, url);
	return json_pack("{s:s, s:s, s:s}", "url", url, "cert", l->files[cred].chain, "key",
	                 l->files[cred].key);
}

voucher_err pki_write_manifest(const struct pki_layout *l, struct pki_err *err)
{
	const struct pki_files *f = l->files;
	char masa[32], cloud[32], masa_admin[32], cloud_admin[32];
	json_error_t jerr;
	json_t *root = NULL, *pledges = NULL;
	char *text = NULL;
	voucher_err r;

	pki_origin(l, PKI_PORT_MASA, masa);
	pki_origin(l, PKI_PORT_CLOUD, cloud);
	pki_origin(l, PKI_PORT_MASA_ADMIN, masa_admin);
	pki_origin(l, PKI_PORT_CLOUD_ADMIN, cloud_admin);

	pledges = json_array();
	for (size_t i = 0; pledges != NULL && i < l->npledges; i++) {
		const struct pki_pledge *p = &l->pledges[i];
		if (json_array_append_new(pledges,
		                          json_pack("{s:s, s:s, s:s}", "serial", p->serial, "cert",
		                                    p->files.chain, "key", p->files.key)) != 0) {
			json_decref(pledges);
			pledges = NULL;
		}
	}
	/* "o" steals each reference, also when json_pack_ex fails. */
	root = json_pack_ex(&jerr, 0,
	                    "{s:s, s:o, s:o,"
	                    " s:{s:s, s:s, s:s, s:s, s:s, s:s},"
	                    " s:{s:s, s:s, s:s, s:o, s:o},"
	                    " s:{s:s, s:s, s:o, s:o, s:o},"
	                    " s:{s:s, s:s, s:s},"
	                    " s:{s:s, s:s, s:s}}",
	                    "tls_ca", f[PKI_TLS_CA].crt, "manufacturer_ca",
	                    cert_key(f[PKI_MFG_CA].crt, f[PKI_MFG_CA].key), "pledges", pledges,
	                    /* masa */
	                    "masa", "url", masa, "sign_cert", f[PKI_MASA_SIGN].chain, "sign_key",
	                    f[PKI_MASA_SIGN].key, "ca_cert", f[PKI_MASA_CA].crt, "tls_cert",
	                    f[PKI_MASA_TLS].chain, "tls_key", f[PKI_MASA_TLS].key,
	                    /* cloud_registrar */
	                    "cloud_registrar", "url", cloud, "cert", f[PKI_CLOUD_REG].chain, "key",
	                    f[PKI_CLOUD_REG].key, "domain_ca",
	                    cert_key(f[PKI_CLOUD_DCA].crt, f[PKI_CLOUD_DCA].key), "est",
	                    service(l, PKI_PORT_CLOUD_EST, PKI_CLOUD_EST),
	                    /* owner */
	                    "owner", "name", PKI_OWNER_NAME, "subdomain", PKI_OWNER_SUBDOMAIN,
	                    "domain_ca", cert_key(f[PKI_OWNER_DCA].crt, f[PKI_OWNER_DCA].key),
	                    "registrar", service(l, PKI_PORT_OWNER, PKI_OWNER_REG), "est",
	                    service(l, PKI_PORT_OWNER_EST, PKI_OWNER_EST),
	                    /* admin, configs */
	                    "admin", "token_file", l->token_file, "masa_url", masa_admin,
	                    "cloudreg_url", cloud_admin, "configs", "masa", l->conf_masa,
	                    "cloudreg", l->conf_cloud, "owner_registrar", l->conf_owner);
	if (root == NULL)
		return pki_fail(err, VOUCHER_ENOMEM, "failed to build %s (%s)", l->manifest,
		                jerr.text);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return pki_fail(err, VOUCHER_ENOMEM, "failed to encode %s", l->manifest);
	size_t n = strlen(text);
	/* A final newline, as text files have. */
	char *nl = realloc(text, n + 2);
	if (nl == NULL) {
		free(text);
		return pki_fail(err, VOUCHER_ENOMEM, "failed to encode %s", l->manifest);
	}
	nl[n] = '\n';
	nl[n + 1] = '\0';
	r = pki_write_file(l->manifest, nl, n + 1, 0644, err);
	free(nl);
	return r;
}
