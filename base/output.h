/* Standard output that could not be written (a full disk, /dev/full, a
 * closed pipe) is an error like any other: the program says so and fails,
 * instead of exiting 0 with nothing written. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

/* Flush stdout; on failure print "PROG: standard output: REASON" on
 * stderr and return false. */
bool stdout_flushed(const char *prog);

/* Standard input, output or error that the parent left closed would be
 * taken by the next file opened (a trace, a scratch file), and our own
 * messages written into it.  Open /dev/null on each closed one and return
 * the closed ones as a mask (bit N: fd N) so that the traced command gets
 * them closed again, as it would untraced. */
unsigned std_fds_reserve(void);

/* A one-line message on stderr: FMT... with every control byte it got
 * from its arguments (a path, an environment variable) written as \xNN or
 * \n, so that the line stays one line and no terminal sequence gets
 * through.  The final newline of FMT stays. */
__attribute__((format(printf, 1, 2))) void eprintf(const char *fmt, ...);
