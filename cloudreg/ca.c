/* The CA-backend registry and the result helpers of cloudreg/ca.h. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudreg/ca.h"
#include "service/config.h"

/* The backends built into cloudregd. ca-acme.c adds its creg_ca_acme_ops
 * here when it is linked in. */
static const struct creg_ca_ops *const backends[] = {
        &creg_ca_local_ops,
        &creg_ca_acme_ops,
};

void creg_ca_result_init(struct creg_ca_result *r)
{
	memset(r, 0, sizeof(*r));
}

void creg_ca_result_clear(struct creg_ca_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_chain; i++)
		free(r->chain[i]);
	memset(r, 0, sizeof(*r));
}

voucher_err creg_ca_result_add(struct creg_ca_result *r, const uint8_t *der, size_t len)
{
	if (r->n_chain == CREG_CA_MAX_CHAIN || len == 0)
		return VOUCHER_EINVAL;
	if (!(r->chain[r->n_chain] = malloc(len)))
		return VOUCHER_ENOMEM;
	memcpy(r->chain[r->n_chain], der, len);
	r->chain_len[r->n_chain++] = len;
	return VOUCHER_OK;
}

const struct creg_ca_ops *creg_ca_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

voucher_err creg_ca_open(const struct svc_config *cfg, struct store *store, struct creg_ca **out,
                         char *err, size_t errlen)
{
	const char *name = svc_config_str(cfg, "ca", "backend");
	const struct creg_ca_ops *ops = creg_ca_find(name ? name : "local");
	struct creg_ca *ca;
	voucher_err e;

	if (!ops) {
		snprintf(err, errlen, "[ca] backend '%s' is not built into this cloudregd", name);
		return VOUCHER_E_CONFIG;
	}
	if (!(ca = calloc(1, sizeof(*ca))))
		return VOUCHER_ENOMEM;
	ca->ops = ops;
	if ((e = ops->create(cfg, store, &ca->backend, err, errlen)) != VOUCHER_OK) {
		free(ca);
		return e;
	}
	*out = ca;
	return VOUCHER_OK;
}

void creg_ca_close(struct creg_ca *ca)
{
	if (!ca)
		return;
	if (ca->ops->destroy)
		ca->ops->destroy(ca->backend);
	free(ca);
}
