/* What a consumer may change in a stopped tracee: the environment of a
 * freshly exec'd program, and the path a syscall runs on.
 *
 * Both act only where no running code can be hurt (tracer-anchors §4):
 *
 *   exec stop ── tracer_exec_edit ──► new vectors + strings on the fresh
 *                                     stack, SP moved down to them
 *   seccomp stop ── tracer_redirect_path ──► one argument register now
 *                                     points at a string placed at exec
 *
 * Nothing is ever written below the stack pointer of a thread that has
 * run: a Go goroutine stack has ~800 bytes of headroom, and a vfork child
 * (Go's os/exec) runs on its parent's stack.  After exec the address space
 * is new, nobody else shares it, and the kernel leaves ~128 KiB of mapped
 * stack below the argument block (fs/exec.c setup_arg_pages). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "arch.h"
#include "base/cleanup.h"
#include "mem.h"
#include "tracer-internal.h"

/* Bounds on the block written at exec.  The kernel maps at least 128 KiB
 * of stack below the argument block; half of it is plenty for a real
 * program's vectors (8 bytes per argv/envp entry) and a few paths. */
#define EDIT_BLOCK_MAX (64 * 1024)
#define VEC_MAX 4096		/* argv or envp entries looked at */
#define AUXV_MAX 64		/* the kernel writes about 20 pairs */
#define ENV_NAME_MAX 256
#define EDIT_ENV_MAX 16		/* entries (and strings) one edit may add */

bool inject_exec_secure(pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)tid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_auxv_t aux[AUXV_MAX];
	ssize_t n = fd < 0 ? -1 : read(fd, aux, sizeof(aux));
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(*aux); i++)
		if (aux[i].a_type == AT_SECURE)
			return aux[i].a_un.a_val != 0;
	return false;
}

/* Read a NULL-terminated pointer vector at ADDR (at most VEC_MAX entries,
 * without the NULL) into V.  Returns the count, or a negative errno.
 * Reads stop at what is mapped: a short environment may end a few bytes
 * before the top of the stack. */
static ssize_t read_vector(pid_t tid, uint64_t addr, uint64_t *v)
{
	size_t n = 0;
	while (n < VEC_MAX) {
		size_t want = VEC_MAX - n < 64 ? VEC_MAX - n : 64;
		ssize_t got = mem_read_partial(tid, addr + n * 8, v + n, want * 8);
		if (got < 8)
			return got < 0 ? got : -EFAULT;
		want = (size_t)got / 8;
		for (size_t i = 0; i < want; i++)
			if (v[n + i] == 0)
				return (ssize_t)(n + i);
		n += want;
	}
	return -E2BIG;
}

/* The vectors as the kernel laid them out at SP: argc, argv, NULL, envp,
 * NULL, auxv pairs up to AT_NULL. */
typedef struct ExecVectors {
	uint64_t argc;
	uint64_t argv[VEC_MAX + 1];
	size_t envc;
	uint64_t envp[VEC_MAX + EDIT_ENV_MAX + 1];
	size_t n_aux;		/* pairs, AT_NULL included */
	uint64_t auxv[2 * AUXV_MAX];
} ExecVectors;

static int read_vectors(pid_t tid, uint64_t sp, ExecVectors *x)
{
	int r = mem_read(tid, sp, &x->argc, 8);
	if (r < 0)
		return r;
	if (x->argc > VEC_MAX)
		return -E2BIG;
	uint64_t at = sp + 8;
	r = mem_read(tid, at, x->argv, (x->argc + 1) * 8);
	if (r < 0)
		return r;
	at += (x->argc + 1) * 8;
	ssize_t envc = read_vector(tid, at, x->envp);
	if (envc < 0)
		return (int)envc;
	x->envc = (size_t)envc;
	at += (x->envc + 1) * 8;
	for (x->n_aux = 0; x->n_aux < AUXV_MAX; x->n_aux++) {
		r = mem_read(tid, at + x->n_aux * 16, &x->auxv[2 * x->n_aux], 16);
		if (r < 0)
			return r;
		if (x->auxv[2 * x->n_aux] == AT_NULL) {
			x->n_aux++;
			return 0;
		}
	}
	return -E2BIG;
}

/* envp of X with E's entries at ADDR: each takes the place of its name's
 * first entry and the later ones go (the dynamic linker reads the last
 * LD_PRELOAD, getenv the first: one entry leaves no doubt), or it is
 * appended.  Each entry of envp is read once.  Returns the new count, or
 * -EINVAL for a malformed E. */
static ssize_t merge_env(pid_t tid, ExecVectors *x, const TracerExecEdit *e, const uint64_t *addr)
{
	size_t len[EDIT_ENV_MAX], slot[EDIT_ENV_MAX], longest = 0;
	for (size_t i = 0; i < e->n_env; i++) {
		const char *eq = strchr(e->env[i], '=');
		if (!eq || eq == e->env[i] || (size_t)(eq - e->env[i]) > ENV_NAME_MAX)
			return -EINVAL;
		len[i] = (size_t)(eq - e->env[i]);
		for (size_t k = 0; k < i; k++)
			if (len[k] == len[i] && !memcmp(e->env[k], e->env[i], len[i]))
				return -EINVAL;	/* the same name twice in E */
		slot[i] = SIZE_MAX;
		if (len[i] > longest)
			longest = len[i];
	}
	bool drop[VEC_MAX + EDIT_ENV_MAX] = { false };
	char name[ENV_NAME_MAX + 1];
	for (size_t k = 0; k < x->envc && e->n_env; k++) {
		ssize_t n = mem_read_partial(tid, x->envp[k], name, longest + 1);
		for (size_t i = 0; i < e->n_env; i++)
			if (n > (ssize_t)len[i] && !memcmp(name, e->env[i], len[i] + 1)) {
				if (slot[i] == SIZE_MAX)
					slot[i] = k;
				else
					drop[k] = true;
				break;	/* an entry has one name */
			}
	}
	size_t envc = x->envc;
	for (size_t i = 0; i < e->n_env; i++) {
		if (slot[i] == SIZE_MAX)
			slot[i] = envc++;
		x->envp[slot[i]] = addr[i];
	}
	size_t kept = 0;
	for (size_t k = 0; k < envc; k++)
		if (!drop[k])
			x->envp[kept++] = x->envp[k];
	x->envp[kept] = 0;
	return (ssize_t)kept;
}

int tracer_exec_edit(Tracer *t, pid_t tid, const TracerExecEdit *e, uint64_t *ret_addrs)
{
	if (t->cur_stop != CUR_EXEC || t->cur_tid != tid || (e->n_strings && !ret_addrs))
		return -EINVAL;
	if (e->n_env > EDIT_ENV_MAX || e->n_strings > EDIT_ENV_MAX)
		return -E2BIG;
	ArchRegs regs;
	int r = arch_regs_get(tid, &regs);	/* -ENOEXEC: a 32-bit program */
	if (r < 0)
		return r;
	uint64_t sp = arch_sp(&regs);
	_cleanup_free_ ExecVectors *x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	r = read_vectors(tid, sp, x);
	if (r < 0)
		return r;

	/* The new strings, packed just below the kernel's block. */
	size_t n_str = e->n_env + e->n_strings, total = 0;
	for (size_t i = 0; i < n_str; i++)
		total += strlen(i < e->n_env ? e->env[i] : e->strings[i - e->n_env]) + 1;
	size_t vec_bytes = 8 * (1 + x->argc + 1 + x->envc + e->n_env + 1 + 2 * x->n_aux);
	if (total + vec_bytes + 32 > EDIT_BLOCK_MAX)
		return -E2BIG;
	uint64_t str_at = (sp - total) & ~(uint64_t)15;
	uint64_t new_sp = (str_at - vec_bytes) & ~(uint64_t)15;
	_cleanup_free_ char *strings = malloc(total ? total : 1);
	if (!strings)
		return -ENOMEM;
	uint64_t addr[n_str ? n_str : 1];
	for (size_t i = 0, off = 0; i < n_str; i++) {
		const char *s = i < e->n_env ? e->env[i] : e->strings[i - e->n_env];
		size_t len = strlen(s) + 1;
		memcpy(strings + off, s, len);
		addr[i] = str_at + off;
		off += len;
	}

	ssize_t envc = merge_env(tid, x, e, addr);
	if (envc < 0)
		return (int)envc;

	_cleanup_free_ uint64_t *vec = malloc(vec_bytes);
	if (!vec)
		return -ENOMEM;
	size_t n = 0;
	vec[n++] = x->argc;
	memcpy(vec + n, x->argv, (x->argc + 1) * 8);
	n += x->argc + 1;
	memcpy(vec + n, x->envp, ((size_t)envc + 1) * 8);
	n += (size_t)envc + 1;
	memcpy(vec + n, x->auxv, x->n_aux * 16);
	n += 2 * x->n_aux;

	r = mem_write(tid, str_at, strings, total);
	if (r >= 0)
		r = mem_write(tid, new_sp, vec, n * 8);
	if (r < 0)
		return r;
	arch_set_sp(&regs, new_sp);
	r = arch_regs_set(tid, &regs);
	if (r < 0)
		return r;
	for (size_t i = 0; i < e->n_strings; i++)
		ret_addrs[i] = addr[e->n_env + i];
	return 0;
}

int tracer_redirect_path(Tracer *t, pid_t tid, uint64_t addr, const char *expect)
{
	Tracee *tr = tracee_find(&t->tracees, tid);
	if (t->cur_stop != CUR_PATH || t->cur_tid != tid || !tr || !tr->pending.spec ||
	    tr->pending.spec->path_arg < 0 || !expect || expect[0] != '/')
		return -EINVAL;
	char now[PATH_MAX];
	ssize_t n = mem_read_string(tid, addr, now, sizeof(now));
	if (n < 0 || strcmp(now, expect) != 0)
		return -ESTALE;
	ArchRegs regs;
	int r = arch_regs_get(tid, &regs);
	if (r < 0)
		return r;
	arch_set_arg(&regs, (unsigned)tr->pending.spec->path_arg, addr);
	r = arch_regs_set(tid, &regs);
	if (r < 0)
		return r;
	free(tr->pending.redirected);
	tr->pending.redirected = strdup(expect);
	return 0;
}
