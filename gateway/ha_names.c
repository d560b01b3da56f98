/*
 * Home Assistant discovery's names and classes (homeassistant.h): pure
 * functions, in a file of their own so unit tests link them alone.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gateway/homeassistant.h"

uint32_t gw_ha_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

char *gw_ha_object_id(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    bool changed = false;

    for (const char *p = s; *p && o + 1 < cap; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';

        buf[o++] = ok ? c : '_';
        changed |= !ok;
    }
    buf[o] = '\0';
    if (changed && o + 10 < cap)
        snprintf(buf + o, cap - o, "_%08x", gw_ha_hash(s));
    return buf;
}

void gw_ha_classes(const char *unit, const char *name, const char **ha_unit,
                   const char **device_class, const char **state_class)
{
    static const struct {
        const char *unit, *ha_unit, *device_class, *state_class;
    } map[] = {
        {"celsius", "°C", "temperature", "measurement"},
        {"°C", "°C", "temperature", "measurement"},
        {"degC", "°C", "temperature", "measurement"},
        {"fahrenheit", "°F", "temperature", "measurement"},
        {"°F", "°F", "temperature", "measurement"},
        {"W", "W", "power", "measurement"},
        {"kW", "kW", "power", "measurement"},
        {"Wh", "Wh", "energy", "total_increasing"},
        {"kWh", "kWh", "energy", "total_increasing"},
        {"V", "V", "voltage", "measurement"},
        {"A", "A", "current", "measurement"},
        {"Pa", "Pa", "pressure", "measurement"},
        {"hPa", "hPa", "pressure", "measurement"},
        {"kPa", "kPa", "pressure", "measurement"},
        {"bar", "bar", "pressure", "measurement"},
    };

    *ha_unit = unit;
    *device_class = *state_class = NULL;
    if (!unit)
        return;
    if (strcmp(unit, "percent") == 0 || strcmp(unit, "%") == 0) {
        *ha_unit = "%";
        if (name && strstr(name, "humid")) {
            *device_class = "humidity";
            *state_class = "measurement";
        }
        return;
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].unit, unit) == 0) {
            *ha_unit = map[i].ha_unit;
            *device_class = map[i].device_class;
            *state_class = map[i].state_class;
            return;
        }
    }
}
