/*
 * sensorbridge: command line, configuration, start-up and exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/config.h"
#include "gateway/error.h"
#include "gateway/gateway.h"
#include "gateway/log.h"
#include "gateway/paho.h"

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: sensorbridge [OPTION]...\n"
        "Read field devices and simulated sensors and publish their readings to an MQTT\n"
        "broker as JSON.\n"
        "\n"
        "  -c, --config FILE      configuration file (default: " CFG_DEFAULT_PATH ")\n"
        "      --check-config     validate the configuration, print a one-line summary\n"
        "                         and exit (0: valid, 1: invalid)\n"
        "      --test             read every point once without a broker and print a\n"
        "                         table of the readings (exit status 0: all good, 1: a\n"
        "                         point read bad or a device did not answer, 2: a bad\n"
        "                         configuration); devices that send on their own are\n"
        "                         heard for --seconds\n"
        "      --adapter NAME     with --test: only this adapter (repeatable)\n"
        "      --seconds N        with --test: how long to listen (default 5)\n"
        "      --json             with --test: JSON lines as they would be published\n"
        "  -l, --log-level LEVEL  error, warn, info or debug (overrides gateway.log_level)\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and the MQTT client library, and exit\n"
        "\n"
        "Without --config and without " CFG_DEFAULT_PATH ", sensorbridge runs a\n"
        "built-in configuration: 4 simulated sensors publishing to tcp://127.0.0.1:1883.\n"
        "Readings are published on sensorbridge/<gateway>/<adapter>/<sensor>; watch them\n"
        "with: mosquitto_sub -t 'sensorbridge/#' -v\n"
        "\n"
        "SIGTERM or SIGINT stops it after delivering what is queued (gateway.shutdown_timeout).\n"
        "Exit status: 0 on a clean stop, 1 on a configuration or start-up error, 2 on\n"
        "wrong usage.\n");
}

typedef struct {
    const char *config_path; /* NULL: the default path, else the built-in default */
    bool check_only;
    bool test;
    bool json;
    const char *seconds;
    const char **adapters; /* --adapter, in argv */
    size_t n_adapters;
    const char *log_level;
} opts_t;

/* "--seconds N": a whole number of seconds, 1 to 3600. */
static int parse_seconds(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < 1 || v > 3600) {
        fprintf(stderr,
                "sensorbridge: --seconds takes a whole number of seconds from 1 to "
                "3600, not '%s'\n",
                s);
        return -EINVAL;
    }
    *ms = v * 1000;
    return 0;
}

/* Fills *o from the command line; prints --help or --version and exits.
 * 0, or -EINVAL after telling the user what is wrong. */
static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"test", no_argument, NULL, 'T'},
        {"adapter", required_argument, NULL, 'A'},
        {"seconds", required_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'J'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "c:l:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'C':
            o->check_only = true;
            break;
        case 'l':
            o->log_level = optarg;
            break;
        case 'T':
            o->test = true;
            break;
        case 'A':
            o->adapters[o->n_adapters++] = optarg; /* argc slots: never full */
            break;
        case 'S':
            o->seconds = optarg;
            break;
        case 'J':
            o->json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("sensorbridge %s\n%s\n", SB_VERSION, gw_paho_describe());
            exit(0);
        default:
            fprintf(stderr, "Try 'sensorbridge --help' for more information.\n");
            return -EINVAL;
        }
    }
    /* `--check-config FILE` reads naturally; accept the file as an operand. */
    if (optind < argc && o->check_only && !o->config_path)
        o->config_path = argv[optind++];
    if (!o->test && (o->n_adapters || o->seconds || o->json)) {
        fprintf(stderr, "sensorbridge: --adapter, --seconds and --json go with --test\n");
        fprintf(stderr, "Try 'sensorbridge --help' for more information.\n");
        return -EINVAL;
    }
    if (o->test && o->check_only) {
        fprintf(stderr, "sensorbridge: --test and --check-config exclude each other\n");
        return -EINVAL;
    }
    if (optind < argc) {
        fprintf(stderr, "sensorbridge: unexpected argument '%s'\n", argv[optind]);
        fprintf(stderr, "Try 'sensorbridge --help' for more information.\n");
        return -EINVAL;
    }
    return 0;
}

/* The file SIGHUP reloads: NULL when running the built-in default. */
static const char *source_path(const opts_t *o)
{
    if (o->config_path)
        return o->config_path;
    return access(CFG_DEFAULT_PATH, F_OK) == 0 ? CFG_DEFAULT_PATH : NULL;
}

static int load_config(const opts_t *o, cfg_t **cfg, cfg_error_t *err)
{
    if (o->config_path)
        return cfg_load_file(o->config_path, cfg, err);
    if (access(CFG_DEFAULT_PATH, F_OK) == 0 || errno != ENOENT)
        return cfg_load_file(CFG_DEFAULT_PATH, cfg, err);
    gw_info("no configuration at " CFG_DEFAULT_PATH "; running the built-in default: "
            "4 simulated sensors publishing to tcp://127.0.0.1:1883");
    return cfg_load_string("<built-in default>", cfg_builtin_default, strlen(cfg_builtin_default),
                           cfg, err);
}

/* Every device holds a socket: allow as many descriptors as the hard limit
 * permits (the soft default of 1024 would cap the number of devices). */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            gw_warn("cannot raise the open file limit: %s", strerror(errno));
    }
}

static void print_summary(const cfg_t *cfg)
{
    printf("%s: OK: gateway '%s', broker %s, %zu adapter%s:", cfg->path, cfg->gateway.id,
           cfg->mqtt.uri, cfg->n_adapters, cfg->n_adapters == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->n_adapters; i++)
        printf("%s %s (%s)", i ? "," : "", cfg->adapters[i].name, cfg->adapters[i].type);
    printf("\n");
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    gw_probe_opts_t probe = {.seconds_ms = 5000};
    cfg_t *cfg = NULL;
    cfg_error_t err = {0};
    gw_gateway_t *gw = NULL;
    gw_log_level_t level;
    int rc = 1;

    gw_log_init();
    if (!(o.adapters = calloc((size_t)argc, sizeof(*o.adapters))))
        return 1;
    if (parse_args(argc, argv, &o) != 0 ||
        (o.seconds && parse_seconds(o.seconds, &probe.seconds_ms) != 0)) {
        free(o.adapters);
        return 2;
    }
    if (o.log_level && gw_log_level_parse(o.log_level, &level) != 0) {
        fprintf(stderr, "sensorbridge: unknown log level '%s' (error, warn, info, debug)\n",
                o.log_level);
        free(o.adapters);
        return 2;
    }
    if (load_config(&o, &cfg, &err) != 0 ||
        gw_gateway_new(cfg, o.check_only, &gw, &err) != 0) { /* takes cfg */
        fprintf(stderr, "%s\n", err.text[0] ? err.text : "sensorbridge: out of memory");
        rc = o.test ? 2 : 1;
        goto out;
    }
    /* --test: the table is the output; the log says only what went wrong. */
    gw_log_set_level(o.log_level ? level : o.test ? GW_LOG_WARN : cfg->gateway.log_level);
    if (o.check_only) {
        print_summary(cfg);
        rc = 0;
        goto out;
    }
    if (o.test) {
        probe.adapters = o.adapters;
        probe.n_adapters = o.n_adapters;
        probe.json = o.json;
        raise_fd_limit();
        rc = gw_gateway_test(gw, &probe);
        goto out;
    }
    raise_fd_limit();
    gw_debug("sensorbridge %s, MQTT client: %s", SB_VERSION, gw_paho_describe());
    rc = gw_gateway_run(gw, source_path(&o));
out:
    gw_gateway_free(gw);
    free(o.adapters);
    return rc;
}
