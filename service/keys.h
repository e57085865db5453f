/*
 * Loading the keys and trust anchors a daemon reads at start and again on
 * SIGHUP (masa/keys.c, cloudreg/keys.c), with a message that names the
 * configured file and what it was meant to be.
 */
#ifndef BRSKI_SVC_KEYS_H
#define BRSKI_SVC_KEYS_H

#include <stddef.h>

#include <voucher/error.h>
#include <voucher/sign.h>

/* The signing key at key with its certificate (chain) cert into *out.
 * what names the pair in the message, e.g. "the registrar key". */
voucher_err svc_keys_load_signer(struct voucher_signer **out, const char *key, const char *cert,
                                 const char *what, char *err, size_t errlen);

/* A trust store of the CA certificates of the PEM file path into *out.
 * what names the file's role in the message, e.g. "the manufacturer CAs". */
voucher_err svc_keys_load_trust(struct voucher_trust **out, const char *path, const char *what,
                                char *err, size_t errlen);

#endif
