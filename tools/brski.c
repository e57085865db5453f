/* brski: entry point; each subcommand lives in its own tools/cmd-*.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tools/brski.h"

static const struct brski_cmd cmds[] = {
        {"pki", brski_cmd_pki, "make a complete demo/test PKI and daemon configurations"},
        {"voucher", brski_cmd_voucher, "create, sign, verify, show and convert vouchers"},
        {"bench", brski_cmd_bench,
         "benchmarks reported as ratios (crypto, voucher, masa, cloudreg, est, store)"},
        {"admin", brski_cmd_admin,
         "client of the admin REST APIs (owners, devices, vouchers, tokens, audit trail)"},
        {"pledge", brski_cmd_pledge, "a simulated device running the pledge side of BRSKI"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: brski <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(out, "\n'brski <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return BRSKI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return BRSKI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("brski %s\n", PACKAGE_VERSION);
		return BRSKI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "brski: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return BRSKI_EXIT_USAGE;
}
