/*
 * The benchmark suite's client and clock (bench/suite.sh builds it with cc; it is no part of
 * the sluice build and no test depends on it).
 *
 *   benchtool tcp -p PORT -m MSGS -t THREADS -o OUT[,OUT...] [-P PID] [-v] CONN...
 *       CONN is FILE[,FILE...]: the files sent in order over one connection (sendfile).
 *       Waits until the port listens, starts the clock, sends every connection in its own
 *       thread and stops the clock when the outputs hold MSGS lines each.
 *   benchtool udp -p PORT -m MSGS -t THREADS -r RATE -d SECONDS -o OUT [-P PID] FILE...
 *       Sends the files' lines (without their LF) as datagrams at RATE per second for SECONDS
 *       (fewer when the files run out), waits until the output has been quiet for 1.5 s (or
 *       holds every line sent), and counts the distinct messages that arrived.
 *   benchtool port
 *       Prints a port that is free on 127.0.0.1 for both TCP and UDP.
 *   benchtool wait -p PORT [-u]
 *       Returns once something listens on 127.0.0.1:PORT (TCP, or UDP with -u), 30 s at most.
 *
 * Why a tool of its own: the machine has two cores shared by the daemon, the senders and the
 * harness, so the harness must cost next to nothing while the clock runs. Lines are counted
 * incrementally (each output byte is read once, newlines counted with memchr), polling every
 * millisecond, instead of running grep over the whole file again and again; the senders use
 * sendfile, so they copy no bytes through user space.
 *
 * It prints key=value pairs on one line: secs (clock), lines, and, given the daemon's PID (-P),
 * cpu (the daemon's user + system seconds while the clock ran), hwm_kb and rss_kb (VmHWM and
 * VmRSS at the end), ctxsw (voluntary + involuntary context switches of all its threads while
 * the clock ran). With -v (and always for udp) the outputs are read again after the clock
 * stopped and every line is checked: each message (thread, seq) must appear exactly once in
 * each output, whole (missing, dup and bad say how many did not).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define MAX_OUTS    8
#define MAX_CONNS   64
#define MAX_THREADS 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* ---- Readiness ------------------------------------------------------------------------- */

/* Whether /proc/net/{tcp,udp} lists a socket bound to 127.0.0.1:port (TCP: listening). */
static int port_bound(int port, int udp)
{
    FILE *f = fopen(udp ? "/proc/net/udp" : "/proc/net/tcp", "r");
    char line[512];
    int found = 0;
    if (!f)
        return 0;
    char want[32];
    snprintf(want, sizeof(want), ":%04X", port);
    while (fgets(line, sizeof(line), f)) {
        unsigned a, p, st;
        if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X", &a, &p, &st) != 3)
            continue;
        if ((int)p == port && (udp ? st == 0x07 : st == 0x0A)) {
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

static int wait_port(int port, int udp)
{
    double t0 = now();
    while (!port_bound(port, udp)) {
        if (now() - t0 > 30)
            return -1;
        usleep(20000);
    }
    return 0;
}

/* ---- The daemon's counters ------------------------------------------------------------- */

typedef struct proc_sample {
    double busy, total; /* the whole machine, clock ticks */
    double self;        /* this tool's user + system seconds */
    double cpu;         /* user + system seconds, all threads */
    long ctxsw;         /* voluntary + involuntary switches, all live threads */
    long hwm, rss;      /* kB */
} proc_sample_t;

/* The machine's busy and total CPU time (all cores, in clock ticks) from /proc/stat. */
static void machine_cpu(double *busy, double *total)
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
        for (int i = 0; i < 8; i++)
            *total += (double)v[i];
        *busy = *total - (double)v[3] - (double)v[4]; /* less idle and iowait */
    }
    fclose(f);
}

static long status_field(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, kl) == 0) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static void sample(int pid, proc_sample_t *s)
{
    char path[64], buf[2048];
    memset(s, 0, sizeof(*s));
    machine_cpu(&s->busy, &s->total);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->self = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (pid <= 0)
        return;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        /* After the name: state, then fields 4..13, then utime (14) and stime (15). */
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s->cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    s->hwm = status_field(path, "VmHWM:");
    s->rss = status_field(path, "VmRSS:");
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char tp[320];
            snprintf(tp, sizeof(tp), "/proc/%d/task/%s/status", pid, e->d_name);
            long v = status_field(tp, "voluntary_ctxt_switches:");
            long nv = status_field(tp, "nonvoluntary_ctxt_switches:");
            s->ctxsw += (v > 0 ? v : 0) + (nv > 0 ? nv : 0);
        }
        closedir(d);
    }
}

/* ---- Counting lines as they arrive ----------------------------------------------------- */

typedef struct out {
    const char *path;
    int fd;
    uint64_t lines;
} out_t;

static char rbuf[1 << 20];

/* Reads what is new in o and counts its newlines. Returns bytes read. */
static size_t out_poll(out_t *o)
{
    size_t total = 0;
    if (o->fd < 0) {
        o->fd = open(o->path, O_RDONLY | O_CLOEXEC);
        if (o->fd < 0)
            return 0;
    }
    for (;;) {
        ssize_t r = read(o->fd, rbuf, sizeof(rbuf));
        if (r <= 0)
            break;
        total += (size_t)r;
        const char *p = rbuf, *end = rbuf + r;
        while ((p = memchr(p, '\n', (size_t)(end - p)))) {
            o->lines++;
            p++;
        }
    }
    return total;
}

/* ---- Checking every message ------------------------------------------------------------ */

typedef struct check {
    uint64_t missing, dup, bad, unique;
} check_t;

/* Reads the number after "key" in line[0..n), or -1. */
static long field_after(const char *line, size_t n, const char *key)
{
    const char *p = memmem(line, n, key, strlen(key));
    if (!p)
        return -1;
    p += strlen(key);
    long v = 0;
    int digits = 0;
    while (p < line + n && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits ? v : -1;
}

/* Every message (thread t < threads, seq s < per) once in path, each line whole. */
static check_t check_file(const char *path, long threads, long per)
{
    check_t c = {0};
    size_t nbits = (size_t)threads * (size_t)per;
    uint8_t *seen = calloc(nbits ? nbits : 1, 1);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!seen)
        die("calloc");
    while (f && (n = getline(&line, &cap, f)) > 0) {
        long s = field_after(line, (size_t)n, "seq: ");
        long t = field_after(line, (size_t)n, "thread: ");
        /* A whole line ends with the padding and a LF. */
        int whole = n >= 5 && memcmp(line + n - 5, "PADD\n", 5) == 0;
        if (s < 0 || t < 0 || s >= per || t >= threads || !whole) {
            c.bad++;
            continue;
        }
        uint8_t *b = &seen[(size_t)t * (size_t)per + (size_t)s];
        if (*b)
            c.dup++;
        else
            c.unique++;
        *b = 1;
    }
    c.missing = nbits - c.unique;
    free(line);
    free(seen);
    if (f)
        fclose(f);
    return c;
}

/* ---- TCP ------------------------------------------------------------------------------- */

typedef struct conn_arg {
    int port;
    char *files; /* comma-separated */
    int err;
} conn_arg_t;

static void *conn_main(void *p)
{
    conn_arg_t *a = p;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        a->err = errno;
        return NULL;
    }
    char *save = NULL;
    for (char *f = strtok_r(a->files, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        int in = open(f, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0) {
            a->err = errno;
            break;
        }
        off_t off = 0;
        while (off < st.st_size) {
            ssize_t w = sendfile(fd, in, &off, (size_t)(st.st_size - off));
            if (w < 0 && errno != EINTR) {
                a->err = errno;
                break;
            }
        }
        close(in);
    }
    close(fd);
    return NULL;
}

typedef struct opts {
    int port, pid, verify, udp;
    long msgs, threads;
    double rate, seconds;
    char *outs;
    char **args;
    int nargs;
} opts_t;

static int split_outs(char *s, out_t *outs)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(s, ",", &save); p && n < MAX_OUTS; p = strtok_r(NULL, ",", &save))
        outs[n++] = (out_t){.path = p, .fd = -1};
    return n;
}

static void print_proc(const proc_sample_t *a, const proc_sample_t *b)
{
    /* How busy the machine was (all cores, everyone), and what this tool itself took: the
     * measure of how much other work shared the machine with the run. */
    if (b->total > a->total)
        printf(" machine_busy=%.2f", (b->busy - a->busy) / (b->total - a->total));
    printf(" tool_cpu=%.2f", b->self - a->self);
    if (b->hwm <= 0 && b->rss <= 0)
        return;
    printf(" cpu=%.2f ctxsw=%ld hwm_kb=%ld rss_kb=%ld", b->cpu - a->cpu, b->ctxsw - a->ctxsw,
           b->hwm, b->rss);
}

/* Prints the check's counts; returns whether every message came once and whole. */
static int print_checks(out_t *outs, int nouts, long threads, long per)
{
    check_t sum = {0};
    for (int i = 0; i < nouts; i++) {
        check_t c = check_file(outs[i].path, threads, per);
        sum.missing += c.missing;
        sum.dup += c.dup;
        sum.bad += c.bad;
        sum.unique += c.unique;
    }
    printf(" unique=%llu missing=%llu dup=%llu bad=%llu", (unsigned long long)sum.unique,
           (unsigned long long)sum.missing, (unsigned long long)sum.dup,
           (unsigned long long)sum.bad);
    return sum.missing == 0 && sum.dup == 0 && sum.bad == 0;
}

static int run_tcp(opts_t *o)
{
    out_t outs[MAX_OUTS];
    int nouts = split_outs(o->outs, outs);
    conn_arg_t conns[MAX_CONNS];
    pthread_t th[MAX_CONNS];
    int nconns = o->nargs < MAX_CONNS ? o->nargs : MAX_CONNS;
    if (wait_port(o->port, 0) < 0) {
        fprintf(stderr, "benchtool: nothing listens on port %d\n", o->port);
        return 2;
    }
    proc_sample_t p0, p1;
    sample(o->pid, &p0);
    double t0 = now();
    for (int i = 0; i < nconns; i++) {
        conns[i] = (conn_arg_t){.port = o->port, .files = o->args[i]};
        if (pthread_create(&th[i], NULL, conn_main, &conns[i]) != 0)
            die("pthread_create");
    }
    uint64_t total = 0, want = (uint64_t)o->msgs * (uint64_t)nouts;
    double last_progress = now(), t1;
    for (;;) {
        size_t got = 0;
        total = 0;
        for (int i = 0; i < nouts; i++) {
            got += out_poll(&outs[i]);
            total += outs[i].lines;
        }
        t1 = now();
        if (total >= want)
            break;
        if (got)
            last_progress = t1;
        else if (t1 - last_progress > 20 || (o->pid > 0 && kill(o->pid, 0) < 0))
            break;
        else
            usleep(1000);
    }
    sample(o->pid, &p1);
    int err = 0;
    for (int i = 0; i < nconns; i++) {
        pthread_join(th[i], NULL);
        if (conns[i].err)
            err = conns[i].err;
    }
    printf("secs=%.4f lines=%llu", t1 - t0, (unsigned long long)total);
    print_proc(&p0, &p1);
    int ok = total >= want && !err;
    if (o->verify && !print_checks(outs, nouts, o->threads, o->msgs / o->threads))
        ok = 0;
    printf(" ok=%d\n", ok);
    for (int i = 0; i < nouts; i++)
        if (outs[i].fd >= 0)
            close(outs[i].fd);
    if (err) {
        fprintf(stderr, "benchtool: send: %s\n", strerror(err));
        return 1;
    }
    return ok ? 0 : 1;
}

/* ---- UDP ------------------------------------------------------------------------------- */

static int run_udp(opts_t *o)
{
    out_t outs[MAX_OUTS];
    int nouts = split_outs(o->outs, outs);
    size_t max = (size_t)(o->rate * o->seconds), n = 0, cap = 0;
    struct iovec *lines = NULL;
    for (int i = 0; i < o->nargs && n < max; i++) {
        FILE *f = fopen(o->args[i], "r");
        char *l = NULL;
        size_t lc = 0;
        ssize_t len;
        if (!f)
            die(o->args[i]);
        while (n < max && (len = getline(&l, &lc, f)) > 0) {
            if (l[len - 1] == '\n')
                len--;
            if (n == cap) {
                cap = cap ? cap * 2 : 65536;
                lines = realloc(lines, cap * sizeof(*lines));
                if (!lines)
                    die("realloc");
            }
            lines[n].iov_base = memcpy(malloc((size_t)len), l, (size_t)len);
            lines[n].iov_len = (size_t)len;
            n++;
        }
        free(l);
        fclose(f);
    }
    if (wait_port(o->port, 1) < 0) {
        fprintf(stderr, "benchtool: nothing bound to udp port %d\n", o->port);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("udp connect");
    proc_sample_t p0, p1;
    sample(o->pid, &p0);
    struct mmsghdr mm[64];
    size_t sent = 0;
    long send_errors = 0;
    double t0 = now(), t;
    /* Pacing: every pass sends what is due by now, in sendmmsg calls of at most 64. */
    while (sent < n) {
        t = now();
        size_t due = (size_t)((t - t0) * o->rate);
        if (due > n)
            due = n;
        while (sent < due) {
            size_t k = due - sent < 64 ? due - sent : 64;
            for (size_t i = 0; i < k; i++)
                mm[i].msg_hdr = (struct msghdr){.msg_iov = &lines[sent + i], .msg_iovlen = 1};
            int r = sendmmsg(fd, mm, (unsigned)k, 0);
            if (r <= 0) {
                send_errors++;
                if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) {
                    sent++; /* counted as sent: the datagram went, the kernel refused it */
                    continue;
                }
                die("sendmmsg");
            }
            sent += (size_t)r;
        }
        if (sent < n)
            usleep(200);
    }
    double t_send = now() - t0;
    double last_progress = now();
    uint64_t total = 0;
    for (;;) {
        size_t got = 0;
        total = 0;
        for (int i = 0; i < nouts; i++) {
            got += out_poll(&outs[i]);
            total += outs[i].lines;
        }
        t = now();
        if (total >= sent)
            break;
        if (got)
            last_progress = t;
        else if (t - last_progress > 1.5)
            break;
        usleep(2000);
    }
    sample(o->pid, &p1);
    printf("secs=%.4f sent=%zu achieved_rate=%.0f send_errors=%ld lines=%llu", t_send, sent,
           (double)sent / t_send, send_errors, (unsigned long long)total);
    print_proc(&p0, &p1);
    check_t c = check_file(outs[0].path, o->threads, o->msgs / o->threads);
    printf(" unique=%llu dup=%llu bad=%llu lost=%llu\n", (unsigned long long)c.unique,
           (unsigned long long)c.dup, (unsigned long long)c.bad,
           (unsigned long long)(sent - c.unique));
    close(fd);
    return 0;
}

/* Prints a port on 127.0.0.1 that is free for TCP and UDP right now (other programs on the
 * machine bind ports too; a collision would look like a daemon that never starts). */
static int free_port(void)
{
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + rand() % 12000, ok = 1;
        for (int udp = 0; udp < 2 && ok; udp++) {
            int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = fd >= 0 && !port_bound(port, udp) &&
                 bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
            if (fd >= 0)
                close(fd);
        }
        if (ok) {
            printf("%d\n", port);
            return 0;
        }
    }
    return 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: benchtool tcp|udp|wait [options] (see the top of benchtool.c)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    opts_t o = {.threads = 1};
    int c;
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    optind = 2;
    while ((c = getopt(argc, argv, "p:m:t:o:P:r:d:vu")) != -1) {
        switch (c) {
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'm':
            o.msgs = atol(optarg);
            break;
        case 't':
            o.threads = atol(optarg);
            break;
        case 'o':
            o.outs = optarg;
            break;
        case 'P':
            o.pid = atoi(optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'd':
            o.seconds = atof(optarg);
            break;
        case 'v':
            o.verify = 1;
            break;
        case 'u':
            o.udp = 1;
            break;
        default:
            usage();
        }
    }
    o.args = argv + optind;
    o.nargs = argc - optind;
    if (strcmp(mode, "port") == 0)
        return free_port();
    if (strcmp(mode, "wait") == 0)
        return wait_port(o.port, o.udp) < 0 ? 1 : 0;
    if (!o.outs || o.msgs <= 0 || o.threads <= 0 || o.nargs == 0)
        usage();
    if (strcmp(mode, "tcp") == 0)
        return run_tcp(&o);
    if (strcmp(mode, "udp") == 0)
        return o.rate > 0 && o.seconds > 0 ? run_udp(&o) : (usage(), 2);
    usage();
    return 2;
}
