/*
 * bench/rtu_libmodbus: the other way to read an RTU bus, for bench/rtu to
 * compare with the gateway: libmodbus's own RTU client, blocking, polling
 * unit ids 1..N back to back (one read of COUNT holding registers each)
 * for SECONDS. This is what a worker thread running libmodbus would do for
 * one bus. Prints one line:
 *
 *   reads=R errors=E seconds=S cpu_s=C
 *
 * usage: rtu_libmodbus PORT BAUD UNITS COUNT SECONDS
 */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    uint16_t regs[125];
    unsigned long reads = 0, errors = 0;
    modbus_t *ctx;
    double start, cpu0, seconds;
    int baud, units, count;

    if (argc != 6) {
        fprintf(stderr, "usage: rtu_libmodbus PORT BAUD UNITS COUNT SECONDS\n");
        return 2;
    }
    baud = atoi(argv[2]);
    units = atoi(argv[3]);
    count = atoi(argv[4]);
    seconds = atof(argv[5]);
    if (baud <= 0 || units < 1 || units > 247 || count < 1 || count > 125 || seconds <= 0) {
        fprintf(stderr, "rtu_libmodbus: bad arguments\n");
        return 2;
    }
    ctx = modbus_new_rtu(argv[1], baud, 'N', 8, 1);
    if (!ctx || modbus_connect(ctx) != 0) {
        fprintf(stderr, "rtu_libmodbus: %s: %s\n", argv[1], modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    modbus_set_response_timeout(ctx, 0, 500000);
    start = now_s();
    cpu0 = cpu_s();
    while (now_s() - start < seconds) {
        for (int u = 1; u <= units; u++) {
            modbus_set_slave(ctx, u);
            if (modbus_read_registers(ctx, 0, count, regs) == count)
                reads++;
            else
                errors++;
        }
    }
    printf("reads=%lu errors=%lu seconds=%.3f cpu_s=%.4f\n", reads, errors, now_s() - start,
           cpu_s() - cpu0);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
