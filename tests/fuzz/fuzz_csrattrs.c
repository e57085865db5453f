/*
 * Fuzz target: the pledge's csrattrs reader (creg_csrattrs_decode, RFC 7030
 * 4.5.2 CsrAttrs with an extensionRequest SAN template). Invariant, which
 * aborts when broken: what decodes and re-encodes (creg_csrattrs_encode
 * with the plain OIDs, pop and the SAN) decodes again to the same pop and
 * SAN.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct creg_csrattrs a, b;
	struct brski_buf enc;
	const char *plain[CREG_EST_MAX_OIDS];
	size_t n = 0;
	char err[256];

	if (creg_csrattrs_decode(data, size, &a, err, sizeof(err)) != VOUCHER_OK)
		return 0;
	if (a.n_oids > CREG_EST_MAX_OIDS)
		abort();
	/* the encoder adds challengePassword (pop) and extensionRequest (san)
	 * itself */
	for (size_t i = 0; i < a.n_oids; i++)
		if (strcmp(a.oids[i], CREG_OID_CHALLENGE) != 0 &&
		    strcmp(a.oids[i], CREG_OID_EXT_REQ) != 0)
			plain[n++] = a.oids[i];
	brski_buf_init(&enc, CREG_CSR_MAX);
	if (creg_csrattrs_encode(plain, n, a.pop, a.san_dns, &enc, err, sizeof(err)) ==
	    VOUCHER_OK) {
		if (creg_csrattrs_decode(enc.data, enc.len, &b, err, sizeof(err)) != VOUCHER_OK ||
		    b.pop != a.pop || (b.san_dns == NULL) != (a.san_dns == NULL) ||
		    (a.san_dns && strcmp(a.san_dns, b.san_dns) != 0))
			abort();
		creg_csrattrs_clear(&b);
	}
	brski_buf_free(&enc);
	creg_csrattrs_clear(&a);
	return 0;
}
