/* Unit tests: JSON escaping, event encoding, symbolic names, and the
 * invariants of the watched-syscall table. */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/hostarch.h"
#include "base/json.h"
#include "trace/trace-json.h"
#include "tracer/names.h"
#include "tracer/syscalls.h"
#include "../check-run.h"

static const char *enc_string(JsonWriter *w, const char *s, size_t len)
{
	json_reset(w);
	json_string_len(w, s, len);
	return w->buf;
}

START_TEST(test_json_string_escapes_and_replaces_invalid_utf8)
{
	JsonWriter w;
	json_init(&w);
	ck_assert_str_eq(enc_string(&w, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	ck_assert_str_eq(enc_string(&w, "l1\nl2\t\r", 7), "\"l1\\nl2\\t\\r\"");
	ck_assert_str_eq(enc_string(&w, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
	ck_assert_str_eq(enc_string(&w, "nul\0x", 5), "\"nul\\u0000x\"");
	ck_assert_str_eq(enc_string(&w, "caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
	ck_assert_str_eq(enc_string(&w, "bad\xff\xc3", 5), "\"bad\\uefff\\uefc3\"");
	ck_assert_str_eq(enc_string(&w, "\xc0\xaf", 2), "\"\\uefc0\\uefaf\"");	/* overlong */
	ck_assert_str_eq(enc_string(&w, "\xed\xa0\x80", 3), "\"\\uefed\\uefa0\\uef80\"");
	json_done(&w);
}
END_TEST

START_TEST(test_json_nesting_and_commas)
{
	JsonWriter w;
	json_init(&w);
	json_object_begin(&w);
	json_kv_int(&w, "a", -1);
	json_key(&w, "b");
	json_array_begin(&w);
	json_uint(&w, 1);
	json_null(&w);
	json_write_bool(&w, true);
	json_array_end(&w);
	json_key(&w, "c");
	json_object_begin(&w);
	json_object_end(&w);
	json_object_end(&w);
	ck_assert_str_eq(w.buf, "{\"a\":-1,\"b\":[1,null,true],\"c\":{}}");
	json_done(&w);
}
END_TEST

START_TEST(test_encode_syscall_event_exact)
{
	TracerEvent ev = {
		.kind = TRACER_EVENT_SYSCALL, .t_ns = 1500, .pid = 10, .tid = 11,
		.sys = { .name = "openat", .args = TRACER_ARGS_PATH,
			 .path = "/usr/lib/ollama/cuda_v12/libcuda.so.1",
			 .raw = "cuda_v12/libcuda.so.1", .dirfd = 5,
			 .flag_kind = TRACER_FLAGS_OPEN, .flags = O_RDONLY | O_CLOEXEC,
			 .has_result = true, .is_error = true, .result = ENOENT },
	};
	JsonWriter w;
	json_init(&w);
	ck_assert_int_eq(trace_json_event(&w, 7, &ev), 0);
	ck_assert_str_eq(w.buf,
		"{\"seq\":7,\"t_ns\":1500,\"event\":\"syscall\",\"pid\":10,\"tid\":11,"
		"\"syscall\":\"openat\",\"path\":\"/usr/lib/ollama/cuda_v12/libcuda.so.1\","
		"\"raw\":\"cuda_v12/libcuda.so.1\",\"dirfd\":5,\"flags\":\"O_RDONLY|O_CLOEXEC\","
		"\"result\":\"ENOENT\"}");

	ev.sys = (TracerSyscallEvent){ .name = "openat", .args = TRACER_ARGS_PATH,
				       .path_error = -EFAULT, .dirfd = AT_FDCWD,
				       .flag_kind = TRACER_FLAGS_OPEN, .flags = O_RDONLY,
				       .has_result = true, .is_error = true, .result = EFAULT };
	ck_assert_int_eq(trace_json_event(&w, 8, &ev), 0);
	ck_assert_str_eq(w.buf,
		"{\"seq\":8,\"t_ns\":1500,\"event\":\"syscall\",\"pid\":10,\"tid\":11,"
		"\"syscall\":\"openat\",\"path\":null,\"path_error\":\"EFAULT\","
		"\"flags\":\"O_RDONLY\",\"result\":\"EFAULT\"}");
	json_done(&w);
}
END_TEST

START_TEST(test_encode_exec_exit_fork_signal_output_exact)
{
	char *argv[] = { "ollama", "runner", NULL };
	char *env[] = { "LD_LIBRARY_PATH=/a:/b", NULL };
	TracerEvent ev = { .kind = TRACER_EVENT_EXEC, .t_ns = 1, .pid = 3, .tid = 3, .ppid = 2,
			   .exec = { .exe = "/usr/bin/ollama", .argv = argv, .argc = 2,
				     .env = env, .envc = 1, .former_tid = 4 } };
	JsonWriter w;
	json_init(&w);
	trace_json_event(&w, 2, &ev);
	ck_assert_str_eq(w.buf,
		"{\"seq\":2,\"t_ns\":1,\"event\":\"exec\",\"pid\":3,\"tid\":3,\"ppid\":2,"
		"\"exe\":\"/usr/bin/ollama\",\"argv\":[\"ollama\",\"runner\"],"
		"\"env\":{\"LD_LIBRARY_PATH\":\"/a:/b\"},\"former_tid\":4}");

	ev = (TracerEvent){ .kind = TRACER_EVENT_EXIT, .pid = 3, .tid = 3,
			    .exit = { .signaled = true, .code = SIGKILL } };
	trace_json_event(&w, 3, &ev);
	ck_assert_str_eq(w.buf, "{\"seq\":3,\"t_ns\":0,\"event\":\"exit\",\"pid\":3,\"tid\":3,"
				"\"signal\":\"SIGKILL\"}");

	ev = (TracerEvent){ .kind = TRACER_EVENT_FORK, .pid = 3, .tid = 5, .ppid = 2,
			    .fork = { .kind = TRACER_FORK_VFORK, .child_pid = 9, .child_tid = 9 } };
	trace_json_event(&w, 4, &ev);
	ck_assert_str_eq(w.buf, "{\"seq\":4,\"t_ns\":0,\"event\":\"fork\",\"pid\":3,\"tid\":5,"
				"\"ppid\":2,\"kind\":\"vfork\",\"child_pid\":9,\"child_tid\":9}");

	ev = (TracerEvent){ .kind = TRACER_EVENT_SIGNAL, .pid = 3, .tid = 3,
			    .sig = { .signo = SIGTERM, .code = 0, .sender = 1, .has_sender = true } };
	trace_json_event(&w, 5, &ev);
	ck_assert_str_eq(w.buf, "{\"seq\":5,\"t_ns\":0,\"event\":\"signal\",\"pid\":3,\"tid\":3,"
				"\"signal\":\"SIGTERM\",\"code\":0,\"sender\":1}");

	ev = (TracerEvent){ .kind = TRACER_EVENT_OUTPUT, .pid = 3, .tid = 3,
			    .out = { .fd = 2, .data = "ggml\n", .len = 5, .truncated = true } };
	trace_json_event(&w, 6, &ev);
	ck_assert_str_eq(w.buf, "{\"seq\":6,\"t_ns\":0,\"event\":\"output\",\"pid\":3,\"tid\":3,"
				"\"fd\":2,\"text\":\"ggml\\n\",\"truncated\":true}");

	char *files[] = { "/usr/bin/ollama", "/usr/lib/ollama/libggml-cpu-haswell.so", NULL };
	ev = (TracerEvent){ .kind = TRACER_EVENT_MAPS, .pid = 3, .tid = 3,
			    .maps = { .files = files, .n = 2 } };
	trace_json_event(&w, 7, &ev);
	ck_assert_str_eq(w.buf, "{\"seq\":7,\"t_ns\":0,\"event\":\"observe\",\"pid\":3,\"tid\":3,"
				"\"what\":\"mappings\",\"files\":[\"/usr/bin/ollama\","
				"\"/usr/lib/ollama/libggml-cpu-haswell.so\"]}");
	json_done(&w);
}
END_TEST

START_TEST(test_names_flags_signals_errnos)
{
	char b[128];
	ck_assert_str_eq(names_flags(TRACER_FLAGS_OPEN, O_RDONLY, b, sizeof(b)), "O_RDONLY");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_OPEN, O_WRONLY | O_CREAT | O_TRUNC, b, sizeof(b)),
			 "O_WRONLY|O_CREAT|O_TRUNC");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_OPEN, O_RDWR | O_TMPFILE, b, sizeof(b)),
			 "O_RDWR|O_TMPFILE");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_OPEN, O_RDONLY | O_SYNC, b, sizeof(b)),
			 "O_RDONLY|O_SYNC");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_ACCESS, F_OK, b, sizeof(b)), "F_OK");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_ACCESS, R_OK | X_OK, b, sizeof(b)), "R_OK|X_OK");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_AT, 0, b, sizeof(b)), "0");
	ck_assert_str_eq(names_flags(TRACER_FLAGS_AT, AT_SYMLINK_NOFOLLOW | 0x40000000, b, sizeof(b)),
			 "AT_SYMLINK_NOFOLLOW|0x40000000");
	ck_assert_str_eq(names_signal(SIGURG, b, sizeof(b)), "SIGURG");
	ck_assert_str_eq(names_signal(0, b, sizeof(b)), "0");
	int sig = 0;
	ck_assert_int_eq(names_signal_from("SIGSEGV", &sig), 0);
	ck_assert_int_eq(sig, SIGSEGV);
	ck_assert_int_eq(names_signal_from("SIGNOPE", &sig), -ENOENT);
	ck_assert_str_eq(names_errno(ENOENT, b, sizeof(b)), "ENOENT");
	ck_assert_str_eq(names_errno(4095, b, sizeof(b)), "E4095");
}
END_TEST

START_TEST(test_syscall_table_sorted_unique_and_resolvable)
{
	for (size_t i = 0; i < syscall_specs_count; i++) {
		const SyscallSpec *s = &syscall_specs[i];
		if (i > 0)
			ck_assert_msg(strcmp(syscall_specs[i - 1].name, s->name) < 0,
				      "%s is out of order", s->name);
		/* arm64 has only the *at forms (asm-generic/unistd.h) */
		bool legacy = !strcmp(s->name, "open") || !strcmp(s->name, "stat") || !strcmp(s->name, "lstat") ||
			      !strcmp(s->name, "access") || !strcmp(s->name, "readlink");
		bool arm64 = !strcmp(hostarch_native()->uname, "aarch64");
		if (legacy && arm64)
			ck_assert_msg(syscall_resolve(s->name) == -ENOENT, "%s resolves on arm64", s->name);
		else
			ck_assert_msg(syscall_resolve(s->name) >= 0, "%s does not resolve", s->name);
		if (s->decode == DECODE_PATH || s->decode == DECODE_EXEC)
			ck_assert_int_ge(s->path_arg, 0);
		if (s->rule == STOP_UNLESS_EMPTY_PATH)
			ck_assert_int_ge(s->at_flags_arg, 0);
		if (s->decode == DECODE_SIGNAL)
			ck_assert_int_ge(s->signo_arg, 0);
	}
	/* every syscall the tracer core must watch is in the table */
	static const char *const required[] = {
		"open", "openat", "openat2", "stat", "lstat", "newfstatat", "statx", "access",
		"faccessat", "faccessat2", "readlink", "readlinkat", "execve", "execveat", "kill",
		"tkill", "tgkill", "pidfd_send_signal", "write", "writev", "ptrace",
	};
	ck_assert_uint_eq(syscall_specs_count, sizeof(required) / sizeof(required[0]));
	const SyscallSpec *by_nr[SYSCALL_NR_MAX];
	ck_assert_int_eq(syscall_table_build(by_nr), 0);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		int nr = syscall_resolve(required[i]);
		if (nr == -ENOENT && !strcmp(hostarch_native()->uname, "aarch64"))
			continue;	/* checked above */
		ck_assert_int_ge(nr, 0);
		ck_assert_str_eq(by_nr[nr]->name, required[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("encode");
	TCase *tc = tcase_create("encode");
	tcase_add_test(tc, test_json_string_escapes_and_replaces_invalid_utf8);
	tcase_add_test(tc, test_json_nesting_and_commas);
	tcase_add_test(tc, test_encode_syscall_event_exact);
	tcase_add_test(tc, test_encode_exec_exit_fork_signal_output_exact);
	tcase_add_test(tc, test_names_flags_signals_errnos);
	tcase_add_test(tc, test_syscall_table_sorted_unique_and_resolvable);
	suite_add_tcase(s, tc);
	return check_run(s);
}
