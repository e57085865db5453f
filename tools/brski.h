/* brski: one command-line tool, subcommands dispatched from a table. */
#ifndef BRSKI_TOOL_H
#define BRSKI_TOOL_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every subcommand (documented in brski(1)). */
enum {
	BRSKI_EXIT_OK = 0,
	BRSKI_EXIT_BAD = 1,   /* the artifact or peer was bad: verification failed */
	BRSKI_EXIT_USAGE = 2, /* usage or configuration error */
	BRSKI_EXIT_IO = 3,    /* I/O or network error */
};

struct brski_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand name */
	const char *summary;
};

int brski_cmd_pki(int argc, char **argv);
int brski_cmd_admin(int argc, char **argv);
/* brski admin owner|device|voucher|requests (tools/cmd-admin-masa.c): the
 * MASA's routes; brski_cmd_admin hands them over. */
int brski_cmd_admin_masa(int argc, char **argv);
bool brski_admin_masa_handles(int argc, char **argv);
void brski_admin_masa_usage(FILE *out);
int brski_cmd_bench(int argc, char **argv);
int brski_cmd_voucher(int argc, char **argv);
int brski_cmd_pledge(int argc, char **argv);

#endif
