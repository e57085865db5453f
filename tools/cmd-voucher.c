/*
 * brski voucher: create, sign, verify, show and convert vouchers and
 * voucher-requests. Payloads are JSON (RFC 7951) or CBOR (RFC 9254, SIDs);
 * envelopes CMS (application/voucher-cms+json), COSE_Sign1
 * (application/voucher+cose) or JWS (application/voucher-jws+json).
 *
 * Uses libvoucher's public API only, like any other program would.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <voucher/error.h>
#include <voucher/sign.h>
#include <voucher/voucher.h>
#include <voucher/x509.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/str.h"
#include "tools/brski.h"
#include "tools/util.h"

#define PROG "brski voucher"
/* Inputs are artifacts, envelopes and certificates: far below this. */
#define MAX_INPUT (1024 * 1024)

/* ---- small helpers ------------------------------------------------------ */

/* Exit code for a library error met while reading our own inputs. */
static int io_or_usage(voucher_err e)
{
	return e == VOUCHER_ENOENT || e == VOUCHER_EACCES || e == VOUCHER_EIO ? BRSKI_EXIT_IO
	                                                                      : BRSKI_EXIT_USAGE;
}

/* Read a whole file ("-": standard input) of at most MAX_INPUT bytes. */
static voucher_err read_all(const char *path, uint8_t **out, size_t *len)
{
	struct brski_buf b;
	voucher_err e;

	*out = NULL;
	*len = 0;
	brski_buf_init(&b, MAX_INPUT);
	e = brski_read_file(path, true, &b);
	if (e == VOUCHER_OK && b.len == 0)
		e = VOUCHER_E_MALFORMED;
	if (e == VOUCHER_OK)
		*out = brski_buf_take(&b, len);
	brski_buf_free(&b);
	return e;
}

static int read_or_fail(const char *path, uint8_t **out, size_t *len)
{
	voucher_err e = read_all(path, out, len);
	if (e == VOUCHER_OK)
		return BRSKI_EXIT_OK;
	if (e == VOUCHER_E_MALFORMED)
		return brski_fail(PROG, BRSKI_EXIT_BAD, "%s: empty input", path);
	return brski_fail(PROG, e == VOUCHER_E_TOO_LARGE ? BRSKI_EXIT_BAD : BRSKI_EXIT_IO,
	                  "cannot read %s (%s)", path, voucher_strerror(e));
}

/* Write data to path ("-": standard output), newline appended if asked. */
static int write_all(const char *path, const uint8_t *data, size_t len, bool newline)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
	if (f == NULL)
		return brski_fail(PROG, BRSKI_EXIT_IO, "cannot create %s (%s)", path,
		                  strerror(errno));
	bool ok = fwrite(data, 1, len, f) == len && (!newline || fputc('\n', f) != EOF);
	if (f == stdout)
		ok = fflush(f) == 0 && ok;
	else
		ok = fclose(f) == 0 && ok;
	if (!ok)
		return brski_fail(PROG, BRSKI_EXIT_IO, "cannot write %s (%s)", path,
		                  strerror(errno));
	return BRSKI_EXIT_OK;
}

static const char *env_name(enum voucher_envelope env)
{
	switch (env) {
	case VOUCHER_ENV_CMS:
		return "cms";
	case VOUCHER_ENV_COSE:
		return "cose";
	case VOUCHER_ENV_JWS:
		return "jws";
	default:
		return "none";
	}
}

static const char *kind_name(enum voucher_kind k)
{
	return k == VOUCHER_KIND_VOUCHER   ? "voucher"
	       : k == VOUCHER_KIND_REQUEST ? "voucher-request"
	                                   : "unknown";
}

static const char *format_name(enum voucher_format f)
{
	return f == VOUCHER_FORMAT_JSON ? "JSON" : f == VOUCHER_FORMAT_CBOR ? "CBOR" : "unknown";
}

/* "subject" of a DER certificate as an RFC 4514 string, or a placeholder. */
static void cert_describe(const uint8_t *der, size_t len, FILE *out, const char *prefix)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)der, (unsigned)len};
	gnutls_datum_t subj = {NULL, 0}, iss = {NULL, 0};

	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn3(crt, &subj, 0) < 0 ||
	    gnutls_x509_crt_get_issuer_dn3(crt, &iss, 0) < 0) {
		fprintf(out, "%s(certificate does not parse, %zu bytes)\n", prefix, len);
	} else {
		char until[32] = "?";
		time_t t = gnutls_x509_crt_get_expiration_time(crt);
		struct tm tm;
		if (t != (time_t)-1 && gmtime_r(&t, &tm) != NULL)
			strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(out, "%ssubject=%s; issuer=%s; not after %s\n", prefix, (char *)subj.data,
		        (char *)iss.data, until);
	}
	gnutls_free(subj.data);
	gnutls_free(iss.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
}

static void signer_subject(const uint8_t *der, size_t len, char *buf, size_t cap)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)der, (unsigned)len};
	gnutls_datum_t subj = {NULL, 0};
	snprintf(buf, cap, "(unknown)");
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_dn3(crt, &subj, 0) >= 0)
		snprintf(buf, cap, "%s", (char *)subj.data);
	gnutls_free(subj.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
}

/* Options of one subcommand: getopt's table and --help come from it. */
struct vopt {
	const char *name;
	const char *arg; /* NULL: a flag */
	int val;
	const char *help;
};

static void print_options(FILE *out, const struct vopt *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int w = fprintf(out, "  --%s%s%s", o[i].name, o[i].arg ? " " : "",
		                o[i].arg ? o[i].arg : "");
		fprintf(out, "%*s", w < 34 ? 34 - w : 1, "");
		for (const char *h = o[i].help; *h != '\0'; h++) {
			fputc(*h, out);
			if (*h == '\n')
				fprintf(out, "%34s", "");
		}
		fputc('\n', out);
	}
}

/* getopt's table for o, and getopt reset to read a subcommand's argv. */
static void start_options(struct option *lo, const struct vopt *o, size_t n)
{
	memset(lo, 0, sizeof(*lo) * (n + 1));
	for (size_t i = 0; i < n; i++) {
		lo[i].name = o[i].name;
		lo[i].has_arg = o[i].arg ? required_argument : no_argument;
		lo[i].val = o[i].val;
	}
	optind = 1;
	opterr = 0;
}

/* Flags shared by the subcommands that parse artifacts. */
enum {
	OPT_HELP = 1000,
	OPT_LEGACY,
	OPT_LENIENT,
	OPT_KIND,
	OPT_OUT,
	OPT_FORMAT,
	OPT_TO,
	OPT_KEY,
	OPT_CERT,
	OPT_CHAIN,
	OPT_TRUST,
	OPT_NO_TRUST,
	OPT_SIGNER_CERT,
	/* create */
	OPT_SERIAL,
	OPT_NONCE,
	OPT_ASSERTION,
	OPT_CREATED_ON,
	OPT_EXPIRES_ON,
	OPT_PINNED_CERT,
	OPT_PINNED_PUBK,
	OPT_PINNED_PUBK_SHA256,
	OPT_IDEVID_ISSUER,
	OPT_EST_DOMAIN,
	OPT_ADDITIONAL_URL,
	OPT_REVOCATION_CHECKS,
	OPT_LAST_RENEWAL,
	OPT_PROXIMITY_CERT,
	OPT_PRIOR_SIGNED,
	OPT_EXTENSION,
};

static unsigned model_flags(bool legacy, bool lenient)
{
	return (legacy ? VOUCHER_F_LEGACY : 0u) | (lenient ? (unsigned)VOUCHER_F_LENIENT : 0u);
}

/* What common_opt returns for an option it took. */
#define OPT_TAKEN (-1)

/* An option the reading subcommands (sign, verify, show, convert) treat
 * alike, met in the default branch of their switch: --help, --legacy,
 * --lenient, or one that is unknown or lacks its value. Returns OPT_TAKEN,
 * or the exit status to stop with (BRSKI_EXIT_OK after --help). */
static int common_opt(int c, void (*usage)(FILE *), bool *legacy, bool *lenient)
{
	switch (c) {
	case OPT_HELP:
		usage(stdout);
		return BRSKI_EXIT_OK;
	case OPT_LEGACY:
		*legacy = true;
		return OPT_TAKEN;
	case OPT_LENIENT:
		*lenient = true;
		return OPT_TAKEN;
	default:
		usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
}

static int parse_kind(const char *s, enum voucher_kind *k)
{
	if (strcmp(s, "voucher") == 0)
		*k = VOUCHER_KIND_VOUCHER;
	else if (strcmp(s, "request") == 0 || strcmp(s, "voucher-request") == 0)
		*k = VOUCHER_KIND_REQUEST;
	else
		return brski_fail(PROG, BRSKI_EXIT_USAGE,
		                  "--kind: 'voucher' or 'request', not '%s'", s);
	return BRSKI_EXIT_OK;
}

/* The model's error, as a sentence naming the member. */
static const char *model_msg(const struct voucher_error_info *ei, voucher_err e)
{
	return ei->message[0] != '\0' ? ei->message : voucher_strerror(e);
}

/* ---- create ----------------------------------------------------------- */

static const struct vopt create_opts[] = {
        {"kind", "voucher|request", OPT_KIND, "what to make (default voucher)"},
        {"serial", "S", OPT_SERIAL, "serial-number (required)"},
        {"nonce", "HEX|random", OPT_NONCE, "nonce: hex bytes, or 16 random bytes"},
        {"assertion", "A", OPT_ASSERTION, "verified, logged, proximity or agent-proximity"},
        {"created-on", "TIME|now|none", OPT_CREATED_ON,
         "created-on (yang:date-and-time; default now)"},
        {"expires-on", "TIME", OPT_EXPIRES_ON, "expires-on (yang:date-and-time)"},
        {"pinned-domain-cert", "FILE", OPT_PINNED_CERT,
         "pinned-domain-cert: the first certificate of FILE\n(PEM or DER)"},
        {"pinned-domain-pubk", "FILE", OPT_PINNED_PUBK,
         "pinned-domain-pubk: the SubjectPublicKeyInfo of the\nfirst certificate of FILE"},
        {"pinned-domain-pubk-sha256", "FILE", OPT_PINNED_PUBK_SHA256,
         "pinned-domain-pubk-sha256: SHA-256 of that SPKI"},
        {"idevid-issuer", "FILE", OPT_IDEVID_ISSUER,
         "idevid-issuer: the AKI of the IDevID certificate in\nFILE"},
        {"est-domain", "URI", OPT_EST_DOMAIN, "est-domain (voucher)"},
        {"additional-configuration-url", "URI", OPT_ADDITIONAL_URL,
         "additional-configuration-url (voucher)"},
        {"domain-cert-revocation-checks", "true|false", OPT_REVOCATION_CHECKS,
         "domain-cert-revocation-checks"},
        {"last-renewal-date", "TIME", OPT_LAST_RENEWAL, "last-renewal-date"},
        {"proximity-registrar-cert", "FILE", OPT_PROXIMITY_CERT,
         "proximity-registrar-cert: first certificate of FILE\n(request)"},
        {"prior-signed-voucher-request", "FILE", OPT_PRIOR_SIGNED,
         "prior-signed-voucher-request: the bytes of FILE,\nas they are (request)"},
        {"extension", "NAME", OPT_EXTENSION, "add an extensions entry (repeatable)"},
        {"format", "json|cbor", OPT_FORMAT, "output format (default json)"},
        {"out", "FILE", OPT_OUT, "write to FILE instead of standard output"},
        {"legacy", NULL, OPT_LEGACY, "validate against RFC 8366 / RFC 8995, not rfc8366bis"},
        {"help", NULL, OPT_HELP, "show this help"},
};
#define N_CREATE (sizeof(create_opts) / sizeof(create_opts[0]))

static void create_usage(FILE *out)
{
	fprintf(out, "usage: " PROG " create --serial S [options]\n\n"
	             "Build a voucher or voucher-request from the options, validate it\n"
	             "against the YANG modules and print it (JSON by default).\n\n"
	             "options:\n");
	print_options(out, create_opts, N_CREATE);
	fprintf(out, "\nexit status: 0 done, 2 usage error or invalid artifact, 3 I/O error.\n");
}

static int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);
	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int v = 0;
		for (size_t k = 0; k < 2; k++) {
			char c = s[i + k];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		out[i / 2] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* The first certificate of a PEM or DER file. */
static int load_first_cert(const char *path, struct voucher_x509_chain **chain)
{
	voucher_err e = voucher_x509_chain_load_file(path, chain);
	if (e != VOUCHER_OK)
		return brski_fail(PROG, io_or_usage(e), "%s: cannot load a certificate (%s)", path,
		                  voucher_strerror(e));
	return BRSKI_EXIT_OK;
}

static int set_cert_leaf(struct voucher_artifact *a, enum voucher_leaf leaf, const char *path,
                         int how)
{
	struct voucher_x509_chain *c = NULL;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	uint8_t hash[32];
	int rc = load_first_cert(path, &c);
	if (rc != BRSKI_EXIT_OK)
		return rc;
	voucher_err e;
	if (how == OPT_PINNED_PUBK) {
		e = voucher_x509_spki(c->der[0], c->der_len[0], &spki, &spki_len);
		if (e == VOUCHER_OK)
			e = voucher_artifact_set_binary(a, leaf, spki, spki_len);
	} else if (how == OPT_PINNED_PUBK_SHA256) {
		e = voucher_x509_spki_sha256(c->der[0], c->der_len[0], hash);
		if (e == VOUCHER_OK)
			e = voucher_artifact_set_binary(a, leaf, hash, sizeof(hash));
	} else if (how == OPT_IDEVID_ISSUER) {
		e = voucher_x509_idevid_issuer(c->der[0], c->der_len[0], &spki, &spki_len);
		if (e == VOUCHER_OK)
			e = voucher_artifact_set_binary(a, leaf, spki, spki_len);
	} else {
		e = voucher_artifact_set_binary(a, leaf, c->der[0], c->der_len[0]);
	}
	free(spki);
	voucher_x509_chain_free(c);
	if (e != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "%s: cannot set %s from %s (%s)",
		                  "create", voucher_leaf_name(leaf), path, voucher_strerror(e));
	return BRSKI_EXIT_OK;
}

static int cmd_create(int argc, char **argv)
{
	struct option lo[N_CREATE + 1];
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei;
	enum voucher_kind kind = VOUCHER_KIND_VOUCHER;
	enum voucher_format fmt = VOUCHER_FORMAT_JSON;
	const char *out_path = "-", *created = "now";
	bool legacy = false;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = BRSKI_EXIT_USAGE;
	int c;

	/* Options are applied in two passes: --kind first, because the
	 * artifact's kind decides which leaves it has. */
	start_options(lo, create_opts, N_CREATE);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == OPT_HELP) {
			create_usage(stdout);
			return BRSKI_EXIT_OK;
		}
		if (c == OPT_KIND && parse_kind(optarg, &kind) != BRSKI_EXIT_OK)
			return BRSKI_EXIT_USAGE;
		if (c == '?' || c == ':') {
			create_usage(stderr);
			return BRSKI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		create_usage(stderr);
		return brski_fail(PROG, BRSKI_EXIT_USAGE, "create: unexpected argument '%s'",
		                  argv[optind]);
	}
	if (voucher_artifact_new(kind, &a) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		voucher_err e = VOUCHER_OK;
		enum voucher_leaf leaf = VOUCHER_LEAF_COUNT;
		switch (c) {
		case OPT_SERIAL:
			leaf = VOUCHER_LEAF_SERIAL_NUMBER;
			e = voucher_artifact_set_string(a, leaf, optarg);
			break;
		case OPT_NONCE: {
			uint8_t nonce[64];
			size_t n = 16;
			leaf = VOUCHER_LEAF_NONCE;
			if (strcmp(optarg, "random") == 0) {
				if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, n) < 0) {
					rc = brski_fail(PROG, BRSKI_EXIT_IO, "no random bytes");
					goto out;
				}
			} else if (hex_decode(optarg, nonce, sizeof(nonce), &n) != 0) {
				rc = brski_fail(PROG, BRSKI_EXIT_USAGE,
				                "--nonce: hex digits or 'random'");
				goto out;
			}
			e = voucher_artifact_set_binary(a, leaf, nonce, n);
			break;
		}
		case OPT_ASSERTION: {
			enum voucher_assertion as;
			for (as = VOUCHER_ASSERTION_VERIFIED;
			     as <= VOUCHER_ASSERTION_AGENT_PROXIMITY; as++)
				if (strcmp(optarg, voucher_assertion_name(as)) == 0)
					break;
			if (as > VOUCHER_ASSERTION_AGENT_PROXIMITY) {
				rc = brski_fail(PROG, BRSKI_EXIT_USAGE,
				                "--assertion: unknown value '%s'", optarg);
				goto out;
			}
			leaf = VOUCHER_LEAF_ASSERTION;
			e = voucher_artifact_set_assertion(a, as);
			break;
		}
		case OPT_CREATED_ON:
			created = optarg;
			break;
		case OPT_EXPIRES_ON:
			leaf = VOUCHER_LEAF_EXPIRES_ON;
			e = voucher_artifact_set_datetime(a, leaf, optarg);
			break;
		case OPT_LAST_RENEWAL:
			leaf = VOUCHER_LEAF_LAST_RENEWAL_DATE;
			e = voucher_artifact_set_datetime(a, leaf, optarg);
			break;
		case OPT_PINNED_CERT:
		case OPT_PINNED_PUBK:
		case OPT_PINNED_PUBK_SHA256:
		case OPT_IDEVID_ISSUER:
		case OPT_PROXIMITY_CERT:
			leaf = c == OPT_PINNED_CERT   ? VOUCHER_LEAF_PINNED_DOMAIN_CERT
			       : c == OPT_PINNED_PUBK ? VOUCHER_LEAF_PINNED_DOMAIN_PUBK
			       : c == OPT_PINNED_PUBK_SHA256
			               ? VOUCHER_LEAF_PINNED_DOMAIN_PUBK_SHA256
			       : c == OPT_IDEVID_ISSUER ? VOUCHER_LEAF_IDEVID_ISSUER
			                                : VOUCHER_LEAF_PROXIMITY_REGISTRAR_CERT;
			if (!voucher_leaf_in_kind(leaf, kind)) {
				rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "create: a %s has no %s",
				                kind_name(kind), voucher_leaf_name(leaf));
				goto out;
			}
			if ((rc = set_cert_leaf(a, leaf, optarg, c)) != BRSKI_EXIT_OK)
				goto out;
			break;
		case OPT_EST_DOMAIN:
			leaf = VOUCHER_LEAF_EST_DOMAIN;
			e = voucher_artifact_set_string(a, leaf, optarg);
			break;
		case OPT_ADDITIONAL_URL:
			leaf = VOUCHER_LEAF_ADDITIONAL_CONFIGURATION_URL;
			e = voucher_artifact_set_string(a, leaf, optarg);
			break;
		case OPT_REVOCATION_CHECKS:
			leaf = VOUCHER_LEAF_DOMAIN_CERT_REVOCATION_CHECKS;
			if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0) {
				rc = brski_fail(PROG, BRSKI_EXIT_USAGE,
				                "--domain-cert-revocation-checks: true or false");
				goto out;
			}
			e = voucher_artifact_set_bool(a, leaf, strcmp(optarg, "true") == 0);
			break;
		case OPT_PRIOR_SIGNED: {
			uint8_t *data = NULL;
			size_t len = 0;
			leaf = VOUCHER_LEAF_PRIOR_SIGNED_VOUCHER_REQUEST;
			if ((rc = read_or_fail(optarg, &data, &len)) != BRSKI_EXIT_OK)
				goto out;
			e = voucher_artifact_set_binary(a, leaf, data, len);
			free(data);
			break;
		}
		case OPT_EXTENSION:
			leaf = VOUCHER_LEAF_EXTENSIONS;
			e = voucher_artifact_add_extension(a, optarg);
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0) {
				fmt = VOUCHER_FORMAT_JSON;
			} else if (strcmp(optarg, "cbor") == 0) {
				fmt = VOUCHER_FORMAT_CBOR;
			} else {
				rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "--format: json or cbor");
				goto out;
			}
			break;
		case OPT_OUT:
			out_path = optarg;
			break;
		case OPT_LEGACY:
			legacy = true;
			break;
		default:
			break;
		}
		if (e != VOUCHER_OK) {
			rc = brski_fail(
			        PROG, BRSKI_EXIT_USAGE, "create: cannot set %s to '%s' (%s%s)",
			        voucher_leaf_name(leaf), optarg, voucher_strerror(e),
			        voucher_leaf_in_kind(leaf, kind) ? "" : ": not in this kind");
			goto out;
		}
	}
	if (strcmp(created, "none") != 0) {
		voucher_err e =
		        strcmp(created, "now") == 0
		                ? voucher_artifact_set_time(a, VOUCHER_LEAF_CREATED_ON, time(NULL))
		                : voucher_artifact_set_datetime(a, VOUCHER_LEAF_CREATED_ON,
		                                                created);
		if (e != VOUCHER_OK) {
			rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "--created-on: %s",
			                voucher_strerror(e));
			goto out;
		}
	}
	if (!voucher_artifact_has(a, VOUCHER_LEAF_SERIAL_NUMBER)) {
		rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "create: --serial is required");
		goto out;
	}

	memset(&ei, 0, sizeof(ei));
	voucher_err e = fmt == VOUCHER_FORMAT_CBOR
	                        ? voucher_artifact_to_cbor(a, model_flags(legacy, false), &out,
	                                                   &out_len, &ei)
	                        : voucher_artifact_to_json(a, model_flags(legacy, false), &out,
	                                                   &out_len, &ei);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_USAGE, "create: the %s is not valid: %s",
		                kind_name(kind), model_msg(&ei, e));
		goto out;
	}
	rc = write_all(out_path, out, out_len, fmt == VOUCHER_FORMAT_JSON);
out:
	free(out);
	voucher_artifact_free(a);
	return rc;
}

/* The options every subcommand that validates a model shares (common_opt). */
/* clang-format off */
#define MODEL_OPTIONS                                                           \
	{"legacy", NULL, OPT_LEGACY, "validate against RFC 8366 / RFC 8995"},   \
	{"lenient", NULL, OPT_LENIENT,                                          \
	 "accept what deployed peers send (see the man page)"},                  \
	{"help", NULL, OPT_HELP, "show this help"}
/* clang-format on */

/* ---- sign --------------------------------------------------------------- */

static const struct vopt sign_opts[] = {
        {"key", "FILE|URI", OPT_KEY, "private key: PEM/DER file or PKCS#11 URI (required)"},
        {"cert", "FILE", OPT_CERT, "signer certificate, PEM (leaf first; required)"},
        {"chain", "FILE", OPT_CHAIN, "more certificates to carry (PEM), after --cert"},
        {"format", "cms|cose|jws", OPT_FORMAT, "the envelope (required)"},
        MODEL_OPTIONS,
};
#define N_SIGN (sizeof(sign_opts) / sizeof(sign_opts[0]))

static void sign_usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " sign --key K --cert C [--chain F] --format cms|cose|jws IN OUT\n\n"
	        "Sign the voucher or voucher-request in IN ('-': standard input) and\n"
	        "write the envelope to OUT ('-': standard output). IN is validated first;\n"
	        "an invalid artifact is refused. The bytes of IN are signed as they are,\n"
	        "except that a JSON artifact is converted to CBOR for cose, and a CBOR\n"
	        "one to JSON for cms and jws (said on standard error).\n"
	        "cms: SignedData, id-ct-animaJSONVoucher; cose: COSE_Sign1, ES256 or\n"
	        "EdDSA by key type, chain in x5bag; jws: general JSON serialization,\n"
	        "ES256 (EdDSA for Ed25519 keys), chain in x5c.\n\n"
	        "options:\n");
	print_options(out, sign_opts, N_SIGN);
	fprintf(out, "\nexit status: 0 signed, 1 invalid artifact, 2 usage error or unusable\n"
	             "key/certificate, 3 I/O error.\n");
}

/* The signer API takes one certificate file, leaf first: with --chain, put
 * both in a private temporary file. */
static int load_signer(const char *key, const char *cert, const char *chain,
                       struct voucher_signer **s)
{
	char tmp[] = "/tmp/brski-voucher-chain-XXXXXX";
	const char *path = cert;
	int fd = -1, rc = BRSKI_EXIT_OK;

	if (chain != NULL) {
		uint8_t *a = NULL, *b = NULL;
		size_t al = 0, bl = 0;
		if ((rc = read_or_fail(cert, &a, &al)) != BRSKI_EXIT_OK ||
		    (rc = read_or_fail(chain, &b, &bl)) != BRSKI_EXIT_OK) {
			free(a);
			return rc;
		}
		fd = mkstemp(tmp);
		FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
		bool ok = f != NULL && fwrite(a, 1, al, f) == al && fputc('\n', f) != EOF &&
		          fwrite(b, 1, bl, f) == bl;
		if (f != NULL)
			ok = fclose(f) == 0 && ok;
		else if (fd >= 0)
			close(fd);
		free(a);
		free(b);
		if (!ok) {
			if (fd >= 0)
				unlink(tmp);
			return brski_fail(PROG, BRSKI_EXIT_IO, "cannot write a temporary file (%s)",
			                  strerror(errno));
		}
		path = tmp;
	}
	voucher_err e = voucher_signer_load(s, key, path);
	if (fd >= 0)
		unlink(tmp);
	if (e != VOUCHER_OK)
		return brski_fail(PROG, io_or_usage(e),
		                  "cannot load the signer (key %s, certificate %s%s%s): %s", key,
		                  cert, chain ? ", chain " : "", chain ? chain : "",
		                  voucher_strerror(e));
	return BRSKI_EXIT_OK;
}

static int cmd_sign(int argc, char **argv)
{
	struct option lo[N_SIGN + 1];
	const char *key = NULL, *cert = NULL, *chain = NULL;
	enum voucher_envelope env = VOUCHER_ENV_NONE;
	bool legacy = false, lenient = false;
	struct voucher_signer *s = NULL;
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei;
	uint8_t *in = NULL, *conv = NULL, *out = NULL;
	size_t in_len = 0, conv_len = 0, out_len = 0;
	int rc, c, o;

	start_options(lo, sign_opts, N_SIGN);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_CERT:
			cert = optarg;
			break;
		case OPT_CHAIN:
			chain = optarg;
			break;
		case OPT_FORMAT:
			env = strcmp(optarg, "cms") == 0    ? VOUCHER_ENV_CMS
			      : strcmp(optarg, "cose") == 0 ? VOUCHER_ENV_COSE
			      : strcmp(optarg, "jws") == 0  ? VOUCHER_ENV_JWS
			                                    : VOUCHER_ENV_NONE;
			if (env == VOUCHER_ENV_NONE)
				return brski_fail(PROG, BRSKI_EXIT_USAGE,
				                  "--format: cms, cose or jws");
			break;
		default:
			if ((o = common_opt(c, sign_usage, &legacy, &lenient)) != OPT_TAKEN)
				return o;
		}
	}
	if (key == NULL || cert == NULL || env == VOUCHER_ENV_NONE || argc - optind != 2) {
		sign_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	const char *in_path = argv[optind], *out_path = argv[optind + 1];

	if ((rc = read_or_fail(in_path, &in, &in_len)) != BRSKI_EXIT_OK)
		goto out;
	/* Never sign what does not validate. */
	memset(&ei, 0, sizeof(ei));
	voucher_err e = voucher_artifact_parse(in, in_len, VOUCHER_KIND_UNKNOWN,
	                                       model_flags(legacy, lenient), &a, &ei);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, e == VOUCHER_E_CONFIG ? BRSKI_EXIT_USAGE : BRSKI_EXIT_BAD,
		                "%s: refusing to sign: %s", in_path, model_msg(&ei, e));
		goto out;
	}
	enum voucher_format have = VOUCHER_FORMAT_UNKNOWN;
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	if ((e = voucher_artifact_raw(a, &raw, &raw_len, &have)) != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: %s", in_path, voucher_strerror(e));
		goto out;
	}
	enum voucher_format want =
	        env == VOUCHER_ENV_COSE ? VOUCHER_FORMAT_CBOR : VOUCHER_FORMAT_JSON;
	const uint8_t *payload = raw;
	size_t payload_len = raw_len;
	if (have != want) {
		e = want == VOUCHER_FORMAT_CBOR
		            ? voucher_artifact_to_cbor(a, model_flags(legacy, false), &conv,
		                                       &conv_len, &ei)
		            : voucher_artifact_to_json(a, model_flags(legacy, false), &conv,
		                                       &conv_len, &ei);
		if (e != VOUCHER_OK) {
			rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: cannot convert to %s: %s",
			                in_path, format_name(want), model_msg(&ei, e));
			goto out;
		}
		fprintf(stderr, PROG ": note: %s payload converted to %s for %s\n",
		        format_name(have), format_name(want), env_name(env));
		payload = conv;
		payload_len = conv_len;
	}
	if ((rc = load_signer(key, cert, chain, &s)) != BRSKI_EXIT_OK)
		goto out;
	if ((e = voucher_sign(env, s, payload, payload_len, &out, &out_len)) != VOUCHER_OK) {
		rc = brski_fail(PROG,
		                e == VOUCHER_E_UNSUPPORTED_ALG || e == VOUCHER_E_KEY
		                        ? BRSKI_EXIT_USAGE
		                        : BRSKI_EXIT_IO,
		                "cannot sign as %s: %s", env_name(env), voucher_strerror(e));
		goto out;
	}
	rc = write_all(out_path, out, out_len, false);
out:
	free(in);
	free(conv);
	free(out);
	voucher_artifact_free(a);
	voucher_signer_free(s);
	return rc;
}

/* ---- verify ------------------------------------------------------------- */

static const struct vopt verify_opts[] = {
        {"trust", "FILE", OPT_TRUST,
         "trust anchors (PEM bundle or DER); repeatable;\nrequired unless --no-trust"},
        {"no-trust", NULL, OPT_NO_TRUST,
         "check the signature and the carried chain only\n(RFC 8995 5.5 temporary trust)"},
        {"signer-cert", "FILE", OPT_SIGNER_CERT,
         "COSE: certificates (PEM/DER) to find the signer\namong when the message carries none "
         "(x5bag\nstripped by a registrar, pledge request)"},
        {"kind", "voucher|request", OPT_KIND, "require this kind of artifact"},
        {"out", "FILE", OPT_OUT, "also write the payload bytes, exactly as signed"},
        MODEL_OPTIONS,
};
#define N_VERIFY (sizeof(verify_opts) / sizeof(verify_opts[0]))

static void verify_usage(FILE *out)
{
	fprintf(out, "usage: " PROG " verify --trust FILE [options] IN\n\n"
	             "Verify the signed voucher or voucher-request in IN ('-': standard\n"
	             "input). The envelope (CMS, COSE or JWS) and the artifact (voucher or\n"
	             "voucher-request, JSON or CBOR) are detected from the bytes. CMS with\n"
	             "eContentType id-data, as deployed peers send, is accepted. On success\n"
	             "the payload is printed as JSON on standard output and a summary (signer\n"
	             "subject, envelope, kind) on standard error. For JWS only the first\n"
	             "signature is verified; the count is reported.\n\n"
	             "options:\n");
	print_options(out, verify_opts, N_VERIFY);
	fprintf(out, "\nexit status: 0 valid, 1 invalid (the reason is printed), 2 usage error,\n"
	             "3 I/O error.\n");
}

/* Parse a payload for display: JSON as it is, CBOR converted. */
static voucher_err payload_json(const struct voucher_artifact *a, unsigned flags, uint8_t **out,
                                size_t *len, struct voucher_error_info *ei)
{
	const uint8_t *raw;
	size_t raw_len;
	enum voucher_format f;
	if (voucher_artifact_raw(a, &raw, &raw_len, &f) == VOUCHER_OK && f == VOUCHER_FORMAT_JSON) {
		*out = malloc(raw_len + 1);
		if (*out == NULL)
			return VOUCHER_ENOMEM;
		memcpy(*out, raw, raw_len);
		(*out)[raw_len] = 0;
		*len = raw_len;
		/* Drop a final newline: we add our own. */
		while (*len > 0 && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r'))
			(*len)--;
		return VOUCHER_OK;
	}
	return voucher_artifact_to_json(a, flags & VOUCHER_F_LEGACY, out, len, ei);
}

static int cmd_verify(int argc, char **argv)
{
	struct option lo[N_VERIFY + 1];
	struct voucher_trust *trust = NULL;
	struct voucher_verified *v = NULL;
	struct voucher_artifact *a = NULL;
	struct voucher_x509_chain *extra = NULL;
	struct voucher_error_info ei;
	enum voucher_kind want_kind = VOUCHER_KIND_UNKNOWN;
	const char *out_path = NULL;
	bool legacy = false, lenient = false, no_trust = false;
	uint8_t *in = NULL, *json = NULL;
	size_t in_len = 0, json_len = 0;
	int rc = BRSKI_EXIT_USAGE, c, o;
	voucher_err e;

	if (voucher_trust_new(&trust) != VOUCHER_OK)
		return brski_fail(PROG, BRSKI_EXIT_IO, "out of memory");
	start_options(lo, verify_opts, N_VERIFY);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_TRUST:
			if ((e = voucher_trust_add_file(trust, optarg)) != VOUCHER_OK) {
				rc = brski_fail(PROG, io_or_usage(e), "--trust %s: %s", optarg,
				                voucher_strerror(e));
				goto out;
			}
			break;
		case OPT_NO_TRUST:
			no_trust = true;
			break;
		case OPT_SIGNER_CERT:
			voucher_x509_chain_free(extra);
			extra = NULL;
			if ((e = voucher_x509_chain_load_file(optarg, &extra)) != VOUCHER_OK) {
				rc = brski_fail(PROG, io_or_usage(e), "--signer-cert %s: %s",
				                optarg, voucher_strerror(e));
				goto out;
			}
			break;
		case OPT_KIND:
			if (parse_kind(optarg, &want_kind) != BRSKI_EXIT_OK)
				goto out;
			break;
		case OPT_OUT:
			out_path = optarg;
			break;
		default:
			if ((o = common_opt(c, verify_usage, &legacy, &lenient)) != OPT_TAKEN) {
				rc = o;
				goto out;
			}
		}
	}
	if (argc - optind != 1) {
		verify_usage(stderr);
		goto out;
	}
	if (voucher_trust_count(trust) == 0 && !no_trust) {
		rc = brski_fail(PROG, BRSKI_EXIT_USAGE,
		                "verify: --trust FILE is required (or --no-trust to "
		                "check the signature only)");
		goto out;
	}
	const char *in_path = argv[optind];
	if ((rc = read_or_fail(in_path, &in, &in_len)) != BRSKI_EXIT_OK)
		goto out;

	enum voucher_envelope env = voucher_envelope_detect(in, in_len);
	if (env == VOUCHER_ENV_NONE) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: not a CMS, COSE or JWS envelope",
		                in_path);
		goto out;
	}
	if (extra != NULL && env != VOUCHER_ENV_COSE) {
		rc = brski_fail(PROG, BRSKI_EXIT_USAGE,
		                "--signer-cert applies to COSE only, %s is %s", in_path,
		                env_name(env));
		goto out;
	}
	if (extra != NULL)
		e = voucher_cose_verify_with_certs(in, in_len, (const uint8_t *const *)extra->der,
		                                   extra->der_len, extra->len,
		                                   no_trust ? NULL : trust, &v);
	else
		e = voucher_verify(env, in, in_len, no_trust ? NULL : trust, &v);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: %s envelope does not verify: %s",
		                in_path, env_name(env), voucher_strerror(e));
		goto out;
	}
	unsigned flags = model_flags(legacy, lenient);
	memset(&ei, 0, sizeof(ei));
	e = voucher_artifact_parse(v->payload, v->payload_len, want_kind, flags, &a, &ei);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, e == VOUCHER_E_CONFIG ? BRSKI_EXIT_USAGE : BRSKI_EXIT_BAD,
		                "%s: the signature verifies but the payload is not a valid %s: %s",
		                in_path,
		                want_kind == VOUCHER_KIND_UNKNOWN ? "voucher or voucher-request"
		                                                  : kind_name(want_kind),
		                model_msg(&ei, e));
		goto out;
	}
	/* The media type says what the payload is: CBOR in COSE, JSON in CMS
	 * and JWS. */
	enum voucher_format pf = VOUCHER_FORMAT_UNKNOWN;
	const uint8_t *raw;
	size_t raw_len;
	(void)voucher_artifact_raw(a, &raw, &raw_len, &pf);
	enum voucher_format want_pf =
	        env == VOUCHER_ENV_COSE ? VOUCHER_FORMAT_CBOR : VOUCHER_FORMAT_JSON;
	if (pf != want_pf) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD,
		                "%s: %s payload in a %s envelope (%s expected)", in_path,
		                format_name(pf), env_name(env), format_name(want_pf));
		goto out;
	}
	if ((e = payload_json(a, flags, &json, &json_len, &ei)) != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: %s", in_path, model_msg(&ei, e));
		goto out;
	}
	if (out_path != NULL &&
	    (rc = write_all(out_path, v->payload, v->payload_len, false)) != BRSKI_EXIT_OK)
		goto out;
	if ((rc = write_all("-", json, json_len, true)) != BRSKI_EXIT_OK)
		goto out;

	char subject[512];
	signer_subject(v->chain_len > 0 ? v->chain[0] : NULL,
	               v->chain_len > 0 ? v->chain_der_len[0] : 0, subject, sizeof(subject));
	fprintf(stderr, "verified: %s %s (%s)%s\n", env_name(env),
	        kind_name(voucher_artifact_kind(a)), format_name(pf),
	        no_trust ? ", signer not anchored (--no-trust)" : "");
	fprintf(stderr, "signer: %s\n", subject);
	if (env == VOUCHER_ENV_JWS)
		fprintf(stderr, "signatures: %zu (the first verified)\n", v->jws_signatures);
	if (env == VOUCHER_ENV_CMS && v->cms_id_data)
		fprintf(stderr, "note: CMS eContentType is id-data, not id-ct-animaJSONVoucher\n");
	rc = BRSKI_EXIT_OK;
out:
	free(in);
	free(json);
	voucher_artifact_free(a);
	voucher_verified_free(v);
	voucher_trust_free(trust);
	voucher_x509_chain_free(extra);
	return rc;
}

/* ---- show --------------------------------------------------------------- */

static const struct vopt show_opts[] = {
        MODEL_OPTIONS,
};
#define N_SHOW (sizeof(show_opts) / sizeof(show_opts[0]))

static void show_usage(FILE *out)
{
	fprintf(out, "usage: " PROG " show [options] IN\n\n"
	             "Decode IN ('-': standard input), a signed or unsigned voucher or\n"
	             "voucher-request, WITHOUT verifying any signature, and describe it:\n"
	             "envelope, artifact kind and format, the payload as JSON, the\n"
	             "certificates carried. For CMS the signature is checked against the\n"
	             "carried certificate only, since CMS cannot be opened otherwise here.\n\n"
	             "options:\n");
	print_options(out, show_opts, N_SHOW);
	fprintf(out, "\nexit status: 0 decoded, 1 undecodable, 2 usage error, 3 I/O error.\n");
}

static int cmd_show(int argc, char **argv)
{
	struct option lo[N_SHOW + 1];
	struct voucher_verified *v = NULL;
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei;
	bool legacy = false, lenient = false;
	uint8_t *in = NULL, *json = NULL;
	size_t in_len = 0, json_len = 0;
	int rc = BRSKI_EXIT_USAGE, c, o;
	voucher_err e;

	start_options(lo, show_opts, N_SHOW);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		default:
			if ((o = common_opt(c, show_usage, &legacy, &lenient)) != OPT_TAKEN)
				return o;
		}
	}
	if (argc - optind != 1) {
		show_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	const char *in_path = argv[optind];
	if ((rc = read_or_fail(in_path, &in, &in_len)) != BRSKI_EXIT_OK)
		return rc;

	const uint8_t *payload = in;
	size_t payload_len = in_len;
	enum voucher_envelope env = voucher_envelope_detect(in, in_len);
	/* A bare artifact is detected as such first: a CBOR map or JSON
	 * object that the model recognises is not an envelope. */
	if (voucher_artifact_detect(in, in_len, NULL, NULL) == VOUCHER_OK)
		env = VOUCHER_ENV_NONE;
	printf("envelope: %s%s%s\n", env_name(env), env ? " " : "",
	       env ? voucher_envelope_media_type(env) : "");
	if (env != VOUCHER_ENV_NONE) {
		e = voucher_envelope_decode_unverified(env, in, in_len, &v);
		if (e == VOUCHER_ENOTSUP) {
			e = voucher_verify(env, in, in_len, NULL, &v);
			printf("signature: %s\n",
			       e == VOUCHER_OK ? "valid with the carried certificate (not anchored)"
			                       : voucher_strerror(e));
		} else {
			printf("signature: not verified\n");
		}
		if (e != VOUCHER_OK) {
			rc = brski_fail(PROG, BRSKI_EXIT_BAD,
			                "%s: cannot decode the %s envelope: %s", in_path,
			                env_name(env), voucher_strerror(e));
			goto out;
		}
		if (env == VOUCHER_ENV_JWS)
			printf("signatures: %zu\n", v->jws_signatures);
		if (env == VOUCHER_ENV_CMS && v->cms_id_data)
			printf("econtent-type: id-data\n");
		for (size_t i = 0; i < v->chain_len; i++) {
			char prefix[48];
			snprintf(prefix, sizeof(prefix), "certificate %zu: ", i);
			cert_describe(v->chain[i], v->chain_der_len[i], stdout, prefix);
		}
		payload = v->payload;
		payload_len = v->payload_len;
	}
	enum voucher_format pf = VOUCHER_FORMAT_UNKNOWN;
	enum voucher_kind pk = VOUCHER_KIND_UNKNOWN;
	if (voucher_artifact_detect(payload, payload_len, &pf, &pk) != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD,
		                "%s: the payload is neither a JSON nor a CBOR voucher "
		                "or voucher-request",
		                in_path);
		goto out;
	}
	printf("artifact: %s (%s, %zu bytes)\n", kind_name(pk), format_name(pf), payload_len);
	memset(&ei, 0, sizeof(ei));
	unsigned flags = model_flags(legacy, lenient);
	e = voucher_artifact_parse(payload, payload_len, VOUCHER_KIND_UNKNOWN, flags, &a, &ei);
	if (e == VOUCHER_OK)
		e = payload_json(a, flags, &json, &json_len, &ei);
	if (e != VOUCHER_OK) {
		printf("valid: no (%s)\n", model_msg(&ei, e));
		if (pf == VOUCHER_FORMAT_JSON)
			printf("payload: %.*s\n", (int)payload_len, (const char *)payload);
		rc = BRSKI_EXIT_BAD;
		goto out;
	}
	printf("valid: yes\n");
	printf("payload: %.*s\n", (int)json_len, (const char *)json);
	rc = BRSKI_EXIT_OK;
out:
	free(in);
	free(json);
	voucher_artifact_free(a);
	voucher_verified_free(v);
	return rc;
}

/* ---- convert ------------------------------------------------------------ */

static const struct vopt convert_opts[] = {
        {"to", "json|cbor", OPT_TO, "output format (default: the other one)"},
        MODEL_OPTIONS,
};
#define N_CONVERT (sizeof(convert_opts) / sizeof(convert_opts[0]))

static void convert_usage(FILE *out)
{
	fprintf(out, "usage: " PROG " convert [--to json|cbor] IN OUT\n\n"
	             "Convert an unsigned voucher or voucher-request between JSON (RFC 7951)\n"
	             "and CBOR (RFC 9254 with SIDs). Both sides are validated. IN and OUT may\n"
	             "be '-'. Signed artifacts cannot be converted: the signature covers the\n"
	             "bytes.\n\n"
	             "options:\n");
	print_options(out, convert_opts, N_CONVERT);
	fprintf(out, "\nexit status: 0 converted, 1 invalid input, 2 usage error, 3 I/O error.\n");
}

static int cmd_convert(int argc, char **argv)
{
	struct option lo[N_CONVERT + 1];
	struct voucher_artifact *a = NULL;
	struct voucher_error_info ei;
	enum voucher_format to = VOUCHER_FORMAT_UNKNOWN;
	bool legacy = false, lenient = false;
	uint8_t *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	int rc, c, o;

	start_options(lo, convert_opts, N_CONVERT);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			to = strcmp(optarg, "json") == 0   ? VOUCHER_FORMAT_JSON
			     : strcmp(optarg, "cbor") == 0 ? VOUCHER_FORMAT_CBOR
			                                   : VOUCHER_FORMAT_UNKNOWN;
			if (to == VOUCHER_FORMAT_UNKNOWN)
				return brski_fail(PROG, BRSKI_EXIT_USAGE, "--to: json or cbor");
			break;
		default:
			if ((o = common_opt(c, convert_usage, &legacy, &lenient)) != OPT_TAKEN)
				return o;
		}
	}
	if (argc - optind != 2) {
		convert_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	const char *in_path = argv[optind], *out_path = argv[optind + 1];
	if ((rc = read_or_fail(in_path, &in, &in_len)) != BRSKI_EXIT_OK)
		return rc;
	enum voucher_format from = VOUCHER_FORMAT_UNKNOWN;
	if (voucher_artifact_detect(in, in_len, &from, NULL) != VOUCHER_OK) {
		enum voucher_envelope env = voucher_envelope_detect(in, in_len);
		rc = brski_fail(PROG, BRSKI_EXIT_BAD,
		                "%s: not a JSON or CBOR voucher or voucher-request%s", in_path,
		                env != VOUCHER_ENV_NONE
		                        ? " (a signed envelope? use 'verify --out' to "
		                          "extract the payload)"
		                        : "");
		goto out;
	}
	if (to == VOUCHER_FORMAT_UNKNOWN)
		to = from == VOUCHER_FORMAT_JSON ? VOUCHER_FORMAT_CBOR : VOUCHER_FORMAT_JSON;
	memset(&ei, 0, sizeof(ei));
	unsigned flags = model_flags(legacy, lenient);
	voucher_err e = voucher_artifact_parse(in, in_len, VOUCHER_KIND_UNKNOWN, flags, &a, &ei);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, e == VOUCHER_E_CONFIG ? BRSKI_EXIT_USAGE : BRSKI_EXIT_BAD,
		                "%s: %s", in_path, model_msg(&ei, e));
		goto out;
	}
	e = to == VOUCHER_FORMAT_CBOR
	            ? voucher_artifact_to_cbor(a, flags & VOUCHER_F_LEGACY, &out, &out_len, &ei)
	            : voucher_artifact_to_json(a, flags & VOUCHER_F_LEGACY, &out, &out_len, &ei);
	if (e != VOUCHER_OK) {
		rc = brski_fail(PROG, BRSKI_EXIT_BAD, "%s: cannot print as %s: %s", in_path,
		                format_name(to), model_msg(&ei, e));
		goto out;
	}
	rc = write_all(out_path, out, out_len, to == VOUCHER_FORMAT_JSON);
out:
	free(in);
	free(out);
	voucher_artifact_free(a);
	return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct brski_cmd subs[] = {
        {"create", cmd_create, "build a voucher or voucher-request from options"},
        {"sign", cmd_sign, "sign an artifact as CMS, COSE or JWS"},
        {"verify", cmd_verify, "verify a signed artifact and print its payload"},
        {"show", cmd_show, "decode and describe an artifact without verifying it"},
        {"convert", cmd_convert, "convert an artifact between JSON and CBOR"},
};

static void voucher_usage(FILE *out)
{
	fprintf(out, "usage: brski voucher <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		fprintf(out, "  %-10s %s\n", subs[i].name, subs[i].summary);
	fprintf(out, "\n'brski voucher <subcommand> --help' describes one. See brski(1).\n");
}

int brski_cmd_voucher(int argc, char **argv)
{
	if (argc < 2) {
		voucher_usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		voucher_usage(stdout);
		return BRSKI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		/* Load the YANG modules and SID tables up front, so that a
		 * broken installation is reported as such (exit 2), not as a
		 * bad artifact. --help needs none of it. */
		bool help = false;
		for (int k = 2; k < argc; k++)
			help = help || strcmp(argv[k], "--help") == 0;
		struct voucher_error_info ei;
		memset(&ei, 0, sizeof(ei));
		voucher_err e = help ? VOUCHER_OK : voucher_lib_init(&ei);
		if (e != VOUCHER_OK)
			return brski_fail(PROG, BRSKI_EXIT_USAGE,
			                  "cannot load the YANG modules: %s", model_msg(&ei, e));
		return subs[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, PROG ": unknown subcommand '%s'\n", argv[1]);
	voucher_usage(stderr);
	return BRSKI_EXIT_USAGE;
}
