/* One link of the known call chain of stack-fcall (see stack-fcall.c). */
void f3(void);
void f2(void);

void f2(void)
{
	f3();
}
