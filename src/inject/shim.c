/* Shim configuration and the safety rule (see shim.h). */
#include "inject/shim.h"

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/hostarch.h"
#include "base/path.h"

void shim_real_env_name(const char *soname, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "VGPU_REAL_");
	/* up to ".so": the version is not part of the name */
	const char *end = strstr(soname, ".so");
	size_t len = end ? (size_t)(end - soname) : strlen(soname);
	for (size_t i = 0; i < len && n + 1 < size; i++)
		buf[n++] = isalnum((unsigned char)soname[i]) ? (char)toupper((unsigned char)soname[i]) : '_';
	buf[n < size ? n : size - 1] = '\0';
}

/* Lexically normal absolute form of PATH (relative to the cwd). */
static int absolute(const char *path, char *out, size_t size)
{
	char cwd[PATH_MAX] = "/";
	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	int r = path_join(cwd, path, out, size);
	return r < 0 ? r : 0;
}

int shim_set_add(ShimSet *s, const char *spec, const char *default_soname, bool relative_ok,
		 char *err, size_t err_size)
{
	const char *eq = strchr(spec, '=');
	bool named = eq && eq != spec && !memchr(spec, '/', (size_t)(eq - spec));
	const char *path = named ? eq + 1 : spec;
	_cleanup_free_ char *soname = named ? strndup(spec, (size_t)(eq - spec)) : strdup(default_soname);
	if (!soname) {
		snprintf(err, err_size, "out of memory");
		return -EINVAL;
	}
	if (!*path) {
		snprintf(err, err_size, "shim for %s: empty path", soname);
		return -EINVAL;
	}
	if (path[0] != '/' && !relative_ok) {
		snprintf(err, err_size, "shim '%s' (from %s): not an absolute path", path, s->source);
		return -EINVAL;
	}
	if (!strstr(soname, ".so")) {
		snprintf(err, err_size, "shim '%s': '%s' is not a soname (like libcuda.so.1)", spec, soname);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->shims[i].soname, soname)) {
			snprintf(err, err_size, "two shims for %s: '%s' and '%s'", soname, s->shims[i].path, path);
			return -EINVAL;
		}
	if (s->n == SHIMS_MAX) {
		snprintf(err, err_size, "more than %d shims", SHIMS_MAX);
		return -EINVAL;
	}
	char abs[PATH_MAX], env[128];
	int r = absolute(path, abs, sizeof(abs));
	if (r == -ENOENT) {
		snprintf(err, err_size, "shim '%s': a relative path, and the current directory was removed: "
			 "give an absolute path", path);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, err_size, "shim '%s': %s", path,
			 r == -ENAMETOOLONG || r == -ERANGE ? "path too long" : strerror(-r));
		return -EINVAL;
	}
	shim_real_env_name(soname, env, sizeof(env));
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->shims[i].real_env, env)) {
			snprintf(err, err_size, "shims for %s and %s would share %s: give one of them",
				 s->shims[i].soname, soname, env);
			return -EINVAL;
		}
	Shim *sh = &s->shims[s->n];
	sh->path = strdup(abs);
	sh->real_env = strdup(env);
	sh->soname = TAKE_PTR(soname);
	s->n++;
	if (!sh->path || !sh->real_env) {
		snprintf(err, err_size, "out of memory");
		return -EINVAL;
	}
	return 0;
}

/* What the ELF header of FD says, against this host (64-bit, its
 * machine: base/hostarch.h); BUF holds the messages that name it. */
static const char *elf_problem(int fd, char *buf, size_t size)
{
	const HostArch *arch = hostarch_native();
	Elf64_Ehdr h;
	ssize_t n = pread(fd, &h, sizeof(h), 0);
	if (n < EI_NIDENT || memcmp(h.e_ident, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	if (h.e_ident[EI_CLASS] != ELFCLASS64) {
		snprintf(buf, size, "a 32-bit ELF object; this host runs 64-bit %s programs", arch->elf_name);
		return buf;
	}
	if (n < (ssize_t)sizeof(h))
		return "a truncated ELF file";
	if (h.e_machine != arch->elf_machine) {
		snprintf(buf, size, "an ELF object for another machine than %s", arch->elf_name);
		return buf;
	}
	if (h.e_type != ET_DYN)
		return "an ELF file but not a shared object";
	/* what the dynamic linker needs before it maps anything: program
	 * headers in the file, and among them a load segment and the
	 * dynamic section (a bare ELF header has neither) */
	struct stat st;
	if (fstat(fd, &st) < 0 || h.e_phentsize != sizeof(Elf64_Phdr) || h.e_phnum == 0 ||
	    h.e_phnum > 4096 || h.e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size - h.e_phoff < (uint64_t)h.e_phnum * sizeof(Elf64_Phdr))
		return "a truncated ELF file (no program headers)";
	bool load = false, dynamic = false;
	for (unsigned i = 0; i < h.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(h.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return "a truncated ELF file (no program headers)";
		load |= ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz <= (uint64_t)st.st_size &&
			ph.p_offset + ph.p_filesz >= ph.p_offset;
		dynamic |= ph.p_type == PT_DYNAMIC;
	}
	if (!load)
		return "a truncated ELF file (no loadable segment within the file)";
	if (!dynamic)
		return "an ELF object without a dynamic section: not a shared library";
	return NULL;
}

/* As root: the real file and each directory above it must be root's and
 * writable by nobody else, or anyone who can write there chooses what
 * runs inside the scanner.  A root-owned sticky directory (/tmp) is fine:
 * nobody else may rename or remove the root-owned entry below it. */
static int check_owners(const char *real, char *err, size_t err_size)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", real);
	if (p[0] != '/')
		return -EINVAL;
	for (bool file = true;; file = false) {
		struct stat st;
		/* A symlink on the way is as good as whoever owns it: its owner
		 * may point it elsewhere (what it points to is checked too,
		 * along the real path). */
		if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != 0) {
			snprintf(err, err_size, "shim '%s': symbolic link '%s' is owned by uid %u, not root (vgpu-run runs as root)",
				 real, p, (unsigned)st.st_uid);
			return -EPERM;
		}
		if (stat(p, &st) < 0) {
			int r = -errno;
			snprintf(err, err_size, "shim '%s': cannot check '%s': %s", real, p, strerror(-r));
			return r;
		}
		bool sticky_dir = !file && (st.st_mode & S_ISVTX);
		const char *what = file ? "the file" : "directory";
		if (st.st_uid != 0) {
			snprintf(err, err_size, "shim '%s': %s '%s' is owned by uid %u, not root (vgpu-run runs as root)",
				 real, what, p, (unsigned)st.st_uid);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
			snprintf(err, err_size, "shim '%s': %s '%s' is %s-writable (vgpu-run runs as root)", real,
				 what, p, st.st_mode & S_IWOTH ? "world" : "group");
			return -EPERM;
		}
		if (!strcmp(p, "/"))
			return 0;
		char *slash = strrchr(p, '/');
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

int shim_check(const char *path, char *err, size_t err_size)
{
	_cleanup_close_ int fd = open_regular(path, NULL);
	if (fd == -EINVAL) {
		snprintf(err, err_size, "shim '%s': not a regular file", path);
		return -EINVAL;
	}
	if (fd < 0) {
		snprintf(err, err_size, "shim '%s': %s", path, fd == -ENOENT ? "no such file" : strerror(-fd));
		return fd;
	}
	char what[128];
	const char *problem = elf_problem(fd, what, sizeof(what));
	if (problem) {
		snprintf(err, err_size, "shim '%s': %s", path, problem);
		return -ENOEXEC;
	}
	if (geteuid() != 0)
		return 0;
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		int r = -errno;
		snprintf(err, err_size, "shim '%s': %s", path, strerror(-r));
		return r;
	}
	/* Both chains: the directories holding each symlink of PATH decide
	 * where it leads, the real ones decide what is there. */
	int r = check_owners(path, err, err_size);
	return r < 0 || !strcmp(path, real) ? r : check_owners(real, err, err_size);
}

void shim_set_done(ShimSet *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->shims[i].soname);
		free(s->shims[i].path);
		free(s->shims[i].real_env);
	}
	s->n = 0;
}
