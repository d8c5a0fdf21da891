/* libFuzzer target for the ELF parsers (facts, symbols and versions): any input must parse or fail with
 * -ENOEXEC / -EINVAL, never crash, leak or read out of bounds.
 *   meson setup build-fuzz -Dfuzz=true -Db_sanitize=address
 *     (with CC=clang) && build-fuzz/tests/fuzz-elf -max_total_time=60 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "observe/elf-facts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ElfFacts f;
	int r = elf_parse(data, size, &f);
	if (r == 0)
		elf_facts_done(&f);
	else if (r != -ENOEXEC && r != -EINVAL && r != -ENOMEM)
		abort();
	ElfSymbols s;
	r = elf_symbols(data, size, &s);
	if (r == 0)
		elf_symbols_done(&s);
	else if (r != -ENOEXEC && r != -EINVAL && r != -ENOMEM)
		abort();
	return 0;
}
