/*
 * The EST server of cloudregd (RFC 7030 with the RFC 8951 clarifications):
 * body encodings and PKCS#10 checks (csr.c), certs-only PKCS#7 (pkcs7.c),
 * enrollment jobs with a worker pool and the certificate cache (enroll.c)
 * and the /.well-known/est/ routes (est.c).
 *
 * Everything here reads untrusted input with bounded sizes: a CSR body is
 * at most [est] max_body (the listener's limit), a decoded CSR at most
 * CREG_CSR_MAX bytes.
 */
#ifndef CREG_EST_H
#define CREG_EST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

#include "cloudreg/ca.h"
#include "common/buf.h"
#include "service/route.h"

struct svc_config;
struct svc_metrics;
struct svc_trust;
struct store;
struct creg_app;

#define CREG_CSR_MAX            (32 * 1024)
#define CREG_DNS_MAX            253
#define CREG_SERIAL_MAX         64
#define CREG_EST_MAX_OIDS       16
#define CREG_EST_MAX_CHAIN      CREG_CA_MAX_CHAIN
#define CREG_OID_CHALLENGE      "1.2.840.113549.1.9.7"
#define CREG_OID_EXT_REQ        "1.2.840.113549.1.9.14"
#define CREG_OID_SAN            "2.5.29.17"
#define CREG_OID_SUBJECT_SERIAL "2.5.4.5"
#define CREG_EST_PKCS7_TYPE     "application/pkcs7-mime; smime-type=certs-only"

/* ---- csr.c: base64 bodies, PKCS#10, csrattrs ------------------------------ */

/* Decode an EST base64 body (RFC 8951: "Content-Transfer-Encoding" is
 * ignored, the body is base64): whitespace (spaces, tabs, CR, LF) anywhere
 * is skipped, padding is required, anything else is VOUCHER_E_BAD_BASE64.
 * out receives the bytes (bounded by its max). */
voucher_err creg_b64_decode_body(const uint8_t *in, size_t len, struct brski_buf *out);
/* Encode as base64 in lines of 64 characters, each ended by LF (what
 * base64(1) and openssl base64 -d read; readers accept CRLF too). */
voucher_err creg_b64_encode_body(const uint8_t *in, size_t len, struct brski_buf *out);

/* What est.c needs from a CSR whose self-signature verified. */
struct creg_csr {
	char *subject;        /* RFC 4514 DN, "" when empty */
	char *subject_serial; /* serialNumber attribute of the subject, or NULL */
	char *dns[4];         /* SAN dNSNames (at most 4 are kept) */
	size_t n_dns;
	bool other_san;     /* SAN entries other than dNSName */
	uint8_t *challenge; /* challengePassword bytes as sent, or NULL */
	size_t challenge_len;
	uint8_t sha256[32]; /* of the DER: the job and cache key */
};
void creg_csr_clear(struct creg_csr *c);

/* Parse a PKCS#10 DER request and verify its self-signature (proof that the
 * requester holds the key). VOUCHER_E_MALFORMED (err says what) for
 * anything else. */
voucher_err creg_csr_parse(const uint8_t *der, size_t len, struct creg_csr *out, char *err,
                           size_t errlen);

/* RFC 7030 3.5: the challengePassword carries base64 of the channel
 * binding. True when the CSR's challenge equals base64(cb) (padded, any
 * whitespace ignored), compared in constant time. */
bool creg_csr_pop_matches(const struct creg_csr *c, const uint8_t *cb, size_t cb_len);

/* The SAN the policy asks for: "<serial>.<subdomain>" into out. */
voucher_err creg_csr_san_for(const char *serial, const char *subdomain, char *out, size_t outlen);

/* A csrattrs body (RFC 7030 4.5.2, RFC 9908 template form kept simple):
 * CsrAttrs ::= SEQUENCE OF AttrOrOID. Each oid becomes an OID element; when
 * san is not NULL an extensionRequest attribute carrying a
 * subjectAltName with that dNSName is added (the template the pledge
 * copies), and with pop a challengePassword OID. DER into out. */
voucher_err creg_csrattrs_encode(const char *const *oids, size_t n_oids, bool pop, const char *san,
                                 struct brski_buf *out, char *err, size_t errlen);

/* The pledge side: what a csrattrs body asks for. oids (dotted, malloc'd,
 * at most max) and the dNSName of an extensionRequest SAN template
 * (malloc'd or NULL). */
struct creg_csrattrs {
	char *oids[CREG_EST_MAX_OIDS];
	size_t n_oids;
	char *san_dns;
	bool pop; /* challengePassword asked for */
};
void creg_csrattrs_clear(struct creg_csrattrs *a);
voucher_err creg_csrattrs_decode(const uint8_t *der, size_t len, struct creg_csrattrs *out,
                                 char *err, size_t errlen);

/* ---- pkcs7.c: certs-only PKCS#7 ------------------------------------------- */

/* A degenerate SignedData (RFC 5652, RFC 7030 4.1.3) carrying certs in the
 * order given (the issued certificate first: EST clients take the first).
 * The certificates are written as given, not sorted. */
voucher_err creg_pkcs7_certs_only(const uint8_t *const *certs, const size_t *lens, size_t n,
                                  struct brski_buf *out);
/* The certificates of a certs-only PKCS#7, in order; each *certs[i]
 * malloc'd. VOUCHER_E_MALFORMED on anything else. */
voucher_err creg_pkcs7_parse(const uint8_t *der, size_t len, uint8_t **certs, size_t *lens,
                             size_t max, size_t *n, char *err, size_t errlen);

/* ---- enroll.c: jobs, workers, cache --------------------------------------- */

struct creg_enroll_opts {
	unsigned workers;       /* 0: this instance only queues jobs */
	unsigned lease;         /* seconds a worker holds a job */
	unsigned first_wait_ms; /* how long a new job's request waits for it */
	unsigned retry_after;   /* seconds sent with 202 */
	unsigned poll_ms;       /* idle workers look for jobs this often */
	const char *holder;     /* lease holder prefix; NULL: the host name */
	const char *subdomain;  /* [ca] subdomain, passed to the backend */
	int metrics_slot;       /* >= 0: count in this series; else register one */
};

struct creg_enroll;

/* ca is borrowed and must outlive e; metrics may be NULL. Starts the
 * workers. */
voucher_err creg_enroll_new(struct store *store, struct creg_ca *ca,
                            const struct creg_enroll_opts *opts, struct svc_metrics *metrics,
                            struct creg_enroll **out, char *err, size_t errlen);
/* Stop the workers (each finishes its current job) and free e. NULL ok. */
void creg_enroll_free(struct creg_enroll *e);

/* Outcome of one enrollment request. */
struct creg_enroll_answer {
	unsigned status;        /* 200, 202, or an error status */
	unsigned retry_after;   /* with 202 */
	struct brski_buf pkcs7; /* with 200 */
	bool cached;            /* served from the certificate cache */
	int64_t job_id;
	char message[320]; /* with an error status */
};
void creg_enroll_answer_init(struct creg_enroll_answer *a);
void creg_enroll_answer_free(struct creg_enroll_answer *a);

/* The whole of simpleenroll (reenroll false) or simplereenroll (true)
 * after authentication and checks: the cache by sha256(csr); else the job
 * for this CSR (created with the reenroll flag, which the CA backend gets
 * from the job, and, if the worker is quick, waited for first_wait_ms).
 * serial is the device's; owner may be NULL. The cache serves a
 * certificate only to the device it was issued to (the same serial). */
voucher_err creg_enroll_request(struct creg_enroll *e, const uint8_t *csr, size_t csr_len,
                                const uint8_t sha256[32], const char *serial, const char *owner,
                                bool reenroll, struct creg_enroll_answer *a);

/* Run one claimable job if there is one (the worker's step; exposed for the
 * tests). *ran tells whether one was run. */
voucher_err creg_enroll_run_one(struct creg_enroll *e, const char *holder, bool *ran, char *err,
                                size_t errlen);

/* The metrics series of the CA calls (-1 when none). */
int creg_enroll_metrics_slot(const struct creg_enroll *e);

/* Issuances (CREG_CA_ISSUED results) of this instance. */
uint64_t creg_enroll_issued(const struct creg_enroll *e);

/* ---- est.c: the routes ----------------------------------------------------- */

/* What [est] and [ca] configure for the EST server, built at start and
 * again on SIGHUP (creg_est_swap); requests hold a reference. */
struct creg_est {
	unsigned refs;              /* guarded by creg_app.lock */
	bool cloud;                 /* cloud role: only enroll-here devices */
	struct creg_ca *ca;         /* the backend (owned) */
	struct creg_enroll *enroll; /* jobs and workers (owned) */
	struct svc_trust *idevid;   /* manufacturer CAs: who may enroll */
	struct svc_trust *ldevid;   /* our domain CA: who may re-enroll */
	uint8_t **cacerts;          /* served by cacerts, DER, issuing CA first */
	size_t *cacerts_len;
	size_t n_cacerts;
	char **allowed; /* [est] allowed_serials; NULL: any */
	size_t n_allowed;
	char *basic_user;              /* [est] basic_user, NULL: no Basic */
	uint8_t basic_sha256[32];      /* SHA-256 of the password file's first line */
	bool require_pop;              /* [est] require_pop */
	bool serverkeygen;             /* [est] serverkeygen */
	char *subdomain;               /* [ca] subdomain */
	char *oids[CREG_EST_MAX_OIDS]; /* [est] csrattrs_oids */
	size_t n_oids;
};

/* metrics_slot: the enrollment metrics series of the server this one
 * replaces (svc_metrics_route may not be called while serving), or -1 to
 * register it (at start). */
voucher_err creg_est_new(const struct svc_config *cfg, struct store *store,
                         struct svc_metrics *metrics, int metrics_slot, struct creg_est **out,
                         char *err, size_t errlen);
void creg_est_free(struct creg_est *est);

/* The current EST server with a reference (NULL when there is none), and
 * its release: the last reference frees a replaced one (stopping its
 * workers). */
struct creg_est *creg_est_get(struct creg_app *app);
void creg_est_put(struct creg_app *app, struct creg_est *est);
/* Make est (one reference, from creg_est_new) the current EST server. */
void creg_est_swap(struct creg_app *app, struct creg_est *est);

/* The EST dispatcher (every /.well-known/est/ route); req->app is a
 * struct creg_app whose est is set. */
voucher_err creg_est_handle(const struct svc_req *req, struct svc_resp *resp);

#endif
