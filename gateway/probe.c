/*
 * sensorbridge --test: the configured adapters run without a broker. Each
 * adapter that can reads every point once (gw_ctx_once()); the others, devices
 * that send on their own, are listened to for --seconds. Every reading is
 * kept with the topic and payload it would be published with, and shown at
 * the end as an aligned table (or as JSON lines). Nothing is queued, spooled
 * or published, and no broker is contacted. Loop thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clock.h"
#include "gateway/gateway_int.h"
#include "gateway/log.h"

typedef struct {
    const gw_ctx_t *ctx;
    uint32_t order; /* in the configuration; 0: in arrival order */
    size_t arrival;
    char *device, *sensor, *value, *error, *raw, *topic, *payload;
    int qos;
    bool retain;
} row_t;

struct gw_probe {
    const gw_probe_opts_t *o;
    gw_gateway_t *gw;
    row_t *rows;
    size_t n_rows, cap_rows;
    bool oom;
    bool listening; /* adapters without .once still run: --seconds not over */
    bool interrupted;
    gw_timer_t listen_timer;
    gw_timer_t hard_timer;
};

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *oom = true;
    return d;
}

/* "41AC 0000": the registers as they came off the wire. */
static char *raw_hex(const gw_reading_t *r, bool *oom)
{
    char *s;

    if (!r->raw || !r->n_raw)
        return NULL;
    if (!(s = malloc((size_t)r->n_raw * 5))) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0, o = 0; i < r->n_raw; i++)
        o += (size_t)snprintf(s + o, 6, "%s%04X", i ? " " : "", r->raw[i]);
    return s;
}

/* The value as the payload has it, then the unit: "21.5 celsius". */
static char *value_text(const gw_reading_t *r, bool *oom)
{
    char buf[PAYLOAD_MAX];
    int n = gw_reading_value_json(r, buf, sizeof(buf));
    char *s;

    if (n < 0)
        snprintf(buf, sizeof(buf), "(too long to show)");
    if (r->unit && r->kind != GW_VALUE_NONE && strlen(buf) + strlen(r->unit) + 2 < sizeof(buf)) {
        strcat(buf, " ");
        strcat(buf, r->unit);
    }
    if (!(s = strdup(buf)))
        *oom = true;
    return s;
}

void gw_probe_add(struct gw_probe *p, gw_ctx_t *ctx, const gw_reading_t *r, const char *topic,
                  const char *payload, int qos, bool retain)
{
    row_t *row;

    ctx->probed++;
    if (p->n_rows == p->cap_rows) {
        size_t cap = p->cap_rows ? 2 * p->cap_rows : 64;
        row_t *rows = realloc(p->rows, cap * sizeof(*rows));

        if (!rows) {
            p->oom = true;
            return;
        }
        p->rows = rows;
        p->cap_rows = cap;
    }
    row = &p->rows[p->n_rows++];
    *row =
        (row_t){.ctx = ctx, .order = r->order, .arrival = p->n_rows, .qos = qos, .retain = retain};
    row->device = dup_or_null(r->device, &p->oom);
    row->sensor = dup_or_null(r->sensor, &p->oom);
    row->value = value_text(r, &p->oom);
    row->error = dup_or_null(topic ? r->error : "does not fit in a message", &p->oom);
    row->raw = raw_hex(r, &p->oom);
    row->topic = dup_or_null(topic, &p->oom);
    row->payload = dup_or_null(payload, &p->oom);
}

/* Over when every adapter that reads once is done and, if any other runs,
 * --seconds have passed. */
static bool over(const struct gw_probe *p)
{
    const gw_gateway_t *gw = p->gw;

    for (size_t i = 0; i < gw->n_ctxs; i++) {
        const gw_ctx_t *c = gw->ctxs[i];

        if (!c->tested)
            continue;
        if (c->ops->once ? !c->done : p->listening)
            return false;
    }
    return true;
}

static void on_tick(gw_loop_t *loop, void *arg)
{
    if (over(arg))
        gw_loop_stop(loop);
}

static void listen_over(gw_timer_t *t, void *arg)
{
    struct gw_probe *p = arg;
    (void)t;

    p->listening = false;
}

static void hard_deadline(gw_timer_t *t, void *arg)
{
    struct gw_probe *p = arg;
    (void)t;

    gw_loop_stop(p->gw->loop);
}

static void on_signal(gw_loop_t *loop, int signo, void *arg)
{
    struct gw_probe *p = arg;

    if (signo == SIGTERM || signo == SIGINT) {
        p->interrupted = true;
        gw_loop_stop(loop);
    }
}

/* --- output ---------------------------------------------------------------- */

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

enum { COL_ADAPTER, COL_DEVICE, COL_POINT, COL_VALUE, COL_QUALITY, COL_ERROR, COL_RAW, NCOLS };

static void row_cells(const row_t *r, const char *cell[NCOLS])
{
    cell[COL_ADAPTER] = r->ctx->cfg->name;
    cell[COL_DEVICE] = or_dash(r->device);
    cell[COL_POINT] = or_dash(r->sensor);
    cell[COL_VALUE] = or_dash(r->value);
    cell[COL_QUALITY] = r->error ? "bad" : "good";
    cell[COL_ERROR] = or_dash(r->error);
    cell[COL_RAW] = or_dash(r->raw);
}

static void print_line(const char *const cell[NCOLS], const size_t width[NCOLS])
{
    for (int c = 0; c < NCOLS; c++) {
        if (c == NCOLS - 1)
            printf("%s\n", cell[c]);
        else
            printf("%-*s  ", (int)width[c], cell[c]);
    }
}

static size_t ctx_index(const gw_gateway_t *gw, const gw_ctx_t *c)
{
    size_t i = 0;

    while (i < gw->n_ctxs && gw->ctxs[i] != c)
        i++;
    return i;
}

static const gw_gateway_t *sort_gw; /* for by_place(); loop thread only */

/* Adapters in configuration order; within one, points in configuration
 * order when the adapter gives it, else as they arrived. */
static int by_place(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    size_t cx = ctx_index(sort_gw, x->ctx), cy = ctx_index(sort_gw, y->ctx);

    if (cx != cy)
        return cx < cy ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

static void print_table(const struct gw_probe *p)
{
    static const char *const head[NCOLS] = {"ADAPTER", "DEVICE", "POINT", "VALUE",
                                            "QUALITY", "ERROR",  "RAW"};
    size_t width[NCOLS];
    const char *cell[NCOLS];

    for (int c = 0; c < NCOLS; c++)
        width[c] = strlen(head[c]);
    for (size_t i = 0; i < p->n_rows; i++) {
        row_cells(&p->rows[i], cell);
        for (int c = 0; c < NCOLS; c++)
            if (strlen(cell[c]) > width[c])
                width[c] = strlen(cell[c]);
    }
    print_line(head, width);
    for (size_t i = 0; i < p->n_rows; i++) {
        row_cells(&p->rows[i], cell);
        print_line(cell, width);
    }
}

static void print_json(const struct gw_probe *p)
{
    for (size_t i = 0; i < p->n_rows; i++) {
        const row_t *r = &p->rows[i];

        if (!r->topic)
            continue; /* too big to publish: in the summary */
        printf("{\"topic\":\"");
        for (const char *c = r->topic; *c; c++) {
            if (*c == '"' || *c == '\\')
                putchar('\\');
            putchar(*c);
        }
        printf("\",\"qos\":%d,\"retain\":%s,\"payload\":%s}\n", r->qos,
               r->retain ? "true" : "false", r->payload);
    }
}

/* The one-line summary, and a line for each adapter that reported nothing.
 * Returns the exit code: 0 when every point read good. */
static int summarize(const struct gw_probe *p, FILE *out, uint64_t elapsed_ms)
{
    const gw_gateway_t *gw = p->gw;
    size_t good = 0, bad = 0, adapters = 0, silent = 0;

    for (size_t i = 0; i < p->n_rows; i++)
        p->rows[i].error ? bad++ : good++;
    for (size_t i = 0; i < gw->n_ctxs; i++) {
        const gw_ctx_t *c = gw->ctxs[i];

        if (!c->tested)
            continue;
        adapters++;
        if (c->probed == 0) {
            silent++;
            fprintf(out, "adapter '%s': no reading in %.1f s\n", c->cfg->name, elapsed_ms / 1000.0);
        }
    }
    fprintf(out, "%zu adapter%s, %zu reading%s: %zu good, %zu bad", adapters,
            adapters == 1 ? "" : "s", p->n_rows, p->n_rows == 1 ? "" : "s", good, bad);
    if (silent)
        fprintf(out, ", %zu adapter%s without a reading", silent, silent == 1 ? "" : "s");
    if (p->interrupted)
        fprintf(out, "; interrupted");
    if (p->oom)
        fprintf(out, "; out of memory, readings are missing");
    fprintf(out, " (%.1f s)\n", elapsed_ms / 1000.0);
    return bad || silent || p->interrupted || p->oom || adapters == 0 ? 1 : 0;
}

/* --- the run --------------------------------------------------------------- */

/* Marks the adapters to start: those named, or all. 0, or 2 after saying
 * which name is unknown. */
static int select_adapters(gw_gateway_t *gw, const gw_probe_opts_t *o, bool *want)
{
    for (size_t i = 0; i < gw->n_ctxs; i++)
        want[i] = o->n_adapters == 0;
    for (size_t k = 0; k < o->n_adapters; k++) {
        size_t i;

        for (i = 0; i < gw->n_ctxs; i++)
            if (strcmp(gw->ctxs[i]->cfg->name, o->adapters[k]) == 0)
                break;
        if (i == gw->n_ctxs) {
            fprintf(stderr, "sensorbridge: %s has no adapter named '%s' (adapters:", gw->cfg->path,
                    o->adapters[k]);
            for (i = 0; i < gw->n_ctxs; i++)
                fprintf(stderr, "%s %s", i ? "," : "", gw->ctxs[i]->cfg->name);
            fprintf(stderr, ")\n");
            return 2;
        }
        want[i] = true;
    }
    return 0;
}

static void free_rows(struct gw_probe *p)
{
    for (size_t i = 0; i < p->n_rows; i++) {
        row_t *r = &p->rows[i];

        free(r->device);
        free(r->sensor);
        free(r->value);
        free(r->error);
        free(r->raw);
        free(r->topic);
        free(r->payload);
    }
    free(p->rows);
}

int gw_gateway_test(gw_gateway_t *gw, const gw_probe_opts_t *o)
{
    struct gw_probe p = {.o = o, .gw = gw, .listening = true};
    bool *want = calloc(gw->n_ctxs ? gw->n_ctxs : 1, sizeof(*want));
    uint64_t start = gw_clock_now_ms(), wait = 0;
    int rc;

    if (!want)
        return 1;
    if ((rc = select_adapters(gw, o, want)) != 0) {
        free(want);
        return rc;
    }
    gw->probe = &p;
    gw_timer_init(&p.listen_timer, listen_over, &p);
    gw_timer_init(&p.hard_timer, hard_deadline, &p);
    gw_loop_on_tick(gw->loop, on_tick, &p);
    gw_loop_on_signal(gw->loop, on_signal, &p);
    for (size_t i = 0; i < gw->n_ctxs; i++) {
        gw_ctx_t *c = gw->ctxs[i];

        if (!want[i])
            continue;
        if (gw_ctx_start(c) != 0) {
            rc = 1;
            break;
        }
        c->tested = true;
        if (c->ops->longest_wait_ms && c->ops->longest_wait_ms(c->self) > wait)
            wait = c->ops->longest_wait_ms(c->self);
    }
    free(want);
    if (rc == 0) {
        /* Bounded: --seconds for what only listens, plus the longest time
         * an adapter that reads once may take. */
        gw_timer_start(gw->loop, &p.listen_timer, start + o->seconds_ms);
        gw_timer_start(gw->loop, &p.hard_timer, start + o->seconds_ms + wait);
        if (gw_loop_run(gw->loop) != 0)
            rc = 1;
    }
    for (size_t i = gw->n_ctxs; i-- > 0;) /* what is not read yet is reported */
        if (gw->ctxs[i]->started) {
            gw->ctxs[i]->ops->stop(gw->ctxs[i]->self);
            gw->ctxs[i]->started = false;
        }
    gw_timer_stop(gw->loop, &p.listen_timer);
    gw_timer_stop(gw->loop, &p.hard_timer);
    if (rc == 0) {
        sort_gw = gw;
        if (p.n_rows)
            qsort(p.rows, p.n_rows, sizeof(*p.rows), by_place);
        if (o->json)
            print_json(&p);
        else
            print_table(&p);
        fflush(stdout);
        rc = summarize(&p, o->json ? stderr : stdout, gw_clock_now_ms() - start);
    }
    gw->probe = NULL;
    free_rows(&p);
    return rc;
}
