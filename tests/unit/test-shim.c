/* Unit tests: shim configuration (sonames, absolute paths, the names of
 * the VGPU_REAL_* variables) and the safety rule on files the test makes:
 * exact messages, since scripts and people read them. */
#include <check.h>
#include <stdbool.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostarch.h"
#include "inject/shim.h"
#include "../check-run.h"

START_TEST(test_shim_real_env_names)
{
	char b[64];
	shim_real_env_name("libcuda.so.1", b, sizeof(b));
	ck_assert_str_eq(b, "VGPU_REAL_LIBCUDA");
	shim_real_env_name("libnvidia-ml.so.1", b, sizeof(b));
	ck_assert_str_eq(b, "VGPU_REAL_LIBNVIDIA_ML");
}
END_TEST

START_TEST(test_shim_set_add)
{
	char err[512] = "", cwd[4096], want[4200];
	ShimSet s = { .source = "--shim" };
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(shim_set_add(&s, "./x/../shim/libcuda.so.1", "libcuda.so.1", true, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/shim/libcuda.so.1", strcmp(cwd, "/") ? cwd : "");
	ck_assert_str_eq(s.shims[0].path, want);
	ck_assert_str_eq(s.shims[0].soname, "libcuda.so.1");
	ck_assert_str_eq(s.shims[0].real_env, "VGPU_REAL_LIBCUDA");
	ck_assert_int_eq(shim_set_add(&s, "libnvidia-ml.so.1=/opt/s/libnvidia-ml.so.1", "libcuda.so.1", true,
				      err, sizeof(err)), 0);
	ck_assert_str_eq(s.shims[1].soname, "libnvidia-ml.so.1");
	ck_assert_str_eq(s.shims[1].path, "/opt/s/libnvidia-ml.so.1");
	/* a '=' inside a path is part of the path */
	ck_assert_int_eq(shim_set_add(&s, "/opt/a=b/libfoo.so.2", "libfoo.so.2", true, err, sizeof(err)), 0);
	ck_assert_str_eq(s.shims[2].path, "/opt/a=b/libfoo.so.2");

	ck_assert_int_eq(shim_set_add(&s, "/other/libcuda.so.1", "libcuda.so.1", true, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "two shims for libcuda.so.1: '%s/shim/libcuda.so.1' and '/other/libcuda.so.1'",
		 strcmp(cwd, "/") ? cwd : "");
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(shim_set_add(&s, "libcuda.so.2=/x/libcuda.so.2", "libcuda.so.1", true, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "shims for libcuda.so.1 and libcuda.so.2 would share VGPU_REAL_LIBCUDA: give one of them");
	ck_assert_int_eq(shim_set_add(&s, "cuda=/x.so", "libcuda.so.1", true, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "shim 'cuda=/x.so': 'cuda' is not a soname (like libcuda.so.1)");
	shim_set_done(&s);

	ShimSet e = { .source = "VGPU_SHIM" };
	ck_assert_int_eq(shim_set_add(&e, "shim/libcuda.so.1", "libcuda.so.1", false, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "shim 'shim/libcuda.so.1' (from VGPU_SHIM): not an absolute path");
	ck_assert_int_eq(shim_set_add(&e, "libcuda.so.1=", "libcuda.so.1", false, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "shim for libcuda.so.1: empty path");
	shim_set_done(&e);

	/* faults.md #31: a relative path in a removed directory said "path
	 * too long" */
	char gone[] = "/tmp/vgpu-gone-XXXXXX", back[4096];
	ck_assert_ptr_nonnull(getcwd(back, sizeof(back)));
	ck_assert_ptr_nonnull(mkdtemp(gone));
	ck_assert_int_eq(chdir(gone), 0);
	ck_assert_int_eq(rmdir(gone), 0);
	ShimSet g = { .source = "--shim" };
	ck_assert_int_eq(shim_set_add(&g, "libcuda.so.1", "libcuda.so.1", true, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "shim 'libcuda.so.1': a relative path, and the current directory was removed: "
			      "give an absolute path");
	shim_set_done(&g);
	ck_assert_int_eq(chdir(back), 0);
}
END_TEST

/* An ELF header with the given class, type and machine, and PHDRS
 * program headers after it: 0 none (a bare header), 1 a load segment,
 * 2 that and a dynamic section (what the dynamic linker needs). */
static void write_elf(const char *path, unsigned char cls, uint16_t type, uint16_t machine, int phdrs)
{
	Elf64_Ehdr h = { 0 };
	memcpy(h.e_ident, ELFMAG, SELFMAG);
	h.e_ident[EI_CLASS] = cls;
	h.e_ident[EI_DATA] = ELFDATA2LSB;
	h.e_ident[EI_VERSION] = EV_CURRENT;
	h.e_type = type;
	h.e_machine = machine;
	h.e_phoff = phdrs ? sizeof(h) : 0;
	h.e_phentsize = sizeof(Elf64_Phdr);
	h.e_phnum = (uint16_t)phdrs;
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = 0, .p_filesz = sizeof(h) + 2 * sizeof(Elf64_Phdr) },
		{ .p_type = PT_DYNAMIC, .p_offset = sizeof(h) },
	};
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(&h, sizeof(h), 1, f), 1);
	ck_assert_uint_eq(fwrite(ph, sizeof(ph), 1, f), 1);
	fclose(f);
	if (!phdrs)
		ck_assert_int_eq(truncate(path, sizeof(h)), 0);
}

START_TEST(test_shim_check_file_kinds)
{
	char dir[] = "/tmp/vgpu-shim-XXXXXX", p[256], err[512], want[600];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	/* this host's machine, and the other one vgpu-run knows */
	const HostArch *host = hostarch_native();
	const bool arm64 = host->elf_machine == EM_AARCH64;
	const uint16_t native = host->elf_machine, other = arm64 ? EM_X86_64 : EM_AARCH64;
	char class32[128], foreign[128];
	snprintf(class32, sizeof(class32), "a 32-bit ELF object; this host runs 64-bit %s programs", host->elf_name);
	snprintf(foreign, sizeof(foreign), "an ELF object for another machine than %s", host->elf_name);
	const struct {
		const char *name;
		unsigned char cls;
		uint16_t type, machine;
		int phdrs;
		const char *problem;	/* NULL: usable */
	} kinds[] = {
		{ "ok.so", ELFCLASS64, ET_DYN, native, 2, NULL },
		{ "class32.so", ELFCLASS32, ET_DYN, arm64 ? EM_ARM : EM_386, 2, class32 },
		{ "exec.so", ELFCLASS64, ET_EXEC, native, 2, "an ELF file but not a shared object" },
		{ "foreign.so", ELFCLASS64, ET_DYN, other, 2, foreign },
		/* faults.md #38: a bare 64-byte header passed */
		{ "header.so", ELFCLASS64, ET_DYN, native, 0, "a truncated ELF file (no program headers)" },
		{ "nodyn.so", ELFCLASS64, ET_DYN, native, 1,
		  "an ELF object without a dynamic section: not a shared library" },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, kinds[i].name);
		write_elf(p, kinds[i].cls, kinds[i].type, kinds[i].machine, kinds[i].phdrs);
		chmod(p, 0644);
		int r = shim_check(p, err, sizeof(err));
		if (!kinds[i].problem) {
			ck_assert_msg(r == 0, "%s: %s", p, err);
			continue;
		}
		ck_assert_int_eq(r, -ENOEXEC);
		snprintf(want, sizeof(want), "shim '%s': %s", p, kinds[i].problem);
		ck_assert_str_eq(err, want);
	}
	snprintf(p, sizeof(p), "%s/text.so", dir);
	FILE *f = fopen(p, "w");
	fputs("not a library\n", f);
	fclose(f);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -ENOEXEC);
	snprintf(want, sizeof(want), "shim '%s': not an ELF file", p);
	ck_assert_str_eq(err, want);
	snprintf(p, sizeof(p), "%s/missing.so", dir);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "shim '%s': no such file", p);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(shim_check(dir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "shim '%s': not a regular file", dir);
	ck_assert_str_eq(err, want);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* As root: owners and modes of the file and of every directory above. */
START_TEST(test_shim_check_owners_as_root)
{
	if (geteuid() != 0) {
		printf("shim owners: skipped (needs root)\n");
		return;
	}
	char dir[] = "/tmp/vgpu-shim-XXXXXX", sub[300], p[400], err[1024], want[1200];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(sub, sizeof(sub), "%s/d", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(p, sizeof(p), "%s/libcuda.so.1", sub);
	write_elf(p, ELFCLASS64, ET_DYN, hostarch_native()->elf_machine, 2);
	chmod(p, 0644);
	/* under /tmp (root's, sticky): fine */
	ck_assert_msg(shim_check(p, err, sizeof(err)) == 0, "%s", err);

	chmod(p, 0666);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "shim '%s': the file '%s' is world-writable (vgpu-run runs as root)", p, p);
	ck_assert_str_eq(err, want);
	chmod(p, 0664);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "shim '%s': the file '%s' is group-writable (vgpu-run runs as root)", p, p);
	ck_assert_str_eq(err, want);
	chmod(p, 0644);

	chmod(sub, 0777);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "shim '%s': directory '%s' is world-writable (vgpu-run runs as root)", p, sub);
	ck_assert_str_eq(err, want);
	chmod(sub, 0755);

	/* a symlink on the way that someone else owns may be re-pointed */
	char link[400], via[500];
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(sub, link), 0);
	ck_assert_int_eq(lchown(link, 65534, 65534), 0);
	snprintf(via, sizeof(via), "%s/libcuda.so.1", link);
	ck_assert_int_eq(shim_check(via, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "shim '%s': symbolic link '%s' is owned by uid 65534, not root (vgpu-run runs as root)", via, link);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(lchown(link, 0, 0), 0);
	ck_assert_msg(shim_check(via, err, sizeof(err)) == 0, "%s", err);

	ck_assert_int_eq(chown(p, 65534, 65534), 0);
	ck_assert_int_eq(shim_check(p, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "shim '%s': the file '%s' is owned by uid 65534, not root (vgpu-run runs as root)", p, p);
	ck_assert_str_eq(err, want);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_shim_real_env_names);
	tcase_add_test(tc, test_shim_set_add);
	tcase_add_test(tc, test_shim_check_file_kinds);
	tcase_add_test(tc, test_shim_check_owners_as_root);
	suite_add_tcase(s, tc);
	return check_run(s);
}
