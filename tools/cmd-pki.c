/*
 * brski pki init: a complete demo/test PKI, the three daemon configurations
 * and the pki.json manifest that other tools and the tests read.
 *
 * What is issued is the table `creds` below; pki-cert.c turns a row into a
 * certificate, pki-conf.c writes the configurations and the manifest.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/compat.h"
#include "common/str.h"
#include "tools/brski.h"
#include "tools/pki.h"

#define ORG_MFG "brski-cloud demo manufacturer"
#define SELF    (-1)

#define PLEDGES_DEFAULT       3
#define PLEDGES_MAX           9999
#define HTTP01_LISTEN_DEFAULT "127.0.0.1:5002"

/* One row per credential, issuers before what they sign (enum pki_id). */
static const struct cred_row {
	enum pki_profile profile;
	int issuer;       /* enum pki_id, or SELF */
	const char *name; /* as in pki.json */
	const char *file; /* DIR/<file>.crt, .chain.pem, .key */
	const char *org;
	const char *cn;
} creds[PKI_NCREDS] = {
        /* the implicit trust anchor of pledges and registrars */
        [PKI_TLS_CA] = {PKI_PROFILE_ROOT_CA, SELF, "tls_ca", "tls-ca", ORG_MFG,
                        "brski demo TLS CA"},
        /* issues the pledges' IDevIDs */
        [PKI_MFG_CA] = {PKI_PROFILE_ROOT_CA, SELF, "manufacturer_ca", "manufacturer-ca", ORG_MFG,
                        "brski demo manufacturer CA"},
        /* the pledges' voucher trust anchor */
        [PKI_MASA_CA] = {PKI_PROFILE_ROOT_CA, SELF, "masa.ca_cert", "masa-ca", ORG_MFG,
                         "brski demo MASA CA"},
        [PKI_MASA_SIGN] = {PKI_PROFILE_SIGNER, PKI_MASA_CA, "masa.sign_cert", "masa-sign", ORG_MFG,
                           "brski demo MASA voucher signer"},
        [PKI_MASA_TLS] = {PKI_PROFILE_SERVER, PKI_TLS_CA, "masa.tls_cert", "masa-tls", ORG_MFG,
                          "brski demo MASA"},
        /* TLS server toward pledges, client toward the MASA, signs RVRs */
        [PKI_CLOUD_REG] = {PKI_PROFILE_REGISTRAR, PKI_TLS_CA, "cloud_registrar", "cloud-registrar",
                           ORG_MFG, "brski demo cloud registrar"},
        /* pinned in enroll-here vouchers; issues what the cloud EST enrolls */
        [PKI_CLOUD_DCA] = {PKI_PROFILE_ROOT_CA, SELF, "cloud_registrar.domain_ca",
                           "cloud-domain-ca", ORG_MFG, "brski demo cloud registrar domain CA"},
        [PKI_CLOUD_EST] = {PKI_PROFILE_SERVER, PKI_CLOUD_DCA, "cloud_registrar.est", "cloud-est",
                           ORG_MFG, "brski demo cloud EST server"},
        /* the owner's own PKI: pinned in its vouchers (pinning = domain-ca) */
        [PKI_OWNER_DCA] = {PKI_PROFILE_ROOT_CA, SELF, "owner.domain_ca", "owner-domain-ca",
                           PKI_OWNER_NAME, PKI_OWNER_NAME " domain CA"},
        [PKI_OWNER_REG] = {PKI_PROFILE_REGISTRAR, PKI_OWNER_DCA, "owner.registrar",
                           "owner-registrar", PKI_OWNER_NAME, PKI_OWNER_NAME " registrar"},
        [PKI_OWNER_EST] = {PKI_PROFILE_SERVER, PKI_OWNER_DCA, "owner.est", "owner-est",
                           PKI_OWNER_NAME, PKI_OWNER_NAME " EST server"},
};

struct init_opts {
	const char *dir;
	unsigned npledges;
	enum pki_key_type key_type;
	const char *acme_directory;
	const char *acme_trust;
	const char *acme_http01_listen;
	bool force;
};

enum {
	OPT_PLEDGES = 1000,
	OPT_KEY_TYPE,
	OPT_ACME_DIRECTORY,
	OPT_ACME_TRUST,
	OPT_ACME_HTTP01_LISTEN,
	OPT_FORCE,
	OPT_HELP,
};

/* Options of `pki init`; getopt's table and --help are both made from it. */
static const struct opt_row {
	const char *name;
	const char *arg; /* NULL: a flag */
	int val;
	const char *help;
} init_options[] = {
        {"pledges", "N", OPT_PLEDGES, "issue N pledge IDevIDs (1..9999; default 3)"},
        {"key-type", "TYPE", OPT_KEY_TYPE,
         "p256 (default), p384, ed25519 or rsa2048,\nfor every key"},
        {"acme-directory", "URL", OPT_ACME_DIRECTORY,
         "the owner registrar gets certificates from this ACME\n"
         "server (https://) instead of its local CA"},
        {"acme-trust", "FILE", OPT_ACME_TRUST,
         "PEM bundle that verifies the ACME server\n(required with --acme-directory)"},
        {"acme-http01-listen", "HOST:PORT", OPT_ACME_HTTP01_LISTEN,
         "where the owner registrar answers http-01\n(default " HTTP01_LISTEN_DEFAULT ")"},
        {"force", NULL, OPT_FORCE,
         "replace the PKI in a DIR that has one; also deletes\nDIR/cloud.db and DIR/owner.db"},
        {"help", NULL, OPT_HELP, "show this help"},
};
#define NOPTIONS (sizeof(init_options) / sizeof(init_options[0]))

static void init_usage(FILE *out)
{
	fprintf(out, "usage: brski pki init DIR [options]\n\n"
	             "Make a complete demo/test PKI in DIR (created with mode 0700 if\n"
	             "missing) for masad and cloudregd on 127.0.0.1, with ready-to-run\n"
	             "configurations, and print what was made. Uses GnuTLS only.\n\n"
	             "options:\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct opt_row *o = &init_options[i];
		int w = fprintf(out, "  --%s%s%s", o->name, o->arg ? " " : "",
		                o->arg ? o->arg : "");
		fprintf(out, "%*s", w < 34 ? 34 - w : 1, "");
		for (const char *h = o->help; *h != '\0'; h++) {
			fputc(*h, out);
			if (*h == '\n')
				fprintf(out, "%34s", "");
		}
		fputc('\n', out);
	}
	fprintf(out,
	        "\nDIR then holds:\n"
	        "  pki.json              manifest of everything below (absolute paths);\n"
	        "                        written last, so it marks a complete PKI\n"
	        "  masad.conf            masad -c DIR/masad.conf\n"
	        "  cloudregd-cloud.conf  cloudregd -c ...: the cloud registrar, with the\n"
	        "                        enroll-here EST server\n"
	        "  cloudregd-owner.conf  cloudregd -c ...: the registrar and EST server of\n"
	        "                        owner " PKI_OWNER_NAME " (subdomain " PKI_OWNER_SUBDOMAIN
	        ")\n"
	        "  admin-token           admin bearer token (256 random bits, hex), mode 0600\n"
	        "  NAME.crt              one certificate (PEM)\n"
	        "  NAME.chain.pem        leaf first, then its issuing CA; every issuer here\n"
	        "                        is a self-signed root, and chains include it\n"
	        "  NAME.key              PKCS#8 PEM private key, mode 0600\n"
	        "  pledges/pledge-NNNN.* IDevIDs; the serial is a DNS label\n"
	        "  cloud.db, owner.db    the daemons' stores, made when they first start\n"
	        "                        (masad and the cloud registrar share cloud.db)\n"
	        "\n"
	        "Certificates: tls_ca issues the TLS server certificates of the MASA and\n"
	        "the cloud registrar; manufacturer_ca the IDevIDs (subject serialNumber,\n"
	        "MASA URL extension 127.0.0.1:PORT); masa_ca the voucher signer; each\n"
	        "domain CA its EST server and, for the owner, its registrar. Server\n"
	        "certificates carry SANs IP:127.0.0.1 and DNS:localhost; registrars carry\n"
	        "EKU id-kp-cmcRA, serverAuth, clientAuth. Serials are 126 random bits;\n"
	        "every certificate has an SKI, every non-root an AKI. notBefore is an hour\n"
	        "ago; notAfter: IDevIDs 9999-12-31 (IEEE 802.1AR), CAs 10 years, others\n"
	        "2 years. Listeners get distinct free ports, chosen now. The [admin]\n"
	        "listeners serve the daemon's own TLS certificate: masad and the cloud\n"
	        "registrar from tls_ca, the owner registrar from the owner domain CA.\n"
	        "\n"
	        "An existing DIR is used as it is, unless it holds pki.json: then brski\n"
	        "refuses (exit 2) without --force. Files the new PKI does not list are\n"
	        "left alone. Nothing is registered in any store.\n"
	        "\n"
	        "exit status: 0 done, 2 usage error, 3 I/O or crypto failure.\n");
}

/* A path goes into INI files, whose parser ends a value at ';' or '#' after
 * a blank and at a line end: refuse what it could not carry back. */
static bool ini_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ';' || *s == '#')
			return false;
	return true;
}

static bool listen_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;
	if (colon == NULL || colon == s || !ini_safe(s) || strchr(s, ' ') != NULL)
		return false;
	return brski_str_to_u64(colon + 1, &port, 65535) == VOUCHER_OK && port > 0;
}

static int parse_init(int argc, char **argv, struct init_opts *o)
{
	struct option longopts[NOPTIONS + 1];
	uint64_t n;

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < NOPTIONS; i++) {
		longopts[i].name = init_options[i].name;
		longopts[i].has_arg = init_options[i].arg ? required_argument : no_argument;
		longopts[i].val = init_options[i].val;
	}
	*o = (struct init_opts){.npledges = PLEDGES_DEFAULT,
	                        .key_type = PKI_KEY_P256,
	                        .acme_http01_listen = HTTP01_LISTEN_DEFAULT};
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case OPT_PLEDGES:
			if (brski_str_to_u64(optarg, &n, PLEDGES_MAX) != VOUCHER_OK || n == 0) {
				fprintf(stderr, "brski pki init: --pledges takes 1..%d, not '%s'\n",
				        PLEDGES_MAX, optarg);
				return BRSKI_EXIT_USAGE;
			}
			o->npledges = (unsigned)n;
			break;
		case OPT_KEY_TYPE:
			if (pki_key_type_parse(optarg, &o->key_type) != VOUCHER_OK) {
				fprintf(stderr,
				        "brski pki init: unknown --key-type '%s' (p256, p384, "
				        "ed25519, "
				        "rsa2048)\n",
				        optarg);
				return BRSKI_EXIT_USAGE;
			}
			break;
		case OPT_ACME_DIRECTORY:
			if (!brski_str_startswith(optarg, "https://") || !ini_safe(optarg) ||
			    strchr(optarg, ' ') != NULL) {
				fprintf(stderr,
				        "brski pki init: --acme-directory must be an https:// URL, "
				        "not "
				        "'%s'\n",
				        optarg);
				return BRSKI_EXIT_USAGE;
			}
			o->acme_directory = optarg;
			break;
		case OPT_ACME_TRUST:
			o->acme_trust = optarg;
			break;
		case OPT_ACME_HTTP01_LISTEN:
			if (!listen_ok(optarg)) {
				fprintf(stderr,
				        "brski pki init: --acme-http01-listen takes HOST:PORT, not "
				        "'%s'\n",
				        optarg);
				return BRSKI_EXIT_USAGE;
			}
			o->acme_http01_listen = optarg;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_HELP:
			init_usage(stdout);
			return BRSKI_EXIT_OK;
		case ':':
			fprintf(stderr, "brski pki init: %s needs a value\n", argv[optind - 1]);
			return BRSKI_EXIT_USAGE;
		default:
			fprintf(stderr, "brski pki init: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return BRSKI_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "brski pki init: give exactly one DIR (see --help)\n");
		return BRSKI_EXIT_USAGE;
	}
	o->dir = argv[optind];
	if ((o->acme_directory == NULL) != (o->acme_trust == NULL)) {
		fprintf(stderr, "brski pki init: --acme-directory and --acme-trust go together\n");
		return BRSKI_EXIT_USAGE;
	}
	return -1; /* go on */
}

/* Make DIR, find its absolute name and refuse to overwrite a PKI unless
 * forced. Returns an exit code, or -1 to go on. */
static int prepare_dir(const struct init_opts *o, struct pki_layout *l, struct pki_err *err)
{
	char *abs = NULL;
	struct stat st;
	int rc = BRSKI_EXIT_USAGE;

	voucher_err r = pki_mkdir(o->dir, err);
	if (r != VOUCHER_OK)
		return r == VOUCHER_EEXIST ? BRSKI_EXIT_USAGE : BRSKI_EXIT_IO;
	abs = realpath(o->dir, NULL);
	if (abs == NULL) {
		pki_fail(err, VOUCHER_EIO, "failed to resolve %s", o->dir);
		return BRSKI_EXIT_IO;
	}
	if (strlen(abs) > PKI_DIR_MAX || !ini_safe(abs)) {
		pki_fail(err, VOUCHER_EINVAL,
		         "%s: DIR must be at most %d bytes without ';', '#' or control "
		         "characters, which the configuration files cannot carry",
		         abs, PKI_DIR_MAX);
		goto out;
	}
	snprintf(l->dir, sizeof(l->dir), "%s", abs);
	if (pki_path(l->manifest, err, "%s/pki.json", l->dir) != VOUCHER_OK)
		goto out;
	if (!o->force && lstat(l->manifest, &st) == 0) {
		pki_fail(err, VOUCHER_EEXIST,
		         "%s exists: %s already holds a PKI (--force replaces it and deletes its "
		         "databases)",
		         l->manifest, l->dir);
		goto out;
	}
	if (o->acme_trust != NULL) {
		char *trust = realpath(o->acme_trust, NULL);
		if (trust == NULL || !ini_safe(trust) ||
		    pki_path(l->acme_trust, err, "%s", trust) != VOUCHER_OK) {
			pki_fail(err, VOUCHER_EINVAL,
			         "--acme-trust %s: no such file, or a name the configuration "
			         "cannot carry",
			         o->acme_trust);
			free(trust);
			goto out;
		}
		free(trust);
	}
	rc = -1;
out:
	free(abs);
	return rc;
}

/* All the file names of the layout, under l->dir. */
static voucher_err plan_paths(struct pki_layout *l, struct pki_err *err)
{
	voucher_err r = VOUCHER_OK;
	for (size_t i = 0; i < PKI_NCREDS && r == VOUCHER_OK; i++) {
		struct pki_files *f = &l->files[i];
		if ((r = pki_path(f->crt, err, "%s/%s.crt", l->dir, creds[i].file)) == VOUCHER_OK &&
		    (r = pki_path(f->key, err, "%s/%s.key", l->dir, creds[i].file)) == VOUCHER_OK &&
		    creds[i].issuer != SELF)
			r = pki_path(f->chain, err, "%s/%s.chain.pem", l->dir, creds[i].file);
	}
	for (size_t i = 0; i < l->npledges && r == VOUCHER_OK; i++) {
		struct pki_pledge *p = &l->pledges[i];
		snprintf(p->serial, sizeof(p->serial), "pledge-%04zu", i + 1);
		if ((r = pki_path(p->files.crt, err, "%s/pledges/%s.crt", l->dir, p->serial)) ==
		            VOUCHER_OK &&
		    (r = pki_path(p->files.chain, err, "%s/pledges/%s.chain.pem", l->dir,
		                  p->serial)) == VOUCHER_OK)
			r = pki_path(p->files.key, err, "%s/pledges/%s.key", l->dir, p->serial);
	}
	const struct {
		char *out;
		const char *name;
	} single[] = {
	        {l->token_file, "admin-token"},
	        {l->cloud_db, "cloud.db"},
	        {l->owner_db, "owner.db"},
	        {l->conf_masa, "masad.conf"},
	        {l->conf_cloud, "cloudregd-cloud.conf"},
	        {l->conf_owner, "cloudregd-owner.conf"},
	};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]) && r == VOUCHER_OK; i++)
		r = pki_path(single[i].out, err, "%s/%s", l->dir, single[i].name);
	return r;
}

/* --force: the old stores hold owners and pins of the old PKI. */
static voucher_err remove_stores(const struct pki_layout *l, struct pki_err *err)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	const char *dbs[] = {l->cloud_db, l->owner_db};
	char path[PKI_PATH_MAX];
	voucher_err r = VOUCHER_OK;
	for (size_t i = 0; i < 2 && r == VOUCHER_OK; i++)
		for (size_t j = 0; j < 4 && r == VOUCHER_OK; j++)
			if ((r = pki_path(path, err, "%s%s", dbs[i], suffixes[j])) == VOUCHER_OK)
				r = pki_unlink(path, err);
	return r;
}

/* A path relative to DIR, for the summary. */
static const char *rel(const struct pki_layout *l, const char *path)
{
	size_t n = strlen(l->dir);
	return strncmp(path, l->dir, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static void print_cred(const struct pki_layout *l, const char *name, const char *issuer,
                       const struct pki_cred *c, const struct pki_files *f)
{
	char not_after[16];
	pki_cred_not_after(c, not_after);
	printf("  %-26s %-26s %-11s %s\n", name, issuer, not_after,
	       rel(l, f->chain[0] ? f->chain : f->crt));
}

static void print_summary(const struct pki_layout *l, enum pki_key_type kt,
                          struct pki_cred *const *made, struct pki_cred *const *pledges)
{
	char url[32], est[32], admin[32];

	printf("brski pki init: %s PKI in %s\n\n", pki_key_type_label(kt), l->dir);
	printf("  %-26s %-26s %-11s %s\n", "certificate", "issuer", "not after", "file");
	for (size_t i = 0; i < PKI_NCREDS; i++)
		print_cred(l, creds[i].name,
		           creds[i].issuer == SELF ? "(root)" : creds[creds[i].issuer].name,
		           made[i], &l->files[i]);
	for (size_t i = 0; i < l->npledges; i++)
		print_cred(l, l->pledges[i].serial, creds[PKI_MFG_CA].name, pledges[i],
		           &l->pledges[i].files);

	printf("\n  %-22s %-24s %-24s %-24s %s\n", "daemon", "brski", "est", "admin", "config");
	const struct {
		const char *what;
		enum pki_port brski, est, admin;
		const char *conf;
	} rows[] = {
	        {"masad", PKI_PORT_MASA, PKI_NPORTS, PKI_PORT_MASA_ADMIN, l->conf_masa},
	        {"cloudregd (cloud)", PKI_PORT_CLOUD, PKI_PORT_CLOUD_EST, PKI_PORT_CLOUD_ADMIN,
	         l->conf_cloud},
	        {"cloudregd (" PKI_OWNER_NAME ")", PKI_PORT_OWNER, PKI_PORT_OWNER_EST,
	         PKI_PORT_OWNER_ADMIN, l->conf_owner},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		pki_origin(l, rows[i].brski, url);
		if (rows[i].est != PKI_NPORTS)
			pki_origin(l, rows[i].est, est);
		else
			snprintf(est, sizeof(est), "-");
		pki_origin(l, rows[i].admin, admin);
		printf("  %-22s %-24s %-24s %-24s %s\n", rows[i].what, url, est, admin,
		       rel(l, rows[i].conf));
	}
	printf("\n  admin token: %s   owner CA: %s   manifest: %s\n", rel(l, l->token_file),
	       l->acme_directory ? l->acme_directory : "local", rel(l, l->manifest));
}

/* Issue and write everything; made[] and pledges[] receive the credentials. */
static voucher_err make_pki(const struct init_opts *o, struct pki_layout *l, struct pki_cred **made,
                            struct pki_cred **pledges, struct pki_err *err)
{
	char pledge_dir[PKI_PATH_MAX], token[PKI_TOKEN_HEX_LEN + 2];
	char masa_authority[32];
	time_t now = time(NULL);
	voucher_err r;

	if ((r = pki_pick_ports(l->port, PKI_NPORTS, err)) != VOUCHER_OK)
		return r;
	for (size_t i = 0; i < PKI_NCREDS; i++) {
		const struct cred_row *row = &creds[i];
		const struct pki_cred *issuer = row->issuer == SELF ? NULL : made[row->issuer];
		const struct pki_subject subj = {.org = row->org, .cn = row->cn};
		if ((r = pki_cred_issue(row->profile, &subj, o->key_type, issuer, now, &made[i],
		                        err)) != VOUCHER_OK ||
		    (r = pki_cred_write(made[i], issuer, &l->files[i], err)) != VOUCHER_OK)
			return r;
	}

	/* The bare authority, as RFC 8995 2.3.2 suggests; registrars add
	 * https:// and /.well-known/brski. */
	snprintf(masa_authority, sizeof(masa_authority), "127.0.0.1:%u",
	         (unsigned)l->port[PKI_PORT_MASA]);
	if ((r = pki_path(pledge_dir, err, "%s/pledges", l->dir)) != VOUCHER_OK ||
	    (r = pki_mkdir(pledge_dir, err)) != VOUCHER_OK)
		return r;
	for (size_t i = 0; i < l->npledges; i++) {
		const struct pki_subject subj = {.org = ORG_MFG,
		                                 .cn = l->pledges[i].serial,
		                                 .serial_number = l->pledges[i].serial,
		                                 .masa_authority = masa_authority};
		if ((r = pki_cred_issue(PKI_PROFILE_IDEVID, &subj, o->key_type, made[PKI_MFG_CA],
		                        now, &pledges[i], err)) != VOUCHER_OK ||
		    (r = pki_cred_write(pledges[i], made[PKI_MFG_CA], &l->pledges[i].files, err)) !=
		            VOUCHER_OK)
			return r;
	}

	if ((r = pki_make_token(token, err)) != VOUCHER_OK)
		return r;
	token[PKI_TOKEN_HEX_LEN] = '\n';
	r = pki_write_file(l->token_file, token, PKI_TOKEN_HEX_LEN + 1, 0600, err);
	explicit_bzero(token, sizeof(token));
	if (r != VOUCHER_OK)
		return r;
	if ((r = pki_write_configs(l, err)) != VOUCHER_OK)
		return r;
	if (o->force && (r = remove_stores(l, err)) != VOUCHER_OK)
		return r;
	return pki_write_manifest(l, err);
}

static int cmd_init(int argc, char **argv)
{
	struct init_opts o;
	struct pki_err err = {{0}};
	struct pki_layout *l = NULL;
	struct pki_cred *made[PKI_NCREDS] = {NULL};
	struct pki_cred **pledges = NULL;
	int rc = parse_init(argc, argv, &o);

	if (rc >= 0)
		return rc;
	l = calloc(1, sizeof(*l));
	pledges = calloc(o.npledges, sizeof(*pledges));
	if (l == NULL || pledges == NULL ||
	    (l->pledges = calloc(o.npledges, sizeof(*l->pledges))) == NULL) {
		pki_fail(&err, VOUCHER_ENOMEM, "out of memory");
		rc = BRSKI_EXIT_IO;
		goto out;
	}
	l->npledges = o.npledges;
	l->acme_directory = o.acme_directory;
	l->acme_http01_listen = o.acme_http01_listen;
	if ((rc = prepare_dir(&o, l, &err)) >= 0)
		goto out;
	if (plan_paths(l, &err) != VOUCHER_OK) {
		rc = BRSKI_EXIT_USAGE;
		goto out;
	}
	if (make_pki(&o, l, made, pledges, &err) != VOUCHER_OK) {
		rc = BRSKI_EXIT_IO;
		goto out;
	}
	print_summary(l, o.key_type, made, pledges);
	rc = BRSKI_EXIT_OK;
out:
	if (rc != BRSKI_EXIT_OK)
		fprintf(stderr, "brski pki init: %s\n", err.msg);
	for (size_t i = 0; i < PKI_NCREDS; i++)
		pki_cred_free(made[i]);
	for (size_t i = 0; pledges != NULL && i < o.npledges; i++)
		pki_cred_free(pledges[i]);
	free(pledges);
	if (l != NULL)
		free(l->pledges);
	free(l);
	return rc;
}

static const struct brski_cmd pki_cmds[] = {
        {"init", cmd_init, "make a demo/test PKI, daemon configurations and pki.json in DIR"},
};

static void pki_usage(FILE *out)
{
	fprintf(out, "usage: brski pki <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(pki_cmds) / sizeof(pki_cmds[0]); i++)
		fprintf(out, "  %-6s %s\n", pki_cmds[i].name, pki_cmds[i].summary);
	fprintf(out, "\n'brski pki <command> --help' describes a command.\n");
}

int brski_cmd_pki(int argc, char **argv)
{
	if (argc < 2) {
		pki_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		pki_usage(stdout);
		return BRSKI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(pki_cmds) / sizeof(pki_cmds[0]); i++)
		if (strcmp(argv[1], pki_cmds[i].name) == 0)
			return pki_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "brski pki: unknown command '%s'\n", argv[1]);
	pki_usage(stderr);
	return BRSKI_EXIT_USAGE;
}
