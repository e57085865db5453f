/* brski: one command-line tool, subcommands dispatched from a table. */
#ifndef BRSKI_TOOL_H
#define BRSKI_TOOL_H

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
int brski_cmd_bench(int argc, char **argv);
int brski_cmd_voucher(int argc, char **argv);

#endif
