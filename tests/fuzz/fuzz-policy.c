/* libFuzzer target for the policy parser: any bytes must parse or fail
 * with -EINVAL and a one-line "PATH:LINE: ..." message, never crash, leak
 * or read out of bounds.
 *   meson setup build-fuzz -Dfuzz=true -Db_sanitize=address
 *     (with CC=clang) && build-fuzz/tests/fuzz-policy -max_total_time=60 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Policy p;
	char err[512] = "";
	int r = policy_parse("fuzz.policy", (const char *)data, size, &p, err, sizeof(err));
	if (r == 0) {
		/* what the rest of the program relies on after a success */
		if (!p.name || !p.backend_glob || !p.inject_method || !p.text ||
		    (!p.scanner_any && !p.scanner_argv1) || p.n_capture_fds == 0 ||
		    p.n_capture_fds > 8)
			abort();
	} else if (r == -EINVAL) {
		if (strncmp(err, "fuzz.policy:", 12) != 0 || strchr(err, '\n'))
			abort();
	} else if (r != -ENOMEM) {
		abort();
	}
	policy_done(&p);
	return 0;
}
