/*
 * Fuzz target: the configuration file. The input is the file's text; it is
 * parsed as hw_config_load_file would after reading it, and a configuration
 * that parses is then handed to each built-in backend's open hook (which
 * reads its own keys, without I/O) and closed again, as C_Initialize does.
 *
 * Properties checked beyond "no crash": a failure leaves no configuration
 * and says why in a message without control characters (the message goes
 * to logs, and a hostile file must not forge log lines); a success has at
 * least one slot and an absolute store path.
 */
#include "fuzz/util.h"
#include "module/conf.h"
#include "slots/backend.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fz_tmpdir();
	fz_quiet_logs();
	/* The parser reads these; fixed values keep runs deterministic. */
	unsetenv("HWAGG_ENVIRONMENT");
	setenv("HOME", dir, 1);
	setenv("XDG_DATA_HOME", dir, 1);
	setenv("FUZZ_DIR", dir, 1);
	setenv("FUZZ_REL", "relative/path", 1);
	return 0;
}

static bool clean_message(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)   /* C1 controls in UTF-8 */
			return false;
	}
	return true;
}

/* What C_Initialize does with each slot: open the backend, and close it. */
static void open_slots(const hw_config *cfg)
{
	for (size_t i = 0; i < cfg->nslots; i++) {
		const hw_slot_conf *sc = &cfg->slots[i];
		const hw_backend_entry *e = hw_backend_find(sc->type);
		char err[HW_CONFIG_ERR_LEN] = "";
		FZ_ASSERT(hw_backend_available(e));
		/* a backend module is opened at the slot's first use, not here */
		if (e->ops != NULL) {
			void *ctx = calloc(1, e->ops->ctx_size ? e->ops->ctx_size : 1);
			FZ_ASSERT(ctx != NULL);
			CK_RV rv = e->ops->open(ctx, sc, cfg, err, sizeof(err));
			if (rv == CKR_OK && e->ops->close != NULL)
				e->ops->close(ctx, false);
			FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL && clean_message(err));
			free(ctx);
		}
		/* the typed accessors on every key, including missing ones */
		json_object_object_foreach(sc->json, key, val) {
			(void)val;
			(void)hw_conf_str(sc, key, NULL);
			(void)hw_conf_int(sc, key, 0);
			(void)hw_conf_bool(sc, key, false);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[HW_CONFIG_ERR_LEN];
	hw_config *cfg = NULL;
	/* hw_config_load_file refuses a file with a NUL byte before parsing */
	char *text = fz_strdup(data, size);
	if (memchr(data, '\0', size) == NULL) {
		memset(err, 'x', sizeof(err));
		err[0] = '\0';
		CK_RV rv = hw_config_parse(text, "/fuzz/hwagg.json", &cfg, err, sizeof(err));
		if (rv == CKR_OK) {
			FZ_ASSERT(cfg != NULL && cfg->nslots > 0 && cfg->slots != NULL);
			FZ_ASSERT(cfg->store != NULL && cfg->store[0] == '/');
			open_slots(cfg);
		} else {
			FZ_ASSERT(cfg == NULL);
			FZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
			FZ_ASSERT(clean_message(err));
		}
		hw_config_free(cfg);
	}
	free(text);
	return 0;
}
