/* Unit tests: path normalisation and joining (pure), opening regular
 * files only, bounded tracee reads (on our own memory: process_vm_readv
 * works on oneself without ptrace). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/path.h"
#include "tracer/mem.h"
#include "../check-run.h"

static const struct {
	const char *in, *out;
} normalize_cases[] = {
	{ "/", "/" },
	{ "//", "/" },
	{ "/a/b/c", "/a/b/c" },
	{ "/a//b///c/", "/a/b/c" },
	{ "/a/./b/.", "/a/b" },
	{ "/a/b/../c", "/a/c" },
	{ "/a/b/../../..", "/" },
	{ "/../../x", "/x" },
	{ "/usr/lib/ollama/cuda_v12/../cuda_v13/./libggml-cuda.so",
	  "/usr/lib/ollama/cuda_v13/libggml-cuda.so" },
	{ "/a/.../b", "/a/.../b" },
	{ "/a/..b/c", "/a/..b/c" },
};

START_TEST(test_path_normalize_table)
{
	char out[256];
	const char *in = normalize_cases[_i].in;
	ck_assert_int_eq(path_normalize(in, out, sizeof(out)), (int)strlen(normalize_cases[_i].out));
	ck_assert_str_eq(out, normalize_cases[_i].out);
}
END_TEST

START_TEST(test_path_normalize_rejects_relative_and_overflow)
{
	char out[8];
	ck_assert_int_eq(path_normalize("a/b", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(path_normalize("", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(path_normalize("/abcdefgh", out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_int_eq(path_normalize("/abcdef", out, sizeof(out)), 7);
	ck_assert_str_eq(out, "/abcdef");
}
END_TEST

START_TEST(test_path_join_relative_absolute_and_empty)
{
	char out[256];
	ck_assert_int_ge(path_join("/tmp/x", "sub/../f", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/x/f");
	ck_assert_int_ge(path_join("/tmp/x", "/etc//passwd", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/etc/passwd");
	ck_assert_int_ge(path_join("/tmp/x", "", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/x");
	ck_assert_int_ge(path_join("/", "..", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/");
}
END_TEST

START_TEST(test_path_base_name)
{
	ck_assert_str_eq(path_base_name("/a/b/libcuda.so.1"), "libcuda.so.1");
	ck_assert_str_eq(path_base_name("libcuda.so.1"), "libcuda.so.1");
	ck_assert_str_eq(path_base_name("/a/"), "");
	ck_assert_ptr_null(path_base_name(NULL));
}
END_TEST

START_TEST(test_path_base_of_socket_fd_is_ebadf)
{
	int sv[2];
	char out[256];
	ck_assert_int_eq(pipe(sv), 0);
	ck_assert_int_eq(path_base(getpid(), sv[0], out, sizeof(out)), -EBADF);
	ck_assert_int_eq(path_base(getpid(), 999, out, sizeof(out)), -EBADF);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_mem_read_string_across_and_into_unmapped_page)
{
	long ps = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(munmap(m + 2 * ps, ps), 0);
	char buf[64];

	/* a string crossing from page 0 into page 1 is read whole */
	char *s = m + ps - 3;
	memcpy(s, "/abcdef", 8);
	ck_assert_int_eq(mem_read_string(getpid(), (uintptr_t)s, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "/abcdef");

	/* one running into the unmapped page 2 is EFAULT, never a crash */
	s = m + 2 * ps - 4;
	memcpy(s, "/xyz", 4);
	ck_assert_int_eq(mem_read_string(getpid(), (uintptr_t)s, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(mem_read_string(getpid(), 1, buf, sizeof(buf)), -EFAULT);

	/* no NUL within the bound: ENAMETOOLONG with the prefix kept */
	memset(m, 'a', 100);
	ck_assert_int_eq(mem_read_string(getpid(), (uintptr_t)m, buf, 10), -ENAMETOOLONG);
	ck_assert_str_eq(buf, "aaaaaaaaa");

	/* partial reads stop at the first unreadable page */
	ck_assert_int_eq(mem_read_partial(getpid(), (uintptr_t)(m + 2 * ps - 8), buf, 32), 8);
	ck_assert_int_eq(mem_read(getpid(), (uintptr_t)(m + 2 * ps - 8), buf, 32), -EFAULT);
	munmap(m, 2 * ps);
}
END_TEST

/* A regular file opens, non-blocking; anything else is -EINVAL and is
 * never opened at all (inotify sees no open of the FIFO). */
START_TEST(test_open_regular_opens_nothing_else)
{
	char dir[] = "/tmp/vgpu-open-XXXXXX", file[64], fifo[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/lib.so", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.so", dir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("x", f);
	fclose(f);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);

	struct stat st;
	int fd = open_regular(file, &st);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 1);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	char c;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	close(fd);

	int in = inotify_init1(IN_NONBLOCK);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(inotify_add_watch(in, fifo, IN_OPEN), 0);
	ck_assert_int_eq(open_regular(fifo, NULL), -EINVAL);
	char ev[256];
	ck_assert_int_eq(read(in, ev, sizeof(ev)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* the control: an open for reading is seen */
	int ffd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(ffd, 0);
	close(ffd);
	ck_assert_int_gt(read(in, ev, sizeof(ev)), 0);
	close(in);

	ck_assert_int_eq(open_regular(dir, NULL), -EINVAL);
	ck_assert_int_eq(open_regular("/dev/null", NULL), -EINVAL);
	char gone[80];
	snprintf(gone, sizeof(gone), "%s/none.so", dir);
	ck_assert_int_eq(open_regular(gone, NULL), -ENOENT);
	/* a symlink to a device: not followed into an open */
	char link[80];
	snprintf(link, sizeof(link), "%s/libcuda.so.1", dir);
	ck_assert_int_eq(symlink("/dev/null", link), 0);
	ck_assert_int_eq(open_regular(link, NULL), -EINVAL);
	unlink(link);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* read_full: up to SIZE bytes or the end, in as many reads as it takes
 * (a pipe gives what was written in pieces). */
START_TEST(test_read_full_to_size_or_end)
{
	int p[2];
	char buf[16];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "ab", 2), 2);
	ck_assert_int_eq(write(p[1], "cde", 3), 3);
	close(p[1]);
	ck_assert_int_eq(read_full(p[0], buf, 4), 4);
	ck_assert_int_eq(memcmp(buf, "abcd", 4), 0);
	ck_assert_int_eq(read_full(p[0], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'e');
	ck_assert_int_eq(read_full(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
	ck_assert_int_eq(read_full(p[0], buf, sizeof(buf)), -EBADF);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("path");
	tcase_add_loop_test(tc, test_path_normalize_table, 0,
			    sizeof(normalize_cases) / sizeof(normalize_cases[0]));
	tcase_add_test(tc, test_path_normalize_rejects_relative_and_overflow);
	tcase_add_test(tc, test_path_join_relative_absolute_and_empty);
	tcase_add_test(tc, test_path_base_name);
	tcase_add_test(tc, test_path_base_of_socket_fd_is_ebadf);
	tcase_add_test(tc, test_open_regular_opens_nothing_else);
	tcase_add_test(tc, test_read_full_to_size_or_end);
	tcase_add_test(tc, test_mem_read_string_across_and_into_unmapped_page);
	suite_add_tcase(s, tc);
	return check_run(s);
}
