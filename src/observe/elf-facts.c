/* ELF facts (see elf-facts.h).  Reads the dynamic section through the program
 * headers, as the dynamic linker does, and the dynamic symbol table
 * through the section headers (ld.so does not need them, so a library
 * without them just has no undefined-symbol list). */
#include "observe/elf-facts.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"

/* Where the bytes come from: a file (pread) or a buffer (tests, fuzzing).
 * Regions are read on demand, so a 150 MB CUDA library costs a few
 * hundred KB of reads, not its size in memory. */
typedef struct Source {
	uint64_t size;
	const uint8_t *mem;	/* or NULL: read from fd */
	int fd;
} Source;

#define REGION_MAX (64u * 1024 * 1024)	/* one table read at once */

static bool in_bounds(uint64_t off, uint64_t size, uint64_t len)
{
	return off <= len && size <= len - off;
}

/* Read [off, off+size) into a new buffer (NUL-terminated for strings). */
static int region(const Source *src, uint64_t off, uint64_t size, uint8_t **ret)
{
	if (!in_bounds(off, size, src->size) || size > REGION_MAX)
		return -EINVAL;
	uint8_t *b = malloc(size + 1);
	if (!b)
		return -ENOMEM;
	if (src->mem) {
		memcpy(b, src->mem + off, size);
	} else {
		size_t done = 0;
		while (done < size) {
			ssize_t n = pread(src->fd, b + done, size - done, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				free(b);
				return -EINVAL;	/* shrank under us */
			}
			done += (size_t)n;
		}
	}
	b[size] = 0;
	*ret = b;
	return 0;
}

/* The NUL-terminated string at OFF of a string table of SIZE bytes. */
static const char *str_at(const uint8_t *tab, uint64_t size, uint64_t off)
{
	if (off >= size)
		return NULL;
	const char *s = (const char *)tab + off;
	return memchr(s, '\0', size - off) ? s : NULL;
}

static int push(char ***list, size_t *n, size_t max, const char *s, bool *truncated)
{
	if (*n >= max) {
		*truncated = true;
		return 0;
	}
	char **l = realloc(*list, (*n + 2) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	*list = l;
	if (!(l[*n] = strdup(s)))
		return -ENOMEM;
	l[++*n] = NULL;
	return 0;
}

static int set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* Translate a virtual address to a file offset through the PT_LOADs. */
static bool vaddr_to_off(const Elf64_Phdr *ph, unsigned n, uint64_t vaddr, uint64_t *ret)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr &&
		    vaddr - ph[i].p_vaddr < ph[i].p_filesz) {
			*ret = ph[i].p_offset + (vaddr - ph[i].p_vaddr);
			return true;
		}
	}
	return false;
}

static int dyn_entry(ElfFacts *f, const Elf64_Dyn *e, const uint8_t *strtab, uint64_t strsz)
{
	if (e->d_tag != DT_NEEDED && e->d_tag != DT_SONAME && e->d_tag != DT_RUNPATH &&
	    e->d_tag != DT_RPATH)
		return 0;
	const char *s = str_at(strtab, strsz, e->d_un.d_val);
	if (!s)
		return -EINVAL;
	switch (e->d_tag) {
	case DT_NEEDED:
		return push(&f->needed, &f->n_needed, ELF_LIST_MAX, s, &f->truncated);
	case DT_SONAME:
		return set_str(&f->soname, s);
	case DT_RUNPATH:
		return set_str(&f->runpath, s);
	default:
		return set_str(&f->rpath, s);
	}
}

static int read_dynamic(const Source *src, const Elf64_Phdr *ph, unsigned phnum, ElfFacts *f)
{
	const Elf64_Phdr *dyn = NULL;
	for (unsigned i = 0; i < phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = &ph[i];
	if (!dyn)
		return 0;	/* static: nothing to load */

	_cleanup_free_ uint8_t *d = NULL, *strtab = NULL;
	int r = region(src, dyn->p_offset, dyn->p_filesz, &d);
	if (r < 0)
		return r;
	size_t n = dyn->p_filesz / sizeof(Elf64_Dyn);
	uint64_t strvaddr = 0, strsz = 0, stroff;
	for (size_t i = 0; i < n; i++) {
		Elf64_Dyn e;
		memcpy(&e, d + i * sizeof(e), sizeof(e));
		if (e.d_tag == DT_NULL)
			break;
		if (e.d_tag == DT_STRTAB)
			strvaddr = e.d_un.d_ptr;
		else if (e.d_tag == DT_STRSZ)
			strsz = e.d_un.d_val;
	}
	if (!strvaddr || !vaddr_to_off(ph, phnum, strvaddr, &stroff))
		return -EINVAL;
	r = region(src, stroff, strsz, &strtab);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		Elf64_Dyn e;
		memcpy(&e, d + i * sizeof(e), sizeof(e));
		if (e.d_tag == DT_NULL)
			break;
		r = dyn_entry(f, &e, strtab, strsz);
	}
	return r;
}

static int read_undefined(const Source *src, const Elf64_Ehdr *eh, ElfFacts *f)
{
	if (!eh->e_shoff || !eh->e_shnum)
		return 0;	/* no section headers: no symbol list */
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return -EINVAL;
	_cleanup_free_ uint8_t *shb = NULL;
	int r = region(src, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), &shb);
	if (r < 0)
		return r;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)shb;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym))
			return -EINVAL;
		const Elf64_Shdr *strsh = &sh[sh[i].sh_link];
		_cleanup_free_ uint8_t *syms = NULL, *strs = NULL;
		r = region(src, sh[i].sh_offset, sh[i].sh_size, &syms);
		if (r >= 0)
			r = region(src, strsh->sh_offset, strsh->sh_size, &strs);
		for (uint64_t k = 1; r >= 0 && k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym sym;
			memcpy(&sym, syms + k * sizeof(sym), sizeof(sym));
			if (sym.st_shndx != SHN_UNDEF || ELF64_ST_BIND(sym.st_info) != STB_GLOBAL)
				continue;	/* defined, local, or weak (may stay 0) */
			const char *name = str_at(strs, strsh->sh_size, sym.st_name);
			if (!name)
				return -EINVAL;
			if (*name)
				r = push(&f->undefined, &f->n_undefined, ELF_UNDEF_MAX, name,
					 &f->truncated);
		}
		return r;
	}
	return 0;
}

static int parse64(const Source *src, ElfFacts *f)
{
	_cleanup_free_ uint8_t *ehb = NULL, *phb = NULL;
	int r = region(src, 0, sizeof(Elf64_Ehdr), &ehb);
	if (r < 0)
		return r;
	Elf64_Ehdr eh;
	memcpy(&eh, ehb, sizeof(eh));
	if (eh.e_phnum) {
		if (eh.e_phentsize != sizeof(Elf64_Phdr))
			return -EINVAL;
		r = region(src, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), &phb);
		if (r < 0)
			return r;
		r = read_dynamic(src, (const Elf64_Phdr *)phb, eh.e_phnum, f);
		if (r < 0)
			return r;
	}
	return read_undefined(src, &eh, f);
}

static int parse(const Source *src, ElfFacts *ret)
{
	ElfFacts f = { 0 };
	_cleanup_free_ uint8_t *id = NULL;
	if (src->size < sizeof(Elf64_Ehdr) && src->size < sizeof(Elf32_Ehdr))
		return -ENOEXEC;
	int r = region(src, 0, sizeof(Elf32_Ehdr), &id);
	if (r < 0)
		return r == -EINVAL ? -ENOEXEC : r;
	if (memcmp(id, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	f.elf_class = id[EI_CLASS] == ELFCLASS64 ? 64 : 32;
	f.little_endian = id[EI_DATA] == ELFDATA2LSB;
	/* e_type and e_machine sit at the same offsets in both classes */
	uint16_t type, machine;
	memcpy(&type, id + offsetof(Elf64_Ehdr, e_type), sizeof(type));
	memcpy(&machine, id + offsetof(Elf64_Ehdr, e_machine), sizeof(machine));
	if (!f.little_endian) {
		type = (uint16_t)(type >> 8 | type << 8);
		machine = (uint16_t)(machine >> 8 | machine << 8);
	}
	f.type = type;
	f.machine = machine;
	if (f.elf_class == 64 && f.little_endian)
		r = parse64(src, &f);
	if (r < 0) {
		elf_facts_done(&f);
		return r;
	}
	*ret = f;
	return 0;
}

int elf_parse(const uint8_t *buf, size_t len, ElfFacts *ret)
{
	Source src = { .size = len, .mem = buf, .fd = -1 };
	return parse(&src, ret);
}

/* Open PATH as a Source: never blocking (a FIFO named like a library
 * must not stall the tracer), regular files only.  The caller closes
 * *RET_FD. */
static int source_open(const char *path, int *ret_fd, Source *src)
{
	/* never a device (a GPU's /dev/nvidia0, mapped by a scanner) */
	struct stat st;
	int fd = open_regular(path, &st);
	if (fd < 0)
		return fd == -EINVAL ? -ENOEXEC : fd;
	*ret_fd = fd;
	*src = (Source){ .size = (uint64_t)st.st_size, .fd = fd };
	return 0;
}

int elf_parse_file(const char *path, ElfFacts *ret)
{
	_cleanup_close_ int fd = -1;
	Source src;
	int r = source_open(path, &fd, &src);
	return r < 0 ? r : parse(&src, ret);
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void elf_facts_done(ElfFacts *f)
{
	free(f->soname);
	free(f->runpath);
	free(f->rpath);
	strv_free(f->needed);
	strv_free(f->undefined);
	free(f->realpath);
	memset(f, 0, sizeof(*f));
}

/* ---- symbols and versions (elf_symbols) ---- */

/* Section SH's bytes, and its linked string table's. */
static int section_with_strings(const Source *src, const Elf64_Shdr *sh, unsigned shnum, unsigned i,
				uint8_t **ret, uint8_t **ret_str, uint64_t *ret_strsz)
{
	if (sh[i].sh_link >= shnum)
		return -EINVAL;
	const Elf64_Shdr *strsh = &sh[sh[i].sh_link];
	int r = region(src, sh[i].sh_offset, sh[i].sh_size, ret);
	if (r >= 0 && (r = region(src, strsh->sh_offset, strsh->sh_size, ret_str)) < 0) {
		free(*ret);
		*ret = NULL;
	}
	*ret_strsz = strsh->sh_size;
	return r;
}

#define VERSION_ENTRIES_MAX 4096	/* entries walked per version section */
#define VERSION_STEPS_MAX 65536		/* auxiliary entries walked per file */
#define VERSION_NAME_MAX 256		/* longer names: not a real version node */

/* A name of a version section: bounded, else the file is malformed. */
static const char *version_name(const uint8_t *str, uint64_t strsz, uint64_t off)
{
	const char *s = str_at(str, strsz, off);
	return s && strnlen(s, VERSION_NAME_MAX) < VERSION_NAME_MAX ? s : NULL;
}

static int push_need(ElfSymbols *s, const char *file, const char *version)
{
	if (s->n_needs >= ELF_NEEDS_MAX) {
		s->truncated = true;
		return 0;
	}
	ElfNeed *n = realloc(s->needs, (s->n_needs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->needs = n;
	n[s->n_needs] = (ElfNeed){ strdup(file), strdup(version) };
	if (!n[s->n_needs].file || !n[s->n_needs].version) {
		free(n[s->n_needs].file);
		free(n[s->n_needs].version);
		return -ENOMEM;
	}
	s->n_needs++;
	return 0;
}

/* SHT_GNU_verneed: the versions it needs of each library (weak ones
 * excepted: the loader only warns about those). */
static int read_verneed(const uint8_t *b, uint64_t size, uint64_t count, const uint8_t *str, uint64_t strsz,
			ElfSymbols *s)
{
	uint64_t off = 0;
	int r = 0;
	for (uint64_t i = 0; r >= 0 && i < count && i < VERSION_ENTRIES_MAX; i++) {
		Elf64_Verneed vn;
		if (!in_bounds(off, sizeof(vn), size))
			return -EINVAL;
		memcpy(&vn, b + off, sizeof(vn));
		const char *file = version_name(str, strsz, vn.vn_file);
		if (!file)
			return -EINVAL;
		uint64_t aoff = off + vn.vn_aux;
		for (unsigned k = 0; r >= 0 && k < vn.vn_cnt && k < VERSION_ENTRIES_MAX; k++) {
			if (++s->steps > VERSION_STEPS_MAX)
				return -EINVAL;
			Elf64_Vernaux va;
			if (!in_bounds(aoff, sizeof(va), size))
				return -EINVAL;
			memcpy(&va, b + aoff, sizeof(va));
			const char *name = version_name(str, strsz, va.vna_name);
			if (!name)
				return -EINVAL;
			if (!(va.vna_flags & VER_FLG_WEAK))
				r = push_need(s, file, name);
			aoff += va.vna_next;
			if (!va.vna_next)
				break;
		}
		if (!vn.vn_next)
			break;
		off += vn.vn_next;
	}
	return r;
}

/* SHT_GNU_verdef: the version nodes it defines (the base entry, its own
 * name, excepted). */
static int read_verdef(const uint8_t *b, uint64_t size, uint64_t count, const uint8_t *str, uint64_t strsz,
		       ElfSymbols *s)
{
	uint64_t off = 0;
	int r = 0;
	for (uint64_t i = 0; r >= 0 && i < count && i < VERSION_ENTRIES_MAX; i++) {
		Elf64_Verdef vd;
		Elf64_Verdaux va;
		if (!in_bounds(off, sizeof(vd), size))
			return -EINVAL;
		memcpy(&vd, b + off, sizeof(vd));
		if (!in_bounds(off + vd.vd_aux, sizeof(va), size))
			return -EINVAL;
		memcpy(&va, b + off + vd.vd_aux, sizeof(va));
		const char *name = version_name(str, strsz, va.vda_name);
		if (!name || ++s->steps > VERSION_STEPS_MAX)
			return -EINVAL;
		if (!(vd.vd_flags & VER_FLG_BASE))
			r = push(&s->versions, &s->n_versions, ELF_NEEDS_MAX, name, &s->truncated);
		if (!vd.vd_next)
			break;
		off += vd.vd_next;
	}
	return r;
}

/* SHT_DYNSYM: the names it defines for others (global, weak or unique
 * binding, with a section), pointing into the kept string table. */
static int read_defined(const uint8_t *syms, uint64_t size, uint8_t *str, uint64_t strsz, ElfSymbols *s)
{
	uint64_t n = size / sizeof(Elf64_Sym);
	if (n > ELF_DEFINED_MAX) {
		n = ELF_DEFINED_MAX;
		s->truncated = true;
	}
	s->defined = calloc(n ? n : 1, sizeof(*s->defined));
	if (!s->defined)
		return -ENOMEM;
	for (uint64_t k = 1; k < n; k++) {
		Elf64_Sym sym;
		memcpy(&sym, syms + k * sizeof(sym), sizeof(sym));
		unsigned bind = ELF64_ST_BIND(sym.st_info);
		if (sym.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE))
			continue;
		const char *name = str_at(str, strsz, sym.st_name);
		if (!name)
			return -EINVAL;
		if (*name)
			s->defined[s->n_defined++] = name;
	}
	s->strings = (char *)str;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int symbols(const Source *src, ElfSymbols *s)
{
	_cleanup_free_ uint8_t *ehb = NULL, *shb = NULL;
	if (src->size < sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	int r = region(src, 0, sizeof(Elf64_Ehdr), &ehb);
	if (r < 0)
		return r;
	Elf64_Ehdr eh;
	memcpy(&eh, ehb, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -EINVAL;
	if (!eh.e_shoff || !eh.e_shnum)
		return 0;
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return -EINVAL;
	r = region(src, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), &shb);
	const Elf64_Shdr *sh = (const Elf64_Shdr *)shb;
	bool have_dynsym = false;
	for (unsigned i = 0; r >= 0 && i < eh.e_shnum; i++) {
		Elf64_Word t = sh[i].sh_type;
		if (t != SHT_DYNSYM && t != SHT_GNU_verneed && t != SHT_GNU_verdef)
			continue;
		if (t == SHT_DYNSYM && (have_dynsym || sh[i].sh_entsize != sizeof(Elf64_Sym)))
			return -EINVAL;
		_cleanup_free_ uint8_t *b = NULL;
		uint8_t *str = NULL;
		uint64_t strsz = 0;
		r = section_with_strings(src, sh, eh.e_shnum, i, &b, &str, &strsz);
		if (r < 0)
			return r;
		if (t == SHT_DYNSYM) {
			have_dynsym = true;
			r = read_defined(b, sh[i].sh_size, str, strsz, s);
			if (r >= 0)
				continue;	/* STR is kept (s->strings) */
		} else if (t == SHT_GNU_verneed) {
			r = read_verneed(b, sh[i].sh_size, sh[i].sh_info, str, strsz, s);
		} else {
			r = read_verdef(b, sh[i].sh_size, sh[i].sh_info, str, strsz, s);
		}
		free(str);
	}
	if (r >= 0 && s->n_defined)
		qsort(s->defined, s->n_defined, sizeof(*s->defined), name_cmp);
	return r;
}

int elf_symbols(const uint8_t *buf, size_t len, ElfSymbols *ret)
{
	Source src = { .size = len, .mem = buf, .fd = -1 };
	*ret = (ElfSymbols){ 0 };
	int r = symbols(&src, ret);
	if (r < 0)
		elf_symbols_done(ret);
	return r;
}

int elf_symbols_file(const char *path, ElfSymbols *ret)
{
	*ret = (ElfSymbols){ 0 };
	_cleanup_close_ int fd = -1;
	Source src;
	int r = source_open(path, &fd, &src);
	if (r < 0)
		return r;
	r = symbols(&src, ret);
	if (r < 0)
		elf_symbols_done(ret);
	return r;
}

bool elf_symbols_defines(const ElfSymbols *s, const char *name)
{
	return s->n_defined && bsearch(&name, s->defined, s->n_defined, sizeof(*s->defined), name_cmp);
}

bool elf_symbols_has_version(const ElfSymbols *s, const char *version)
{
	for (size_t i = 0; i < s->n_versions; i++)
		if (!strcmp(s->versions[i], version))
			return true;
	return false;
}

void elf_symbols_done(ElfSymbols *s)
{
	free(s->defined);
	free(s->strings);
	strv_free(s->versions);
	for (size_t i = 0; i < s->n_needs; i++) {
		free(s->needs[i].file);
		free(s->needs[i].version);
	}
	free(s->needs);
	memset(s, 0, sizeof(*s));
}

const char *elf_machine_name(uint16_t machine, char *buf, size_t size)
{
	static const struct {
		uint16_t em;
		const char *name;
	} names[] = {
		{ EM_X86_64, "x86-64" }, { EM_386, "i386" }, { EM_AARCH64, "aarch64" },
		{ EM_ARM, "arm" },	 { EM_PPC64, "ppc64" }, { EM_RISCV, "riscv" },
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i].em == machine)
			return names[i].name;
	snprintf(buf, size, "EM_%u", machine);
	return buf;
}
