/* The end of every Check test program's main (tests/unit, tests/live). */
#pragma once

#include <check.h>

/* Run every test of S, each in its own process, printing Check's normal
 * summary: the program's exit status (0 when all passed, 1 otherwise). */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
