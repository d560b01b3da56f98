/*
 * paho_noinit: a what-if for bench/footprint, linked only into the bench
 * variant `sensorbridge_noinit`: before main(), tell Paho not to initialise
 * OpenSSL (MQTTAsync_global_init with do_openssl_init = 0). OpenSSL 3
 * initialises itself on first use, so a TLS connection still works; a plain
 * tcp:// connection then never touches libcrypto beyond loading it.
 */
#include <MQTTAsync.h>

__attribute__((constructor)) static void paho_noinit(void)
{
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;

    io.do_openssl_init = 0;
    MQTTAsync_global_init(&io);
}
