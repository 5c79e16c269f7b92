/*
 * suite_main.h - the main() every Check test file shares: run one suite in
 * forked mode (each test isolated), exit non-zero when any test failed.
 */
#ifndef BOOKD_SUITE_MAIN_H
#define BOOKD_SUITE_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
