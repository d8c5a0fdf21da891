/* The end of the known call chain: a library lookup that fails (ENOENT),
 * a decision event at which vgpu-run -k takes a backtrace. */
#include <fcntl.h>
#include <unistd.h>

void f3(void);

void f3(void)
{
	int fd = open("/nonexistent-vgpu/libvgpu-stack-probe.so.1", O_RDONLY);
	if (fd >= 0)
		close(fd);
}
