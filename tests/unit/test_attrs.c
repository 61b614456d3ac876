/* Attribute lists, the rules table and C_GetAttributeValue semantics. */
#include "unit.h"
#include "objects/attrs.h"
#include "objects/rules.h"

#include <string.h>

static CK_BBOOL T = CK_TRUE, F = CK_FALSE;

START_TEST(set_get_replace)
{
	hw_attrs a;
	hw_attrs_init(&a);
	ck_assert_int_eq(hw_attrs_set_str(&a, CKA_LABEL, "one"), CKR_OK);
	ck_assert_int_eq(hw_attrs_set_str(&a, CKA_LABEL, "two!"), CKR_OK);
	ck_assert_uint_eq(a.n, 1);
	const CK_ATTRIBUTE *l = hw_attrs_get(&a, CKA_LABEL);
	ck_assert_uint_eq(l->ulValueLen, 4);
	ck_assert_mem_eq(l->pValue, "two!", 4);
	ck_assert_int_eq(hw_attrs_default(&a, CKA_LABEL, "x", 1), CKR_OK);
	ck_assert_mem_eq(hw_attrs_get(&a, CKA_LABEL)->pValue, "two!", 4);
	hw_attrs_remove(&a, CKA_LABEL);
	ck_assert_ptr_null(hw_attrs_get(&a, CKA_LABEL));
	hw_attrs_clear(&a);
}
END_TEST

START_TEST(serialize_round_trip_and_garbage)
{
	hw_attrs a, b;
	unsigned char *blob;
	size_t len;
	hw_attrs_init(&a);
	hw_attrs_set_ulong(&a, CKA_CLASS, CKO_PUBLIC_KEY);
	hw_attrs_set(&a, CKA_ID, "\x01\x02\x03", 3);
	hw_attrs_set(&a, CKA_LABEL, "", 0);
	ck_assert_int_eq(hw_attrs_serialize(&a, &blob, &len), CKR_OK);
	ck_assert_int_eq(hw_attrs_deserialize(blob, len, &b), CKR_OK);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_uint_eq(hw_attrs_get_ulong(&b, CKA_CLASS, 99), CKO_PUBLIC_KEY);
	ck_assert_mem_eq(hw_attrs_get(&b, CKA_ID)->pValue, "\x01\x02\x03", 3);
	ck_assert_uint_eq(hw_attrs_get(&b, CKA_LABEL)->ulValueLen, 0);
	hw_attrs_clear(&b);
	/* every truncation is refused, never read past the end */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(hw_attrs_deserialize(blob, cut, &b), CKR_DEVICE_ERROR);
	blob[0] = 'X';
	ck_assert_int_eq(hw_attrs_deserialize(blob, len, &b), CKR_DEVICE_ERROR);
	free(blob);
	hw_attrs_clear(&a);
}
END_TEST

START_TEST(read_follows_5_7_5)
{
	hw_attrs a;
	hw_attrs_init(&a);
	hw_attrs_set_ulong(&a, CKA_CLASS, CKO_PRIVATE_KEY);
	hw_attrs_set_str(&a, CKA_LABEL, "label");
	unsigned char small[2], big[16];
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, NULL, 0 },             /* size query */
		{ CKA_VALUE, big, sizeof(big) },    /* sensitive component */
		{ CKA_MODULUS, big, sizeof(big) },  /* absent */
		{ CKA_LABEL, small, sizeof(small) },/* too small */
		{ CKA_CLASS, big, sizeof(big) },    /* fine */
	};
	CK_RV rv = hw_attrs_read(&a, t, 5, hw_rules_hidden);
	ck_assert(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(t[0].ulValueLen, 5);
	ck_assert_uint_eq(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_uint_eq(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_uint_eq(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* processing went on past the problems */
	ck_assert_uint_eq(t[4].ulValueLen, sizeof(CK_ULONG));
	CK_ULONG cls;
	memcpy(&cls, big, sizeof(cls));
	ck_assert_uint_eq(cls, CKO_PRIVATE_KEY);
	/* a length query on a sensitive attribute is still SENSITIVE */
	CK_ATTRIBUTE q = { CKA_PRIVATE_EXPONENT, NULL, 0 };
	ck_assert_int_eq(hw_attrs_read(&a, &q, 1, hw_rules_hidden), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(q.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* only the too-small case */
	CK_ATTRIBUTE s = { CKA_LABEL, small, 2 };
	ck_assert_int_eq(hw_attrs_read(&a, &s, 1, hw_rules_hidden), CKR_BUFFER_TOO_SMALL);
	hw_attrs_clear(&a);
}
END_TEST

START_TEST(data_value_is_not_hidden)
{
	hw_attrs a;
	hw_attrs_init(&a);
	hw_attrs_set_ulong(&a, CKA_CLASS, CKO_DATA);
	hw_attrs_set_str(&a, CKA_VALUE, "public");
	ck_assert(!hw_rules_hidden(&a, CKA_VALUE));
	hw_attrs_clear(&a);
}
END_TEST

START_TEST(match_is_exact)
{
	hw_attrs a;
	hw_attrs_init(&a);
	hw_attrs_set(&a, CKA_ID, "ab", 2);
	CK_ATTRIBUTE t1 = { CKA_ID, "ab", 2 }, t2 = { CKA_ID, "a", 1 }, t3 = { CKA_LABEL, "", 0 };
	ck_assert(hw_attrs_match(&a, &t1, 1));
	ck_assert(!hw_attrs_match(&a, &t2, 1));
	ck_assert(!hw_attrs_match(&a, &t3, 1));
	ck_assert(hw_attrs_match(&a, NULL, 0));
	hw_attrs_clear(&a);
}
END_TEST

START_TEST(template_errors)
{
	CK_ULONG cls = CKO_DATA, bad_len = 0;
	CK_ATTRIBUTE unknown[] = { { 0x7fff1234UL, &cls, sizeof(cls) } };
	ck_assert_int_eq(hw_rules_check(unknown, 1, CKO_DATA, HW_TMPL_CREATE, NULL, false),
			 CKR_ATTRIBUTE_TYPE_INVALID);
	CK_ATTRIBUTE badbool[] = { { CKA_TOKEN, &cls, sizeof(cls) } };
	ck_assert_int_eq(hw_rules_check(badbool, 1, CKO_DATA, HW_TMPL_CREATE, NULL, false),
			 CKR_ATTRIBUTE_VALUE_INVALID);
	CK_ATTRIBUTE badulong[] = { { CKA_CLASS, &bad_len, 1 } };
	ck_assert_int_eq(hw_rules_check(badulong, 1, CKO_DATA, HW_TMPL_CREATE, NULL, false),
			 CKR_ATTRIBUTE_VALUE_INVALID);
	CK_ATTRIBUTE ro[] = { { CKA_LOCAL, &T, 1 } };
	ck_assert_int_eq(hw_rules_check(ro, 1, CKO_PUBLIC_KEY, HW_TMPL_CREATE, NULL, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE vendor[] = { { CKA_HWAGG_SECURITY_LEVEL, "hardware", 8 } };
	ck_assert_int_eq(hw_rules_check(vendor, 1, CKO_PUBLIC_KEY, HW_TMPL_CREATE, NULL, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE wrongclass[] = { { CKA_MODULUS_BITS, &cls, sizeof(cls) } };
	ck_assert_int_eq(hw_rules_check(wrongclass, 1, CKO_DATA, HW_TMPL_CREATE, NULL, false),
			 CKR_TEMPLATE_INCONSISTENT);
	CK_ATTRIBUTE twice[] = { { CKA_TOKEN, &T, 1 }, { CKA_TOKEN, &F, 1 } };
	ck_assert_int_eq(hw_rules_check(twice, 2, CKO_DATA, HW_TMPL_CREATE, NULL, false),
			 CKR_TEMPLATE_INCONSISTENT);
	CK_ATTRIBUTE same_twice[] = { { CKA_TOKEN, &T, 1 }, { CKA_TOKEN, &T, 1 } };
	ck_assert_int_eq(hw_rules_check(same_twice, 2, CKO_DATA, HW_TMPL_CREATE, NULL, false), CKR_OK);
	CK_ATTRIBUTE gen_modulus[] = { { CKA_MODULUS, "\x01", 1 } };
	ck_assert_int_eq(hw_rules_check(gen_modulus, 1, CKO_PUBLIC_KEY, HW_TMPL_GENERATE, NULL, false),
			 CKR_TEMPLATE_INCONSISTENT);
}
END_TEST

START_TEST(set_rules_footnotes)
{
	hw_attrs cur;
	hw_attrs_init(&cur);
	hw_attrs_set_ulong(&cur, CKA_CLASS, CKO_PRIVATE_KEY);
	hw_attrs_set_bool(&cur, CKA_SENSITIVE, true);
	hw_attrs_set_bool(&cur, CKA_EXTRACTABLE, false);
	CK_ATTRIBUTE label[] = { { CKA_LABEL, "x", 1 } };
	ck_assert_int_eq(hw_rules_check(label, 1, CKO_PRIVATE_KEY, HW_TMPL_SET, &cur, false), CKR_OK);
	CK_ATTRIBUTE unsens[] = { { CKA_SENSITIVE, &F, 1 } };
	ck_assert_int_eq(hw_rules_check(unsens, 1, CKO_PRIVATE_KEY, HW_TMPL_SET, &cur, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE extract[] = { { CKA_EXTRACTABLE, &T, 1 } };
	ck_assert_int_eq(hw_rules_check(extract, 1, CKO_PRIVATE_KEY, HW_TMPL_SET, &cur, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE token[] = { { CKA_TOKEN, &T, 1 } };
	ck_assert_int_eq(hw_rules_check(token, 1, CKO_PRIVATE_KEY, HW_TMPL_SET, &cur, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(hw_rules_check(token, 1, CKO_PRIVATE_KEY, HW_TMPL_COPY, &cur, false), CKR_OK);
	CK_ULONG other = CKO_DATA;
	CK_ATTRIBUTE cls[] = { { CKA_CLASS, &other, sizeof(other) } };
	ck_assert_int_eq(hw_rules_check(cls, 1, CKO_PRIVATE_KEY, HW_TMPL_SET, &cur, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	hw_attrs_clear(&cur);
	hw_attrs_init(&cur);
	hw_attrs_set_ulong(&cur, CKA_CLASS, CKO_CERTIFICATE);
	hw_attrs_set_bool(&cur, CKA_TRUSTED, false);
	CK_ATTRIBUTE trusted[] = { { CKA_TRUSTED, &T, 1 } };
	ck_assert_int_eq(hw_rules_check(trusted, 1, CKO_CERTIFICATE, HW_TMPL_SET, &cur, false),
			 CKR_ATTRIBUTE_READ_ONLY);
	hw_attrs_clear(&cur);
}
END_TEST

START_TEST(defaults_are_honest)
{
	hw_attrs a;
	hw_attrs_init(&a);
	hw_attrs_set_bool(&a, CKA_PRIVATE, false);
	ck_assert_int_eq(hw_rules_defaults(&a, CKO_PRIVATE_KEY, true, CKM_EC_KEY_PAIR_GEN), CKR_OK);
	ck_assert(hw_attrs_get_bool(&a, CKA_SENSITIVE, false));
	ck_assert(!hw_attrs_get_bool(&a, CKA_EXTRACTABLE, true));
	ck_assert(hw_attrs_get_bool(&a, CKA_NEVER_EXTRACTABLE, false));
	ck_assert(hw_attrs_get_bool(&a, CKA_ALWAYS_SENSITIVE, false));
	ck_assert(hw_attrs_get_bool(&a, CKA_LOCAL, false));
	ck_assert(hw_attrs_get_bool(&a, CKA_PRIVATE, false));
	ck_assert_uint_eq(hw_attrs_get_ulong(&a, CKA_KEY_GEN_MECHANISM, 0), CKM_EC_KEY_PAIR_GEN);
	hw_attrs_clear(&a);
	hw_attrs_init(&a);
	ck_assert_int_eq(hw_rules_defaults(&a, CKO_PUBLIC_KEY, false, 0), CKR_OK);
	ck_assert_uint_eq(hw_attrs_get_ulong(&a, CKA_KEY_GEN_MECHANISM, 0), CK_UNAVAILABLE_INFORMATION);
	ck_assert(!hw_attrs_get_bool(&a, CKA_LOCAL, true));
	/* public keys do not possess CKA_SENSITIVE (B 4.8) */
	ck_assert_ptr_null(hw_attrs_get(&a, CKA_SENSITIVE));
	hw_attrs_clear(&a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("attrs");
	TCase *t = tcase_create("attrs");
	tcase_add_test(t, set_get_replace);
	tcase_add_test(t, serialize_round_trip_and_garbage);
	tcase_add_test(t, read_follows_5_7_5);
	tcase_add_test(t, data_value_is_not_hidden);
	tcase_add_test(t, match_is_exact);
	tcase_add_test(t, template_errors);
	tcase_add_test(t, set_rules_footnotes);
	tcase_add_test(t, defaults_are_honest);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
