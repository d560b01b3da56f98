/*
 * Private to the publishing stage's files (publish.c, publish_window.c):
 * the stage and its per-point records. Loop thread only.
 */
#ifndef GW_PUBLISH_INT_H
#define GW_PUBLISH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/loop.h"
#include "gateway/publish.h"
#include "gateway/publish_device.h"

typedef enum { MODE_ALL, MODE_EXCEPTION, MODE_WINDOW, MODE_DEVICE } mode_t_;

typedef struct {
    char *name;
    uint64_t hash;
    const char *src; /* the reading's sensor pointer it was last found by (never read) */
    mode_t_ mode;
    cfg_publish_t set;
    const gw_point_info_t *decl; /* as the adapter declared it, NULL: it did not */
    size_t dev_points;           /* points its device declared */
    uint64_t mark;               /* per-device messages: in the cycle being gathered */
    bool warned;                 /* a setting that does not fit the point's value type, said once */
    /* Report by exception: what was last published, and when (monotonic). */
    bool has_last;
    gw_value_kind_t kind;
    union {
        double d;
        int64_t i;
        uint64_t u;
        bool b;
    } last;
    char *last_s; /* strings: the value; bad readings: the error */
    bool last_bad;
    uint64_t last_pub_ms;
    /* Window: [start, start + length) of wall-clock time. */
    bool open;
    int64_t start;
    int64_t closed_until; /* end of the last window published */
    uint64_t n;           /* good samples */
    uint64_t samples;     /* every sample, good or bad */
    double min, max, mean, lastv;
    uint64_t seq; /* of the last sample */
    char *unit;
    char *error; /* of the last bad sample */
} point_t;

/* A declared point (gw_stage_point), with copies of its strings. */
typedef struct {
    gw_point_info_t info;
} decl_t;

struct gw_stage {
    gw_ctx_t *ctx;
    decl_t *decls;
    size_t n_decls;
    const cfg_t *cfg;
    const cfg_adapter_t *a;
    point_t **slots; /* open addressing, power-of-two size */
    size_t cap;
    size_t n;
    point_t **by_order; /* [order - 1]: the point of readings with that order */
    size_t n_order;
    gw_timer_t timer;  /* the earliest end of an open window */
    int64_t armed_end; /* ... which is this (wall clock) while the timer runs */
    bool all;          /* no publish settings: every reading as is */
    gw_devmsg_t *dm;   /* payload: per_device, else NULL */
};

static inline bool gw_stage_is_number(gw_value_kind_t k)
{
    return k == GW_VALUE_DOUBLE || k == GW_VALUE_INT || k == GW_VALUE_UINT;
}

/* A numeric reading's value as a double. */
static inline double gw_stage_as_double(const gw_reading_t *r)
{
    switch (r->kind) {
    case GW_VALUE_INT:
        return (double)r->value.i;
    case GW_VALUE_UINT:
        return (double)r->value.u;
    default:
        return r->value.d;
    }
}

/* The point of a reading, made on its first one: by its order and sensor
 * pointer when the adapter gives an order (reading.h) and the point was
 * found by them before, else by name. NULL without memory. */
point_t *gw_stage_find(gw_stage_t *st, const gw_reading_t *r);

/* publish_window.c: a reading of a point with a window; the window timer's
 * callback (arg: the stage); the adapter is done: publish the open windows
 * that hold samples and stop the timer. */
int gw_stage_window(gw_stage_t *st, point_t *p, const gw_reading_t *r);
void gw_stage_window_due(gw_timer_t *t, void *arg);
void gw_stage_windows_flush(gw_stage_t *st);

#endif
