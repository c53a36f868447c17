/*
 * The relp output: a RELP client that counts a message as delivered only when the receiver has
 * acknowledged it.
 *
 * Why not librelp's client: its relpCltSendSyslog returns once a message is written and the
 * window has room, not when the message is acknowledged, and librelp offers no call that waits
 * for the acknowledgements or tells which messages are still open (it keeps them, and resends
 * them itself after relpCltReconnect, which is rsyslog omrelp's model: what is in the window is
 * lost when the process stops). The one barrier it has, the "close" handshake run when a client
 * is destroyed, does not report its outcome: a receiver that shuts down answers "close" with
 * "serverclose" and librelp returns without an error (seen in test_relp_receiver_restarts: 2000
 * counted, 1746 arrived). So the client side of RELP is done here; it is small (RFC-like spec in
 * librelp's doc/relp.html): frames "TXNR SP COMMAND SP DATALEN [SP DATA] LF", an "open" with
 * offers, one "syslog" frame per message, each answered by "rsp" with the same TXNR and
 * "200 OK". The receiving side stays on librelp (inputs/relp.c).
 *
 * deliver() sends a batch as "syslog" frames, at most `window` unacknowledged at a time, reads
 * the answers as they come (poll on one non-blocking socket, so neither direction can block
 * the other) and returns when every message of the batch is acknowledged. The session stays
 * open for the next batch. If the session breaks (a reset, "serverclose", no answer within
 * ack_timeout, an answer other than 200), the messages acknowledged so far — the longest
 * acknowledged prefix of the batch — count as delivered, and the rest is offered again on a new
 * session (SL_OUT_RETRY). A message the receiver had taken but whose answer was lost is then
 * sent twice: delivery is at least once, never at most once (docs/tls-relp.md).
 *
 * Concurrency: an instance belongs to one worker thread (output.h); no shared state.
 */
#include "outputs/relp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/netaddr.h"
#include "lib/strbuf.h"
#include "sl_config.h"

#define TXNR_MAX       999999999u /* TXNRs run 1..TXNR_MAX and wrap to 1 */
#define DEFAULT_WINDOW 128
#define CLOSE_WAIT_MS  1000 /* how long a polite close waits for its answer */

typedef struct relp_out {
    sl_relp_output_conf_t conf;
    char *target;
    char host[SL_NETADDR_HOST_MAX + 1];
    char port[8];
    int fd;        /* -1: no session */
    uint32_t txnr; /* the next one to use */
    char *in;      /* received bytes not yet parsed */
    size_t in_len, in_cap;
    sl_strbuf_t out; /* the batch's frames */
    sl_strbuf_t rec;
    size_t *ends; /* end offset of each frame in out */
    bool *acked;
    size_t cap;
    char why[256];    /* why the session ended */
    char logged[320]; /* the last failure logged, to log a lasting one once */
} relp_out_t;

/* ---- Frames ---------------------------------------------------------------------------- */

static ssize_t parse_number(const char *p, size_t len, size_t max_digits, uint64_t *v)
{
    size_t i = 0;
    *v = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (i == max_digits)
            return -EPROTO;
        *v = *v * 10 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == len)
        return 0; /* the number may go on */
    return i == 0 ? -EPROTO : (ssize_t)i;
}

ssize_t sl_relp_parse_frame(const char *buf, size_t len, sl_relp_frame_t *f)
{
    uint64_t v;
    size_t i = 0;
    ssize_t k = parse_number(buf, len, 9, &v);
    if (k <= 0)
        return k;
    f->txnr = (uint32_t)v;
    i = (size_t)k;
    if (buf[i] != ' ')
        return -EPROTO;
    i++;
    size_t c = i;
    while (i < len && ((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= 'A' && buf[i] <= 'Z'))) {
        if (i - c == 32)
            return -EPROTO;
        i++;
    }
    if (i == len)
        return 0;
    if (i == c || buf[i] != ' ')
        return -EPROTO;
    f->cmd = buf + c;
    f->cmd_len = i - c;
    i++;
    k = parse_number(buf + i, len - i, 9, &v);
    if (k <= 0)
        return k;
    if (v > SL_RELP_MAX_RSP)
        return -EPROTO;
    i += (size_t)k;
    f->data_len = (size_t)v;
    f->data = NULL;
    if (v > 0) {
        if (buf[i] != ' ')
            return -EPROTO;
        i++;
        if (len - i < f->data_len + 1)
            return 0;
        f->data = buf + i;
        i += f->data_len;
    } else if (i == len) {
        return 0;
    }
    if (buf[i] != '\n')
        return -EPROTO;
    return (ssize_t)(i + 1);
}

static bool cmd_is(const sl_relp_frame_t *f, const char *name)
{
    return f->cmd_len == strlen(name) && memcmp(f->cmd, name, f->cmd_len) == 0;
}

/* An answer's status: 200 for "200 OK" (and "200 ..."), else the code, or -1. */
static int rsp_code(const sl_relp_frame_t *f)
{
    if (f->data_len < 3)
        return -1;
    int code = 0;
    for (int i = 0; i < 3; i++) {
        if (f->data[i] < '0' || f->data[i] > '9')
            return -1;
        code = code * 10 + (f->data[i] - '0');
    }
    return code;
}

static uint32_t txnr_next(uint32_t t)
{
    return t >= TXNR_MAX ? 1 : t + 1;
}

/* ---- The session ----------------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void session_end(relp_out_t *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    o->in_len = 0;
}

__attribute__((format(printf, 2, 3))) static void fail(relp_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof(o->why), fmt, ap);
    va_end(ap);
}

static void log_failure(relp_out_t *o, const char *what)
{
    char line[sizeof(o->logged)];
    snprintf(line, sizeof(line), "%s: %s", what, o->why[0] ? o->why : "failed");
    if (strcmp(line, o->logged) == 0)
        return;
    snprintf(o->logged, sizeof(o->logged), "%s", line);
    fprintf(stderr, "sluiced: relp to %s: %s\n", o->target, line);
}

/* Appends one frame to out. */
static int put_frame(sl_strbuf_t *out, uint32_t txnr, const char *cmd, const char *data, size_t len)
{
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), "%u %s %zu%s", txnr, cmd, len, len ? " " : "");
    if (sl_strbuf_append(out, hdr, (size_t)h) < 0 ||
        (len && sl_strbuf_append(out, data, len) < 0) || sl_strbuf_putc(out, '\n') < 0)
        return -ENOMEM;
    return 0;
}

/* Reads what the socket has into in. 1: bytes came, 0: none now, -1: closed or broken. */
static int read_some(relp_out_t *o)
{
    if (o->in_cap - o->in_len < 4096) {
        size_t cap = o->in_cap ? o->in_cap * 2 : 16384;
        if (cap > SL_RELP_MAX_RSP * 2 + 4096) {
            fail(o, "the receiver sent more than a RELP answer can hold");
            return -1;
        }
        char *n = realloc(o->in, cap);
        if (!n) {
            fail(o, "out of memory");
            return -1;
        }
        o->in = n;
        o->in_cap = cap;
    }
    ssize_t r = recv(o->fd, o->in + o->in_len, o->in_cap - o->in_len, 0);
    if (r > 0) {
        o->in_len += (size_t)r;
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    fail(o, "%s", r == 0 ? "the receiver closed the connection" : strerror(errno));
    return -1;
}

/* Takes the next whole frame off in: 1 (f set, valid until the next read), 0 (none yet), -1. */
static int next_frame(relp_out_t *o, sl_relp_frame_t *f, size_t *consumed)
{
    ssize_t k = sl_relp_parse_frame(o->in + *consumed, o->in_len - *consumed, f);
    if (k < 0) {
        fail(o, "the receiver sent something that is not RELP");
        return -1;
    }
    if (k == 0)
        return 0;
    *consumed += (size_t)k;
    if (f->txnr == 0 && cmd_is(f, "serverclose")) {
        fail(o, "the receiver closed the session (serverclose)");
        return -1;
    }
    if (!cmd_is(f, "rsp")) {
        fail(o, "unexpected RELP command from the receiver");
        return -1;
    }
    return 1;
}

static void drop_consumed(relp_out_t *o, size_t consumed)
{
    memmove(o->in, o->in + consumed, o->in_len - consumed);
    o->in_len -= consumed;
}

/* Waits for fd to be ready for events until deadline (ms, monotonic). 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* let the read or write report it */
    }
}

/* Sends out[off..end) completely before the deadline. 0 or -1. */
static int send_all(relp_out_t *o, const char *p, size_t len, long deadline)
{
    while (len > 0) {
        ssize_t w = send(o->fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            fail(o, "%s", strerror(errno));
            return -1;
        }
        if (!wait_fd(o->fd, POLLOUT, deadline)) {
            fail(o, "the receiver takes nothing (timed out)");
            return -1;
        }
    }
    return 0;
}

/* Connects (non-blocking, within the connect timeout). 0 or -1 with why. */
static int tcp_connect(relp_out_t *o, long deadline)
{
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fail(o, "%s: %s", o->host, gai_strerror(rc));
        return -1;
    }
    fail(o, "cannot connect");
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            fail(o, "connect: %s", strerror(errno));
            close(fd);
            continue;
        }
        int err = 0;
        socklen_t elen = sizeof(err);
        if (!wait_fd(fd, POLLOUT, deadline) ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
            fail(o, "connect: %s", err ? strerror(err) : "timed out");
            close(fd);
            continue;
        }
        o->fd = fd;
        break;
    }
    freeaddrinfo(res);
    return o->fd >= 0 ? 0 : -1;
}

/* Waits for the answer to txnr before the deadline: its status code (0 when it has none), or
 * -1 when the session is over. f points into the receive buffer until the next read. */
static int wait_rsp(relp_out_t *o, uint32_t txnr, long deadline, sl_relp_frame_t *f)
{
    for (;;) {
        size_t consumed = 0;
        int r = next_frame(o, f, &consumed);
        if (r < 0)
            return -1;
        if (r > 0) {
            if (f->txnr != txnr) {
                fail(o, "an answer to a request never made (txnr %u)", f->txnr);
                return -1;
            }
            int code = rsp_code(f);
            return code < 0 ? 0 : code;
        }
        if (!wait_fd(o->fd, POLLIN, deadline)) {
            fail(o, "no answer from the receiver (timed out)");
            return -1;
        }
        if (read_some(o) < 0)
            return -1;
    }
}

/* Opens a session: connect, "open" with our offers, and the receiver's answer. 0 or -1. */
static int session_open(relp_out_t *o)
{
    static const char offers[] =
        "relp_version=0\nrelp_software=sluice," SL_VERSION "\ncommands=syslog";
    long deadline = now_ms() + o->conf.connect_timeout_ms;
    sl_relp_frame_t f;
    if (tcp_connect(o, deadline) < 0)
        return -1;
    o->txnr = 1;
    o->in_len = 0;
    sl_strbuf_reset(&o->out);
    if (put_frame(&o->out, o->txnr, "open", offers, sizeof(offers) - 1) < 0) {
        fail(o, "out of memory");
        goto fail;
    }
    if (send_all(o, o->out.data, o->out.len, deadline) < 0)
        goto fail;
    int code = wait_rsp(o, o->txnr, deadline, &f);
    if (code < 0)
        goto fail;
    if (code != 200) {
        fail(o, "the receiver refused the session: %.*s", (int)(f.data_len > 80 ? 80 : f.data_len),
             f.data ? f.data : "");
        goto fail;
    }
    /* The answer lists the commands the receiver takes: syslog must be one. */
    bool syslog_ok = false;
    for (size_t i = 0; f.data && i + 16 <= f.data_len + 1 && !syslog_ok; i++) {
        if ((i == 0 || f.data[i - 1] == '\n') && f.data_len - i >= 9 &&
            memcmp(f.data + i, "commands=", 9) == 0) {
            size_t j = i + 9;
            while (j < f.data_len && f.data[j] != '\n') {
                size_t s = j;
                while (j < f.data_len && f.data[j] != ',' && f.data[j] != '\n')
                    j++;
                if (j - s == 6 && memcmp(f.data + s, "syslog", 6) == 0)
                    syslog_ok = true;
                if (j < f.data_len && f.data[j] == ',')
                    j++;
            }
        }
    }
    if (!syslog_ok) {
        fail(o, "the receiver does not take the syslog command");
        goto fail;
    }
    o->in_len = 0; /* the answer is the only thing sent so far */
    o->txnr = txnr_next(o->txnr);
    return 0;
fail:
    session_end(o);
    return -1;
}

/* Before a batch: a receiver may have ended an idle session (serverclose, or a plain close). */
static void check_idle_session(relp_out_t *o)
{
    struct pollfd p = {.fd = o->fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 1)
        return;
    sl_relp_frame_t f;
    size_t consumed = 0;
    int r = read_some(o);
    if (r < 0 || next_frame(o, &f, &consumed) != 0 || o->in_len > 0)
        session_end(o); /* nothing is expected between batches */
}

/* ---- The output ------------------------------------------------------------------------ */

int sl_relp_output_create(const sl_relp_output_conf_t *conf, void **inst, char *err, size_t errlen)
{
    sl_hostport_t hp;
    const char *why = NULL;
    if (sl_netaddr_parse(conf->target, -1, &hp, &why) < 0 || hp.any) {
        snprintf(err, errlen, "target '%s': %s", conf->target, why ? why : "expected host:port");
        return -EINVAL;
    }
    relp_out_t *o = calloc(1, sizeof(*o));
    if (!o || !(o->target = strdup(conf->target))) {
        free(o);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    o->conf = *conf;
    o->conf.target = o->target;
    o->fd = -1;
    snprintf(o->host, sizeof(o->host), "%s", hp.host);
    snprintf(o->port, sizeof(o->port), "%u", (unsigned)hp.port);
    if (o->conf.connect_timeout_ms <= 0)
        o->conf.connect_timeout_ms = 5000;
    if (o->conf.ack_timeout_ms <= 0)
        o->conf.ack_timeout_ms = 90000;
    if (o->conf.window == 0)
        o->conf.window = DEFAULT_WINDOW;
    *inst = o;
    return 0;
}

/* The record without its final LF: a RELP frame carries one message. */
static int format_record(relp_out_t *o, const sl_msg_t *m)
{
    sl_strbuf_reset(&o->rec);
    if (sl_template_format(o->conf.tmpl, m, &o->rec) < 0)
        return -ENOMEM;
    if (o->rec.len && o->rec.data[o->rec.len - 1] == '\n')
        o->rec.len--;
    return 0;
}

static int grow(relp_out_t *o, size_t n)
{
    if (n <= o->cap)
        return 0;
    size_t *e = realloc(o->ends, n * sizeof(*e));
    if (e)
        o->ends = e;
    bool *a = realloc(o->acked, n * sizeof(*a));
    if (a)
        o->acked = a;
    if (!e || !a)
        return -ENOMEM;
    o->cap = n;
    return 0;
}

/*
 * With every frame of the batch sent, nothing carries our acknowledgements: the kernel delays
 * them (up to 40 ms on Linux), and a receiver that writes its answers in small pieces with
 * Nagle's algorithm on (librelp does) holds back every answer after the first until that
 * acknowledgement comes. Each batch's end waited for it: 100,000 messages between two sluiceds
 * took 5.4 s. So once the batch is out, what was read is acknowledged at once.
 */
static void quick_ack(relp_out_t *o)
{
#if defined(TCP_QUICKACK)
    int one = 1;
    setsockopt(o->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void)o;
#endif
}

/*
 * Sends msgs as syslog frames and collects their answers. Returns the length of the longest
 * acknowledged prefix; n means all. On a shorter result the session has ended (why is set).
 */
static size_t send_batch(relp_out_t *o, sl_msg_t *const *msgs, size_t n)
{
    uint32_t first = o->txnr;
    sl_strbuf_reset(&o->out);
    for (size_t i = 0; i < n; i++) {
        sl_msg_prefetch_batch(msgs, i, n);
        if (format_record(o, msgs[i]) < 0 ||
            put_frame(&o->out, o->txnr, "syslog", o->rec.data, o->rec.len) < 0) {
            fail(o, "out of memory");
            o->txnr = first; /* nothing was sent: the session goes on where it was */
            return 0;
        }
        o->txnr = txnr_next(o->txnr);
        o->ends[i] = o->out.len;
        o->acked[i] = false;
    }
    size_t off = 0, sent = 0, nacked = 0, prefix = 0;
    bool broken = n > 0; /* until the loop ends with every answer in */
    long deadline = now_ms() + o->conf.ack_timeout_ms;
    while (prefix < n) {
        /* Frames may be written while fewer than window are unanswered. */
        size_t limit = nacked + o->conf.window < n ? nacked + o->conf.window : n;
        size_t end = limit > 0 ? o->ends[limit - 1] : 0;
        struct pollfd p = {.fd = o->fd, .events = POLLIN | (off < end ? POLLOUT : 0)};
        long left = deadline - now_ms();
        if (left <= 0) {
            fail(o, "no acknowledgement for %d s", o->conf.ack_timeout_ms / 1000);
            break;
        }
        int pr = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (pr < 0 && errno != EINTR) {
            fail(o, "poll: %s", strerror(errno));
            break;
        }
        if (pr <= 0)
            continue;
        bool progress = false;
        if ((p.revents & POLLOUT) && off < end) {
            ssize_t w = send(o->fd, o->out.data + off, end - off, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fail(o, "%s", strerror(errno));
                break;
            }
            if (w > 0) {
                off += (size_t)w;
                while (sent < n && o->ends[sent] <= off)
                    sent++;
                progress = true;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = read_some(o);
            if (r > 0 && off == o->out.len)
                quick_ack(o);
            size_t consumed = 0;
            sl_relp_frame_t f;
            int fr;
            while (r >= 0 && (fr = next_frame(o, &f, &consumed)) > 0) {
                size_t idx = f.txnr >= first ? f.txnr - first : f.txnr + TXNR_MAX - first;
                if (idx >= sent || o->acked[idx]) {
                    fail(o, "an answer to a message not sent (txnr %u)", f.txnr);
                    r = -1;
                } else if (rsp_code(&f) != 200) {
                    fail(o, "the receiver refused a message: %.*s",
                         (int)(f.data_len > 80 ? 80 : f.data_len), f.data ? f.data : "");
                    r = -1;
                } else {
                    o->acked[idx] = true;
                    nacked++;
                    progress = true;
                }
            }
            if (r >= 0 && fr < 0)
                r = -1;
            if (r >= 0)
                drop_consumed(o, consumed);
            while (prefix < n && o->acked[prefix])
                prefix++;
            if (r < 0)
                break;
        }
        if (progress)
            deadline = now_ms() + o->conf.ack_timeout_ms;
        if (prefix == n)
            broken = false;
    }
    /* A session can end right after the last answer (serverclose in the same read): the
     * batch is delivered, the session is not kept. */
    if (broken)
        session_end(o);
    return prefix;
}

static sl_out_status_t relp_deliver(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done)
{
    relp_out_t *o = inst;
    *done = 0;
    o->why[0] = '\0';
    if (grow(o, n) < 0)
        return SL_OUT_RETRY;
    if (o->fd >= 0)
        check_idle_session(o);
    if (o->fd < 0 && session_open(o) < 0) {
        log_failure(o, "cannot open a session");
        return SL_OUT_RETRY;
    }
    size_t k = send_batch(o, msgs, n);
    *done = k;
    if (k < n) {
        log_failure(o, "session broken, unacknowledged messages will be sent again");
        return SL_OUT_RETRY;
    }
    if (o->logged[0]) {
        fprintf(stderr, "sluiced: relp to %s: delivering again\n", o->target);
        o->logged[0] = '\0';
    }
    return SL_OUT_OK;
}

static sl_out_status_t relp_flush(void *inst)
{
    (void)inst;
    return SL_OUT_OK;
}

/* Ends the session politely: "close", and its answer for a moment (nothing is in flight
 * between batches, so nothing depends on it). */
static void session_close(relp_out_t *o)
{
    if (o->fd < 0)
        return;
    sl_relp_frame_t f;
    long deadline = now_ms() + CLOSE_WAIT_MS;
    sl_strbuf_reset(&o->out);
    if (put_frame(&o->out, o->txnr, "close", NULL, 0) == 0 &&
        send_all(o, o->out.data, o->out.len, deadline) == 0)
        wait_rsp(o, o->txnr, deadline, &f);
    session_end(o);
}

static void relp_reopen(void *inst)
{
    session_close(inst);
}

static void relp_destroy(void *inst)
{
    relp_out_t *o = inst;
    if (!o)
        return;
    session_close(o);
    sl_strbuf_free(&o->out);
    sl_strbuf_free(&o->rec);
    free(o->in);
    free(o->ends);
    free(o->acked);
    free(o->target);
    free(o);
}

const sl_output_ops_t sl_relp_output_ops = {
    .type = "relp",
    .deliver = relp_deliver,
    .flush = relp_flush,
    .reopen = relp_reopen,
    .destroy = relp_destroy,
};
