/*
 * Fuzz target: the parsers of what Google answers the gcp-kms slot
 * (slots/gcp_parse.c): key and version listings with hwagg's hex labels,
 * a single version, error bodies (google.rpc.Status), OAuth token answers,
 * public keys (PEM with its CRC32C), signatures and plaintexts with their
 * CRC32C, service-account key files, and the PEM decoder; for workload
 * identity federation the external_account and authorized_user files, the
 * subject token read from a credential source (text, or a JSON member named
 * by a fixed file) and generateAccessToken's answer. All of it comes from
 * the network, a metadata server, a proxy or a file.
 *
 * Input: one selector byte, then the document (copied to a buffer of its
 * exact size: the parsers take a length, nothing is NUL-terminated).
 */
#include "fuzz/util.h"
#include "slots/gcp_kms.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s)
{
	for (; *s; s++)
		FZ_ASSERT(*s >= 0x20 && *s < 0x7f);
}

static void list_check(CK_RV rv, hw_gcp_list *l)
{
	if (rv != CKR_OK) {
		FZ_ASSERT(l->items == NULL && l->n == 0 && l->next == NULL);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		FZ_ASSERT(l->items[i].name != NULL);
		FZ_ASSERT(l->items[i].id_len <= HW_GCP_ID_MAX);
		FZ_ASSERT(l->items[i].label == NULL || strlen(l->items[i].label) <= HW_GCP_LABEL_MAX);
	}
	hw_gcp_list_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	uint8_t sel;
	hw_gcp_list l;
	unsigned char *out = NULL;
	size_t olen = 0;
	if (!fz_u8(&in, &sel))
		return 0;
	char *v = malloc(in.n ? in.n : 1);
	if (v == NULL)
		return 0;
	memcpy(v, in.p, in.n);
	switch (sel % 12) {
	case 0:
		list_check(hw_gcp_parse_keys(v, in.n, &l), &l);
		break;
	case 1:
		list_check(hw_gcp_parse_versions(v, in.n, &l), &l);
		break;
	case 2: {
		char *state = NULL, *alg = NULL;
		CK_RV rv = hw_gcp_parse_version(v, in.n, &state, &alg);
		FZ_ASSERT((rv == CKR_OK) == (state != NULL && alg != NULL));
		free(state);
		free(alg);
		break;
	}
	case 3: {
		char status[64], msg[160], rid[96];
		hw_gcp_parse_error(v, in.n, status, sizeof(status), msg, sizeof(msg), rid, sizeof(rid));
		FZ_ASSERT(strlen(status) < sizeof(status) && strlen(rid) < sizeof(rid));
		break;
	}
	case 4: {
		hw_secret *t = NULL;
		long life = 0;
		if (hw_gcp_parse_token(v, in.n, &t, &life) == CKR_OK) {
			/* what goes into a header is plain, terminated and lives a while */
			FZ_ASSERT(t != NULL && strlen((const char *)t->data) == t->len && life > 0);
			printable((const char *)t->data);
		} else {
			FZ_ASSERT(t == NULL);
		}
		hw_secret_free(t);
		break;
	}
	case 5: {
		char alg[64];
		bool hsm;
		if (hw_gcp_parse_pubkey(v, in.n, &out, &olen, alg, sizeof(alg), &hsm) == CKR_OK)
			FZ_ASSERT(out != NULL && olen > 0);
		else
			FZ_ASSERT(out == NULL);
		break;
	}
	case 6:
	case 7: {
		CK_RV rv = sel % 12 == 6 ? hw_gcp_parse_signature(v, in.n, &out, &olen) : hw_gcp_parse_plaintext(v, in.n, &out, &olen);
		FZ_ASSERT(rv == CKR_OK ? out != NULL : out == NULL);
		/* the MAC answers are read by the same checks (one selector each
		 * would move every later one) */
		unsigned char *mac = NULL;
		size_t ml = 0;
		rv = sel % 12 == 6 ? hw_gcp_parse_mac(v, in.n, &mac, &ml) : hw_gcp_parse_mac_verify(v, in.n, &mac, &ml);
		FZ_ASSERT(rv == CKR_OK ? mac != NULL && (sel % 12 == 6 || (ml == 1 && mac[0] <= 1)) : mac == NULL);
		free(mac);
		break;
	}
	case 9: {
		hw_gcp_ext x;
		CK_RV rv = hw_gcp_parse_ext(v, in.n, &x);
		if (rv == CKR_OK && x.user) {
			FZ_ASSERT(x.client_secret != NULL && x.refresh_token != NULL);
			printable(x.client_id);
			FZ_ASSERT(strncmp(x.token_uri, "https://", 8) == 0);
		} else if (rv == CKR_OK) {
			/* exactly one source; what goes into a request line or header is plain */
			FZ_ASSERT((x.source_file[0] != '\0') != (x.source_url[0] != '\0'));
			FZ_ASSERT(strncmp(x.token_url, "https://", 8) == 0);
			FZ_ASSERT(x.nhdrs <= HW_GCP_EXT_HDRS && (!x.source_json || x.source_field[0] != '\0'));
			for (size_t i = 0; i < x.nhdrs; i++)
				FZ_ASSERT(strpbrk(x.hdr_name[i], ":\r\n") == NULL && strpbrk(x.hdr_value[i], "\r\n") == NULL);
			printable(x.audience);
		} else {
			FZ_ASSERT(x.client_secret == NULL && x.refresh_token == NULL);
		}
		hw_gcp_ext_clear(&x);
		break;
	}
	case 10: {
		/* a JSON source whose member is "access_token", and a text one */
		hw_gcp_ext x = { .source_json = (in.n & 1) != 0 };
		hw_secret *t = NULL;
		snprintf(x.source_field, sizeof(x.source_field), "access_token");
		if (hw_gcp_subject_token(&x, v, in.n, &t) == CKR_OK) {
			FZ_ASSERT(t != NULL && t->len > 0 && strlen((const char *)t->data) == t->len);
			printable((const char *)t->data);
		} else {
			FZ_ASSERT(t == NULL);
		}
		hw_secret_free(t);
		break;
	}
	case 11: {
		hw_secret *t = NULL;
		long life = 0;
		if (hw_gcp_parse_iam_token(v, in.n, 1700000000, &t, &life) == CKR_OK) {
			FZ_ASSERT(t != NULL && life > 0 && strlen((const char *)t->data) == t->len);
			printable((const char *)t->data);
		} else {
			FZ_ASSERT(t == NULL);
		}
		hw_secret_free(t);
		break;
	}
	default: {
		hw_gcp_sa sa;
		CK_RV rv = hw_gcp_parse_sa(v, in.n, &sa);
		if (rv == CKR_OK) {
			FZ_ASSERT(sa.pem != NULL && strlen((const char *)sa.pem->data) == sa.pem->len);
			printable(sa.email);
			printable(sa.token_uri);
			unsigned char *der = hw_gcp_pem_der((const char *)sa.pem->data, sa.pem->len, "PRIVATE KEY", &olen);
			free(der);
		} else {
			FZ_ASSERT(sa.pem == NULL);
		}
		hw_gcp_sa_clear(&sa);
		break;
	}
	}
	free(out);
	free(v);
	return 0;
}
