/* A library whose one function carries a symbol version (see
 * versioned-old.map, versioned-new.map): built twice with the same SONAME,
 * libvgpuver.so.1, once defining VGPU_1.0 only and once VGPU_2.0 too, as a
 * library is on an older and a newer distribution.  A backend linked
 * against the newer one needs VGPU_2.0; given the older one, the dynamic
 * linker refuses it ("version `VGPU_2.0' not found"). */
int vgpu_versioned(void);

int vgpu_versioned(void)
{
	return 2;
}
