/* The handle map: lookups, deletion, and a size that follows the live
 * entries rather than every handle ever issued. */
#include "module/hmap.h"
#include "tests/unit/unit.h"

#include <stdint.h>

static int marker[1];

START_TEST(test_put_get_del)
{
	hw_hmap m = { 0 };
	for (uint64_t k = 1; k <= 10000; k++)
		ck_assert(hw_hmap_put(&m, k, &marker[0]));
	ck_assert_uint_ge(m.cap, 2 * 10000);
	for (uint64_t k = 1; k <= 10000; k++)
		ck_assert_ptr_eq(hw_hmap_get(&m, k), &marker[0]);
	for (uint64_t k = 1; k <= 10000; k += 2)
		hw_hmap_del(&m, k);
	for (uint64_t k = 1; k <= 10000; k++)
		ck_assert_ptr_eq(hw_hmap_get(&m, k), k % 2 ? NULL : &marker[0]);
	ck_assert_ptr_null(hw_hmap_get(&m, 10001));
	hw_hmap_free(&m);
	ck_assert_uint_eq(m.cap, 0);
}
END_TEST

/* Handles are never reused: a process that opens and closes many sessions,
 * a few at a time, must not keep a table sized for all of them (before the
 * fix, 200 000 handles grew it to 2^19 buckets). */
START_TEST(test_churn_stays_small)
{
	hw_hmap m = { 0 };
	const uint64_t live = 8;
	for (uint64_t k = 1; k <= 200000; k++) {
		ck_assert(hw_hmap_put(&m, k, &marker[0]));
		if (k > live)
			hw_hmap_del(&m, k - live);
	}
	ck_assert_uint_le(m.cap, 128);
	for (uint64_t k = 200000 - live + 1; k <= 200000; k++)
		ck_assert_ptr_eq(hw_hmap_get(&m, k), &marker[0]);
	ck_assert_ptr_null(hw_hmap_get(&m, 200000 - live));
	size_t n = 0;
	for (size_t i = 0; i < m.cap; i++)
		n += hw_hmap_at(&m, i) != NULL;
	ck_assert_uint_eq(n, live);
	hw_hmap_free(&m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hmap");
	TCase *tc = tcase_create("hmap");
	tcase_set_timeout(tc, 60);     /* a loaded machine; no time is asserted */
	tcase_add_test(tc, test_put_get_del);
	tcase_add_test(tc, test_churn_stays_small);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
