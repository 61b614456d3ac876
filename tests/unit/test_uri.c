/* RFC 7512 percent-encoding (common/uri.c): exact encodings, cutting, and
 * p11-kit's own URI parser reading back every byte value we encode. */
#include "unit.h"
#include "common/ck.h"
#include "common/uri.h"

#include <p11-kit/uri.h>
#include <stdio.h>
#include <string.h>

static void expect(const char *in, size_t len, hw_uri_part part, const char *want)
{
	char out[256];
	size_t n = hw_uri_encode(out, sizeof(out), in, len, part);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(n, strlen(want));
}

START_TEST(exact_encodings)
{
	/* unreserved characters stay; RFC 7512's reserved ones are encoded */
	expect("az-AZ.09_~", 10, HW_URI_PATH, "az-AZ.09_~");
	expect("web key;1/\xc3\xa9%", 13, HW_URI_PATH, "web%20key%3B1%2F%C3%A9%25");
	expect("a=b&c?d:e@f", 11, HW_URI_PATH, "a%3Db%26c%3Fd%3Ae%40f");
	/* a query value keeps its slashes, nothing else */
	expect("/usr/lib/my mod.so", 18, HW_URI_QUERY, "/usr/lib/my%20mod.so");
	expect("a;b", 3, HW_URI_QUERY, "a%3Bb");
	/* an id is bytes: every one encoded, letters too, NUL included */
	expect("\x01\xab" "A\0", 4, HW_URI_BYTES, "%01%AB%41%00");
	expect("", 0, HW_URI_PATH, "");
}
END_TEST

START_TEST(cut_at_whole_characters)
{
	char out[6];
	/* "a%20b" needs 5 bytes + NUL: fits exactly */
	ck_assert_uint_eq(hw_uri_encode(out, sizeof(out), "a b", 3, HW_URI_PATH), 5);
	ck_assert_str_eq(out, "a%20b");
	/* "%20%20" does not fit in 5: only whole %XX, always terminated */
	ck_assert_uint_eq(hw_uri_encode(out, 5, "  ", 2, HW_URI_PATH), 6);
	ck_assert_str_eq(out, "%20");
	ck_assert_uint_eq(hw_uri_encode(out, 3, "x ", 2, HW_URI_PATH), 4);
	ck_assert_str_eq(out, "x");
	/* no room at all: only the length */
	ck_assert_uint_eq(hw_uri_encode(NULL, 0, "\xff", 1, HW_URI_BYTES), 3);
}
END_TEST

/* Every byte value in a label and in an id survives p11-kit's parser. */
START_TEST(p11kit_reads_what_we_write)
{
	unsigned char label[255], id[256];
	char uri[4096], *p = uri;
	const char *token = "tok/en;1 %\xc3\xa9";
	for (size_t i = 0; i < sizeof(label); i++)
		label[i] = (unsigned char)(i + 1);
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (unsigned char)(255 - i);
	p += sprintf(p, "pkcs11:token=");
	p += hw_uri_encode(p, sizeof(uri) - (size_t)(p - uri), token, strlen(token), HW_URI_PATH);
	p += sprintf(p, ";object=");
	p += hw_uri_encode(p, sizeof(uri) - (size_t)(p - uri), label, sizeof(label), HW_URI_PATH);
	p += sprintf(p, ";id=");
	p += hw_uri_encode(p, sizeof(uri) - (size_t)(p - uri), id, sizeof(id), HW_URI_BYTES);
	sprintf(p, ";type=private");
	ck_assert_uint_lt(strlen(uri), sizeof(uri) - 1);

	P11KitUri *u = p11_kit_uri_new();
	ck_assert_int_eq(p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u), P11_KIT_URI_OK);
	CK_ATTRIBUTE_PTR a = p11_kit_uri_get_attribute(u, CKA_LABEL);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->ulValueLen, sizeof(label));
	ck_assert_mem_eq(a->pValue, label, sizeof(label));
	a = p11_kit_uri_get_attribute(u, CKA_ID);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->ulValueLen, sizeof(id));
	ck_assert_mem_eq(a->pValue, id, sizeof(id));
	a = p11_kit_uri_get_attribute(u, CKA_CLASS);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(*(CK_OBJECT_CLASS *)a->pValue, CKO_PRIVATE_KEY);
	CK_TOKEN_INFO_PTR ti = p11_kit_uri_get_token_info(u);
	char want[32];
	memset(want, ' ', sizeof(want));
	memcpy(want, token, strlen(token));
	ck_assert_mem_eq(ti->label, want, sizeof(want));
	p11_kit_uri_free(u);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("uri");
	TCase *t = tcase_create("encode");
	tcase_add_test(t, exact_encodings);
	tcase_add_test(t, cut_at_whole_characters);
	tcase_add_test(t, p11kit_reads_what_we_write);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
