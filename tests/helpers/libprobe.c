/* A tiny shared library with known ELF facts for test-elf: SONAME
 * libvgpuprobe.so.1, NEEDED libm.so.6, RUNPATH "$ORIGIN:/opt/vgpu-probe:"
 * (meson.build sets them), and one undefined symbol nobody defines. */
#include <math.h>

extern int vgpu_missing_symbol(int x);

double vgpu_probe(double x);

double vgpu_probe(double x)
{
	return sqrt(x) + vgpu_missing_symbol((int)x);
}
