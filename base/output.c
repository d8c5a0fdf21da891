/* Checking standard output (see output.h). */
#include "base/output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool stdout_flushed(const char *prog)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return true;
	fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno ? errno : EIO));
	return false;
}
