/* Registers through the architecture's table (see arch.h). */
#include "arch.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "base/cleanup.h"

int arch_regs_get(pid_t tid, ArchRegs *r)
{
	struct iovec iov = { r->raw, sizeof(r->raw) };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return neg_errno();
	if (iov.iov_len != arch_facts.regs_size)
		return -ENOEXEC;
	if (arch_facts.mode_at != SIZE_MAX) {
		uint64_t mode;
		memcpy(&mode, r->raw + arch_facts.mode_at, sizeof(mode));
		if (mode != arch_facts.mode)
			return -ENOEXEC;
	}
	return 0;
}

int arch_regs_set(pid_t tid, const ArchRegs *r)
{
	struct iovec iov = { (void *)r->raw, arch_facts.regs_size };
	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? neg_errno() : 0;
}

uint64_t arch_sp(const ArchRegs *r)
{
	uint64_t sp;
	memcpy(&sp, r->raw + arch_facts.sp_at, sizeof(sp));
	return sp;
}

void arch_set_sp(ArchRegs *r, uint64_t sp)
{
	memcpy(r->raw + arch_facts.sp_at, &sp, sizeof(sp));
}

void arch_set_arg(ArchRegs *r, unsigned n, uint64_t value)
{
	if (n < ELEMENTSOF(arch_facts.arg_at))
		memcpy(r->raw + arch_facts.arg_at[n], &value, sizeof(value));
}
