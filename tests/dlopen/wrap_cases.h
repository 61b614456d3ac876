/*
 * AES key wrap of secret keys (RFC 3394 / 5649), the cases every slot that
 * wraps in software passes (soft, keyring), after secret_cases.h: known
 * answers, the envelope round trip, and the wrap refusals of the
 * key-management attacks.
 */
#ifndef HW_TEST_WRAP_CASES_H
#define HW_TEST_WRAP_CASES_H

/* A key with the usage given: wrap (CKA_WRAP, CKA_UNWRAP) and extractable.
 * One to be wrapped is not sensitive (its value is published): only such
 * a key may leave under a key known outside the token. */
static CK_OBJECT_HANDLE import_kw(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const void *v, CK_ULONG len, CK_BBOOL wrap,
				  CK_BBOOL extractable)
{
	CK_BBOOL sensitive = !extractable;
	CK_RV rv;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE, (void *)v, len }, { CKA_WRAP, &wrap, 1 }, { CKA_UNWRAP, &wrap, 1 },
		{ CKA_EXTRACTABLE, &extractable, 1 }, { CKA_SENSITIVE, &sensitive, 1 },
	};
	CKR(p11->C_CreateObject(s, t, N(t), &h));
	return h;
}

/* A key-encryption key made here: wraps and unwraps, nothing else. */
static CK_OBJECT_HANDLE gen_kek(CK_SESSION_HANDLE s)
{
	CK_RV rv;
	CK_OBJECT_HANDLE h;
	CK_ULONG len = 32;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_WRAP, (void *)&T_, 1 }, { CKA_UNWRAP, (void *)&T_, 1 },
	};
	CKR(p11->C_GenerateKey(s, &gen, t, N(t), &h));
	return h;
}

/* The envelope's first half: a new extractable AES-256 data key
 * encrypts KAT_PLAIN with gcm into ct (80 bytes), is wrapped by kek
 * (RFC 5649) into w and destroyed; the wrapped length. */
static CK_ULONG envelope_seal(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek, CK_MECHANISM *gcm, unsigned char ct[80],
			      unsigned char w[64])
{
	CK_RV rv;
	CK_OBJECT_HANDLE dk;
	CK_ULONG len = 32, n = 64;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_ATTRIBUTE dt[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_EXTRACTABLE, (void *)&T_, 1 },
	};
	CKR(p11->C_GenerateKey(s, &gen, dt, N(dt), &dk));
	ck_assert_uint_eq(crypt1(s, gcm, dk, false, KAT_PLAIN, 64, ct), 80);
	CKR(p11->C_WrapKey(s, &kwp, kek, dk, w, &n));
	ck_assert_uint_eq(n, 40);
	CKR(p11->C_DestroyObject(s, dk));
	return n;
}

/* RFC 3394 and 5649 known answers, and the envelope round trip: a data key
 * wrapped, destroyed, unwrapped, and data encrypted before decrypts. */
START_TEST(aes_key_wrap)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE kek = import_kw(s, CKK_AES, KW_KEK128, 16, CK_TRUE, CK_FALSE),
			 key = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_TRUE),
			 kek2 = import_kw(s, CKK_AES, KWP_KEK192, 24, CK_TRUE, CK_FALSE),
			 key2 = import_kw(s, CKK_GENERIC_SECRET, KWP_KEY20, 20, CK_FALSE, CK_TRUE), back;
	unsigned char w[64];
	CK_ULONG n = 0;
	CKR(p11->C_WrapKey(s, &kw, kek, key, NULL, &n));
	ck_assert_uint_eq(n, 24);
	n = 23;
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, key, w, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 24);
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kw, kek, key, w, &n));
	ck_assert_uint_eq(n, 24);
	ck_assert_mem_eq(w, KW_WRAPPED, 24);
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kwp, kek2, key2, w, &n));
	ck_assert_uint_eq(n, 32);
	ck_assert_mem_eq(w, KWP_WRAPPED, 32);
	/* RFC 3394 needs whole 64-bit blocks */
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek2, key2, w, &n), CKR_KEY_SIZE_RANGE);

	/* a sensitive key leaves only under a key never known outside */
	CK_OBJECT_HANDLE sens;
	CK_ULONG vl = 32;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE st[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &vl, sizeof(vl) },
			      { CKA_EXTRACTABLE, (void *)&T_, 1 } };
	CKR(p11->C_GenerateKey(s, &gen, st, N(st), &sens));
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kwp, kek, sens, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* the envelope */
	unsigned char iv[12] = { 9 }, ct[80], pt[80];
	CK_GCM_PARAMS g = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) };
	kek = gen_kek(s);
	n = envelope_seal(s, kek, &gcm, ct, w);
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &aes, sizeof(aes) },
			      { CKA_DECRYPT, (void *)&T_, 1 } };
	CKR(p11->C_UnwrapKey(s, &kwp, kek, w, n, ut, N(ut), &back));
	ck_assert_uint_eq(crypt1(s, &gcm, back, true, ct, 80, pt), 64);
	ck_assert_mem_eq(pt, KAT_PLAIN, 64);
	/* an unwrapped key was not made here */
	ck_assert_int_eq(get_bool(s, back, CKA_LOCAL), CK_FALSE);
	ck_assert_int_eq(get_bool(s, back, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, back, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	ck_assert_uint_eq(get_ulong(s, back, CKA_VALUE_LEN), 32);
	/* a changed byte fails RFC 5649's check */
	w[5] ^= 1;
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, n, ut, N(ut), &back), CKR_WRAPPED_KEY_INVALID);
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, n - 3, ut, N(ut), &back), CKR_WRAPPED_KEY_LEN_RANGE);
	/* the template names the key type; a private key: the includer's
	 * SK_PRIVATE_UNWRAP (PKCS#8 where the slot takes it) */
	CKR_EQ(p11->C_UnwrapKey(s, &kw, kek, (unsigned char *)KW_WRAPPED, 24, ut, 1, &back), CKR_TEMPLATE_INCOMPLETE);
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE pt_[] = { { CKA_CLASS, &priv, sizeof(priv) } };
	CKR_EQ(p11->C_UnwrapKey(s, &kw, kek, (unsigned char *)KW_WRAPPED, 24, pt_, 1, &back), SK_PRIVATE_UNWRAP);
}
END_TEST

/* The key-management attacks on wrapping fail: an unextractable key does
 * not leave, a key without CKA_WRAP does not wrap, a key that asks for a
 * trusted wrapping key gets one or stays, a private key is not wrapped. */
START_TEST(wrap_refusals)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 };
	CK_OBJECT_HANDLE kek = import_kw(s, CKK_AES, KW_KEK128, 16, CK_TRUE, CK_FALSE),
			 nowrap = import_kw(s, CKK_AES, KAT_KEY128, 16, CK_FALSE, CK_FALSE),
			 stays = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_FALSE),
			 key = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_TRUE), pub, priv;
	unsigned char w[64];
	CK_ULONG n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, stays, w, &n), CKR_KEY_UNEXTRACTABLE);
	CKR_EQ(p11->C_WrapKey(s, &kw, nowrap, key, w, &n), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CK_ATTRIBUTE trusted = { CKA_WRAP_WITH_TRUSTED, (void *)&T_, 1 };
	CKR(p11->C_SetAttributeValue(s, key, &trusted, 1));
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, key, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* and it cannot be taken back (B 4.9: only ever becomes true) */
	trusted.pValue = (void *)&F_;
	CKR_EQ(p11->C_SetAttributeValue(s, key, &trusted, 1), CKR_ATTRIBUTE_READ_ONLY);
	p11_gen_ec(s, "ec", CK_FALSE, &pub, &priv);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, priv, w, &n), CKR_KEY_NOT_WRAPPABLE);
	CKR_EQ(p11->C_WrapKey(s, &kw, priv, key, w, &n), CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
	/* CKA_TRUSTED is the SO's to give */
	CK_ATTRIBUTE tr = { CKA_TRUSTED, (void *)&T_, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, kek, &tr, 1), CKR_ATTRIBUTE_READ_ONLY);
}
END_TEST

static void add_wrap_cases(TCase *t)
{
	tcase_add_test(t, aes_key_wrap);
	tcase_add_test(t, wrap_refusals);
}

#endif
