/*
 * The serial port of a Modbus RTU bus: opened non-blocking for the loop,
 * raw 8-bit (or 7-bit) characters at the configured speed, parity and stop
 * bits, and, when asked, the kernel's RS-485 mode that switches the line
 * driver on while sending (TIOCSRS485). Each setting is applied on its own,
 * so a port that refuses one (a pty refuses parity; the Pi's mini-UART too)
 * is reported by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "adapters/modbus_tcp.h"
#include "gateway/log.h"

static const struct {
    uint32_t baud;
    speed_t speed;
} speeds[] = {
    {1200, B1200},     {2400, B2400},     {4800, B4800},     {9600, B9600},
    {19200, B19200},   {38400, B38400},   {57600, B57600},   {115200, B115200},
    {230400, B230400}, {460800, B460800}, {921600, B921600},
};

static speed_t speed_of(uint32_t baud)
{
    for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
        if (speeds[i].baud == baud)
            return speeds[i].speed;
    return B0;
}

bool mbl_serial_baud_ok(uint32_t baud)
{
    return speed_of(baud) != B0;
}

/* Applies tio and reads it back: the driver may ignore what it cannot do. */
static int apply(int fd, struct termios *tio, tcflag_t mask)
{
    struct termios got;

    if (tcsetattr(fd, TCSANOW, tio) != 0)
        return -errno;
    if (tcgetattr(fd, &got) != 0)
        return -errno;
    if ((got.c_cflag & mask) != (tio->c_cflag & mask))
        return -EINVAL;
    return 0;
}

/* The kernel's RS-485 mode; a driver that has none is said once, and the
 * bus runs without it (many USB adapters switch direction themselves). */
static void set_rs485(mbl_t *l, int fd)
{
    const mbl_serial_t *s = &l->serial;
    struct serial_rs485 rs;

    memset(&rs, 0, sizeof(rs));
    rs.flags =
        SER_RS485_ENABLED | (s->rts_on_send ? SER_RS485_RTS_ON_SEND : SER_RS485_RTS_AFTER_SEND);
    rs.delay_rts_before_send = (uint32_t)s->rts_before_ms;
    rs.delay_rts_after_send = (uint32_t)s->rts_after_ms;
    if (ioctl(fd, TIOCSRS485, &rs) == 0) {
        gw_info("adapter '%s': %s: RS-485 mode on (RTS %s while sending)", gw_ctx_name(l->ctx),
                s->path, s->rts_on_send ? "high" : "low");
        return;
    }
    if (!l->rs485_warned)
        gw_warn("adapter '%s': %s: the driver refuses RS-485 mode (%s); running without it: "
                "the adapter must switch direction by itself",
                gw_ctx_name(l->ctx), s->path, strerror(errno));
    l->rs485_warned = true;
}

static int refused(mbl_t *l, int fd, const char *setting, int err, const char **cause)
{
    snprintf(l->error_buf, sizeof(l->error_buf), "the port refuses %s: %s", setting,
             strerror(-err));
    close(fd);
    *cause = "port settings refused";
    return -1;
}

int mbl_serial_open(mbl_t *l, const char **cause)
{
    const mbl_serial_t *s = &l->serial;
    struct termios tio;
    char setting[48];
    speed_t speed = speed_of(s->baud);
    int fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        snprintf(l->error_buf, sizeof(l->error_buf), "cannot open the port: %s", strerror(errno));
        *cause = "port unavailable";
        return -1;
    }
    /* One master per bus: a second program opening the port would interleave
     * its requests with ours. */
    if (ioctl(fd, TIOCEXCL) != 0)
        gw_debug("adapter '%s': %s: no exclusive access: %s", gw_ctx_name(l->ctx), s->path,
                 strerror(errno));
    if (tcgetattr(fd, &tio) != 0) {
        snprintf(l->error_buf, sizeof(l->error_buf), "not a serial port: %s", strerror(errno));
        close(fd);
        *cause = "not a serial port";
        return -1;
    }
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    snprintf(setting, sizeof(setting), "baud %u", s->baud);
    if ((rc = apply(fd, &tio, CBAUD)) != 0)
        return refused(l, fd, setting, rc, cause);
    tio.c_cflag = (tio.c_cflag & ~(tcflag_t)CSIZE) | (s->data_bits == 7 ? CS7 : CS8);
    snprintf(setting, sizeof(setting), "data_bits %u", s->data_bits);
    if ((rc = apply(fd, &tio, CSIZE)) != 0)
        return refused(l, fd, setting, rc, cause);
    if (s->stop_bits == 2)
        tio.c_cflag |= CSTOPB;
    snprintf(setting, sizeof(setting), "stop_bits %u", s->stop_bits);
    if ((rc = apply(fd, &tio, CSTOPB)) != 0)
        return refused(l, fd, setting, rc, cause);
    if (s->parity != 'N') {
        tio.c_cflag |= PARENB | (s->parity == 'O' ? PARODD : 0);
        snprintf(setting, sizeof(setting), "parity %s", s->parity == 'O' ? "odd" : "even");
        if ((rc = apply(fd, &tio, PARENB | PARODD)) != 0)
            return refused(l, fd, setting, rc, cause);
    }
    if (s->rs485)
        set_rs485(l, fd);
    tcflush(fd, TCIOFLUSH);
    return fd;
}

void mbl_serial_flush(mbl_t *l)
{
    if (l->fd >= 0)
        tcflush(l->fd, TCIFLUSH);
}
