/*
 * The CA backends of cloudregd: what an EST enrollment job calls to turn a
 * pledge's CSR into a certificate. Two implementations: the local CA
 * (cloudreg/ca-local.c, [ca] backend = local) signs with a configured key;
 * the ACME client (cloudreg/ca-acme.c, [ca] backend = acme) orders from an
 * RFC 8555 server.
 *
 * Calls come from the enrollment worker threads (cloudreg/enroll.c), any
 * number at once, so issue() must be thread-safe for one backend. A job may
 * be resumed by another worker, another process or another host after a
 * restart or a lost lease: a backend keeps whatever must survive between
 * attempts in the store, keyed by req->job_id (e.g. the ACME order of that
 * job), never only in memory.
 *
 * The result of one issue() call is one of:
 *   CREG_CA_ISSUED  chain[] holds the certificate chain, DER, issued
 *                   certificate first, then its issuers (without the root
 *                   if the backend does not know it); not_after is the
 *                   issued certificate's notAfter.
 *   CREG_CA_RETRY   the backend is still waiting (an order being
 *                   validated, a rate limit): the job stays pending and is
 *                   tried again retry_after seconds later; message says why.
 *   CREG_CA_FAILED  a permanent failure (the CA refused the CSR, the
 *                   identifier is not allowed): the job fails for good and
 *                   the pledge's next request gets message as a 4xx/5xx.
 * issue() returns VOUCHER_OK whenever it filled res (also for RETRY and
 * FAILED); another code means the backend itself broke (the store, memory),
 * which the worker treats as RETRY after its default delay with err as
 * the reason.
 */
#ifndef CREG_CA_H
#define CREG_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <voucher/error.h>

struct svc_config;
struct store;

/* What the enrollment job asks for. All fields are borrowed for the call. */
struct creg_ca_request {
	int64_t job_id;     /* store_job id: key for a backend's own state */
	const uint8_t *csr; /* PKCS#10, DER, as the pledge sent it (already
	                       parsed and its signature checked by csr.c) */
	size_t csr_len;
	const char *serial;    /* the pledge's serial number (IDevID or LDevID) */
	const char *owner;     /* owner name from the store; NULL for enroll-here
	                          devices without one */
	const char *subdomain; /* the owner's subdomain, e.g. "pledges.example.com";
	                          NULL if none is configured */
	bool reenroll;         /* simplereenroll: keep subject and SAN of the old
	                          certificate (the CSR already carries them) */
	unsigned attempt;      /* 1 on the first call for this job */
};

enum creg_ca_status {
	CREG_CA_ISSUED = 0,
	CREG_CA_RETRY,
	CREG_CA_FAILED,
};

#define CREG_CA_MAX_CHAIN 8

struct creg_ca_result {
	enum creg_ca_status status;
	/* CREG_CA_ISSUED: each malloc'd, freed by creg_ca_result_clear */
	uint8_t *chain[CREG_CA_MAX_CHAIN];
	size_t chain_len[CREG_CA_MAX_CHAIN];
	size_t n_chain;
	int64_t not_after; /* seconds since the epoch */
	/* CREG_CA_RETRY: seconds until the next attempt (>= 1) */
	unsigned retry_after;
	/* CREG_CA_RETRY / CREG_CA_FAILED: why, for logs and the pledge */
	char message[320];
};

/* Zero r. */
void creg_ca_result_init(struct creg_ca_result *r);
/* Free the chain and zero r; r may be NULL. */
void creg_ca_result_clear(struct creg_ca_result *r);
/* Append a copy of der to r->chain. VOUCHER_ENOMEM, or VOUCHER_EINVAL when
 * the chain is full. */
voucher_err creg_ca_result_add(struct creg_ca_result *r, const uint8_t *der, size_t len);

struct creg_ca_ops {
	const char *name; /* the [ca] backend value: "local", "acme" */
	/* Build a backend from [ca] (and its own sections) of cfg; the store
	 * is borrowed for the backend's lifetime. Loads keys and certificates
	 * once (again only on SIGHUP, through a new backend). */
	voucher_err (*create)(const struct svc_config *cfg, struct store *store, void **backend,
	                      char *err, size_t errlen);
	voucher_err (*issue)(void *backend, const struct creg_ca_request *req,
	                     struct creg_ca_result *res, char *err, size_t errlen);
	/* The CA certificates EST cacerts returns (DER, issuing CA first); the
	 * backend keeps ownership. *n may be 0 (an ACME CA whose chain is only
	 * known after the first issuance): cacerts then serves [est] cacerts. */
	void (*cacerts)(void *backend, const uint8_t *const **certs, const size_t **lens,
	                size_t *n);
	/* Optional: certificates EST cacerts serves after those above or
	 * [registrar] domain_ca, asked for at every cacerts request because
	 * they change while serving: for the ACME CA, the issuers it sent
	 * with its most recent certificate (an ACME CA rotates its
	 * intermediates), then the configured [acme] ca_roots. Copies (DER)
	 * go to out->chain, at most CREG_CA_MAX_CHAIN (more are left out);
	 * out->n_chain 0 when none are known. */
	voucher_err (*issuers)(void *backend, struct creg_ca_result *out);
	void (*destroy)(void *backend); /* NULL-safe */
};

extern const struct creg_ca_ops creg_ca_local_ops;
extern const struct creg_ca_ops creg_ca_acme_ops;

/* The ops whose name is name, or NULL. */
const struct creg_ca_ops *creg_ca_find(const char *name);

/* A backend instance with its ops. */
struct creg_ca {
	const struct creg_ca_ops *ops;
	void *backend;
};

/* Create the backend named by [ca] backend. *out is new. */
voucher_err creg_ca_open(const struct svc_config *cfg, struct store *store, struct creg_ca **out,
                         char *err, size_t errlen);
void creg_ca_close(struct creg_ca *ca);

#endif
