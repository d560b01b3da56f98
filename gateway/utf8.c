/*
 * UTF-8 validation; see utf8.h.
 *
 * The lead byte fixes the sequence length and the range of the second byte;
 * later bytes are plain continuation bytes. Narrowing the second byte's range
 * is what rules out overlong forms (E0, F0), surrogates (ED) and code points
 * past U+10FFFF (F4) without decoding the code point: Unicode's Table 3-7.
 */
#include "gateway/utf8.h"

size_t gw_utf8_seq(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (n == 0 || u[0] == 0)
        return 0;
    if (u[0] < 0x80)
        return 1;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        len = 2;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3;
        lo = u[0] == 0xe0 ? 0xa0 : 0x80;
        hi = u[0] == 0xed ? 0x9f : 0xbf;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4;
        lo = u[0] == 0xf0 ? 0x90 : 0x80;
        hi = u[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0; /* a continuation byte, C0, C1 or F5..FF */
    }
    if (n < len || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

bool gw_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t k = gw_utf8_seq(s + i, len - i);

        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
