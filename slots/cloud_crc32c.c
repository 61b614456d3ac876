/*
 * CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected as 0x82F63B78, with
 * the usual all-ones start and final inversion): GCP Cloud KMS protects
 * every digest, signature and public key on the wire with it. A 256-entry
 * table built once; the volumes are a few hundred bytes per call.
 */
#include "slots/cloud_str.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
}

uint32_t hw_crc32c(uint32_t crc, const void *d, size_t len)
{
	const unsigned char *p = d;
	pthread_once(&table_once, table_init);
	crc = ~crc;
	for (size_t i = 0; p != NULL && i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}
