/* The facts of one CPU architecture that the engine needs: which seccomp
 * architecture is native, and where a stopped thread keeps its stack
 * pointer and its syscall arguments.  One table per architecture
 * (arch-x86_64.c, arch-aarch64.c), chosen by meson; the code that reads
 * and writes registers with them is arch.c, and nothing else in the
 * engine names a register. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A thread's general registers, as PTRACE_GETREGSET's NT_PRSTATUS gives
 * them: opaque here, large enough for every architecture we build for. */
typedef struct ArchRegs {
	_Alignas(16) unsigned char raw[384];
} ArchRegs;

typedef struct ArchFacts {
	uint32_t audit;		/* AUDIT_ARCH_* of native syscalls, as seccomp says */
	size_t regs_size;	/* NT_PRSTATUS of a native task: another size is */
				/* a 32-bit one (ia32, AArch32) */
	size_t sp_at;		/* offsets into the register set */
	size_t arg_at[6];	/* syscall arguments 0..5 */
	/* a 64-bit register that holds MODE for native code (x86's cs), or
	 * SIZE_MAX when the set's size alone tells */
	size_t mode_at;
	uint64_t mode;
} ArchFacts;

/* This build's architecture. */
extern const ArchFacts arch_facts;

/* Read or write TID's registers.  -ENOEXEC when TID runs code of another
 * ABI (a 32-bit program: x86's ia32, arm64's AArch32), whose stack and
 * registers have another layout. */
int arch_regs_get(pid_t tid, ArchRegs *r);
int arch_regs_set(pid_t tid, const ArchRegs *r);

uint64_t arch_sp(const ArchRegs *r);
void arch_set_sp(ArchRegs *r, uint64_t sp);
/* Argument N (0..5) of the syscall a thread is stopped in (at a seccomp
 * stop: the kernel reads the arguments from these registers after it). */
void arch_set_arg(ArchRegs *r, unsigned n, uint64_t value);
