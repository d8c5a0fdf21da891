/* libFuzzer target for the ld.so.cache reader: any bytes parse or fail
 * with -EINVAL, and lookups in what parsed never read out of bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "observe/ldcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LdCache c;
	int r = ldcache_parse(data, size, &c);
	if (r == 0) {
		(void)ldcache_lookup(&c, "libcuda.so.1");
		(void)ldcache_lookup(&c, "libc.so.6");
		ldcache_done(&c);
	} else if (r != -EINVAL && r != -ENOMEM) {
		abort();
	}
	return 0;
}
