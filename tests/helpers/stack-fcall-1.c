/* One link of the known call chain of stack-fcall (see stack-fcall.c). */
void f2(void);
void f1(void);

void f1(void)
{
	f2();
}
