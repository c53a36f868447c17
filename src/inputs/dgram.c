/*
 * The datagram receiver.
 *
 * Each thread owns one socket (several UDP sockets share a port with SO_REUSEPORT, so the
 * kernel spreads senders over the threads) and loops: wait in poll for the socket or the stop
 * eventfd, take up to BATCH datagrams with one recvmmsg, parse each, route the batch in drop
 * mode (a full queue refuses and counts; a datagram input cannot make its senders wait).
 * SO_RXQ_OVFL makes the kernel report, with each datagram, how many it has dropped on this
 * socket so far; the increase is added to dropped_kernel, so drops before sluice ever saw a
 * datagram are counted too. That report rides on the next datagram taken, so drops after the
 * last one of a burst would stay uncounted until traffic resumes (for ever, at shutdown):
 * when the socket has been quiet for DROPS_IDLE_MS after a burst, and when the thread stops,
 * the same kernel counter is read directly with SO_MEMINFO. An idle socket costs no wake-ups:
 * the count is read once per quiet period.
 *
 * Concurrency: each thread owns its socket, buffers and batch; the counters are the input's
 * atomics; stop_fd is written by the stopping thread and only read here.
 */
#include "inputs/dgram.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/sock_diag.h>

#include "lib/netaddr.h"

#define BATCH 64

/* Quiet time after a burst before the kernel's drop count is read directly. */
#define DROPS_IDLE_MS 100

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

typedef struct dgram_thread {
    sl_dgram_server_t *s;
    unsigned idx;
} dgram_thread_t;

int sl_dgram_init(sl_dgram_server_t *s, sl_input_t *in, const sl_dgram_conf_t *conf, const int *fds,
                  unsigned n)
{
    memset(s, 0, sizeof(*s));
    s->conf = conf ? *conf : (sl_dgram_conf_t){0};
    s->in = in;
    if (n > SL_DGRAM_MAX_THREADS)
        n = SL_DGRAM_MAX_THREADS;
    for (unsigned i = 0; i < n; i++) {
        int one = 1;
        s->fds[i] = fds[i];
        setsockopt(fds[i], SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
        if (s->conf.local)
            setsockopt(fds[i], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    }
    s->nfds = n;
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return s->stop_fd < 0 ? -errno : 0;
}

/* Adds the increase of the socket's drop count (sk_drops, as SO_RXQ_OVFL and SO_MEMINFO
 * report it) since *seen to dropped_kernel. */
static void count_kernel_drops(sl_dgram_server_t *s, uint32_t drops, uint32_t *seen)
{
    if (drops > *seen) {
        atomic_fetch_add_explicit(&s->in->stats.dropped_kernel, drops - *seen,
                                  memory_order_relaxed);
        *seen = drops;
    }
}

/* Reads the socket's drop count now, without a datagram to carry it (see the top comment). */
static void poll_kernel_drops(sl_dgram_server_t *s, int fd, uint32_t *seen)
{
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof(mem);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
        len >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))
        count_kernel_drops(s, mem[SK_MEMINFO_DROPS], seen);
}

static void *dgram_main(void *p)
{
    dgram_thread_t *t = p;
    sl_dgram_server_t *s = t->s;
    int fd = s->fds[t->idx];
    uint32_t *kernel_drops = &s->drops_seen[t->idx];
    free(t);
    size_t size = s->conf.max_message_size ? s->conf.max_message_size : 65536;
    /* One byte more than the limit, to tell a datagram of exactly max bytes from a longer one. */
    char *bufs = malloc(BATCH * (size + 1));
    sl_input_batch_t *b = malloc(sizeof(*b));
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addrs[BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } ctl[BATCH];
    char fromhost[SL_NETADDR_STRLEN] = "";
    struct sockaddr_storage last_addr;
    socklen_t last_len = 0;
    if (s->conf.local)
        snprintf(fromhost, sizeof(fromhost), "%s", s->conf.local_name);
    if (!bufs || !b || sl_input_batch_init(b, s->in, SL_QUEUE_DROP) < 0) {
        fprintf(stderr, "sluiced: input %s: out of memory\n", s->in->name);
        free(bufs);
        free(b);
        return NULL;
    }
    bool drops_read = true; /* no datagram taken since the drop count was last read */
    for (;;) {
        struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        /* Two timers share the wait: reading the kernel's drop count after a burst, and
         * giving memory back once idle (sl_input_idle). */
        int idle_ms = sl_input_idle_timeout(b);
        bool drops_due = !drops_read && (idle_ms < 0 || idle_ms > DROPS_IDLE_MS);
        int ready = poll(pfd, 2, drops_due ? DROPS_IDLE_MS : idle_ms);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready == 0) {
            if (!drops_read) {
                poll_kernel_drops(s, fd, kernel_drops);
                drops_read = true;
            }
            if (!drops_due)
                sl_input_idle(b);
            continue;
        }
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs + (size_t)i * (size + 1);
            iov[i].iov_len = size + 1;
            msgs[i].msg_hdr = (struct msghdr){
                .msg_name = &addrs[i],
                .msg_namelen = sizeof(addrs[i]),
                .msg_iov = &iov[i],
                .msg_iovlen = 1,
                .msg_control = ctl[i].buf,
                .msg_controllen = sizeof(ctl[i].buf),
            };
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            continue;
        drops_read = false;
        sl_input_batch_clock(b);
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &msgs[i].msg_hdr;
            size_t len = msgs[i].msg_len;
            bool truncated = len > size || (h->msg_flags & MSG_TRUNC);
            if (len > size)
                len = size;
            int32_t pid = -1, uid = -1;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t drops;
                    memcpy(&drops, CMSG_DATA(c), sizeof(drops));
                    count_kernel_drops(s, drops, kernel_drops);
                } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                    struct ucred cr;
                    memcpy(&cr, CMSG_DATA(c), sizeof(cr));
                    pid = cr.pid;
                    uid = (int32_t)cr.uid;
                }
            }
            if (!s->conf.local && (h->msg_namelen != last_len ||
                                   memcmp(&addrs[i], &last_addr, h->msg_namelen) != 0)) {
                /* Formatting an address costs more than parsing a short message; senders
                 * usually come in runs, so remember the last one. */
                sl_netaddr_format((struct sockaddr *)&addrs[i], h->msg_namelen, fromhost,
                                  sizeof(fromhost));
                memcpy(&last_addr, &addrs[i], h->msg_namelen);
                last_len = h->msg_namelen;
            }
            size_t before = b->n;
            sl_input_batch_add(b, iov[i].iov_base, len, fromhost, truncated);
            if (b->n > before && (pid >= 0 || uid >= 0)) {
                b->msgs[b->n - 1]->sender_pid = pid;
                b->msgs[b->n - 1]->sender_uid = uid;
            }
        }
        sl_input_batch_flush(b);
    }
    poll_kernel_drops(s, fd, kernel_drops);
    sl_input_batch_free(b);
    free(b);
    free(bufs);
    return NULL;
}

int sl_dgram_start(sl_dgram_server_t *s)
{
    for (unsigned i = 0; i < s->nfds; i++) {
        dgram_thread_t *t = malloc(sizeof(*t));
        if (!t)
            return -ENOMEM;
        t->s = s;
        t->idx = i;
        int rc = pthread_create(&s->threads[i], NULL, dgram_main, t);
        if (rc != 0) {
            free(t);
            return -rc;
        }
        s->nthreads++;
    }
    return 0;
}

void sl_dgram_stop(sl_dgram_server_t *s)
{
    uint64_t one = 1;
    if (s->nthreads && write(s->stop_fd, &one, sizeof(one)) < 0)
        perror("sluiced: datagram stop");
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
    /* Empty the eventfd: the sockets stay, and a later start (a reload) must not stop at once.
     * Datagrams that arrive meanwhile wait in the sockets' buffers. */
    if (read(s->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        perror("sluiced: datagram stop");
}

void sl_dgram_free(sl_dgram_server_t *s)
{
    for (unsigned i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    s->nfds = 0;
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->stop_fd = -1;
}
