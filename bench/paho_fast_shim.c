/*
 * paho_fast_shim: a what-if for bench/throughput and bench/callgrind, linked
 * only into the bench variant `sensorbridge_pahofast`.
 *
 * Debian's Paho MQTT C (1.3.11/1.3.12) is built without
 * PAHO_HIGH_PERFORMANCE, so every Paho function entry and exit runs
 * StackTrace_entry/StackTrace_exit (a global mutex, a scan of the thread
 * table, a strncpy of the function name) and every Paho allocation runs
 * through mymalloc/myfree (another global mutex and a balanced-tree insert or
 * delete to track the block). A Paho built with -DPAHO_HIGH_PERFORMANCE=TRUE
 * compiles both away. This file approximates that build without rebuilding
 * Paho: the variants (sensorbridge_pahofast, ceiling_pub_fast) link this
 * object and Debian's static Paho archive; these definitions satisfy every
 * reference to the tracing and tracking functions, so the archive's
 * StackTrace.c.o and Heap.c.o are never linked in. Nothing else in Paho
 * changes.
 */
#include <stdlib.h>

/* Paho's own prototypes (StackTrace.h, Heap.h) are not installed. */
void StackTrace_entry(const char *name, int line, int trace_level);
void StackTrace_exit(const char *name, int line, void *return_value, int trace_level);
void *mymalloc(char *file, int line, size_t size);
void *myrealloc(char *file, int line, void *p, size_t size);
void myfree(char *file, int line, void *p);
int Heap_initialize(void);
void Heap_terminate(void);

void StackTrace_entry(const char *name, int line, int trace_level)
{
    (void)name;
    (void)line;
    (void)trace_level;
}

void StackTrace_exit(const char *name, int line, void *return_value, int trace_level)
{
    (void)name;
    (void)line;
    (void)return_value;
    (void)trace_level;
}

void *mymalloc(char *file, int line, size_t size)
{
    (void)file;
    (void)line;
    return malloc(size);
}

void *myrealloc(char *file, int line, void *p, size_t size)
{
    (void)file;
    (void)line;
    return realloc(p, size);
}

void myfree(char *file, int line, void *p)
{
    (void)file;
    (void)line;
    free(p);
}

int Heap_initialize(void)
{
    return 0;
}

void Heap_terminate(void)
{
}
