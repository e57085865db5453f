/*
 * Configuration: one INI file (docs/CONFIG.md), parsed with inih and checked
 * against the schema in config-schema.c. Loading validates every key (type,
 * range, enum, files that must exist and parse); unknown sections and keys
 * are errors naming the file and line. Paths are resolved against the
 * configuration file's directory at load time, so getters return usable
 * paths. A loaded svc_config is read-only and may be shared by threads.
 */
#ifndef SVC_CONFIG_H
#define SVC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

enum svc_cfg_type {
	SVC_CFG_STRING,
	SVC_CFG_PATH,     /* file name; see the flags for what it must hold */
	SVC_CFG_INT,      /* decimal, min..max */
	SVC_CFG_ENUM,     /* one of enums[] */
	SVC_CFG_HOSTPORT, /* host:port or [v6]:port, port 1..65535 */
	SVC_CFG_URL,      /* https://host[:port][/path] */
	SVC_CFG_BOOL,     /* true/false, yes/no, on/off, 1/0 */
};

enum {
	SVC_CFG_REQUIRED = 1 << 0,   /* must be set whenever its section applies */
	SVC_CFG_F_CERTS = 1 << 1,    /* path: PEM certificates (at least one) */
	SVC_CFG_F_KEY = 1 << 2,      /* path to a PEM private key, or a pkcs11: URI */
	SVC_CFG_F_DATABASE = 1 << 3, /* SQLite file path (may not exist yet) or postgresql:// */
	SVC_CFG_F_EXEC = 1 << 4,     /* path: executable */
	SVC_CFG_F_FILE = 1 << 5,     /* path: readable regular file */
};

/* "Required when [section] key is one of values" ("a|b"); values NULL means
 * "when that key is set". A condition on the item's own section applies only
 * when that section appears in the file; one on another section applies
 * always (with defaults), e.g. [masa] keys when [daemon] role = masa. */
struct svc_cfg_cond {
	const char *section; /* NULL: no condition */
	const char *key;
	const char *values;
};

struct svc_cfg_item {
	const char *name;
	enum svc_cfg_type type;
	int64_t min, max;         /* SVC_CFG_INT */
	const char *def;          /* default as text, NULL for none */
	const char *const *enums; /* SVC_CFG_ENUM: NULL-terminated */
	unsigned flags;
	struct svc_cfg_cond required_when;
	/* Extra check of a value that passed the type check; fills err. */
	voucher_err (*check)(const char *value, char *err, size_t errlen);
};

struct svc_cfg_section {
	const char *name;
	const struct svc_cfg_item *items; /* terminated by a NULL name */
};

/* The schema: every section of docs/CONFIG.md, terminated by a NULL name. */
extern const struct svc_cfg_section svc_cfg_schema[];

/* A default that depends on the program (masad's role is masa). */
struct svc_cfg_default {
	const char *section;
	const char *key;
	const char *value;
};

struct svc_config;

/* Parse and validate path. overrides (NULL-terminated by section, may be
 * NULL) replace schema defaults. On success *out is new. On failure
 * (VOUCHER_E_CONFIG, or VOUCHER_ENOENT/EACCES/EIO when the file cannot be
 * read) every problem found is appended to errors, one line each, as
 * "file:line: message" (errors may be NULL). */
voucher_err svc_config_load(const char *path, const struct svc_cfg_default *overrides,
                            struct svc_config **out, struct brski_buf *errors);
void svc_config_free(struct svc_config *cfg);

/* The configuration file's path as given. */
const char *svc_config_file(const struct svc_config *cfg);
/* Whether any key of the section is in the file. */
bool svc_config_has_section(const struct svc_config *cfg, const char *section);
/* Whether the key is set in the file (not just defaulted). */
bool svc_config_is_set(const struct svc_config *cfg, const char *section, const char *key);
/* The line of the key in the file, 0 if not set. */
unsigned svc_config_line(const struct svc_config *cfg, const char *section, const char *key);

/* Typed getters: the value from the file, or the default, or NULL / 0 /
 * false when neither. Asking for a key that is not in the schema, or with
 * the wrong type, is a programming error and aborts. Returned strings are
 * owned by cfg. Paths are absolute or as resolved against the file's
 * directory; pkcs11: URIs and postgresql:// URIs are returned as written. */
const char *svc_config_str(const struct svc_config *cfg, const char *section, const char *key);
int64_t svc_config_int(const struct svc_config *cfg, const char *section, const char *key);
bool svc_config_bool(const struct svc_config *cfg, const char *section, const char *key);
/* host (without brackets) and port of a hostport key; VOUCHER_ENOENT if unset. */
voucher_err svc_config_hostport(const struct svc_config *cfg, const char *section, const char *key,
                                char *host, size_t hostlen, uint16_t *port);

/* Parse "host:port" / "[v6]:port" (port 1..65535). */
voucher_err svc_parse_hostport(const char *value, char *host, size_t hostlen, uint16_t *port);

#endif
