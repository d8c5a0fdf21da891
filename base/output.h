/* Standard output that could not be written (a full disk, /dev/full, a
 * closed pipe) is an error like any other: the program says so and fails,
 * instead of exiting 0 with nothing written. */
#pragma once

#include <stdbool.h>

/* Flush stdout; on failure print "PROG: standard output: REASON" on
 * stderr and return false. */
bool stdout_flushed(const char *prog);
