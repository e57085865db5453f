/* masad: the MASA. The daemon runner does the rest (service/daemon.h). */
#include <config.h>

#include <stddef.h>

#include "service/daemon.h"

/* Registrars authenticate with TLS client certificates; the configured
 * cloud registrars are trusted here, owners' registrars through their
 * domain CAs in the store. */
static const struct svc_trust_src masa_trust[] = {
        {"brski", "masa", "cloud_registrar_cert"},
        {NULL, NULL, NULL},
};

static const struct svc_daemon_def masad = {
        .name = "masad",
        .description = "masad: the BRSKI MASA (signs vouchers for registrars).",
        .default_role = "masa",
        .roles = "masa",
        .trust = masa_trust,
};

int main(int argc, char **argv)
{
	return svc_daemon_main(&masad, argc, argv);
}
