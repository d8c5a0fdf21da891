/* Bounded line reading (see line.h).  Byte by byte: a NUL byte inside a
 * line stays in it (the caller refuses it by position), and the bound is
 * checked before the buffer grows. */
#include "base/line.h"

#include <errno.h>
#include <stdlib.h>

ssize_t line_read(FILE *f, char **buf, size_t *cap, size_t max, bool *ended)
{
	size_t n = 0;
	ssize_t r = 0;
	int c;
	*ended = false;
	flockfile(f);
	while ((c = getc_unlocked(f)) != EOF) {
		if (n >= max) {
			r = -E2BIG;
			break;
		}
		if (n + 2 > *cap) {
			size_t want = *cap ? *cap * 2 : 4096;
			if (want > max + 2)
				want = max + 2;
			char *b = realloc(*buf, want);
			if (!b) {
				r = -ENOMEM;
				break;
			}
			*buf = b;
			*cap = want;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n') {
			*ended = true;
			break;
		}
	}
	if (r == 0 && c == EOF && ferror(f))
		r = -EIO;
	funlockfile(f);
	if (r < 0)
		return r;
	if (*buf)
		(*buf)[n] = '\0';
	return (ssize_t)n;
}
