/* x86-64 (see arch.h). */
#include "arch.h"

#include <linux/audit.h>
#include <sys/user.h>

#define USER_CS_64 0x33		/* the code segment of 64-bit user code */
#define AT(reg) offsetof(struct user_regs_struct, reg)

_Static_assert(sizeof(struct user_regs_struct) <= sizeof(ArchRegs), "ArchRegs too small");
_Static_assert(sizeof(((struct user_regs_struct *)0)->cs) == sizeof(uint64_t), "cs is read as 64 bits");

const ArchFacts arch_facts = {
	.audit = AUDIT_ARCH_X86_64,
	.regs_size = sizeof(struct user_regs_struct),
	.sp_at = AT(rsp),
	/* the syscall ABI: rdi, rsi, rdx, r10, r8, r9 */
	.arg_at = { AT(rdi), AT(rsi), AT(rdx), AT(r10), AT(r8), AT(r9) },
	/* an ia32 task gets the 32-bit layout, shorter; a 64-bit task
	 * running 32-bit code has the full set with another cs */
	.mode_at = AT(cs),
	.mode = USER_CS_64,
};
