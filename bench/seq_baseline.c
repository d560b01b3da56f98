/*
 * seq_baseline: the classic blocking design, for comparison with
 * sensorbridge's single event loop (bench/fanin, part c).
 *
 * Opens N libmodbus TCP contexts to one Modbus TCP server (normally
 * tests/peers/modbus_sim, where every connection is one device) and reads
 * them one after another, each read blocking until its answer arrives:
 *
 *     for (;;) for (i = 0; i < N; i++) modbus_read_registers(dev[i], ...);
 *
 * One cycle (every device read once) therefore takes N x the device latency.
 * Every cycle's duration is printed on stderr, and at the end one JSON line
 * on stdout:
 *
 *   {"devices":N,"cycles":C,"cycle_ms_median":M,"cycle_ms_min":A,
 *    "cycle_ms_max":B,"read_ms_median":R,"reads_ok":K,"errors":E}
 *
 * libmodbus waits with select(), so no descriptor may reach FD_SETSIZE
 * (1024); N is limited accordingly.
 *
 * Usage: seq_baseline --port P [--host H] [--devices N] [--cycles C]
 *                     [--address A] [--timeout-ms T]
 * Exit status: 0 when every read succeeded, 1 when some failed, 2 on bad
 * arguments or when a device cannot be connected.
 */
#include <errno.h>
#include <modbus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#define MAX_DEVICES 1000

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int usage(void)
{
    fprintf(stderr, "usage: seq_baseline --port P [--host H] [--devices N] [--cycles C] "
                    "[--address A] [--timeout-ms T]\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1, devices = 10, cycles = 5, address = 1, timeout_ms = 2000;
    modbus_t **dev;
    double *cycle_ms, *read_ms;
    long reads_ok = 0, errors = 0, bad_values = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long *target = NULL, lo = 0, hi = 0;

        if (i + 1 >= argc)
            return usage();
        if (strcmp(a, "--host") == 0) {
            host = argv[++i];
            continue;
        }
        if (strcmp(a, "--port") == 0)
            target = &port, lo = 1, hi = 65535;
        else if (strcmp(a, "--devices") == 0)
            target = &devices, lo = 1, hi = MAX_DEVICES;
        else if (strcmp(a, "--cycles") == 0)
            target = &cycles, lo = 1, hi = 1000000;
        else if (strcmp(a, "--address") == 0)
            target = &address, lo = 0, hi = 65535;
        else if (strcmp(a, "--timeout-ms") == 0)
            target = &timeout_ms, lo = 1, hi = 600000;
        else
            return usage();
        if (parse_long(argv[++i], lo, hi, target) != 0) {
            fprintf(stderr, "seq_baseline: bad value for %s: %s (%ld..%ld)\n", a, argv[i], lo, hi);
            return 2;
        }
    }
    if (port < 0)
        return usage();

    dev = calloc((size_t)devices, sizeof(*dev));
    cycle_ms = calloc((size_t)cycles, sizeof(*cycle_ms));
    read_ms = calloc((size_t)(devices * cycles), sizeof(*read_ms));
    if (!dev || !cycle_ms || !read_ms) {
        fprintf(stderr, "seq_baseline: out of memory\n");
        return 2;
    }
    for (long i = 0; i < devices; i++) {
        dev[i] = modbus_new_tcp(host, (int)port);
        if (!dev[i] || modbus_connect(dev[i]) != 0) {
            fprintf(stderr, "seq_baseline: device %ld: cannot connect to %s:%ld: %s\n", i, host,
                    port, modbus_strerror(errno));
            rc = 2;
            goto out;
        }
        if (modbus_get_socket(dev[i]) >= FD_SETSIZE) {
            fprintf(stderr, "seq_baseline: device %ld: fd %d is beyond select()'s FD_SETSIZE\n", i,
                    modbus_get_socket(dev[i]));
            rc = 2;
            goto out;
        }
        modbus_set_slave(dev[i], 1);
        modbus_set_response_timeout(dev[i], (uint32_t)(timeout_ms / 1000),
                                    (uint32_t)(timeout_ms % 1000) * 1000);
    }

    for (long c = 0; c < cycles; c++) {
        double start = now_ms();

        for (long i = 0; i < devices; i++) {
            uint16_t v = 0;
            double t0 = now_ms();

            if (modbus_read_registers(dev[i], (int)address, 1, &v) == 1) {
                reads_ok++;
                if (v != (uint16_t)address) /* modbus_sim: holding register a reads a */
                    bad_values++;
            } else {
                errors++;
                fprintf(stderr, "seq_baseline: device %ld: read failed: %s\n", i,
                        modbus_strerror(errno));
                modbus_flush(dev[i]);
            }
            read_ms[c * devices + i] = now_ms() - t0;
        }
        cycle_ms[c] = now_ms() - start;
        fprintf(stderr, "seq_baseline: cycle %ld: %.1f ms for %ld devices\n", c + 1, cycle_ms[c],
                devices);
    }

    {
        double lo = cycle_ms[0], hi = cycle_ms[0];

        for (long c = 1; c < cycles; c++) {
            lo = cycle_ms[c] < lo ? cycle_ms[c] : lo;
            hi = cycle_ms[c] > hi ? cycle_ms[c] : hi;
        }
        printf("{\"devices\":%ld,\"cycles\":%ld,\"cycle_ms_median\":%.3f,\"cycle_ms_min\":%.3f,"
               "\"cycle_ms_max\":%.3f,\"read_ms_median\":%.3f,\"reads_ok\":%ld,\"errors\":%ld,"
               "\"bad_values\":%ld}\n",
               devices, cycles, median(cycle_ms, (size_t)cycles), lo, hi,
               median(read_ms, (size_t)(devices * cycles)), reads_ok, errors, bad_values);
        fflush(stdout);
    }
    rc = errors || bad_values ? 1 : 0;
out:
    for (long i = 0; i < devices; i++) {
        if (dev[i]) {
            modbus_close(dev[i]);
            modbus_free(dev[i]);
        }
    }
    free(dev);
    free(cycle_ms);
    free(read_ms);
    return rc;
}
