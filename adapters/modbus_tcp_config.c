/*
 * Configuration of the Modbus adapters: the link (a TCP connection or a
 * serial port), its devices (a devices: list, or the adapter itself in the
 * single-device form of modbus_tcp) and their points.
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

static int read_point(mbt_t *d, size_t i, const cfg_node_t *item, cfg_error_t *err)
{
    mbt_point_t *pt = &d->points[i];
    const char *why, *name = NULL;
    char context[300];
    int rc;

    if (cfg_node_kind(item) != CFG_MAPPING)
        return cfg_node_error(item, err, "each point must be a mapping");
    if ((rc = cfg_get_string(item, "name", NULL, &name, err)))
        return rc;
    if (!name)
        return cfg_node_error(item, err, "point is missing required key 'name'");
    if ((why = gw_topic_level_check(name)) != NULL)
        return cfg_node_error(item, err, "point name '%s': %s", name, why);
    if (d->name) { /* on a list the reading's sensor is "device/point" */
        char *full;

        if (asprintf(&full, "%s/%s", d->name, name) < 0)
            return -ENOMEM;
        pt->name = full;
    } else {
        pt->name = name;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(d->points[j].name, pt->name) == 0)
            return cfg_node_error(item, err, "duplicate point name '%s'", name);
    if ((rc = read_point_keys(pt, item, err)) || (rc = check_point(pt, item, err)))
        return rc;
    if (d->name)
        snprintf(context, sizeof(context), "point '%s' of device '%s' of adapter '%s'", name,
                 d->name, gw_ctx_name(d->ctx));
    else
        snprintf(context, sizeof(context), "point '%s' of adapter '%s'", name, gw_ctx_name(d->ctx));
    return cfg_check_unknown(item, context, err);
}

/* owner: the device's mapping, or the adapter's in the single-device form. */
static int read_points(mbt_t *d, const cfg_node_t *owner, const char *what, cfg_error_t *err)
{
    const cfg_node_t *list = cfg_get_node(owner, "points");
    int rc;

    if (!list)
        return cfg_node_error(owner, err, "%s is missing required key 'points'", what);
    if (cfg_node_kind(list) != CFG_SEQUENCE || cfg_seq_len(list) == 0)
        return cfg_node_error(list, err, "points must be a non-empty list of points");
    d->n_points = cfg_seq_len(list);
    d->points = calloc(d->n_points, sizeof(*d->points));
    if (!d->points)
        return -ENOMEM;
    for (size_t i = 0; i < d->n_points; i++)
        if ((rc = read_point(d, i, cfg_seq_at(list, i), err)))
            return rc;
    return 0;
}

/* Tells the gateway each point's value kind, unit and interval (its
 * publishing settings are checked against them). */
static int declare_points(const mbt_t *d, cfg_error_t *err)
{
    for (size_t i = 0; i < d->n_points; i++) {
        const mbt_point_t *pt = &d->points[i];
        gw_point_info_t pi = {.name = pt->name,
                              .kind = pt->p.type == MB_TYPE_BOOL     ? GW_VALUE_BOOL
                                      : pt->p.type == MB_TYPE_STRING ? GW_VALUE_STRING
                                                                     : GW_VALUE_DOUBLE,
                              .unit = pt->unit,
                              .writable = pt->writable,
                              .interval_ms = d->interval_ms,
                              .device = d->name};
        int rc = gw_ctx_point(d->ctx, &pi, err);

        if (rc)
            return rc;
    }
    return 0;
}

/* The planner takes a plain array of points; the plan keeps only indices. */
static int plan_batches(mbt_t *d, const mbl_t *l, const cfg_node_t *owner, cfg_error_t *err)
{
    mb_point_t *plain = malloc(d->n_points * sizeof(*plain));
    int rc;

    if (!plain)
        return -ENOMEM;
    for (size_t i = 0; i < d->n_points; i++)
        plain[i] = d->points[i].p;
    rc = mb_plan(plain, d->n_points, l->max_registers, l->max_bits, l->max_gap, &d->plan);
    free(plain);
    if (rc == -EINVAL)
        return cfg_node_error(owner, err, "a point is wider than max_registers_per_request (%u)",
                              l->max_registers);
    return rc;
}

/* The keys a device has, on the list or (single-device form) the adapter. */
static int read_device(mbl_t *l, mbt_t *d, const cfg_node_t *n, const char *what,
                       const mbt_t *defaults, cfg_error_t *err)
{
    int64_t unit_id;
    int rc;

    d->link = l;
    d->ctx = l->ctx;
    if ((l->list && !cfg_has(n, "unit_id")))
        return cfg_node_error(n, err, "%s is missing required key 'unit_id'", what);
    /* On a serial bus 0 is the broadcast address (nobody answers) and 248
     * to 255 are reserved; a TCP device may use any. */
    if ((rc = cfg_get_int(n, "unit_id", l->transport == MBL_SERIAL ? 1 : 0,
                          l->transport == MBL_SERIAL ? 247 : 255, 1, &unit_id, err)) ||
        (rc = cfg_get_duration(n, "interval", 1, 86400000, defaults->interval_ms, &d->interval_ms,
                               err)) ||
        (rc = cfg_get_duration(n, "timeout", 1, 600000, defaults->timeout_ms, &d->timeout_ms, err)))
        return rc;
    d->unit_id = (uint8_t)unit_id;
    d->write_fn = defaults->write_fn;
    d->max_pending_writes = defaults->max_pending_writes;
    if ((rc = read_points(d, n, what, err)) || (rc = declare_points(d, err)))
        return rc;
    return plan_batches(d, l, n, err);
}

static int read_devices(mbl_t *l, const cfg_node_t *list, const mbt_t *defaults, cfg_error_t *err)
{
    uint32_t order = 0;
    int rc;

    if (cfg_node_kind(list) != CFG_SEQUENCE || cfg_seq_len(list) == 0)
        return cfg_node_error(list, err, "devices must be a non-empty list of devices");
    l->n_devs = cfg_seq_len(list);
    if (!(l->devs = calloc(l->n_devs, sizeof(*l->devs))))
        return -ENOMEM;
    for (size_t i = 0; i < l->n_devs; i++) {
        const cfg_node_t *item = cfg_seq_at(list, i);
        mbt_t *d = &l->devs[i];
        const char *why;
        char what[300];

        if (cfg_node_kind(item) != CFG_MAPPING)
            return cfg_node_error(item, err, "each device must be a mapping");
        if ((rc = cfg_get_string(item, "name", NULL, &d->name, err)))
            return rc;
        if (!d->name)
            return cfg_node_error(item, err, "device is missing required key 'name'");
        if ((why = gw_topic_level_check(d->name)) != NULL)
            return cfg_node_error(item, err, "device name '%s': %s", d->name, why);
        snprintf(what, sizeof(what), "device '%s' of adapter '%s'", d->name, gw_ctx_name(l->ctx));
        if ((rc = read_device(l, d, item, what, defaults, err)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l->devs[j].name, d->name) == 0)
                return cfg_node_error(item, err, "duplicate device name '%s'", d->name);
            if (l->devs[j].unit_id == d->unit_id)
                return cfg_node_error(cfg_get_node(item, "unit_id"), err,
                                      "devices '%s' and '%s' have the same unit_id %u",
                                      l->devs[j].name, d->name, d->unit_id);
        }
        d->order_base = order;
        order += (uint32_t)d->n_points;
        if ((rc = cfg_check_unknown(item, what, err)))
            return rc;
    }
    return 0;
}

static const char *const framings[] = {"mbap", "rtu_over_tcp", NULL};
static const char *const parities[] = {"none", "even", "odd", NULL};
static const char *const phases[] = {"random", "aligned", NULL};

/* The 3.5 characters of silence before every request (RTU), in whole
 * milliseconds rounded up, plus one for the millisecond clock: 1.75 ms
 * above 19,200 baud, as the specification says. */
static uint64_t silence_ms(const mbl_serial_t *s)
{
    uint64_t bits = 1u + s->data_bits + (s->parity != 'N') + s->stop_bits;
    uint64_t us = s->baud > 19200 ? 1750 : (35 * bits * 100000 + s->baud - 1) / s->baud;

    return (us + 999) / 1000 + 1;
}

static int read_serial(mbl_t *l, const cfg_node_t *n, const char *name, cfg_error_t *err)
{
    mbl_serial_t *s = &l->serial;
    int64_t baud, data_bits, stop_bits;
    int parity, rc;

    if ((rc = cfg_get_string(n, "port", NULL, &s->path, err)))
        return rc;
    if (!s->path)
        return cfg_node_error(n, err, "adapter '%s' is missing required key 'port'", name);
    if ((rc = cfg_get_int(n, "baud", 1200, 921600, 9600, &baud, err)) ||
        (rc = cfg_get_enum(n, "parity", parities, 1, &parity, err)) ||
        (rc = cfg_get_int(n, "data_bits", 5, 8, 8, &data_bits, err)) ||
        (rc = cfg_get_int(n, "stop_bits", 1, 2, 1, &stop_bits, err)) ||
        (rc = cfg_get_bool(n, "rs485", false, &s->rs485, err)) ||
        (rc = cfg_get_bool(n, "rts_on_send", true, &s->rts_on_send, err)) ||
        (rc = cfg_get_duration(n, "delay_rts_before_send", 0, 1000, 0, &s->rts_before_ms, err)) ||
        (rc = cfg_get_duration(n, "delay_rts_after_send", 0, 1000, 0, &s->rts_after_ms, err)))
        return rc;
    if (!mbl_serial_baud_ok((uint32_t)baud))
        return cfg_node_error(cfg_get_node(n, "baud"), err,
                              "baud must be one of 1200, 2400, 4800, 9600, 19200, 38400, "
                              "57600, 115200, 230400, 460800, 921600");
    if (data_bits != 8)
        return cfg_node_error(cfg_get_node(n, "data_bits"), err,
                              "data_bits must be 8: Modbus RTU frames are 8-bit bytes");
    s->baud = (uint32_t)baud;
    s->parity = "NEO"[parity];
    s->data_bits = (uint8_t)data_bits;
    s->stop_bits = (uint8_t)stop_bits;
    l->framing = MBL_RTU;
    l->gap_ms = silence_ms(s);
    return 0;
}

int mbl_read_config(mbl_t *l, const cfg_adapter_t *cfg, mbl_transport_t transport, cfg_error_t *err)
{
    int64_t port, max_regs, max_gap, max_pending;
    const cfg_node_t *n = cfg->node, *list;
    mbt_t defaults = {0};
    int write_fn, framing = 0, phase, rc;
    char what[300];

    l->transport = transport;
    if (transport == MBL_SERIAL) {
        if ((rc = read_serial(l, n, cfg->name, err)))
            return rc;
    } else {
        if ((rc = cfg_get_string(n, "host", NULL, &l->host, err)))
            return rc;
        if (!l->host)
            return cfg_node_error(n, err, "adapter '%s' is missing required key 'host'", cfg->name);
        if ((rc = cfg_get_int(n, "port", 1, 65535, 502, &port, err)) ||
            (rc = cfg_get_duration(n, "connect_timeout", 1, 600000, 2000, &l->connect_timeout_ms,
                                   err)) ||
            (rc = cfg_get_enum(n, "framing", framings, 0, &framing, err)))
            return rc;
        l->port = (uint16_t)port;
        l->framing = framing ? MBL_RTU : MBL_MBAP;
    }
    if ((rc = cfg_get_duration(n, "interval", 1, 86400000, 1000, &defaults.interval_ms, err)) ||
        (rc = cfg_get_duration(n, "timeout", 1, 600000, transport == MBL_SERIAL ? 500 : 1000,
                               &defaults.timeout_ms, err)) ||
        (rc = cfg_get_duration(n, "backoff_min", 1, 3600000, 250, &l->backoff_min_ms, err)) ||
        (rc = cfg_get_duration(n, "backoff_max", 1, 3600000, 30000, &l->backoff_max_ms, err)) ||
        (rc = cfg_get_duration(n, "delay_between_requests", 0, 60000, 0, &l->delay_ms, err)) ||
        (rc = cfg_get_duration(n, "delay_after_connect", 0, 60000, 0, &l->settle_ms, err)) ||
        (rc = cfg_get_int(n, "max_registers_per_request", 1, MB_MAX_REGISTERS, MB_MAX_REGISTERS,
                          &max_regs, err)) ||
        (rc = cfg_get_int(n, "max_gap", 0, MB_MAX_REGISTERS, 0, &max_gap, err)) ||
        (rc = cfg_get_enum(n, "write_function", write_fns, MBT_WRITE_AUTO, &write_fn, err)) ||
        (rc = cfg_get_int(n, "max_pending_writes", 1, 1024, 16, &max_pending, err)) ||
        (rc = cfg_get_enum(n, "phase", phases, 0, &phase, err)))
        return rc;
    l->aligned = phase == 1;
    defaults.write_fn = (mbt_write_fn_t)write_fn;
    defaults.max_pending_writes = (unsigned)max_pending;
    l->max_registers = (uint16_t)max_regs;
    l->max_bits = MB_MAX_BITS;
    l->max_gap = (uint16_t)max_gap;
    if (l->backoff_max_ms < l->backoff_min_ms)
        return cfg_node_error(n, err, "backoff_max must be at least backoff_min");
    if ((list = cfg_get_node(n, "devices")) != NULL) {
        if (cfg_has(n, "points"))
            return cfg_node_error(cfg_get_node(n, "points"), err,
                                  "adapter '%s' has devices: its points belong to its devices",
                                  cfg->name);
        if (cfg_has(n, "unit_id"))
            return cfg_node_error(cfg_get_node(n, "unit_id"), err,
                                  "adapter '%s' has devices: each device has its unit_id",
                                  cfg->name);
        l->list = true;
        return read_devices(l, list, &defaults, err);
    }
    if (transport == MBL_SERIAL)
        return cfg_node_error(n, err, "adapter '%s' is missing required key 'devices'", cfg->name);
    l->n_devs = 1;
    if (!(l->devs = calloc(1, sizeof(*l->devs))))
        return -ENOMEM;
    snprintf(what, sizeof(what), "adapter '%s'", cfg->name);
    return read_device(l, &l->devs[0], n, what, &defaults, err);
}
