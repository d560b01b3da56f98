/* The table of adapter kinds: one line per protocol. */
#include "adapters/adapter.h"

#include <string.h>

extern const adp_ops_t adp_simulated_ops;
extern const adp_ops_t adp_modbus_tcp_ops;
extern const adp_ops_t adp_modbus_rtu_ops;
extern const adp_ops_t adp_raw_tcp_ops;

static const adp_ops_t *const registry[] = {
    &adp_simulated_ops,
    &adp_modbus_tcp_ops,
    &adp_modbus_rtu_ops,
    &adp_raw_tcp_ops,
};

const adp_ops_t *adp_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->kind, kind) == 0)
            return registry[i];
    return NULL;
}

const char *adp_kinds(void)
{
    static char list[256];

    if (!list[0]) {
        for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
            if (i)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, registry[i]->kind, sizeof(list) - strlen(list) - 1);
        }
    }
    return list;
}
