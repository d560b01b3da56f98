/*
 * Tests of gateway/utf8: every boundary of RFC 3629's well-formed ranges,
 * sequences cut short by the end of the buffer (copied into exact-size heap
 * buffers, so an ASan build catches a read past the end), and a cross-check
 * against a decoder written the other way round (decode the code point, then
 * range-check it) over every lead and second byte.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/utf8.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* gw_utf8_seq() on exactly n heap bytes. */
static size_t seq_exact(const char *bytes, size_t n)
{
    char *copy = malloc(n ? n : 1);
    size_t k;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, bytes, n);
    k = gw_utf8_seq(copy, n);
    free(copy);
    return k;
}

/* gw_utf8_valid() on exactly n heap bytes. */
static bool valid_exact(const char *bytes, size_t n)
{
    char *copy = malloc(n ? n : 1);
    bool ok;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, bytes, n);
    ok = gw_utf8_valid(copy, n);
    free(copy);
    return ok;
}

typedef struct {
    const char *bytes;
    size_t n;
    size_t want; /* gw_utf8_seq(): 0 when not well-formed */
} seq_case_t;

#define SEQ(lit, want)                                                                             \
    {                                                                                              \
        lit, sizeof(lit) - 1, want                                                                 \
    }

static void check_cases(const seq_case_t *c, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t got = seq_exact(c[i].bytes, c[i].n);

        CU_ASSERT_EQUAL(got, c[i].want);
        CU_ASSERT_EQUAL(valid_exact(c[i].bytes, c[i].n), c[i].want == c[i].n);
        if (got != c[i].want)
            fprintf(stderr, "\n  case %zu (first byte %02x): want %zu got %zu\n", i,
                    (unsigned char)c[i].bytes[0], c[i].want, got);
    }
}

static void test_ascii(void)
{
    static const seq_case_t cases[] = {
        SEQ("\x01", 1), SEQ("\x1f", 1), SEQ(" ", 1), SEQ("A", 1),
        SEQ("\x7f", 1), SEQ("\x80", 0), /* a continuation byte cannot start a sequence */
        SEQ("\xbf", 0),
    };

    check_cases(cases, ARRAY_LEN(cases));
    /* One byte of a longer buffer. */
    CU_ASSERT_EQUAL(gw_utf8_seq("ab", 2), 1);
}

static void test_nul_and_empty(void)
{
    CU_ASSERT_EQUAL(gw_utf8_seq("\0", 1), 0);
    CU_ASSERT_EQUAL(gw_utf8_seq("a", 0), 0);
    CU_ASSERT_TRUE(gw_utf8_valid("", 0));
    CU_ASSERT_TRUE(gw_utf8_valid(NULL, 0));
    CU_ASSERT_FALSE(gw_utf8_valid("\0", 1));
    CU_ASSERT_FALSE(gw_utf8_valid("ab\0cd", 5));
    CU_ASSERT_FALSE(gw_utf8_valid("ab\0", 3));
    /* The overlong NUL of "modified UTF-8" is no way around it. */
    CU_ASSERT_FALSE(gw_utf8_valid("\xc0\x80", 2));
}

static void test_two_bytes(void)
{
    static const seq_case_t cases[] = {
        SEQ("\xc0\x80", 0), SEQ("\xc0\xaf", 0), SEQ("\xc1\xbf", 0), /* overlong */
        SEQ("\xc2\x80", 2),                                         /* U+0080 */
        SEQ("\xc3\xa9", 2),                                         /* U+00E9 */
        SEQ("\xdf\xbf", 2),                                         /* U+07FF */
        SEQ("\xc2\x7f", 0), SEQ("\xc2\xc0", 0), SEQ("\xdf\xff", 0), /* bad continuation */
    };

    check_cases(cases, ARRAY_LEN(cases));
}

static void test_three_bytes(void)
{
    static const seq_case_t cases[] = {
        SEQ("\xe0\x80\x80", 0), SEQ("\xe0\x9f\xbf", 0), /* overlong */
        SEQ("\xe0\xa0\x80", 3),                         /* U+0800 */
        SEQ("\xe2\x82\xac", 3),                         /* U+20AC */
        SEQ("\xec\xbf\xbf", 3),                         /* U+CFFF */
        SEQ("\xed\x80\x80", 3),                         /* U+D000 */
        SEQ("\xed\x9f\xbf", 3),                         /* U+D7FF */
        SEQ("\xed\xa0\x80", 0), SEQ("\xed\xbf\xbf", 0), /* surrogates U+D800, U+DFFF */
        SEQ("\xee\x80\x80", 3),                         /* U+E000 */
        SEQ("\xef\xbf\xbf", 3),                         /* U+FFFF */
        SEQ("\xe1\x7f\x80", 0), SEQ("\xe1\xc0\x80", 0), /* bad second byte */
        SEQ("\xe1\x80\x7f", 0), SEQ("\xe1\x80\xc0", 0), /* bad third byte */
    };

    check_cases(cases, ARRAY_LEN(cases));
}

static void test_four_bytes(void)
{
    static const seq_case_t cases[] = {
        SEQ("\xf0\x80\x80\x80", 0),
        SEQ("\xf0\x8f\xbf\xbf", 0), /* overlong */
        SEQ("\xf0\x90\x80\x80", 4), /* U+10000 */
        SEQ("\xf0\x9f\x8c\xa1", 4), /* U+1F321 */
        SEQ("\xf3\xbf\xbf\xbf", 4), /* U+FFFFF */
        SEQ("\xf4\x80\x80\x80", 4), /* U+100000 */
        SEQ("\xf4\x8f\xbf\xbf", 4), /* U+10FFFF */
        SEQ("\xf4\x90\x80\x80", 0),
        SEQ("\xf4\xbf\xbf\xbf", 0), /* above U+10FFFF */
        SEQ("\xf5\x80\x80\x80", 0),
        SEQ("\xf7\xbf\xbf\xbf", 0),
        SEQ("\xf8\x88\x80\x80\x80", 0),     /* old 5-byte form */
        SEQ("\xfc\x84\x80\x80\x80\x80", 0), /* old 6-byte form */
        SEQ("\xfe", 0),
        SEQ("\xff", 0),
        SEQ("\xf1\x80\x80\x7f", 0),
        SEQ("\xf1\x80\xc0\x80", 0), /* bad continuation */
    };

    check_cases(cases, ARRAY_LEN(cases));
    for (unsigned c = 0xf5; c <= 0xff; c++) {
        char s[4] = {(char)c, (char)0x80, (char)0x80, (char)0x80};

        CU_ASSERT_EQUAL(gw_utf8_seq(s, sizeof(s)), 0);
    }
}

/* Every proper prefix of a multi-byte sequence, at the end of the buffer. */
static void test_truncated(void)
{
    static const char *const seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xed\x9f\xbf",
                                       "\xf0\x9f\x8c\xa1", "\xf4\x8f\xbf\xbf"};
    char buf[8];

    for (size_t i = 0; i < ARRAY_LEN(seqs); i++) {
        size_t len = strlen(seqs[i]);

        CU_ASSERT_EQUAL(seq_exact(seqs[i], len), len);
        for (size_t cut = 1; cut < len; cut++) {
            CU_ASSERT_EQUAL(seq_exact(seqs[i], cut), 0);
            /* The same after valid text, and with more bytes present but not
             * granted by n. */
            buf[0] = 'x';
            memcpy(buf + 1, seqs[i], cut);
            CU_ASSERT_FALSE(valid_exact(buf, cut + 1));
            CU_ASSERT_EQUAL(gw_utf8_seq(seqs[i], cut), 0);
        }
    }
}

static void test_valid_strings(void)
{
    const char *mixed = "K\xc3\xbc"
                        "che \xe2\x82\xac \xf0\x9f\x8c\xa1 \x7f\t";

    CU_ASSERT_TRUE(valid_exact(mixed, strlen(mixed)));
    /* Stray continuation after a complete sequence; invalid in the middle. */
    CU_ASSERT_FALSE(valid_exact("\xc3\xa9\xa9", 3));
    CU_ASSERT_FALSE(valid_exact("ab\xed\xa0\x80"
                                "cd",
                                7));
    CU_ASSERT_FALSE(valid_exact("ab\xff"
                                "cd",
                                5));
    /* A length shorter than the string only looks at that prefix. */
    CU_ASSERT_TRUE(gw_utf8_valid("ab\xff", 2));
}

/* The well-formed length by decoding the code point and checking its range:
 * the other classic formulation, to cross-check the byte ranges. */
static size_t reference_seq(const unsigned char *s, size_t n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t cp;

    if (n == 0 || s[0] == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1fu;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0fu;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void test_against_reference(void)
{
    static const unsigned char tail[] = {0x00, 0x3f, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                         0xa0, 0xbf, 0xc0, 0xc2, 0xf4, 0xff};
    unsigned long mismatches = 0;

    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < ARRAY_LEN(tail); c++)
                for (size_t d = 0; d < ARRAY_LEN(tail); d++) {
                    const unsigned char s[4] = {(unsigned char)a, (unsigned char)b, tail[c],
                                                tail[d]};

                    for (size_t n = 1; n <= 4; n++)
                        if (gw_utf8_seq((const char *)s, n) != reference_seq(s, n))
                            mismatches++;
                }
    CU_ASSERT_EQUAL(mismatches, 0);
}

int utf8_suite(void)
{
    static const sb_test_t tests[] = {
        {"ASCII and continuation bytes", test_ascii},
        {"NUL and empty input", test_nul_and_empty},
        {"two-byte sequences", test_two_bytes},
        {"three-byte sequences", test_three_bytes},
        {"four-byte sequences and F5..FF", test_four_bytes},
        {"truncated at the end", test_truncated},
        {"whole strings", test_valid_strings},
        {"against a code-point decoder", test_against_reference},
    };
    CU_pSuite s = CU_add_suite("utf8", NULL, NULL);

    return s ? SB_ADD_TESTS(s, tests) : -1;
}
