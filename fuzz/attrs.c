/*
 * Fuzz target: the serialized attribute list of a stored object (the
 * "HWA1" blob of objects/attrs.c, read back from the store's database,
 * which another process or a damaged disk may have written).
 *
 * The input is the blob. A blob that decodes must survive what the engine
 * then does with an object's attributes: copy, template match, the
 * C_GetAttributeValue algorithm with the hidden-attribute rule, typed reads.
 * Properties: decode(encode(list)) is the list; a blob without repeated
 * types encodes back to exactly its own bytes.
 */
#include "fuzz/util.h"
#include "objects/attrs.h"
#include "objects/rules.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_attrs(const hw_attrs *a, const hw_attrs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type != b->v[i].type || a->v[i].ulValueLen != b->v[i].ulValueLen ||
		    (a->v[i].ulValueLen > 0 && memcmp(a->v[i].pValue, b->v[i].pValue, a->v[i].ulValueLen) != 0))
			return false;
	return true;
}

/* The C_GetAttributeValue pattern: sizes first, then the values. */
static void read_all(const hw_attrs *a)
{
	CK_ATTRIBUTE *t = calloc(a->n + 1, sizeof(*t));
	FZ_ASSERT(t != NULL);
	for (size_t i = 0; i < a->n; i++)
		t[i].type = a->v[i].type;
	(void)hw_attrs_read(a, t, a->n, hw_rules_hidden);
	for (size_t i = 0; i < a->n; i++) {
		if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
			FZ_ASSERT(hw_rules_hidden(a, t[i].type));
			continue;
		}
		FZ_ASSERT(t[i].ulValueLen == a->v[i].ulValueLen);
		t[i].pValue = malloc(t[i].ulValueLen);
		FZ_ASSERT(t[i].pValue != NULL || t[i].ulValueLen == 0);
	}
	(void)hw_attrs_read(a, t, a->n, hw_rules_hidden);
	for (size_t i = 0; i < a->n; i++) {
		(void)hw_attrs_get_bool(a, t[i].type, false);
		(void)hw_attrs_get_ulong(a, t[i].type, 0);
		(void)hw_attr_name(t[i].type);
		free(t[i].pValue);
	}
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hw_attrs a, b, c;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	/* an exact-size copy: the decoder must not read past the row's blob */
	void *in = fz_dup(data, size);

	if (hw_attrs_deserialize(in, size, &a) != CKR_OK) {
		FZ_ASSERT(a.n == 0 && a.v == NULL);
		free(in);
		return 0;
	}
	uint32_t count = (uint32_t)data[4] | (uint32_t)data[5] << 8 | (uint32_t)data[6] << 16 |
			 (uint32_t)data[7] << 24;
	FZ_ASSERT(a.n <= count);
	FZ_ASSERT(hw_attrs_serialize(&a, &blob, &blob_len) == CKR_OK);
	if (a.n == count)
		FZ_ASSERT(blob_len == size && memcmp(blob, data, size) == 0);
	FZ_ASSERT(hw_attrs_deserialize(blob, blob_len, &b) == CKR_OK && same_attrs(&a, &b));
	FZ_ASSERT(hw_attrs_copy(&c, &a) == CKR_OK && same_attrs(&a, &c));
	FZ_ASSERT(hw_attrs_match(&a, b.v, (CK_ULONG)b.n));
	read_all(&a);
	hw_attrs_clear(&a);
	hw_attrs_clear(&b);
	hw_attrs_clear(&c);
	free(blob);
	free(in);
	return 0;
}
