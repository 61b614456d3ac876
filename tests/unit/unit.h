/* Shared scaffolding for the Check unit suites. */
#ifndef HW_UNIT_H
#define HW_UNIT_H

#include <check.h>
#include <stdlib.h>

/* Each suite file defines: static Suite *suite(void); then HW_UNIT_MAIN. */
#define HW_UNIT_MAIN                                                      \
	int main(void)                                                    \
	{                                                                 \
		SRunner *sr = srunner_create(suite());                    \
		srunner_run_all(sr, CK_NORMAL);                           \
		int failed = srunner_ntests_failed(sr);                   \
		srunner_free(sr);                                         \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;         \
	}

#endif
