/* Unit tests: ELF facts of real and deliberately broken files. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostarch.h"
#include "base/path.h"
#include "observe/elf-facts.h"
#include "observe/ldcache.h"
#include "observe/observe.h"
#include "../check-run.h"

static bool has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	uint8_t *b = malloc(*len);
	ck_assert_uint_eq(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

START_TEST(test_elf_facts_of_built_library)
{
	ElfFacts f;
	ck_assert_int_eq(elf_parse_file(getenv("LIBPROBE"), &f), 0);
	ck_assert_int_eq(f.elf_class, 64);
	ck_assert(f.little_endian);
	ck_assert_int_eq(f.machine, hostarch_native()->elf_machine);
	ck_assert_int_eq(f.type, ET_DYN);
	ck_assert_str_eq(f.soname, "libvgpuprobe.so.1");
	ck_assert_str_eq(f.runpath, "$ORIGIN:/opt/vgpu-probe:");
	ck_assert_ptr_null(f.rpath);
	ck_assert(has(f.needed, f.n_needed, "libm.so.6"));
	ck_assert(has(f.undefined, f.n_undefined, "vgpu_missing_symbol"));
	ck_assert(has(f.undefined, f.n_undefined, "sqrt"));
	ck_assert(!has(f.undefined, f.n_undefined, "vgpu_probe"));	/* defined here */
	ck_assert(!f.truncated);
	elf_facts_done(&f);
}
END_TEST

START_TEST(test_elf_rejects_non_elf_and_truncated)
{
	ElfFacts f;
	ck_assert_int_eq(elf_parse((const uint8_t *)"#!/bin/sh\n", 10, &f), -ENOEXEC);
	ck_assert_int_eq(elf_parse((const uint8_t *)"", 0, &f), -ENOEXEC);
	ck_assert_int_eq(elf_parse_file("/etc/hostname", &f), -ENOEXEC);
	ck_assert_int_eq(elf_parse_file("/etc", &f), -ENOEXEC);
	ck_assert_int_eq(elf_parse_file("/nonexistent-vgpu/lib.so", &f), -ENOENT);

	size_t len;
	uint8_t *b = slurp(getenv("LIBPROBE"), &len);
	ck_assert_int_eq(elf_parse(b, 200, &f), -EINVAL);	/* headers cut off */
	free(b);
}
END_TEST

START_TEST(test_elf_other_class_machine_and_byte_order)
{
	uint8_t h[sizeof(Elf32_Ehdr)] = { 0x7f, 'E', 'L', 'F', ELFCLASS32, ELFDATA2LSB, EV_CURRENT };
	h[offsetof(Elf32_Ehdr, e_type)] = ET_DYN;
	h[offsetof(Elf32_Ehdr, e_machine)] = EM_386;
	ElfFacts f;
	ck_assert_int_eq(elf_parse(h, sizeof(h), &f), 0);
	ck_assert_int_eq(f.elf_class, 32);
	ck_assert_int_eq(f.machine, EM_386);
	ck_assert_int_eq(f.n_needed, 0);
	elf_facts_done(&f);

	uint8_t be[sizeof(Elf64_Ehdr)] = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2MSB, EV_CURRENT };
	be[offsetof(Elf64_Ehdr, e_machine) + 1] = EM_PPC64;
	ck_assert_int_eq(elf_parse(be, sizeof(be), &f), 0);
	ck_assert(!f.little_endian);
	ck_assert_int_eq(f.machine, EM_PPC64);
	elf_facts_done(&f);
	char buf[16];
	ck_assert_str_eq(elf_machine_name(EM_X86_64, buf, sizeof(buf)), "x86-64");
	ck_assert_str_eq(elf_machine_name(9999, buf, sizeof(buf)), "EM_9999");
}
END_TEST

/* Every prefix and many single-byte corruptions of a real library parse
 * or fail cleanly (the fuzz target, tests/fuzz/fuzz-elf.c, goes further). */
/* The version nodes and symbols of the two builds of libvgpuver.so.1
 * and of the backend linked against the newer (tests/helpers/versioned.c),
 * made by the real toolchain. */
START_TEST(test_elf_symbols_and_versions)
{
	char path[1024];
	ElfSymbols s;
	snprintf(path, sizeof(path), "%s/libvgpuver-old.so", getenv("HELPERS_DIR"));
	ck_assert_int_eq(elf_symbols_file(path, &s), 0);
	ck_assert(elf_symbols_has_version(&s, "VGPU_1.0"));
	ck_assert(!elf_symbols_has_version(&s, "VGPU_2.0"));
	ck_assert(!elf_symbols_has_version(&s, "libvgpuver.so.1"));	/* the base entry is its name */
	ck_assert(elf_symbols_defines(&s, "vgpu_versioned"));
	ck_assert(!elf_symbols_defines(&s, "vgpu_no_such_symbol"));
	ck_assert_uint_eq(s.n_needs, 0);
	elf_symbols_done(&s);

	snprintf(path, sizeof(path), "%s/libvgpuver-new.so", getenv("HELPERS_DIR"));
	ck_assert_int_eq(elf_symbols_file(path, &s), 0);
	ck_assert(elf_symbols_has_version(&s, "VGPU_1.0"));
	ck_assert(elf_symbols_has_version(&s, "VGPU_2.0"));
	elf_symbols_done(&s);

	snprintf(path, sizeof(path), "%s/libfake-backend-version.so", getenv("HELPERS_DIR"));
	ck_assert_int_eq(elf_symbols_file(path, &s), 0);
	ck_assert_uint_eq(s.n_needs, 1);
	ck_assert_str_eq(s.needs[0].file, "libvgpuver.so.1");
	ck_assert_str_eq(s.needs[0].version, "VGPU_2.0");
	ck_assert(elf_symbols_defines(&s, "ggml_backend_init"));
	ck_assert(!elf_symbols_defines(&s, "vgpu_versioned"));	/* undefined here */
	elf_symbols_done(&s);

	ck_assert_int_eq(elf_symbols_file("/etc/hostname", &s), -ENOEXEC);
	ck_assert_int_eq(elf_symbols_file("/nonexistent-vgpu", &s), -ENOENT);
}
END_TEST

START_TEST(test_elf_survives_truncation_and_corruption)
{
	size_t len;
	uint8_t *b = slurp(getenv("LIBPROBE"), &len);
	ElfFacts f;
	for (size_t n = 0; n <= len; n += n < 4096 ? 1 : 97) {
		int r = elf_parse(b, n, &f);
		ck_assert_msg(r == 0 || r == -ENOEXEC || r == -EINVAL, "prefix %zu: %d", n, r);
		if (r == 0)
			elf_facts_done(&f);
		ElfSymbols s;
		r = elf_symbols(b, n, &s);
		ck_assert_msg(r == 0 || r == -ENOEXEC || r == -EINVAL, "symbols, prefix %zu: %d", n, r);
		if (r == 0)
			elf_symbols_done(&s);
	}
	for (size_t i = 0; i < len && i < 8192; i++) {
		for (int v = 0; v < 3; v++) {
			uint8_t saved = b[i];
			b[i] = (uint8_t[]){ 0x00, 0xff, 0x80 }[v];
			int r = elf_parse(b, len, &f);
			ck_assert_msg(r == 0 || r == -ENOEXEC || r == -EINVAL, "byte %zu: %d", i, r);
			if (r == 0)
				elf_facts_done(&f);
			ElfSymbols s;
			r = elf_symbols(b, len, &s);
			ck_assert_msg(r == 0 || r == -ENOEXEC || r == -EINVAL, "symbols, byte %zu: %d", i, r);
			if (r == 0)
				elf_symbols_done(&s);
			b[i] = saved;
		}
	}
	free(b);
}
END_TEST

START_TEST(test_observe_library_names)
{
	static const struct {
		const char *name;
		bool lib;
	} cases[] = {
		{ "libcuda.so.1", true },	  { "libggml-cuda.so", true },
		{ "libggml.v0.5.0.so", true },	  { "libcublas.so.13.0.2", true },
		{ "ld-linux-x86-64.so.2", true }, { "ld.so.cache", false },
		{ "libfoo.socket", false },	  { "libcuda.so.1.tmp", false },
		{ "hostname", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(path_is_library_name(cases[i].name) == cases[i].lib, "%s",
			      cases[i].name);
}
END_TEST

START_TEST(test_ldcache_real_and_built)
{
	LdCache c;
	ck_assert_int_eq(ldcache_load("/etc/ld.so.cache", &c), 0);
	/* Debian's: /lib/x86_64-linux-gnu/libc.so.6, /lib/aarch64-linux-gnu/... */
	char libc[256];
	snprintf(libc, sizeof(libc), "%s/libc.so.6", hostarch_native()->default_dirs[0]);
	ck_assert_str_eq(ldcache_lookup(&c, "libc.so.6"), libc);
	ck_assert_ptr_null(ldcache_lookup(&c, "libvgpu-no-such.so.9"));
	ldcache_done(&c);

	/* a one-entry cache built by hand: 48-byte header, one 24-byte entry,
	 * then the strings */
	uint8_t b[128] = "glibc-ld.so.cache1.1";
	/* FLAG_ELF_LIBC6 (3) and this machine's 64-bit flag (x86-64 0x0300,
	 * aarch64 0x0a00) */
	uint32_t one = 1, flags = 0x0003 | hostarch_native()->ldcache_flags, key = 72, value = 84, bad = 1000;
	memcpy(b + 20, &one, 4);
	memcpy(b + 48, &flags, 4);
	memcpy(b + 52, &key, 4);
	memcpy(b + 56, &value, 4);
	memcpy(b + 72, "libfoo.so.1", 12);
	memcpy(b + 84, "/opt/libfoo.so.1", 17);
	ck_assert_int_eq(ldcache_parse(b, sizeof(b), &c), 0);
	ck_assert_str_eq(ldcache_lookup(&c, "libfoo.so.1"), "/opt/libfoo.so.1");
	ldcache_done(&c);
	/* an entry of the other architecture is not ours */
	uint32_t other = 0x0003 | (hostarch_native()->ldcache_flags == 0x0300 ? 0x0a00 : 0x0300);
	memcpy(b + 48, &other, 4);
	ck_assert_int_eq(ldcache_parse(b, sizeof(b), &c), 0);
	ck_assert_ptr_null(ldcache_lookup(&c, "libfoo.so.1"));
	ldcache_done(&c);
	memcpy(b + 48, &flags, 4);

	memcpy(b + 56, &bad, 4);	/* value out of the file: no answer, no crash */
	ck_assert_int_eq(ldcache_parse(b, sizeof(b), &c), 0);
	ck_assert_ptr_null(ldcache_lookup(&c, "libfoo.so.1"));
	ldcache_done(&c);

	uint32_t many = 1000;		/* more entries than the file holds */
	memcpy(b + 20, &many, 4);
	ck_assert_int_eq(ldcache_parse(b, sizeof(b), &c), -EINVAL);
	ck_assert_int_eq(ldcache_parse((const uint8_t *)"glibc-ld.so.cache1.0", 20, &c), -EINVAL);
	ck_assert_int_eq(ldcache_load("/nonexistent-vgpu/ld.so.cache", &c), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("elf");
	TCase *tc = tcase_create("elf");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_elf_facts_of_built_library);
	tcase_add_test(tc, test_elf_rejects_non_elf_and_truncated);
	tcase_add_test(tc, test_elf_other_class_machine_and_byte_order);
	tcase_add_test(tc, test_elf_symbols_and_versions);
	tcase_add_test(tc, test_elf_survives_truncation_and_corruption);
	tcase_add_test(tc, test_observe_library_names);
	tcase_add_test(tc, test_ldcache_real_and_built);
	suite_add_tcase(s, tc);
	return check_run(s);
}
