/*
 * libFuzzer target for the configuration loader: arbitrary bytes as a YAML
 * file through cfg_load_string(), and when that accepts them, the adapters
 * created as `sensorbridge --check-config` creates them (gw_gateway_new with
 * check_only: every adapter's create() reads its own keys, unknown keys are
 * checked, the YAML document is released), then everything freed. ASan and
 * LeakSanitizer catch what leaks or overruns; the checks below abort when
 * an error is reported without a message, or a message without its
 * "FILE:LINE:COLUMN: " position.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "gateway/error.h"
#include "gateway/gateway.h"
#include "gateway/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.yaml"

static void check(int ok)
{
    if (!ok)
        abort();
}

/* An error names the file, a 1-based line and column, and says something. */
static void check_error(int rc, const cfg_error_t *err)
{
    int line = 0, column = 0, n = 0;

    if (rc == -ENOMEM && err->text[0] == '\0')
        return; /* the caller says "out of memory" */
    check(rc == -GW_ECONFIG || rc == -ENOMEM);
    check(strncmp(err->text, NAME ":", strlen(NAME ":")) == 0);
    check(sscanf(err->text + strlen(NAME ":"), "%d:%d: %n", &line, &column, &n) == 2 && n > 0);
    check(line >= 1 && column >= 1 && err->line == line && err->column == column);
    check(err->msg[0] != '\0' && strcmp(err->text + strlen(NAME ":") + n, err->msg) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERROR); /* adapters may warn at create(); keep the output readable */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg_t *cfg = NULL;
    cfg_error_t err;
    gw_gateway_t *gw = NULL;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = cfg_load_string(NAME, (const char *)data, size, &cfg, &err);
    if (rc != 0) {
        check(cfg == NULL);
        check_error(rc, &err);
        return 0;
    }
    check(cfg != NULL && cfg->n_adapters > 0 && cfg->adapters != NULL);
    for (size_t i = 0; i < cfg->n_adapters; i++)
        check(cfg->adapters[i].name && cfg->adapters[i].type && cfg->adapters[i].node);
    memset(&err, 0, sizeof(err));
    rc = gw_gateway_new(cfg, true, &gw, &err); /* takes cfg, even on failure */
    if (rc != 0) {
        check(gw == NULL);
        check_error(rc, &err);
        return 0;
    }
    check(gw_gateway_config(gw) == cfg);
    for (size_t i = 0; i < cfg->n_adapters; i++)
        check(cfg->adapters[i].node == NULL); /* the document was released */
    gw_gateway_free(gw);
    return 0;
}
