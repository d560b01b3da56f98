/*
 * Modbus points: what one configured value is (table, address, type, order,
 * bit, scale, offset), how it decodes from registers and encodes back into
 * them for a write, and how the points of one device are batched into as few
 * read requests as possible. Pure logic, no I/O.
 */
#ifndef ADP_MODBUS_POINT_H
#define ADP_MODBUS_POINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MB_TABLE_COIL, MB_TABLE_DISCRETE, MB_TABLE_HOLDING, MB_TABLE_INPUT } mb_table_t;

typedef enum {
    MB_TYPE_BOOL,
    MB_TYPE_INT16,
    MB_TYPE_UINT16,
    MB_TYPE_INT32,
    MB_TYPE_UINT32,
    MB_TYPE_INT64,
    MB_TYPE_UINT64,
    MB_TYPE_FLOAT32,
    MB_TYPE_FLOAT64,
    MB_TYPE_STRING,
} mb_type_t;

/*
 * Byte order of multi-register values, named for 4 bytes A B C D as the
 * value's big-endian bytes:
 *   ABCD  registers most significant first, bytes big-endian (Modbus default)
 *   CDAB  word-swapped: registers least significant first
 *   BADC  byte-swapped: the two bytes of every register swapped
 *   DCBA  little-endian: both
 * The same four rules apply to 64-bit values, whose 8-byte names
 * ABCDEFGH, GHEFCDAB, BADCFEHG and HGFEDCBA are accepted as synonyms.
 * For strings, BADC/DCBA mean the two characters of each register are
 * swapped (registers are never reversed). A one-register int16/uint16 is
 * byte-swapped by BADC/DCBA and read as is by ABCD/CDAB. Bool ignores the
 * order: its bit numbers name bits of the register value.
 */
typedef enum { MB_ORDER_ABCD, MB_ORDER_CDAB, MB_ORDER_BADC, MB_ORDER_DCBA } mb_order_t;

/* Name parsing for configuration; return 0 or -EINVAL (also for NULL),
 * leaving *out untouched on failure. Table and type names are lower case only
 * ("holding", "float32"); order names are accepted in either case ("CDAB",
 * "cdab"). mb_table_name() returns "unknown" for a value outside the enum. */
int mb_table_parse(const char *s, mb_table_t *out);
int mb_type_parse(const char *s, mb_type_t *out);
int mb_order_parse(const char *s, mb_order_t *out);
const char *mb_table_name(mb_table_t t);

/* The function code that reads a table (0 for a value outside the enum). */
uint8_t mb_table_fc(mb_table_t t);
bool mb_table_is_bits(mb_table_t t);

typedef struct {
    mb_table_t table;
    uint16_t address;
    mb_type_t type;
    mb_order_t order;
    int bit;         /* -1, or 0..15: one bit of a register (type bool) */
    uint16_t length; /* registers, for strings */
    double scale;    /* 1.0 */
    double offset;   /* 0.0 */
} mb_point_t;

/* Registers (or bits, for coil/discrete tables) the point occupies. */
uint16_t mb_point_width(const mb_point_t *p);

/* A decoded value. */
typedef struct {
    enum { MB_VAL_BOOL, MB_VAL_INT, MB_VAL_UINT, MB_VAL_DOUBLE, MB_VAL_STRING } kind;
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    char s[2 * 125 + 1]; /* NUL-terminated; trailing NULs and spaces trimmed */
} mb_value_t;

/*
 * Decodes a register-table point from its registers (regs[0] is the register
 * at p->address, host order). Scale and offset apply to numeric types: when
 * scale != 1 or offset != 0 the result is a double (value * scale + offset),
 * otherwise integers stay exact. A string keeps only printable ASCII and
 * valid UTF-8; other bytes (control characters, NULs before the trailing
 * ones) become '?'. regs holds mb_point_width(p) registers; *out is zeroed
 * first. Returns 0; -ERANGE when the device's value has no finite number (a
 * float that is NaN or infinite, or a scaled result that overflows), to be
 * reported as a bad reading; -EINVAL for a point it cannot decode (bit outside
 * -1..15, string length 0 or over 125, type or order outside its enum), which
 * configuration checking should have refused.
 */
int mb_decode_registers(const mb_point_t *p, const uint16_t *regs, mb_value_t *out);

/*
 * The double a person expects to read, as readings publish it. A float32
 * register value is widened to the double closest to its shortest decimal
 * form (123.456f gives 123.456, not 123.45600128173828); a scaled value is
 * rounded to 15 significant digits, below which scale and offset arithmetic
 * only adds noise (1013 * 0.1 gives 101.3). Other doubles are returned as
 * they are.
 */
double mb_published_double(const mb_point_t *p, double d);

/* A bit-table point (coil/discrete) from its bit: always MB_VAL_BOOL, never
 * scaled; *out is zeroed first. */
void mb_decode_bit(const mb_point_t *p, bool bit, mb_value_t *out);

/*
 * A value to write, as an MQTT command gives it. For MB_IN_NUMBER, d is
 * always set; when the JSON text was an integer literal whose magnitude fits
 * in 64 bits, is_int is true and neg and mag give it exactly (a uint64 above
 * 2^53 can only be written that way). For MB_IN_STRING, s holds s_len bytes
 * (no NUL needed), borrowed for the call.
 */
typedef struct {
    enum { MB_IN_BOOL, MB_IN_NUMBER, MB_IN_STRING } kind;
    bool b;
    double d;
    bool is_int;
    bool neg;
    uint64_t mag;
    const char *s;
    size_t s_len;
} mb_input_t;

/*
 * The encoders are the inverse of the decoders above: what they write reads
 * back as the value asked for, or they refuse. They return 0, or a negative
 * errno with *why (when why is not NULL) a short static English sentence for
 * the command's result ("out of range for int16"); *why is NULL on success.
 * -EINVAL: an input of the wrong kind ("expected a number", "expected true or
 * false", "expected a string"), a point that cannot be written ("not
 * writable": input registers and discrete inputs), or the wrong encoder for
 * the point. -ERANGE: a value of the right kind that the point cannot hold
 * (out of range, not a whole number, not finite, finer than the scale, a
 * string too long or with bytes that do not read back). Nothing is written on
 * failure. Any thread.
 *
 * Numbers: without scale and offset, integer types take exactly the integer
 * asked for; with them, raw = (value - offset) / scale rounded to the nearest
 * integer, accepted when it decodes to the value asked for at 15 significant
 * digits (as readings are published). float32 takes the nearest float,
 * float64 the value itself.
 */

/* A holding-register point (any type but a bool that is one bit of a
 * register): fills regs[0..mb_point_width(p)) in the point's order. */
int mb_encode_registers(const mb_point_t *p, const mb_input_t *in, uint16_t *regs,
                        const char **why);

/* A coil: true or false only (coils read as booleans, so numbers are refused). */
int mb_encode_bit(const mb_point_t *p, const mb_input_t *in, bool *bit, const char **why);

/* A bool point of a holding register: *out is the register to write, current
 * (read just before, by the caller) with the point's bit set or cleared; for
 * bit -1 (the whole register) 1 or 0. */
int mb_encode_register_bit(const mb_point_t *p, const mb_input_t *in, uint16_t current,
                           uint16_t *out, const char **why);

/* One planned read request: `count` registers or bits from `address`, and the
 * indices (into the caller's point array) of the points it covers. */
typedef struct {
    mb_table_t table;
    uint16_t address;
    uint16_t count;
    size_t first; /* index into the plan's point index array */
    size_t n_points;
} mb_batch_t;

typedef struct {
    mb_batch_t *batches;
    size_t n_batches;
    size_t *points; /* point indices, grouped by batch */
} mb_plan_t;

/*
 * Merges points of the same table into as few requests as possible: points
 * sorted by address, a request grows while its span stays within
 * max_per_request (registers for register tables, max_bits for bit tables)
 * and the hole to the next point is at most max_gap. Overlapping points share
 * a request. Batches come ordered by table (enum order) then address; within
 * a batch, points are in address order, ties in the caller's order. Returns
 * 0 or -ENOMEM (or -EINVAL if one point is wider than a request, has no
 * width, or runs past address 65535). On error *out is left empty (zeroed),
 * so mb_plan_free() on it is harmless. The caller owns *out until
 * mb_plan_free(), which zeroes it and accepts NULL.
 */
int mb_plan(const mb_point_t *points, size_t n, uint16_t max_per_request, uint16_t max_bits,
            uint16_t max_gap, mb_plan_t *out);
void mb_plan_free(mb_plan_t *plan);

#endif
