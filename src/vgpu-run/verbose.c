/* Live event lines for -v (see verbose.h).  The JSON trace is the
 * complete record; these lines are for a person watching. */
#include "vgpu-run/verbose.h"

#include <fcntl.h>
#include <string.h>

#include "tracer/names.h"

#define TEXT_PREVIEW 200	/* output bytes shown per line */

/* Paths and argv come from the traced program: print control bytes
 * escaped, so they cannot drive the terminal. */
static void print_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void print_str(FILE *f, const char *s)
{
	print_escaped(f, s, strlen(s));
}

static void print_result(FILE *f, const TracerSyscallEvent *s)
{
	char b[32];
	if (!s->has_result)
		fputs("\n", f);
	else if (s->is_error)
		fprintf(f, " = -1 %s\n", names_errno((int)s->result, b, sizeof(b)));
	else
		fprintf(f, " = %ld\n", s->result);
}

static void print_syscall(FILE *f, const TracerSyscallEvent *s)
{
	char b[256];
	fprintf(f, "%s(", s->name);
	if (s->args == TRACER_ARGS_SIGNAL) {
		fprintf(f, "%d, %s)", (int)s->target, names_signal(s->signo, b, sizeof(b)));
	} else {
		if (s->path) {
			fputc('"', f);
			print_str(f, s->path);
			fputc('"', f);
		}
		else
			fprintf(f, "<%s>", names_errno(-s->path_error, b, sizeof(b)));
		if (s->flag_kind != TRACER_FLAGS_NONE)
			fprintf(f, ", %s", names_flags(s->flag_kind, s->flags, b, sizeof(b)));
		fputc(')', f);
		if (s->redirected) {
			fputs(" (ran on \"", f);
			print_str(f, s->redirected);
			fputs("\")", f);
		}
	}
	print_result(f, s);
}

void verbose_print(FILE *f, uint64_t seq, const TracerEvent *ev)
{
	char b[64];
	fprintf(f, "vgpu-run: #%llu [pid %d", (unsigned long long)seq, (int)ev->pid);
	if (ev->tid != ev->pid)
		fprintf(f, "/%d", (int)ev->tid);
	fputs("] ", f);

	switch (ev->kind) {
	case TRACER_EVENT_SYSCALL:
		print_syscall(f, &ev->sys);
		break;
	case TRACER_EVENT_EXEC:
		fputs("exec ", f);
		print_str(f, ev->exec.exe);
		for (size_t i = 0; i < ev->exec.argc; i++) {
			fputc(' ', f);
			print_str(f, ev->exec.argv[i]);
		}
		fputc('\n', f);
		break;
	case TRACER_EVENT_FORK:
		fprintf(f, "%s -> %d/%d\n", names_fork(ev->fork.kind), (int)ev->fork.child_pid,
			(int)ev->fork.child_tid);
		break;
	case TRACER_EVENT_EXIT:
		if (ev->exit.signaled)
			fprintf(f, "killed by %s\n", names_signal(ev->exit.code, b, sizeof(b)));
		else
			fprintf(f, "exited with %d\n", ev->exit.code);
		break;
	case TRACER_EVENT_SIGNAL:
		fprintf(f, "signal %s", names_signal(ev->sig.signo, b, sizeof(b)));
		if (ev->sig.has_sender)
			fprintf(f, " from %d", (int)ev->sig.sender);
		fputc('\n', f);
		break;
	case TRACER_EVENT_OUTPUT: {
		size_t n = ev->out.len < TEXT_PREVIEW ? ev->out.len : TEXT_PREVIEW;
		fprintf(f, "fd %d: ", ev->out.fd);
		print_escaped(f, ev->out.data, n);
		fputs(n < ev->out.len ? "...\n" : "\n", f);
		break;
	}
	case TRACER_EVENT_MAPS:
		fprintf(f, "ending with %zu mapped files\n", ev->maps.n);
		break;
	case _TRACER_EVENT_MAX:
	default:
		fputs("?\n", f);
		break;
	}
}

void verbose_observe_elf(FILE *f, uint64_t seq, int pid, const char *path, const char *what)
{
	fprintf(f, "vgpu-run: #%llu [pid %d] observe elf ", (unsigned long long)seq, pid);
	print_str(f, path ? path : "?");
	fputs(": ", f);
	print_str(f, what ? what : "?");
	fputc('\n', f);
}

void verbose_inject(FILE *f, uint64_t seq, int pid, const char *method, const char *library, const char *status,
		    const char *why)
{
	fprintf(f, "vgpu-run: #%llu [pid %d] inject ", (unsigned long long)seq, pid);
	const char *parts[] = { method, library, status };
	for (size_t i = 0; i < 3; i++) {
		print_str(f, parts[i] ? parts[i] : "?");
		fputc(i < 2 ? ' ' : ':', f);
	}
	fputc(' ', f);
	print_str(f, why ? why : "");
	fputc('\n', f);
}
