/* Reading lines of untrusted input with a bound: a file without a newline
 * (/dev/zero, a corrupt trace) costs at most the bound, never all memory. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Read one line of F into *BUF (grown as needed, NUL-terminated; *CAP its
 * size), at most MAX bytes with its newline.  Returns its length (0 at the
 * end of the input), -E2BIG when the line is longer than MAX (the rest of
 * the input is not read), -EIO on a read error, -ENOMEM.  *ENDED says
 * whether the line ended with a newline (a last line may not). */
ssize_t line_read(FILE *f, char **buf, size_t *cap, size_t max, bool *ended);
