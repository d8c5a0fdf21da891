/* Test helper for -k (after strace's stack-fcall test): main -> f0 -> f1
 * -> f2 -> f3, one function per translation unit and no sibling-call
 * optimisation, so that the backtrace must read f3 f2 f1 f0 main. */
void f0(void);

int main(void)
{
	f0();
	return 0;
}
