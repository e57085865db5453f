/* cloudregd: the cloud registrar (role cloud) or an owner's registrar
 * (role registrar). The daemon runner does the rest (service/daemon.h). */
#include <config.h>

#include <stddef.h>

#include "service/admin.h"
#include "service/daemon.h"

/* Pledges present IDevIDs (manufacturer CAs); EST re-enrollment also
 * accepts certificates from our own domain CA. */
static const struct svc_trust_src creg_trust[] = {
        {"brski", "registrar", "manufacturer_ca"},
        {"est", "registrar", "manufacturer_ca"},
        {"est", "registrar", "domain_ca"},
        {NULL, NULL, NULL},
};

static const struct svc_daemon_def cloudregd = {
        .name = "cloudregd",
        .description = "cloudregd: the BRSKI cloud registrar (role cloud) or an owner's "
                       "registrar (role registrar).",
        .default_role = "cloud",
        .roles = "cloud|registrar",
        .trust = creg_trust,
        SVC_ADMIN_DEF,
};

int main(int argc, char **argv)
{
	return svc_daemon_main(&cloudregd, argc, argv);
}
