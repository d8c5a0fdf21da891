/* A FUSE file system whose file cannot be read: one file,
 * libggml-stall.so, that stat and open answer at once and whose read
 * answers after STALL_S seconds (20), ten times vgpu-run's limit on a look
 * at a file.  It stands for a hung NFS server or a FUSE daemon held at a
 * ptrace stop: a tracee can open the file, and anything that reads it
 * stalls.  (A read that never returned would hold the exit of whoever
 * issued it for ever: the kernel waits for the answer of a request the
 * server has taken.)
 *
 *   stall-fs MOUNTPOINT -f        (as root; unmount with umount -l) */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char file[] = "/libggml-stall.so";
#define STALL_S 20

static int do_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (!strcmp(path, file)) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = 65536;
		return 0;
	}
	return -ENOENT;
}

static int do_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, file + 1, NULL, 0, 0);
	return 0;
}

static int do_open(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	return strcmp(path, file) ? -ENOENT : 0;
}

static int do_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path, (void)buf, (void)size, (void)off, (void)fi;
	unsigned left = STALL_S;
	while (left)
		left = sleep(left);
	return -EIO;
}

static const struct fuse_operations ops = {
	.getattr = do_getattr,
	.readdir = do_readdir,
	.open = do_open,
	.read = do_read,
};

int main(int argc, char *argv[])
{
	return fuse_main(argc, argv, &ops, NULL);
}
