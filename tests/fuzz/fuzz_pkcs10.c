/*
 * Fuzz target: cloudregd's PKCS#10 reader (creg_csr_parse: the DER of a
 * simpleenroll body after base64, self-signature verified with GnuTLS,
 * subject, serialNumber, SAN dNSNames, challengePassword). Invariants, which
 * abort when broken: a parsed CSR has a subject, at most 4 kept dNSNames
 * (each a NUL-free string), a challenge only with its length, and the
 * channel-binding comparison never reads past what it was given.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct creg_csr c;
	char err[256];

	memset(&c, 0, sizeof(c));
	if (creg_csr_parse(data, size, &c, err, sizeof(err)) == VOUCHER_OK) {
		if (c.subject == NULL || c.n_dns > 4 ||
		    (c.challenge == NULL) != (c.challenge_len == 0))
			abort();
		for (size_t i = 0; i < c.n_dns; i++)
			if (c.dns[i] == NULL)
				abort();
		/* the challenge compared with the CSR's own bytes and with nothing */
		(void)creg_csr_pop_matches(&c, data, size < 64 ? size : 64);
		(void)creg_csr_pop_matches(&c, (const uint8_t *)"", 0);
		/* parsing is a function of the bytes: the same DER, the same key */
		struct creg_csr again;
		memset(&again, 0, sizeof(again));
		if (creg_csr_parse(data, size, &again, err, sizeof(err)) != VOUCHER_OK ||
		    memcmp(again.sha256, c.sha256, sizeof(c.sha256)) != 0 ||
		    strcmp(again.subject, c.subject) != 0)
			abort();
		creg_csr_clear(&again);
	} else if (err[0] == '\0') {
		abort(); /* every refusal says why */
	}
	creg_csr_clear(&c);
	return 0;
}
