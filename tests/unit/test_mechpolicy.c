/* The per-slot mechanism policy: what the configuration gives it, and the
 * answers mechpolicy.c derives from that. */
#include "module/conf.h"
#include "module/mechpolicy.h"
#include "common/log.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static hw_config *parse(const char *json)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	CK_RV rv = hw_config_parse(json, "/test/hwagg.json", &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_OK, "%s: 0x%lx %s", json, (unsigned long)rv, err);
	return c;
}

static CK_ULONG min_of(const hw_slot_conf *sc, CK_MECHANISM_TYPE t)
{
	CK_ULONG min = 0, max = 0;
	hw_mech_key_range(sc, hw_mech_find(t), &min, &max);
	ck_assert_uint_eq(max, hw_mech_find(t)->max_key);
	return min;
}

START_TEST(defaults_permit_everything)
{
	hw_config *c = parse("{\"store\": \"/tmp/x\", \"slots\": [{\"name\": \"a\", \"type\": \"soft\"}]}");
	const hw_slot_conf *sc = &c->slots[0];
	size_t n;
	const hw_mech *t = hw_mech_table(&n);
	ck_assert_uint_eq(sc->rsa_min_bits, 2048);
	ck_assert_ptr_null(sc->mech_allow);
	ck_assert_uint_eq(sc->n_deny, 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert(hw_mech_permitted(sc, t[i].type));
		ck_assert_uint_eq(hw_mech_policy_check(sc, &t[i]), CKR_OK);
	}
	ck_assert_uint_eq(min_of(sc, CKM_RSA_PKCS), 2048);
	ck_assert_uint_eq(min_of(sc, CKM_RSA_PKCS_KEY_PAIR_GEN), 2048);
	ck_assert_uint_eq(min_of(sc, CKM_ECDSA_SHA256), 256);
	ck_assert_uint_eq(min_of(sc, CKM_AES_KEY_GEN), 16);
	/* a slot configuration not made by the parser has the same defaults */
	hw_slot_conf zero;
	memset(&zero, 0, sizeof(zero));
	zero.name = "z";
	ck_assert_uint_eq(min_of(&zero, CKM_SHA256_RSA_PKCS), 2048);
	ck_assert(hw_mech_permitted(&zero, CKM_RSA_PKCS));
	ck_assert(hw_mech_permitted(NULL, CKM_RSA_PKCS));
	hw_config_free(c);
}
END_TEST

START_TEST(allow_restricts_deny_removes)
{
	hw_config *c = parse("{\"store\": \"/tmp/x\", \"slots\": [{\"name\": \"a\", \"type\": \"soft\","
			     " \"mechanisms\": {\"allow\": [\"CKM_EC_KEY_PAIR_GEN\", \"CKM_ECDSA\", \"CKM_ECDSA_SHA256\"],"
			     " \"deny\": [\"CKM_ECDSA\"]}}, {\"name\": \"b\", \"type\": \"soft\","
			     " \"mechanisms\": {\"deny\": [\"CKM_RSA_PKCS\", \"CKM_SHA_1\"]}}]}");
	const hw_slot_conf *a = &c->slots[0], *b = &c->slots[1];
	ck_assert_uint_eq(a->n_allow, 3);
	ck_assert_uint_eq(a->mech_allow[0], CKM_EC_KEY_PAIR_GEN);
	ck_assert_uint_eq(a->mech_allow[2], CKM_ECDSA_SHA256);
	ck_assert(hw_mech_permitted(a, CKM_EC_KEY_PAIR_GEN));
	ck_assert(hw_mech_permitted(a, CKM_ECDSA_SHA256));
	ck_assert(!hw_mech_permitted(a, CKM_ECDSA));          /* deny wins */
	ck_assert(!hw_mech_permitted(a, CKM_ECDSA_SHA384));   /* not allowed */
	ck_assert(!hw_mech_permitted(a, CKM_SHA256));
	ck_assert(!hw_mech_permitted(a, CKM_RSA_PKCS_KEY_PAIR_GEN));
	ck_assert_uint_eq(hw_mech_policy_check(a, hw_mech_find(CKM_ECDSA)), CKR_MECHANISM_INVALID);
	/* a name is that mechanism only: what hwagg builds on it stays */
	ck_assert(!hw_mech_permitted(b, CKM_RSA_PKCS));
	ck_assert(!hw_mech_permitted(b, CKM_SHA_1));
	ck_assert(hw_mech_permitted(b, CKM_SHA256_RSA_PKCS));
	ck_assert(hw_mech_permitted(b, CKM_ECDSA_SHA1));
	ck_assert(hw_mech_permitted(b, CKM_RSA_PKCS_KEY_PAIR_GEN));
	hw_config_free(c);
}
END_TEST

START_TEST(rsa_min_bits)
{
	hw_config *c = parse("{\"store\": \"/tmp/x\", \"slots\": [{\"name\": \"strict\", \"type\": \"soft\","
			     " \"rsa_min_bits\": 3072}, {\"name\": \"legacy\", \"type\": \"soft\", \"rsa_min_bits\": 1024}]}");
	const hw_slot_conf *strict = &c->slots[0], *legacy = &c->slots[1];
	const hw_mech *gen = hw_mech_find(CKM_RSA_PKCS_KEY_PAIR_GEN), *pss = hw_mech_find(CKM_RSA_PKCS_PSS);
	const hw_mech *ec = hw_mech_find(CKM_ECDSA), *sha = hw_mech_find(CKM_SHA256);
	ck_assert_uint_eq(strict->rsa_min_bits, 3072);
	ck_assert_uint_eq(min_of(strict, CKM_RSA_PKCS_OAEP), 3072);
	ck_assert_uint_eq(min_of(legacy, CKM_RSA_PKCS), 1024);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, gen, 2048), CKR_KEY_SIZE_RANGE);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, pss, 3071), CKR_KEY_SIZE_RANGE);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, gen, 3072), CKR_OK);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, gen, 4096), CKR_OK);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, gen, 4104), CKR_KEY_SIZE_RANGE);
	ck_assert_uint_eq(hw_mech_key_size_check(legacy, gen, 1024), CKR_OK);
	ck_assert_uint_eq(hw_mech_key_size_check(legacy, gen, 1016), CKR_KEY_SIZE_RANGE);
	/* other key types keep the table's range; digests have no key */
	ck_assert_uint_eq(hw_mech_key_size_check(strict, ec, 256), CKR_OK);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, ec, 255), CKR_KEY_SIZE_RANGE);
	ck_assert_uint_eq(hw_mech_key_size_check(strict, sha, 0), CKR_OK);

	/* a lowered minimum is said once, at warn level, naming the slot */
	char path[] = "/tmp/hwagg-policy-log-XXXXXX", line[512];
	int fd = mkstemp(path), lines = 0, found = 0;
	ck_assert_int_ge(fd, 0);
	close(fd);
	hw_log_configure(HW_LOG_WARN, path);
	hw_mech_policy_announce(c);
	hw_log_close();
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		found += strstr(line, "slot \"legacy\": RSA keys below 2048 bits are allowed by configuration") != NULL;
	}
	fclose(f);
	unlink(path);
	ck_assert_int_eq(lines, 1);
	ck_assert_int_eq(found, 1);
	hw_config_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mechpolicy");
	TCase *t = tcase_create("mechpolicy");
	tcase_add_test(t, defaults_permit_everything);
	tcase_add_test(t, allow_restricts_deny_removes);
	tcase_add_test(t, rsa_min_bits);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
