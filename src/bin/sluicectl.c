/*
 * sluicectl: the command-line companion of sluiced.
 *
 *   sluicectl stats|reload [-s SOCKET]
 *       Asks a running sluiced, over its control socket (the control_socket setting; default
 *       ./run/sluiced.ctl), for its counters as JSON, or to reload its configuration.
 *
 *   sluicectl parse [--template NAME] [--fromhost HOST]
 *       Reads raw syslog lines on stdin (LF-separated, any bytes) and writes each as the template
 *       formats it (default json), one per line. The first thing to run to see how sluice reads
 *       a message.
 *
 *   sluicectl queue inspect DIR|FILE
 *       Lists a disk queue's segment files (work_dir/queues/<action>/) without changing them:
 *       size, records, what a start would replay, corrupt records, torn tails, and the raw text
 *       of the first and last message to be replayed in each.
 *
 * Single-threaded; no shared state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sl_config.h"
#include "core/dqueue.h"
#include "core/msg.h"
#include "core/template.h"
#include "lib/netaddr.h"
#include "lib/strbuf.h"
#include "parsers/parse.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: sluicectl parse [--template NAME|STRING] [--fromhost HOST]\n"
               "       sluicectl stats|reload [-s SOCKET]\n"
               "       sluicectl queue inspect DIR|FILE\n"
               "       sluicectl --version\n"
               "\n"
               "stats:  the running daemon's counters, as JSON\n"
               "reload: make the running daemon reload its configuration\n"
               "  -s SOCKET   the daemon's control_socket (default ./run/sluiced.ctl)\n"
               "\n"
               "parse: raw syslog lines on stdin, one formatted message per line on stdout.\n"
               "  --template  traditional, rfc3164, rfc5424, json (default) or a custom\n"
               "              string such as '${hostname} ${msg}\\n'\n"
               "  --fromhost  sender address to record (default localhost)\n"
               "\n"
               "queue inspect: a disk queue's segments (DIR: work_dir/queues/ACTION, or one\n"
               "  .seg file): records, what a start would replay, corrupt records, torn tails,\n"
               "  and the first and last message to replay in each.\n");
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Parses one line and appends its formatted form to out. */
static int parse_line(const char *line, size_t len, const sl_template_t *t, sl_parse_ctx_t *ctx,
                      sl_strbuf_t *out)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    sl_ts_from_epoch_local(&ctx->received, tv.tv_sec, (uint32_t)tv.tv_usec);
    sl_msg_t *m = sl_parse(line, len, ctx);
    if (!m)
        return -ENOMEM;
    int rc = sl_template_format(t, m, out);
    sl_msg_unref(m);
    return rc;
}

static int cmd_parse(int argc, char **argv)
{
    const char *tname = "json";
    sl_parse_ctx_t ctx = {.fromhost = "localhost", .input = "stdin"};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--template") == 0 && i + 1 < argc) {
            tname = argv[++i];
        } else if (strcmp(argv[i], "--fromhost") == 0 && i + 1 < argc) {
            ctx.fromhost = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluicectl parse: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[256];
    sl_template_t *t;
    if (sl_template_compile(tname, &t, err, sizeof(err)) < 0) {
        fprintf(stderr, "sluicectl parse: template: %s\n", err);
        return 2;
    }
    sl_strbuf_t in = SL_STRBUF_INIT, out = SL_STRBUF_INIT;
    int rc = 0;
    size_t start = 0;
    for (;;) {
        if (sl_strbuf_reserve(&in, 65536) < 0) {
            rc = -ENOMEM;
            break;
        }
        ssize_t r = read(0, in.data + in.len, in.cap - in.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0) {
            /* A last line without LF is still a line. */
            if (in.len > start)
                rc = parse_line(in.data + start, in.len - start, t, &ctx, &out);
            break;
        }
        size_t scan = in.len;
        in.len += (size_t)r;
        char *nl;
        while ((nl = memchr(in.data + scan, '\n', in.len - scan)) != NULL) {
            size_t end = (size_t)(nl - in.data);
            if ((rc = parse_line(in.data + start, end - start, t, &ctx, &out)) < 0)
                goto done;
            start = scan = end + 1;
        }
        /* Keep the unfinished line at the front of the buffer. */
        memmove(in.data, in.data + start, in.len - start);
        in.len -= start;
        start = 0;
        if (out.len >= 65536) {
            if ((rc = write_all(1, out.data, out.len)) < 0)
                break;
            sl_strbuf_reset(&out);
        }
    }
done:
    if (rc == 0 && out.len)
        rc = write_all(1, out.data, out.len);
    sl_strbuf_free(&in);
    sl_strbuf_free(&out);
    sl_template_free(t);
    if (rc < 0) {
        fprintf(stderr, "sluicectl parse: %s\n", strerror(-rc));
        return 1;
    }
    return 0;
}

/* Sends one command to the daemon's control socket and copies the answer to stdout. */
static int cmd_control(const char *cmd, int argc, char **argv)
{
    const char *path = "./run/sluiced.ctl";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "sluicectl %s: unknown argument '%s'\n", cmd, argv[i]);
            usage(stderr);
            return 2;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int crc = fd < 0 ? -errno : sl_unix_connect(fd, path);
    if (crc < 0) {
        fprintf(stderr, "sluicectl: cannot reach sluiced at %s: %s\n", path, strerror(-crc));
        if (fd >= 0)
            close(fd);
        return crc == -ENAMETOOLONG ? 2 : 1;
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    int rc = write_all(fd, line, (size_t)n);
    char buf[65536];
    ssize_t r;
    while (rc == 0 && (r = read(fd, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        rc = write_all(1, buf, (size_t)r);
    }
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "sluicectl %s: %s\n", cmd, strerror(-rc));
        return 1;
    }
    return 0;
}

/* Prints a message's raw text on one line: control bytes and backslashes escaped, cut at 160. */
static void print_raw(const char *label, const sl_msg_t *m)
{
    printf("    %s ", label);
    size_t n = m->raw_len < 160 ? m->raw_len : 160;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m->buf[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("%s\n", m->raw_len > n ? "..." : "");
}

static int inspect_one(const char *path, const char *name, uint64_t tot[4])
{
    sl_dqueue_seg_info_t in;
    int rc = sl_dqueue_inspect(path, &in);
    if (rc < 0 && in.size == 0) {
        fprintf(stderr, "sluicectl queue inspect: %s: %s\n", path, strerror(-rc));
        return 1;
    }
    printf("%-22s %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %6" PRIu64
           "%s%s\n",
           name, in.size, in.start, in.records, in.pending, in.corrupt, in.torn_bytes,
           in.header_ok ? "" : "  (damaged header: replayed whole)",
           rc < 0 ? "  (read error)" : "");
    if (in.first)
        print_raw("first:", in.first);
    if (in.last)
        print_raw("last: ", in.last);
    if (in.first)
        sl_msg_unref(in.first);
    if (in.last)
        sl_msg_unref(in.last);
    tot[0] += in.size;
    tot[1] += in.pending;
    tot[2] += in.corrupt;
    tot[3] += in.torn_bytes;
    return rc < 0;
}

static int name_order(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_segment(const struct dirent *e)
{
    size_t l = strlen(e->d_name);
    return l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0;
}

static int cmd_queue(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "inspect") != 0) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[1];
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "sluicectl queue inspect: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t tot[4] = {0};
    int bad = 0, nseg = 0;
    printf("%-22s %12s %10s %8s %8s %8s %6s\n", "segment", "bytes", "start", "records", "pending",
           "corrupt", "torn");
    if (S_ISDIR(st.st_mode)) {
        struct dirent **list;
        int n = scandir(path, &list, is_segment, name_order);
        if (n < 0) {
            fprintf(stderr, "sluicectl queue inspect: %s: %s\n", path, strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", path, list[i]->d_name);
            bad |= inspect_one(p, list[i]->d_name, tot);
            nseg++;
            free(list[i]);
        }
        free(list);
    } else {
        const char *base = strrchr(path, '/');
        bad |= inspect_one(path, base ? base + 1 : path, tot);
        nseg++;
    }
    printf("%d segment%s, %" PRIu64 " bytes, %" PRIu64 " messages to replay, %" PRIu64
           " corrupt, %" PRIu64 " torn bytes\n",
           nseg, nseg == 1 ? "" : "s", tot[0], tot[1], tot[2], tot[3]);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "parse") == 0)
        return cmd_parse(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "queue") == 0)
        return cmd_queue(argc - 2, argv + 2);
    if (argc >= 2 && (strcmp(argv[1], "stats") == 0 || strcmp(argv[1], "reload") == 0))
        return cmd_control(argv[1], argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("sluicectl %s\n", SL_VERSION);
        return 0;
    }
    usage(argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? stdout
                                                                                      : stderr);
    return 2;
}
