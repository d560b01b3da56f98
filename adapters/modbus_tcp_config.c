/*
 * Configuration of the Modbus TCP adapter: device keys and its points.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus_tcp.h"
#include "gateway/error.h"

static const char *const table_names[] = {"coil", "discrete", "holding", "input", NULL};
static const char *const type_names[] = {"bool",    "int16",  "uint16", "int32",
                                         "uint32",  "int64",  "uint64", "float32",
                                         "float64", "string", NULL};
static const char *const order_names[] = {"ABCD",     "CDAB",     "BADC",     "DCBA", "ABCDEFGH",
                                          "GHEFCDAB", "BADCFEHG", "HGFEDCBA", NULL};

/* The enum index in table_names/type_names is the mb_*_t value. */
static const char *const write_fns[] = {"auto", "single", "multiple", NULL};
_Static_assert(MB_TABLE_COIL == 0 && MB_TABLE_INPUT == 3, "table order");
_Static_assert(MBT_WRITE_AUTO == 0 && MBT_WRITE_MULTIPLE == 2, "write_fns[] order");
_Static_assert(MB_TYPE_BOOL == 0 && MB_TYPE_STRING == 9, "type order");

static int read_point_keys(mbt_point_t *pt, const cfg_node_t *item, cfg_error_t *err)
{
    mb_point_t *p = &pt->p;
    int table, type, order, rc;
    int64_t address, bit, length, qos = -1;
    bool retain;

    if (!cfg_has(item, "address"))
        return cfg_node_error(item, err, "point '%s' is missing required key 'address'", pt->name);
    if ((rc = cfg_get_enum(item, "table", table_names, MB_TABLE_HOLDING, &table, err)) ||
        (rc = cfg_get_int(item, "address", 0, 65535, 0, &address, err)))
        return rc;
    p->table = (mb_table_t)table;
    if ((rc = cfg_get_enum(item, "type", type_names,
                           mb_table_is_bits(p->table) ? MB_TYPE_BOOL : MB_TYPE_UINT16, &type,
                           err)) ||
        (rc = cfg_get_enum(item, "order", order_names, 0, &order, err)) ||
        (rc = cfg_get_int(item, "bit", 0, 15, -1, &bit, err)) ||
        (rc = cfg_get_int(item, "length", 1, MB_MAX_REGISTERS, 0, &length, err)) ||
        (rc = cfg_get_double(item, "scale", -1e300, 1e300, 1.0, &p->scale, err)) ||
        (rc = cfg_get_double(item, "offset", -1e300, 1e300, 0.0, &p->offset, err)) ||
        (rc = cfg_get_string(item, "unit", NULL, &pt->unit, err)) ||
        (rc = cfg_get_int(item, "qos", 0, 2, -1, &qos, err)) ||
        (rc = cfg_get_bool(item, "writable", false, &pt->writable, err)))
        return rc;
    p->address = (uint16_t)address;
    p->type = (mb_type_t)type;
    p->order = (mb_order_t)(order % 4);
    p->bit = (int)bit;
    p->length = (uint16_t)length;
    pt->qos = (int)qos;
    pt->retain = -1;
    if (cfg_has(item, "retain")) {
        if ((rc = cfg_get_bool(item, "retain", false, &retain, err)))
            return rc;
        pt->retain = retain;
    }
    return 0;
}

/* Rules that involve several keys of one point. */
static int check_point(const mbt_point_t *pt, const cfg_node_t *item, cfg_error_t *err)
{
    const mb_point_t *p = &pt->p;

    if (mb_table_is_bits(p->table) && p->type != MB_TYPE_BOOL)
        return cfg_node_error(item, err, "point '%s': a %s table holds bits, type must be bool",
                              pt->name, mb_table_name(p->table));
    if (p->bit >= 0 && (p->type != MB_TYPE_BOOL || mb_table_is_bits(p->table)))
        return cfg_node_error(
            item, err, "point '%s': bit applies only to type bool in a register table", pt->name);
    if (p->type == MB_TYPE_STRING && p->length == 0)
        return cfg_node_error(item, err, "point '%s': type string needs length (registers)",
                              pt->name);
    if (p->type != MB_TYPE_STRING && p->length != 0)
        return cfg_node_error(item, err, "point '%s': length applies only to type string",
                              pt->name);
    if ((uint32_t)p->address + mb_point_width(p) > 65536)
        return cfg_node_error(item, err, "point '%s' runs past address 65535", pt->name);
    if (pt->writable && (p->table == MB_TABLE_INPUT || p->table == MB_TABLE_DISCRETE))
        return cfg_node_error(cfg_get_node(item, "writable"), err,
                              "point '%s': the %s table is read-only; only coil and holding "
                              "points can be writable",
                              pt->name, mb_table_name(p->table));
    return 0;
}

static int read_point(mbt_t *m, size_t i, const cfg_node_t *item, cfg_error_t *err)
{
    mbt_point_t *pt = &m->points[i];
    const char *why;
    char context[200];
    int rc;

    if (cfg_node_kind(item) != CFG_MAPPING)
        return cfg_node_error(item, err, "each point must be a mapping");
    if ((rc = cfg_get_string(item, "name", NULL, &pt->name, err)))
        return rc;
    if (!pt->name)
        return cfg_node_error(item, err, "point is missing required key 'name'");
    if ((why = gw_topic_level_check(pt->name)) != NULL)
        return cfg_node_error(item, err, "point name '%s': %s", pt->name, why);
    for (size_t j = 0; j < i; j++)
        if (strcmp(m->points[j].name, pt->name) == 0)
            return cfg_node_error(item, err, "duplicate point name '%s'", pt->name);
    if ((rc = read_point_keys(pt, item, err)) || (rc = check_point(pt, item, err)))
        return rc;
    snprintf(context, sizeof(context), "point '%s' of adapter '%s'", pt->name, gw_ctx_name(m->ctx));
    return cfg_check_unknown(item, context, err);
}

static int read_points(mbt_t *m, const cfg_adapter_t *cfg, cfg_error_t *err)
{
    const cfg_node_t *list = cfg_get_node(cfg->node, "points");
    int rc;

    if (!list)
        return cfg_node_error(cfg->node, err, "adapter '%s' is missing required key 'points'",
                              cfg->name);
    if (cfg_node_kind(list) != CFG_SEQUENCE || cfg_seq_len(list) == 0)
        return cfg_node_error(list, err, "points must be a non-empty list of points");
    m->n_points = cfg_seq_len(list);
    m->points = calloc(m->n_points, sizeof(*m->points));
    if (!m->points)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_points; i++)
        if ((rc = read_point(m, i, cfg_seq_at(list, i), err)))
            return rc;
    return 0;
}

/* The planner takes a plain array of points; the plan keeps only indices. */
static int plan_batches(mbt_t *m, const cfg_adapter_t *cfg, cfg_error_t *err)
{
    mb_point_t *plain = malloc(m->n_points * sizeof(*plain));
    int rc;

    if (!plain)
        return -ENOMEM;
    for (size_t i = 0; i < m->n_points; i++)
        plain[i] = m->points[i].p;
    rc = mb_plan(plain, m->n_points, m->max_registers, m->max_bits, m->max_gap, &m->plan);
    free(plain);
    if (rc == -EINVAL)
        return cfg_node_error(cfg->node, err,
                              "a point is wider than max_registers_per_request (%u)",
                              m->max_registers);
    return rc;
}

int mbt_read_config(mbt_t *m, const cfg_adapter_t *cfg, cfg_error_t *err)
{
    int64_t port, unit_id, max_regs, max_gap, max_pending;
    const cfg_node_t *n = cfg->node;
    int write_fn, rc;

    if ((rc = cfg_get_string(n, "host", NULL, &m->host, err)))
        return rc;
    if (!m->host)
        return cfg_node_error(n, err, "adapter '%s' is missing required key 'host'", cfg->name);
    if ((rc = cfg_get_int(n, "port", 1, 65535, 502, &port, err)) ||
        (rc = cfg_get_int(n, "unit_id", 0, 255, 1, &unit_id, err)) ||
        (rc = cfg_get_duration(n, "interval", 1, 86400000, 1000, &m->interval_ms, err)) ||
        (rc = cfg_get_duration(n, "timeout", 1, 600000, 1000, &m->timeout_ms, err)) ||
        (rc = cfg_get_duration(n, "connect_timeout", 1, 600000, 2000, &m->connect_timeout_ms,
                               err)) ||
        (rc = cfg_get_duration(n, "backoff_min", 1, 3600000, 250, &m->backoff_min_ms, err)) ||
        (rc = cfg_get_duration(n, "backoff_max", 1, 3600000, 30000, &m->backoff_max_ms, err)) ||
        (rc = cfg_get_int(n, "max_registers_per_request", 1, MB_MAX_REGISTERS, MB_MAX_REGISTERS,
                          &max_regs, err)) ||
        (rc = cfg_get_int(n, "max_gap", 0, MB_MAX_REGISTERS, 0, &max_gap, err)) ||
        (rc = cfg_get_enum(n, "write_function", write_fns, MBT_WRITE_AUTO, &write_fn, err)) ||
        (rc = cfg_get_int(n, "max_pending_writes", 1, 1024, 16, &max_pending, err)))
        return rc;
    m->write_fn = (mbt_write_fn_t)write_fn;
    m->max_pending_writes = (unsigned)max_pending;
    m->port = (uint16_t)port;
    m->unit_id = (uint8_t)unit_id;
    m->max_registers = (uint16_t)max_regs;
    m->max_bits = MB_MAX_BITS;
    m->max_gap = (uint16_t)max_gap;
    if (m->backoff_max_ms < m->backoff_min_ms)
        return cfg_node_error(n, err, "backoff_max must be at least backoff_min");
    if ((rc = read_points(m, cfg, err)))
        return rc;
    return plan_batches(m, cfg, err);
}
