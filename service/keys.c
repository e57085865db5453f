/* Key and trust-anchor loading shared by the daemons (service/keys.h). */
#include <config.h>

#include <stdio.h>

#include "service/keys.h"

voucher_err svc_keys_load_signer(struct voucher_signer **out, const char *key, const char *cert,
                                 const char *what, char *err, size_t errlen)
{
	voucher_err r;

	*out = NULL;
	if ((r = voucher_signer_load(out, key, cert)) != VOUCHER_OK)
		snprintf(err, errlen, "failed to load %s %s with %s (%s)", what, key, cert,
		         voucher_strerror(r));
	return r;
}

voucher_err svc_keys_load_trust(struct voucher_trust **out, const char *path, const char *what,
                                char *err, size_t errlen)
{
	struct voucher_trust *t = NULL;
	voucher_err r;

	*out = NULL;
	if ((r = voucher_trust_new(&t)) != VOUCHER_OK ||
	    (r = voucher_trust_add_file(t, path)) != VOUCHER_OK) {
		snprintf(err, errlen, "failed to load %s %s (%s)", what, path, voucher_strerror(r));
		voucher_trust_free(t);
		return r;
	}
	*out = t;
	return VOUCHER_OK;
}
