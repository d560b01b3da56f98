/*
 * UTF-8 validation for text that comes from outside: device-supplied names,
 * units and values (the line parser), Modbus string registers, and the names
 * that become topic levels. One validator, so every entry point accepts the
 * same bytes.
 *
 * Well-formed means RFC 3629 (Unicode Table 3-7): no overlong forms (C0, C1,
 * E0 80..9F, F0 80..8F), no UTF-16 surrogates (ED A0..BF), nothing above
 * U+10FFFF (F4 90.., F5..FF), no stray continuation bytes, no sequence cut
 * short by the end of the buffer. U+0000 is rejected too: every caller's text
 * ends up in a C string, where an embedded NUL would silently truncate it.
 * Control characters are valid here; callers that refuse them check the
 * ASCII bytes themselves (a byte below 0x80 is never part of a multi-byte
 * sequence).
 *
 * Pure functions: any thread.
 */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1 to 4) of the well-formed sequence at s, of which n bytes may be
 * read; 0 when n is 0 or the bytes there are not one (including a NUL byte
 * and a sequence that needs more than n bytes). Never reads past s[n - 1]. */
size_t gw_utf8_seq(const char *s, size_t n);

/* Whether s[0..len) is well-formed UTF-8 without NUL. len 0 is valid. */
bool gw_utf8_valid(const char *s, size_t len);

#endif
