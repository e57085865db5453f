/*
 * Fuzz target: the MASA's whole voucher-request path without sockets
 * (masa_issue: Accept, the RFC 8995 checks of masa_check with CMS, COSE
 * or JWS envelopes and the pledge request inside, ownership and
 * revocation in a SQLite store, pinning policy, signing, the audit event
 * and the request log). The first input byte picks the envelope (CMS,
 * COSE, JWS), the rest is the request body. The MASA's keys, the
 * manufacturer CA and the owner come from a fixed test PKI in
 * tests/fuzz/vreq/ (found through BRSKI_FUZZ_VREQ_DIR, or next to the YANG
 * directory of BRSKI_YANG_DIR, which the test environment, make fuzz and
 * fuzz-ci.sh set); the seeds are requests signed with it for pledge-0001,
 * which the store has. Invariants, which abort when broken: every request
 * ends with a status; a 200 carries a voucher in the media type it names
 * whose signature verifies (voucher_verify with the certificate it carries).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <voucher/sign.h>

#include "masa/masa.h"
#include "service/log.h"
#include "service/route.h"
#include "service/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096], db[4200];
static struct store *store;
static struct masa_app *app;

static void cleanup(void)
{
	masa_app_free(app);
	store_close(store);
	unlink(db);
	rmdir(dir);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (s = calloc(1, (size_t)n + 1)) == NULL ||
	    fread(s, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	return s;
}

static void setup(void)
{
	const char *pki = getenv("BRSKI_FUZZ_VREQ_DIR"), *yang = getenv("BRSKI_YANG_DIR");
	const char *tmp = getenv("TMPDIR");
	char base[4096], key[4200], cert[4200], mfg[4200], owner_ca[4200], err[STORE_ERRLEN];
	struct masa_keys *keys = NULL;
	struct store_owner o = {0};
	struct store_device d = {0};

	svc_log_set_level(SVC_LOG_ERROR); /* a fuzz target never prints */
	if (pki && *pki)
		snprintf(base, sizeof(base), "%s", pki);
	else if (yang && *yang)
		snprintf(base, sizeof(base), "%s/../tests/fuzz/vreq", yang);
	else
		abort(); /* no test PKI: the environment is not set up */
	snprintf(key, sizeof(key), "%s/masa-sign.key", base);
	snprintf(cert, sizeof(cert), "%s/masa-sign.chain.pem", base);
	snprintf(mfg, sizeof(mfg), "%s/manufacturer-ca.crt", base);
	snprintf(owner_ca, sizeof(owner_ca), "%s/owner-domain-ca.crt", base);
	if (masa_keys_load_files(key, cert, mfg, NULL, NULL, NULL, &keys, err, sizeof(err)) !=
	    VOUCHER_OK)
		abort();
	snprintf(dir, sizeof(dir), "%s/fuzz_vreq.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/masa.db", dir);
	if (store_open(db, &store, err, sizeof(err)) != VOUCHER_OK)
		abort();
	o.name = "acme";
	o.domain_ca_pem = read_text(owner_ca);
	if (store_owner_put(store, &o, STORE_PUT_CREATE, err, sizeof(err)) != VOUCHER_OK)
		abort();
	free(o.domain_ca_pem);
	d.serial = "pledge-0001";
	d.owner = "acme";
	if (store_device_put(store, &d, STORE_PUT_CREATE, err, sizeof(err)) != VOUCHER_OK ||
	    masa_app_new(store, keys, &app) != VOUCHER_OK)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum voucher_envelope envs[] = {VOUCHER_ENV_CMS, VOUCHER_ENV_COSE,
	                                             VOUCHER_ENV_JWS};
	struct masa_input in = {0};
	struct svc_resp resp;

	if (size < 1)
		return 0;
	if (app == NULL)
		setup();
	in.env = envs[data[0] % 3];
	in.body = data + 1;
	in.body_len = size - 1;
	svc_resp_init(&resp);
	(void)masa_issue(app, &in, NULL, "fuzz", "127.0.0.1:1", &resp);
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status == 200) {
		struct voucher_verified *v = NULL;
		if (resp.body.len == 0 ||
		    voucher_verify(voucher_envelope_from_media_type(resp.content_type),
		                   resp.body.data, resp.body.len, NULL, &v) != VOUCHER_OK)
			abort();
		voucher_verified_free(v);
	}
	svc_resp_free(&resp);
	return 0;
}
