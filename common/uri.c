#include "common/uri.h"

#include <stdbool.h>
#include <string.h>

/* RFC 7512 lets a few reserved characters stand unencoded in a value
 * (pk11-res-avail), but parsers differ on them, and every parser must
 * accept any percent-encoded character: so only RFC 3986's unreserved
 * characters stay as they are, plus '/' in query values (pk11-qchar),
 * which keeps a module path readable. Bytes of a non-ASCII UTF-8 sequence
 * are encoded one by one. */
static bool verbatim(unsigned char ch, hw_uri_part part)
{
	if (part == HW_URI_BYTES)
		return false;
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	if (ch == '-' || ch == '.' || ch == '_' || ch == '~')
		return true;
	return part == HW_URI_QUERY && ch == '/';
}

size_t hw_uri_encode(char *out, size_t cap, const void *v, size_t len, hw_uri_part part)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = v;
	size_t need = 0, o = 0;
	bool room = cap > 0;

	for (size_t i = 0; i < len; i++) {
		bool keep = verbatim(p[i], part);
		size_t w = keep ? 1 : 3;
		need += w;
		if (!room || o + w >= cap) {
			room = false;       /* cut at a whole character, never inside %XX */
			continue;
		}
		if (keep) {
			out[o++] = (char)p[i];
		} else {
			out[o++] = '%';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 0x0f];
		}
	}
	if (cap > 0)
		out[o] = '\0';
	return need;
}
