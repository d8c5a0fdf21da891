/* The Go fixture under vgpu-run: 50 goroutines x 20 os/exec children
 * (clone(CLONE_VM|CLONE_VFORK)), file opens, SIGURG preemption, GOMAXPROCS=4.
 * Traced, it must behave exactly as untraced, and the trace must account
 * for every child. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

#define GOROUTINES 50
#define CHILDREN 20
#define TOTAL (GOROUTINES * CHILDREN)

START_TEST(test_go_fixture_traced_equals_untraced)
{
	char dir[] = "/tmp/vgpu-go-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("GOMAXPROCS", "4", 1);
	const char *fixture = env_path("GO_FIXTURE");
	const char *const argv[] = { fixture, "-goroutines", "50", "-children", "20", "-dir", dir,
				     "-child", "/bin/true", NULL };

	RunResult plain, traced;
	run_plain(argv, &plain);
	run_traced(argv, &traced);
	ck_assert(WIFEXITED(plain.status));
	ck_assert_int_eq(WEXITSTATUS(plain.status), 0);
	ck_assert_int_eq(traced.status, plain.status);
	ck_assert_str_eq(traced.out, plain.out);
	ck_assert_ptr_nonnull(strstr(plain.out, "children=1000 ok=1000 failed=0\n"));

	const Trace *t = &traced.trace;
	size_t execs = 0, vforks = 0, exits_ok = 0, missing = 0;
	for (size_t i = 0; i < t->n; i++) {
		json_object *ev = t->ev[i], *argvj, *a1;
		if (ev_is(ev, "exec") && json_object_object_get_ex(ev, "argv", &argvj) &&
		    (a1 = json_object_array_get_idx(argvj, 1)) &&
		    !strcmp(json_object_get_string(a1), "fixture-child"))
			execs++;
		if (ev_is(ev, "fork") && !strcmp(ev_str(ev, "kind"), "vfork")) {
			vforks++;
			/* every vfork child must end, by exit code 0 */
			long long child = ev_int(ev, "child_pid", 0);
			for (size_t j = i + 1; j < t->n; j++) {
				if (ev_is(t->ev[j], "exit") && ev_int(t->ev[j], "pid", 0) == child) {
					exits_ok += ev_int(t->ev[j], "code", -1) == 0;
					break;
				}
			}
		}
		const char *p = ev_str(ev, "path"), *res = ev_str(ev, "result");
		if (ev_is(ev, "syscall") && p && strstr(p, "/missing-") && res && !strcmp(res, "ENOENT"))
			missing++;
	}
	ck_assert_uint_eq(execs, TOTAL);
	ck_assert_uint_eq(vforks, TOTAL);
	ck_assert_uint_eq(exits_ok, TOTAL);
	ck_assert_uint_eq(missing, TOTAL);
	run_result_free(&plain);
	run_result_free(&traced);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("go-fixture");
	TCase *tc = tcase_create("go");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_go_fixture_traced_equals_untraced);
	suite_add_tcase(s, tc);
	return check_run(s);
}
