/*
 * Tests of Home Assistant discovery's names and classes (ha_names.c).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "gateway/homeassistant.h"
#include "suites.h"

static bool id_chars_only(const char *s)
{
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
           strlen(s);
}

static void test_object_id(void)
{
    char a[64], b[64], want[64];

    CU_ASSERT_STRING_EQUAL(gw_ha_object_id("Boiler_01-a", a, sizeof(a)), "Boiler_01-a");
    gw_ha_object_id("meter1/power", a, sizeof(a));
    snprintf(want, sizeof(want), "meter1_power_%08x", gw_ha_hash("meter1/power"));
    CU_ASSERT_STRING_EQUAL(a, want);
    /* Names that differ only where characters were replaced stay distinct. */
    gw_ha_object_id("meter1.power", b, sizeof(b));
    CU_ASSERT(strcmp(a, b) != 0);
    CU_ASSERT(strncmp(b, "meter1_power_", 13) == 0);
    gw_ha_object_id("température", a, sizeof(a));
    CU_ASSERT(id_chars_only(a));
    CU_ASSERT(strncmp(a, "temp", 4) == 0);
    /* FNV-1a reference values. */
    CU_ASSERT_EQUAL(gw_ha_hash(""), 0x811c9dc5u);
    CU_ASSERT_EQUAL(gw_ha_hash("a"), 0xe40c292cu);
    /* Truncated to the buffer, still only id characters. */
    gw_ha_object_id("a very long name with spaces", a, 8);
    CU_ASSERT_STRING_EQUAL(a, "a_very_");
}

static void expect(const char *unit, const char *name, const char *u, const char *dc,
                   const char *sc)
{
    const char *gu, *gdc, *gsc;

    gw_ha_classes(unit, name, &gu, &gdc, &gsc);
    CU_ASSERT(u ? gu && strcmp(gu, u) == 0 : gu == NULL);
    CU_ASSERT(dc ? gdc && strcmp(gdc, dc) == 0 : gdc == NULL);
    CU_ASSERT(sc ? gsc && strcmp(gsc, sc) == 0 : gsc == NULL);
}

static void test_classes(void)
{
    expect("celsius", "t", "°C", "temperature", "measurement");
    expect("percent", "air_humidity", "%", "humidity", "measurement");
    expect("percent", "valve", "%", NULL, NULL);
    expect("W", "p", "W", "power", "measurement");
    expect("kWh", "e", "kWh", "energy", "total_increasing");
    expect("Wh", "e", "Wh", "energy", "total_increasing");
    expect("V", "v", "V", "voltage", "measurement");
    expect("A", "i", "A", "current", "measurement");
    expect("hPa", "p", "hPa", "pressure", "measurement");
    expect("bar", "p", "bar", "pressure", "measurement");
    expect("Pa", "p", "Pa", "pressure", "measurement");
    expect("m3/h", "flow", "m3/h", NULL, NULL);
    expect(NULL, "x", NULL, NULL, NULL);
}

int homeassistant_suite(void)
{
    CU_pSuite s = CU_add_suite("homeassistant", NULL, NULL);

    if (!s || !CU_add_test(s, "object ids: [a-zA-Z0-9_-], distinct", test_object_id) ||
        !CU_add_test(s, "unit to unit, device_class, state_class", test_classes))
        return -1;
    return 0;
}
