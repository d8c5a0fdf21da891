/* arm64 (see arch.h). */
#include "arch.h"

#include <asm/ptrace.h>
#include <linux/audit.h>

#define AT(reg) offsetof(struct user_pt_regs, reg)

_Static_assert(sizeof(struct user_pt_regs) <= sizeof(ArchRegs), "ArchRegs too small");

const ArchFacts arch_facts = {
	.audit = AUDIT_ARCH_AARCH64,
	/* an AArch32 task gets the 18-word compat layout */
	.regs_size = sizeof(struct user_pt_regs),
	.sp_at = AT(sp),
	/* the syscall ABI: x0..x5; at a seccomp stop the kernel has not
	 * read them yet (it keeps the first in orig_x0 only for restarts) */
	.arg_at = { AT(regs[0]), AT(regs[1]), AT(regs[2]), AT(regs[3]), AT(regs[4]), AT(regs[5]) },
	.mode_at = SIZE_MAX,
};
