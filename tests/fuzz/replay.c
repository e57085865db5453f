/*
 * Replay driver for the fuzz targets in builds without libFuzzer: each
 * fuzz_* program runs every file of its committed seed corpus,
 * $top_srcdir/tests/fuzz/corpus/<program name>/, through
 * LLVMFuzzerTestOneInput, so make check exercises the targets (and the
 * sanitizer build checks them). With file arguments it replays just those,
 * which is how a crash found by libFuzzer is reproduced in a normal build.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not seeds; libFuzzer's default -max_len is
 * far smaller. */
#define REPLAY_MAX (1024 * 1024)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	uint8_t *buf = malloc(REPLAY_MAX);
	size_t n = buf ? fread(buf, 1, REPLAY_MAX, f) : 0;
	int more = buf ? fgetc(f) : EOF;
	fclose(f);
	if (buf == NULL || more != EOF) {
		fprintf(stderr, "replay: %s: %s\n", path,
		        buf ? "larger than 1 MiB" : "out of memory");
		free(buf);
		return -1;
	}
	/* A copy of exactly n bytes, so ASan sees reads past the input. */
	uint8_t *in = malloc(n ? n : 1);
	if (in == NULL) {
		free(buf);
		return -1;
	}
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

static int regular(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_file(argv[i]) != 0)
				return 99;
		printf("replayed %d inputs\n", argc - 1);
		return 0;
	}
	const char *name = strrchr(argv[0], '/');
	name = name ? name + 1 : argv[0];
	/* libtool runs the real binary as .libs/lt-<name> */
	if (strncmp(name, "lt-", 3) == 0)
		name += 3;
	const char *top = getenv("top_srcdir");
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".", name) >=
	    (int)sizeof(dir))
		return 99;
	struct dirent **list = NULL;
	int n = scandir(dir, &list, regular, alphasort);
	if (n <= 0) {
		fprintf(stderr, "replay: no seed corpus in %s (set top_srcdir)\n", dir);
		return 99;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay_file(path) != 0)
			rc = 99;
		free(list[i]);
	}
	free(list);
	if (rc == 0)
		printf("%s: replayed %d seed inputs from %s\n", name, n, dir);
	return rc;
}
