/* arm64 (see arch.h). */
#include "arch.h"

#include <asm/ptrace.h>
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "base/cleanup.h"

_Static_assert(sizeof(struct user_pt_regs) <= sizeof(ArchRegs), "ArchRegs too small");

const uint32_t arch_audit = AUDIT_ARCH_AARCH64;
const char arch_name[] = "aarch64";

int arch_regs_get(pid_t tid, ArchRegs *r)
{
	struct user_pt_regs u;
	struct iovec iov = { &u, sizeof(u) };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return neg_errno();
	/* an AArch32 task gets the 18-word compat layout */
	if (iov.iov_len != sizeof(u))
		return -ENOEXEC;
	memcpy(r->raw, &u, sizeof(u));
	return 0;
}

int arch_regs_set(pid_t tid, const ArchRegs *r)
{
	struct user_pt_regs u;
	memcpy(&u, r->raw, sizeof(u));
	struct iovec iov = { &u, sizeof(u) };
	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? neg_errno() : 0;
}

uint64_t arch_sp(const ArchRegs *r)
{
	uint64_t sp;
	memcpy(&sp, r->raw + offsetof(struct user_pt_regs, sp), sizeof(sp));
	return sp;
}

void arch_set_sp(ArchRegs *r, uint64_t sp)
{
	memcpy(r->raw + offsetof(struct user_pt_regs, sp), &sp, sizeof(sp));
}

void arch_set_arg(ArchRegs *r, unsigned n, uint64_t value)
{
	/* the syscall ABI: x0..x5; at a seccomp stop the kernel has not
	 * read them yet (it keeps the first in orig_x0 only for restarts) */
	if (n < 6)
		memcpy(r->raw + offsetof(struct user_pt_regs, regs) + 8 * n, &value, sizeof(value));
}
