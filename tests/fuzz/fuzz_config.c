/*
 * Fuzz target: the INI configuration loader (svc_config_load: inih, then
 * every key checked against the schema of docs/CONFIG.md). The input is
 * written to a private temporary file, since the loader reads a path.
 * Invariants, which abort when broken: a refused file comes with at least
 * one "file:line: message" line, and an accepted one answers every key the
 * schema lists (typed getters do not fail on what was validated).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "service/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[4096];

/* One file per process, rewritten for each input, removed at exit. */
static void remove_file(void)
{
	unlink(path);
}

static int write_input(const uint8_t *data, size_t size)
{
	FILE *f;

	if (path[0] == '\0') {
		const char *dir = getenv("TMPDIR");
		int fd;
		snprintf(path, sizeof(path), "%s/fuzz_config.XXXXXX", dir && *dir ? dir : "/tmp");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
		atexit(remove_file);
	}
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	return fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svc_config *cfg = NULL;
	struct brski_buf errors;
	voucher_err e;

	if (write_input(data, size) != 0)
		abort();
	brski_buf_init(&errors, 64 * 1024);
	e = svc_config_load(path, NULL, &cfg, &errors);
	if (e == VOUCHER_OK) {
		if (cfg == NULL)
			abort();
		for (const struct svc_cfg_section *s = svc_cfg_schema; s->name; s++)
			for (const struct svc_cfg_item *it = s->items; it->name; it++)
				switch (it->type) {
				case SVC_CFG_INT:
					(void)svc_config_int(cfg, s->name, it->name);
					break;
				case SVC_CFG_BOOL:
					(void)svc_config_bool(cfg, s->name, it->name);
					break;
				default:
					(void)svc_config_str(cfg, s->name, it->name);
					break;
				}
		svc_config_free(cfg);
	} else if (errors.len == 0 && e == VOUCHER_E_CONFIG) {
		abort(); /* a refusal says where and why */
	}
	brski_buf_free(&errors);
	return 0;
}
