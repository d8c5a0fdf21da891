/* NULL-terminated vectors of owned strings (see strv.h). */
#include "base/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strv_push(char ***v, const char *s)
{
	size_t n = strv_len(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[n] = strdup(s)))
		return -ENOMEM;
	nv[n + 1] = NULL;
	return 0;
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_free_all(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

