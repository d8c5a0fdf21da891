/* x86-64 (see arch.h). */
#include "arch.h"

#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "base/cleanup.h"

#define USER_CS_64 0x33		/* the code segment of 64-bit user code */

_Static_assert(sizeof(struct user_regs_struct) <= sizeof(ArchRegs), "ArchRegs too small");

const uint32_t arch_audit = AUDIT_ARCH_X86_64;
const char arch_name[] = "x86_64";

int arch_regs_get(pid_t tid, ArchRegs *r)
{
	struct user_regs_struct u;
	struct iovec iov = { &u, sizeof(u) };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return neg_errno();
	/* an ia32 task gets the 32-bit layout, shorter */
	if (iov.iov_len != sizeof(u) || u.cs != USER_CS_64)
		return -ENOEXEC;
	memcpy(r->raw, &u, sizeof(u));
	return 0;
}

int arch_regs_set(pid_t tid, const ArchRegs *r)
{
	struct user_regs_struct u;
	memcpy(&u, r->raw, sizeof(u));
	struct iovec iov = { &u, sizeof(u) };
	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 ? neg_errno() : 0;
}

uint64_t arch_sp(const ArchRegs *r)
{
	struct user_regs_struct u;
	memcpy(&u, r->raw, sizeof(u));
	return u.rsp;
}

void arch_set_sp(ArchRegs *r, uint64_t sp)
{
	memcpy(r->raw + offsetof(struct user_regs_struct, rsp), &sp, sizeof(sp));
}

void arch_set_arg(ArchRegs *r, unsigned n, uint64_t value)
{
	/* the syscall ABI: rdi, rsi, rdx, r10, r8, r9 */
	static const size_t at[] = {
		offsetof(struct user_regs_struct, rdi), offsetof(struct user_regs_struct, rsi),
		offsetof(struct user_regs_struct, rdx), offsetof(struct user_regs_struct, r10),
		offsetof(struct user_regs_struct, r8),	offsetof(struct user_regs_struct, r9),
	};
	if (n < ELEMENTSOF(at))
		memcpy(r->raw + at[n], &value, sizeof(value));
}
