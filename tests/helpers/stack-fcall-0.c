/* One link of the known call chain of stack-fcall (see stack-fcall.c). */
void f1(void);
void f0(void);

void f0(void)
{
	f1();
}
