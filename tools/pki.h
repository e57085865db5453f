/*
 * brski pki: internals shared by tools/cmd-pki.c (what to issue, options,
 * summary), tools/pki-cert.c (keys and certificates, on GnuTLS),
 * tools/pki-file.c (files, ports, the admin token) and tools/pki-conf.c
 * (daemon configurations and the pki.json manifest).
 */
#ifndef BRSKI_TOOL_PKI_H
#define BRSKI_TOOL_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include <voucher/error.h>

/* Room for any path we build; DIR itself is limited well below this so that
 * DIR + "/pledges/<serial>.chain.pem" always fits. */
#define PKI_PATH_MAX 1024
#define PKI_DIR_MAX  768

/* A message a person can act on, filled where a failure is detected. */
struct pki_err {
	char msg[768];
};

/* Fill err->msg from fmt and return r, so callers can `return pki_fail(...)`. */
voucher_err pki_fail(struct pki_err *err, voucher_err r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ---- keys and certificates (pki-cert.c) ------------------------------ */

/* Every key of one PKI has the same type (--key-type). */
enum pki_key_type {
	PKI_KEY_P256,
	PKI_KEY_P384,
	PKI_KEY_ED25519,
	PKI_KEY_RSA2048,
};

/* "p256" ... to the enum; VOUCHER_EINVAL for anything else. */
voucher_err pki_key_type_parse(const char *s, enum pki_key_type *out);
/* Human-readable name, e.g. "ECDSA P-256". */
const char *pki_key_type_label(enum pki_key_type kt);

/* What a certificate is for; each profile fixes basicConstraints, keyUsage,
 * extendedKeyUsage, subjectAltName and the validity period (pki-cert.c). */
enum pki_profile {
	PKI_PROFILE_ROOT_CA,   /* self-signed CA: CA:TRUE, keyCertSign, cRLSign, 10 years */
	PKI_PROFILE_IDEVID,    /* IEEE 802.1AR IDevID: serialNumber, MASA URL, 9999-12-31 */
	PKI_PROFILE_SERVER,    /* TLS (EST) server: serverAuth, SANs, 2 years */
	PKI_PROFILE_REGISTRAR, /* id-kp-cmcRA + serverAuth + clientAuth, SANs, 2 years */
	PKI_PROFILE_SIGNER,    /* voucher signer: digitalSignature only, 2 years */
};

/* Subject of a new certificate; strings are borrowed for the call. */
struct pki_subject {
	const char *org;            /* O= */
	const char *cn;             /* CN= */
	const char *serial_number;  /* IDevID: X.520 serialNumber (2.5.4.5); else NULL */
	const char *masa_authority; /* IDevID: id-pe-masa-url value "host:port"; else NULL */
};

/* A key pair and its certificate. Owned by whoever pki_cred_issue() gave it
 * to; release with pki_cred_free(). */
struct pki_cred {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t xkey; /* the key material */
	gnutls_privkey_t key;       /* signing view of xkey (does not own it) */
};

/*
 * Generate a key of type kt and a certificate for it with the given profile
 * and subject, signed by issuer (NULL: self-signed, only for ROOT_CA).
 * Validity starts an hour before now, so that clocks a little behind still
 * accept it. The serial number is 126 random bits. On success *out is a new
 * credential owned by the caller.
 */
voucher_err pki_cred_issue(enum pki_profile profile, const struct pki_subject *subj,
                           enum pki_key_type kt, const struct pki_cred *issuer, time_t now,
                           struct pki_cred **out, struct pki_err *err);
void pki_cred_free(struct pki_cred *c);

/* Where a credential is written (absolute paths). */
struct pki_files {
	char crt[PKI_PATH_MAX];   /* the certificate alone, PEM */
	char chain[PKI_PATH_MAX]; /* leaf, then its issuer's certificate; "" for roots */
	char key[PKI_PATH_MAX];   /* PKCS#8 PEM, unencrypted, mode 0600 */
};

/* Write c to the paths in f; the chain file gets c then issuer (which must be
 * given exactly when f->chain is not empty). */
voucher_err pki_cred_write(const struct pki_cred *c, const struct pki_cred *issuer,
                           const struct pki_files *f, struct pki_err *err);

/* notAfter as "YYYY-MM-DD" (UTC), for the summary. */
void pki_cred_not_after(const struct pki_cred *c, char out[16]);

/* ---- files, ports, token (pki-file.c) -------------------------------- */

/* Replace path with exactly data[0..len) and mode (never following a
 * symlink at path; umask does not apply). */
voucher_err pki_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           struct pki_err *err);
/* Create directory path with mode 0700 unless it exists as a directory. */
voucher_err pki_mkdir(const char *path, struct pki_err *err);
/* Remove path if it exists. */
voucher_err pki_unlink(const char *path, struct pki_err *err);
/* snprintf into out[PKI_PATH_MAX]; VOUCHER_E_TOO_LARGE if it does not fit. */
voucher_err pki_path(char out[PKI_PATH_MAX], struct pki_err *err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* n distinct free TCP ports on 127.0.0.1: each is found by binding a socket
 * to port 0, and all sockets stay open until every port is known. */
voucher_err pki_pick_ports(uint16_t *ports, size_t n, struct pki_err *err);

/* 256 bits from gnutls_rnd(GNUTLS_RND_KEY) as 64 lowercase hex digits. */
#define PKI_TOKEN_HEX_LEN 64
voucher_err pki_make_token(char out[PKI_TOKEN_HEX_LEN + 1], struct pki_err *err);

/* ---- what was made, for configs and manifest (pki-conf.c) ------------ */

/* The credentials of a PKI, in issuing order (an issuer precedes what it
 * signs). Pledges are extra. */
enum pki_id {
	PKI_TLS_CA,
	PKI_MFG_CA,
	PKI_MASA_CA,
	PKI_MASA_SIGN,
	PKI_MASA_TLS,
	PKI_CLOUD_REG,
	PKI_CLOUD_DCA,
	PKI_CLOUD_EST,
	PKI_OWNER_DCA,
	PKI_OWNER_REG,
	PKI_OWNER_EST,
	PKI_NCREDS
};

/* The loopback listeners, each on its own free port. */
enum pki_port {
	PKI_PORT_MASA,        /* masad [brski] (the MASA URL in every IDevID) */
	PKI_PORT_MASA_ADMIN,  /* masad [admin] */
	PKI_PORT_CLOUD,       /* cloudregd cloud [brski] */
	PKI_PORT_CLOUD_EST,   /* cloudregd cloud [est] (enroll-here) */
	PKI_PORT_CLOUD_ADMIN, /* cloudregd cloud [admin] */
	PKI_PORT_OWNER,       /* cloudregd owner registrar [brski] */
	PKI_PORT_OWNER_EST,   /* cloudregd owner registrar [est] */
	PKI_PORT_OWNER_ADMIN, /* cloudregd owner registrar [admin]; not in pki.json */
	PKI_NPORTS
};

#define PKI_OWNER_NAME      "acme-owner"
#define PKI_OWNER_SUBDOMAIN "pledges.example.com"
#define PKI_SERIAL_MAX      32

struct pki_pledge {
	char serial[PKI_SERIAL_MAX]; /* "pledge-0001": a DNS label */
	struct pki_files files;
};

/* Everything the configs and the manifest name. */
struct pki_layout {
	char dir[PKI_PATH_MAX]; /* absolute */
	uint16_t port[PKI_NPORTS];
	struct pki_files files[PKI_NCREDS];
	struct pki_pledge *pledges; /* npledges entries, owned by the caller */
	size_t npledges;
	char token_file[PKI_PATH_MAX];
	char cloud_db[PKI_PATH_MAX];
	char owner_db[PKI_PATH_MAX];
	char conf_masa[PKI_PATH_MAX];
	char conf_cloud[PKI_PATH_MAX];
	char conf_owner[PKI_PATH_MAX];
	char manifest[PKI_PATH_MAX];
	/* owner registrar on ACME instead of its local CA when acme_directory */
	const char *acme_directory;
	char acme_trust[PKI_PATH_MAX];
	const char *acme_http01_listen;
};

/* https://127.0.0.1:PORT, the bare origin clients append well-known paths to. */
void pki_origin(const struct pki_layout *l, enum pki_port p, char out[32]);

/* The three daemon configurations (docs/CONFIG.md). */
voucher_err pki_write_configs(const struct pki_layout *l, struct pki_err *err);
/* DIR/pki.json; written last, so that its presence means a complete PKI. */
voucher_err pki_write_manifest(const struct pki_layout *l, struct pki_err *err);

#endif
