/*
 * Test helper for the interop checks: read an artifact (JSON or CBOR,
 * detected), validate it with libvoucher and write it in the requested
 * encoding. Usage: voucher-convert json|cbor [--legacy] IN OUT
 * Exit 0 on success, 1 when the input is rejected (message on stderr),
 * 2 on usage or I/O errors.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <voucher/voucher.h>

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	*len = buf ? fread(buf, 1, cap, f) : 0;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	unsigned flags = 0;
	int i = 1;
	if (argc >= 2 && argc == 5 && strcmp(argv[2], "--legacy") == 0) {
		flags = VOUCHER_F_LEGACY;
		i = 2;
	}
	if (argc - i != 3 || (strcmp(argv[1], "json") != 0 && strcmp(argv[1], "cbor") != 0)) {
		fprintf(stderr, "usage: %s json|cbor [--legacy] IN OUT\n", argv[0]);
		return 2;
	}
	size_t len = 0;
	uint8_t *in = slurp(argv[i + 1], &len);
	if (in == NULL) {
		fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i + 1]);
		return 2;
	}
	struct voucher_artifact *a = NULL;
	struct voucher_error_info e;
	uint8_t *out = NULL;
	size_t n = 0;
	voucher_err r = voucher_artifact_parse(in, len, VOUCHER_KIND_UNKNOWN, flags, &a, &e);
	free(in);
	if (r == VOUCHER_OK)
		r = strcmp(argv[1], "json") == 0 ? voucher_artifact_to_json(a, flags, &out, &n, &e)
		                                 : voucher_artifact_to_cbor(a, flags, &out, &n, &e);
	voucher_artifact_free(a);
	if (r != VOUCHER_OK) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], voucher_strerror(r), e.message);
		return 1;
	}
	FILE *f = fopen(argv[i + 2], "wb");
	int rc = f != NULL && fwrite(out, 1, n, f) == n ? 0 : 2;
	if (f == NULL || fclose(f) != 0)
		rc = 2;
	free(out);
	return rc;
}
