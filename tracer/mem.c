/* Bounded reads of tracee memory (see mem.h). */
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static size_t page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

/* One chunk that does not cross a page boundary: all or nothing. */
static int read_chunk(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static size_t chunk_len(uint64_t addr, size_t left)
{
	size_t room = page_size() - (size_t)(addr & (page_size() - 1));
	return left < room ? left : room;
}

ssize_t mem_read_partial(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		if (addr + done < addr)
			break;	/* wrapped around the address space */
		size_t n = chunk_len(addr + done, len - done);
		int r = read_chunk(tid, addr + done, (char *)buf + done, n);
		if (r < 0) {
			if (done == 0)
				return r;
			break;
		}
		done += n;
	}
	return (ssize_t)done;
}

int mem_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = mem_read_partial(tid, addr, buf, len);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EFAULT;
}

ssize_t mem_read_string(pid_t tid, uint64_t addr, char *buf, size_t size)
{
	size_t done = 0;
	if (size == 0)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	/* SIZE bytes may hold a string of SIZE-1 and its NUL, as PATH_MAX
	 * does for the kernel: look for the NUL in all of them. */
	while (done < size) {
		size_t n = chunk_len(addr + done, size - done);
		int r = read_chunk(tid, addr + done, buf + done, n);
		if (r < 0) {
			buf[done] = '\0';
			return r;
		}
		char *nul = memchr(buf + done, '\0', n);
		if (nul)
			return nul - buf;
		done += n;
	}
	buf[size - 1] = '\0';
	return -ENAMETOOLONG;
}

int mem_write(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	char check[512];
	for (size_t done = 0; done < len;) {
		size_t n = chunk_len(addr + done, len - done);
		if (n > sizeof(check))
			n = sizeof(check);
		struct iovec local = { .iov_base = (char *)buf + done, .iov_len = n };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)(addr + done), .iov_len = n };
		ssize_t w = process_vm_writev(tid, &local, 1, &remote, 1, 0);
		if (w < 0)
			return -errno;
		if ((size_t)w != n || read_chunk(tid, addr + done, check, n) < 0 ||
		    memcmp(check, (const char *)buf + done, n) != 0)
			return -EFAULT;
		done += n;
	}
	return 0;
}
