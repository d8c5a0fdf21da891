/* The one-line message for an option getopt_long() refused, worded by the
 * program (opterr = 0): getopt's optopt is the option's value for a long
 * option, not a character, so a message built from it prints garbage. */
#pragma once

#include <getopt.h>
#include <stddef.h>

/* ARG: the refused argument (argv[optind - 1]); OPTS: the long options;
 * OPT: getopt's optopt.  Writes "unknown option '--x'", "option '--verbose'
 * takes no argument", "option '--s' is ambiguous (--shim, --stack)" or
 * "unknown option '-Z'" to ERR. */
void args_error(const struct option *opts, const char *arg, int opt, char *err, size_t size);
