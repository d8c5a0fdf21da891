/* Decoding a seccomp stop, and completing it at the syscall-exit stop.
 *
 * A watched syscall costs at most two stops: the seccomp stop, where its
 * arguments are read (strings must be read before the kernel runs the
 * syscall, the tracee may change them afterwards), and, only when the
 * result is wanted, the syscall-exit stop requested by restarting with
 * PTRACE_SYSCALL.  Output captures need no result and cost one stop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch.h"
#include "base/cleanup.h"
#include "base/path.h"
#include "mem.h"
#include "tracer-internal.h"

#define OUTPUT_IOV_MAX 64	/* writev elements looked at per call */

static int get_info(pid_t tid, struct __ptrace_syscall_info *info)
{
	long n = ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(*info), info);
	return n < 0 ? neg_errno() : 0;
}

/* Read and resolve the path argument into P. */
static void decode_path(Tracer *t, Tracee *tr, const SyscallSpec *s, PendingSyscall *p)
{
	char raw[PATH_MAX];
	ssize_t n = mem_read_string(tr->tid, p->args[s->path_arg], raw, sizeof(raw));
	if (n < 0) {
		p->path_error = (int)n;
		return;
	}
	int dirfd = s->dirfd_arg >= 0 ? (int)p->args[s->dirfd_arg] : AT_FDCWD;
	char abs[PATH_MAX];
	int r = path_resolve(tr->tid, dirfd, raw, abs, sizeof(abs));
	if (r < 0) {
		p->path_error = r;
		if (!(p->raw = strdup(raw)))
			t->stats.lost++;
		return;
	}
	bool differs = strcmp(raw, abs) != 0;
	if (!(p->path = strdup(abs)) || (differs && !(p->raw = strdup(raw)))) {
		/* the path could not be kept: said as such, and counted */
		free(p->path);
		p->path = NULL;
		p->path_error = -ENOMEM;
		t->stats.lost++;
	}
}

static int decode_flags(Tracee *tr, const SyscallSpec *s, PendingSyscall *p)
{
	if (s->flags_arg < 0)
		return 0;
	if (!s->open_how) {
		p->flags = p->args[s->flags_arg];
		return 0;
	}
	struct open_how how;
	if (mem_read(tr->tid, p->args[s->flags_arg], &how, sizeof(how.flags)) < 0)
		return 0;	/* the kernel will fail it with EFAULT; shown */
	p->flags = how.flags;
	return 0;
}

static void decode_signal(Tracer *t, Tracee *tr, const SyscallSpec *s, PendingSyscall *p)
{
	long target = (long)(int)p->args[s->target_arg >= 0 ? s->target_arg : s->tid_arg];
	if (s->target_is_pidfd) {
		pid_t pid = 0;
		if (tracer_short_of(proc_pidfd_pid(t, tr->tid, (int)target, &pid)))
			t->stats.lost++;	/* its target unknown (0) */
		target = pid;
	}
	p->target = (pid_t)target;
}

/* write/writev to a captured fd: one stop, no result needed. */
static void capture_output(Tracer *t, Tracee *tr, const SyscallSpec *s, const uint64_t *args)
{
	size_t cap = t->cfg.output_max;
	size_t len = 0;
	bool truncated = false;
	int error = 0;

	if (s->decode == DECODE_WRITE) {
		size_t want = (size_t)args[2];
		if (want > cap) {
			want = cap;
			truncated = true;
		}
		ssize_t n = mem_read_partial(tr->tid, args[1], t->scratch, want);
		if (n < 0)
			error = (int)n;
		else
			len = (size_t)n;
	} else {
		struct iovec iov[OUTPUT_IOV_MAX];
		size_t cnt = (size_t)args[2];
		if (cnt > OUTPUT_IOV_MAX) {
			cnt = OUTPUT_IOV_MAX;
			truncated = true;
		}
		if (mem_read(tr->tid, args[1], iov, cnt * sizeof(*iov)) < 0)
			error = -EFAULT;
		for (size_t i = 0; !error && i < cnt; i++) {
			size_t want = iov[i].iov_len;
			if (want > cap - len) {
				want = cap - len;
				truncated = true;
			}
			ssize_t n = mem_read_partial(tr->tid, (uintptr_t)iov[i].iov_base,
						     t->scratch + len, want);
			if (n > 0)
				len += (size_t)n;
			if (len == cap)
				break;
		}
	}

	TracerEvent ev = {
		.kind = TRACER_EVENT_OUTPUT,
		.out = { .fd = (int)args[0], .data = t->scratch, .len = len,
			 .truncated = truncated, .error = error },
	};
	tracer_emit(t, tr, &ev);
}

/* The syscall event of P, before (HAS_RESULT false) or after the kernel
 * ran it. */
static void fill_syscall_event(const PendingSyscall *p, TracerEvent *ev)
{
	const SyscallSpec *s = p->spec;
	static const TracerArgKind arg_kind[] = {
		[DECODE_PATH] = TRACER_ARGS_PATH,
		[DECODE_EXEC] = TRACER_ARGS_EXEC,
		[DECODE_SIGNAL] = TRACER_ARGS_SIGNAL,
	};
	*ev = (TracerEvent){
		.kind = TRACER_EVENT_SYSCALL,
		.sys = {
			.name = s->name,
			.nr = p->nr,
			.args = arg_kind[s->decode],
			.path = p->path,
			.raw = p->raw,
			.redirected = p->redirected,
			.path_error = p->path_error,
			.dirfd = s->dirfd_arg >= 0 ? (int)p->args[s->dirfd_arg] : AT_FDCWD,
			.flag_kind = s->flags_arg >= 0 ? s->flag_kind : TRACER_FLAGS_NONE,
			.flags = p->flags,
			.flag2_kind = s->flags2_arg >= 0 ? s->flag2_kind : TRACER_FLAGS_NONE,
			.flags2 = s->flags2_arg >= 0 ? p->args[s->flags2_arg] : 0,
		},
	};
	if (s->decode == DECODE_SIGNAL) {
		ev->sys.target = p->target;
		ev->sys.target_tid = s->tid_arg >= 0 ? (pid_t)p->args[s->tid_arg] : 0;
		ev->sys.signo = (int)p->args[s->signo_arg];
	}
}

/* Offer the path syscall about to run to the consumer's on_path, the one
 * moment it may be redirected. */
static void offer_path(Tracer *t, Tracee *tr)
{
	TracerEvent ev;
	fill_syscall_event(&tr->pending, &ev);
	tracer_stamp(t, tr, &ev);
	t->cur_tid = tr->tid;
	t->cur_stop = CUR_PATH;
	t->cfg.on_path(&ev, t->cfg.userdata);
	t->cur_stop = CUR_NONE;
}

static bool same_pid_ns(pid_t tid)
{
	char path[64];
	struct stat ours, theirs;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)tid);
	return stat("/proc/self/ns/pid", &ours) == 0 && stat(path, &theirs) == 0 && ours.st_ino == theirs.st_ino &&
	       ours.st_dev == theirs.st_dev;
}

/* PTRACE_ATTACH or PTRACE_SEIZE on a thread of the tracer (root may): the
 * tracer would stop at the attach's SIGSTOP, and the tracee at its next
 * watched syscall, each waiting for the other for good.  The pid argument
 * is changed to the caller's own tid, which the kernel refuses with EPERM
 * (ptrace_attach(): same thread group), as for any task that may not be
 * traced.  tgkill(ours, tid, 0) tells whether the tid is one of our
 * threads, including the helpers started later; only in our own pid
 * namespace does the tracee's number mean the same task. */
static void guard_tracer(Tracee *tr, const SyscallSpec *s, const uint64_t *args)
{
	pid_t target = (pid_t)args[s->target_arg];	/* the kernel truncates too */
	if (target <= 0 || syscall(SYS_tgkill, getpid(), target, 0) < 0 || !same_pid_ns(tr->tid))
		return;
	ArchRegs regs;
	if (arch_regs_get(tr->tid, &regs) < 0)
		return;
	arch_set_arg(&regs, (unsigned)s->target_arg, (uint64_t)tr->tid);
	(void)arch_regs_set(tr->tid, &regs);
}

/* Is TID in a signal-sending syscall whose event is still owed? */
static Tracee *sending(Tracer *t, pid_t tid)
{
	Tracee *s = tracee_find(&t->tracees, tid);
	return s && s->in_syscall && s->pending.spec && s->pending.spec->decode == DECODE_SIGNAL &&
			       !s->pending.emitted
		       ? s
		       : NULL;
}

/* Remember TID as a sender; a full list is first rid of those no longer
 * sending (a list of in-flight calls: a few at most). */
static void add_sender(Tracer *t, pid_t tid)
{
	if (t->n_senders == TRACER_SENDERS_MAX) {
		size_t kept = 0;
		for (size_t i = 0; i < t->n_senders; i++)
			if (t->senders[i] != tid && sending(t, t->senders[i]))
				t->senders[kept++] = t->senders[i];
		t->n_senders = kept;
	}
	if (t->n_senders < TRACER_SENDERS_MAX)
		t->senders[t->n_senders++] = tid;
}

int stop_seccomp(Tracer *t, Tracee *tr)
{
	struct __ptrace_syscall_info info;
	if (get_info(tr->tid, &info) < 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP ||
	    info.arch != arch_facts.audit)
		return PTRACE_CONT;
	uint64_t nr = info.seccomp.nr;
	const SyscallSpec *s = nr < SYSCALL_NR_MAX ? t->by_nr[nr] : NULL;
	if (!s)
		return PTRACE_CONT;

	if (s->decode == DECODE_WRITE || s->decode == DECODE_WRITEV) {
		capture_output(t, tr, s, info.seccomp.args);
		return PTRACE_CONT;
	}
	if (s->decode == DECODE_PTRACE) {
		guard_tracer(tr, s, info.seccomp.args);
		return PTRACE_CONT;
	}

	tracee_clear_pending(tr);
	PendingSyscall *p = &tr->pending;
	p->spec = s;
	p->nr = (long)nr;
	memcpy(p->args, info.seccomp.args, sizeof(p->args));
	if (s->decode == DECODE_SIGNAL) {
		decode_signal(t, tr, s, p);
		add_sender(t, tr->tid);
	} else {
		decode_path(t, tr, s, p);
		decode_flags(tr, s, p);
		if (s->decode == DECODE_PATH && t->cfg.on_path)
			offer_path(t, tr);
	}
	tr->in_syscall = true;
	return PTRACE_SYSCALL;
}

void stop_kills_of(Tracer *t, pid_t tgid, pid_t tid)
{
	size_t kept = 0;
	for (size_t i = 0; i < t->n_senders; i++) {
		Tracee *s = sending(t, t->senders[i]);
		if (!s)
			continue;
		if (s->pending.target != tgid && s->pending.target != tid) {
			t->senders[kept++] = t->senders[i];
			continue;
		}
		TracerEvent ev;
		fill_syscall_event(&s->pending, &ev);
		tracer_emit(t, s, &ev);
		s->pending.emitted = true;
	}
	t->n_senders = kept;
}

void stop_emit_pending(Tracer *t, Tracee *tr, bool is_error, long result)
{
	TracerEvent ev;
	fill_syscall_event(&tr->pending, &ev);
	ev.sys.has_result = true;
	ev.sys.is_error = is_error;
	ev.sys.result = is_error ? -result : result;
	tracer_emit(t, tr, &ev);
	tracee_clear_pending(tr);
}

/* The kernel-internal restart codes (include/linux/errno.h); user space
 * never sees them. */
static bool is_restart(int64_t err)
{
	return err == 512 /* ERESTARTSYS */ || err == 513 /* ERESTARTNOINTR */ ||
	       err == 514 /* ERESTARTNOHAND */ || err == 516 /* ERESTART_RESTARTBLOCK */;
}

int stop_syscall_exit(Tracer *t, Tracee *tr)
{
	struct __ptrace_syscall_info info;
	if (!tr->in_syscall)
		return PTRACE_CONT;	/* not ours to complete */
	if (tr->pending.emitted) {
		tracee_clear_pending(tr);	/* recorded at its target's death */
		return PTRACE_CONT;
	}
	if (get_info(tr->tid, &info) < 0 || info.op != PTRACE_SYSCALL_INFO_EXIT) {
		tracee_clear_pending(tr);
		return PTRACE_CONT;
	}
	t->stats.exit_stops++;
	/* Interrupted by a signal, to be restarted by the kernel: the call
	 * comes back through a new seccomp stop and is recorded then. */
	if (info.exit.is_error && is_restart(-info.exit.rval)) {
		tracee_clear_pending(tr);
		return PTRACE_CONT;
	}
	stop_emit_pending(t, tr, info.exit.is_error, (long)info.exit.rval);
	return PTRACE_CONT;
}
