/*
 * sluiced: the daemon.
 *
 *   sluiced [-f CONFIG] [-n|--foreground] [--check] [--version]
 *
 * The main thread is the housekeeping thread: it loads the configuration, binds the inputs,
 * drops privileges, starts the runtime, and then waits in poll on a signalfd (SIGTERM/SIGINT:
 * drain and exit; SIGHUP: reopen files and reload the configuration), the control socket
 * (sluicectl stats | reload) and a timerfd (the periodic stats line). Every other thread
 * belongs to an input or an action (runtime.h).
 *
 * Concurrency: everything in this file is owned by the main thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sl_config.h"
#include "core/module.h"
#include "core/runtime.h"
#include "lib/fsutil.h"
#include "lib/netaddr.h"


static void usage(FILE *f)
{
    fprintf(f, "usage: sluiced [-f CONFIG] [-n|--foreground] [--check] [--version]\n"
               "  -f CONFIG        YAML configuration or legacy syslog.conf\n"
               "                   (default: the built-in configuration, see --print-default)\n"
               "  -n, --foreground do not detach\n"
               "  --check          check the configuration and exit (0: valid)\n"
               "  --version        print the version, the modules built in and where the\n"
               "                   loadable ones were found\n"
               "  --print-default  print the built-in configuration\n"
               "  --help-config    list every configuration key with its type and default\n");
}

static void print_version(void)
{
    printf("sluiced %s\n", SL_VERSION);
    printf("inputs: tcp udp unix unix-stream%s%s\n", SL_HAVE_OPENSSL ? " tls" : "",
           SL_HAVE_RELP ? " relp" : "");
    printf("outputs: file forward (udp tcp%s relp) stdout discard\n",
           SL_HAVE_OPENSSL ? " tls" : "");
    printf("modules: pcre2=%s openssl=%s relp=%s\n", SL_HAVE_PCRE2 ? "yes" : "no",
           SL_HAVE_OPENSSL ? "yes" : "no", SL_HAVE_RELP ? "yes" : "no");
    /* The loadable modules built: where each would be loaded from (nothing is loaded here). */
    static const struct {
        bool built;
        const char *file;
    } mods[] = {{SL_HAVE_OPENSSL, SL_MODULE_TLS_FILE}, {SL_HAVE_RELP, SL_MODULE_RELP_FILE}};
    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        char where[4096];
        if (!mods[i].built)
            continue;
        if (sl_module_locate(mods[i].file, where, sizeof(where)) == 0)
            printf("module %s: found %s\n", mods[i].file, where);
        else
            printf("module %s: not found (looked in %s)\n", mods[i].file, where);
    }
    printf("build: %s%s%s\n", SL_BUILD_TYPE, SL_SANITIZERS[0] ? ", sanitizers: " : "",
           SL_SANITIZERS);
}

__attribute__((format(printf, 1, 2))) static void log_line(const char *fmt, ...)
{
    va_list ap;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s sluiced: ", when);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* systemd's readiness protocol (sd_notify(3)): one datagram with the state to the unix socket
 * named by $NOTIFY_SOCKET ('@' for the abstract namespace). Done here rather than through
 * libsystemd: it is a dozen lines, and linking libsystemd costs every daemon about 1 MiB of
 * resident memory in libraries it would never otherwise use. */
static void notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = path ? strlen(path) : 0;
    if (n < 2 || (path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
}

/*
 * Whether mlockall(MCL_FUTURE) can hold for the daemon's life: with CAP_IPC_LOCK, or with no
 * RLIMIT_MEMLOCK. A finite limit lets mlockall succeed on what is mapped at start and then makes
 * the first large later mapping (a thread stack) fail with EAGAIN, far from the cause.
 */
static bool can_lock_all(void)
{
    struct rlimit ml;
    if (getrlimit(RLIMIT_MEMLOCK, &ml) == 0 && ml.rlim_cur == RLIM_INFINITY)
        return true;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    return (data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32))) != 0;
}

static int drop_privileges(const sl_runtime_t *rt)
{
    if (!rt->user && !rt->group)
        return 0;
    gid_t gid = (gid_t)-1;
    uid_t uid = (uid_t)-1;
    if (rt->group) {
        struct group *g = getgrnam(rt->group);
        if (!g) {
            log_line("unknown group '%s'", rt->group);
            return -ENOENT;
        }
        gid = g->gr_gid;
    }
    if (rt->user) {
        struct passwd *p = getpwnam(rt->user);
        if (!p) {
            log_line("unknown user '%s'", rt->user);
            return -ENOENT;
        }
        uid = p->pw_uid;
        if (gid == (gid_t)-1)
            gid = p->pw_gid;
    }
    if (setgroups(0, NULL) < 0 || (gid != (gid_t)-1 && setgid(gid) < 0) ||
        (uid != (uid_t)-1 && setuid(uid) < 0)) {
        log_line("cannot drop privileges: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

/* Written under a temporary name and renamed, so a reader never sees it half written. */
static int write_pidfile(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    sl_mkdir_parents(path, 0755);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

/*
 * The control socket appears at its path only once it listens (bound under a temporary name,
 * then renamed), so whoever sees the file can connect: scripts and tests use it as the sign
 * that the daemon is up.
 */
static int control_listen(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sl_mkdir_parents(path, 0755);
    unlink(tmp);
    int rc = sl_unix_bind(fd, tmp);
    if (rc == 0 && (listen(fd, 16) < 0 || chmod(tmp, 0600) < 0 || rename(tmp, path) < 0))
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        close(fd);
        return rc;
    }
    return fd;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

typedef struct daemon_state {
    const char *config_path;
    sl_runtime_t *rt;
    int control_fd;
    int timer_fd;
    int spare_fd; /* given up to answer the control socket when descriptors run out */
} daemon_state_t;

static void arm_stats_timer(daemon_state_t *d)
{
    struct itimerspec it = {0};
    it.it_value.tv_sec = it.it_interval.tv_sec = d->rt->stats_interval_s;
    timerfd_settime(d->timer_fd, 0, &it, NULL);
}

/*
 * Reload: the new configuration is checked and built first; if it fails the old one keeps
 * running. Otherwise inputs whose settings did not change pause (their sockets and connections
 * carry over, so senders only wait), the others stop; the old actions deliver everything
 * queued; then the new runtime starts with the kept inputs.
 */
static void reload(daemon_state_t *d)
{
    sl_runtime_t *next = NULL;
    char *errs = NULL;
    size_t errlen = 0;
    FILE *ef = open_memstream(&errs, &errlen);
    int rc = sl_config_load(d->config_path, d->config_path ? NULL : sl_default_config, "<built-in>",
                            &next, ef);
    fclose(ef);
    if (rc < 0) {
        log_line("reload refused, the running configuration stays: %s", errs ? errs : "");
        free(errs);
        return;
    }
    free(errs);
    struct timespec deadline;
    /* Queued messages are delivered before the switch: wait for them as long as it takes. */
    deadline_in(&deadline, 24 * 3600 * 1000);
    sl_runtime_handover(d->rt, next, &deadline);
    sl_runtime_free(d->rt);
    d->rt = next;
    if (sl_runtime_bind(d->rt, stderr) < 0 || sl_runtime_start(d->rt, stderr) < 0) {
        log_line("reload failed to start the new configuration");
        exit(1);
    }
    arm_stats_timer(d);
    log_line("configuration reloaded");
}

/* The name of an action waiting for its target, or NULL. */
static const char *suspended_action(sl_runtime_t *rt)
{
    for (size_t i = 0; i < rt->engine.nactions; i++) {
        sl_action_stats_t st;
        sl_action_stats(rt->engine.actions[i], &st);
        if (st.suspended)
            return rt->engine.actions[i]->name;
    }
    return NULL;
}

static void control_serve(daemon_state_t *d, int *reload_pending)
{
    int fd = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC);
    bool spare_used = false;
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && d->spare_fd >= 0) {
        /* The inputs may have used every descriptor; the operator asking why must still get
         * an answer (and a pending connection would keep poll spinning). */
        close(d->spare_fd);
        d->spare_fd = -1;
        spare_used = true;
        fd = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC);
    }
    if (fd < 0) {
        if (spare_used)
            d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
    }
    char cmd[64] = "";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1000) == 1) {
        ssize_t r = read(fd, cmd, sizeof(cmd) - 1);
        cmd[r > 0 ? r : 0] = '\0';
    }
    cmd[strcspn(cmd, "\r\n")] = '\0';
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        if (spare_used)
            d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
    }
    if (strcmp(cmd, "stats") == 0) {
        sl_runtime_stats_json(d->rt, f);
    } else if (strcmp(cmd, "reload") == 0) {
        *reload_pending = 1;
        fprintf(f, "{\"reload\":\"scheduled\"}\n");
    } else {
        fprintf(f, "{\"error\":\"unknown command\"}\n");
    }
    fclose(f);
    if (spare_used)
        d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool foreground = false, check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--foreground") == 0) {
            foreground = true;
        } else if (strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--version") == 0) {
            print_version();
            return 0;
        } else if (strcmp(argv[i], "--help-config") == 0) {
            sl_config_print_keys(stdout);
            return 0;
        } else if (strcmp(argv[i], "--print-default") == 0) {
            fputs(sl_default_config, stdout);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "sluiced: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    daemon_state_t d = {.config_path = config, .control_fd = -1, .timer_fd = -1};
    d.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = sl_config_load(config, config ? NULL : sl_default_config, "<built-in>", &d.rt, stderr);
    if (check) {
        if (rc == 0)
            printf("%s: configuration OK\n", config ? config : "<built-in>");
        sl_runtime_free(d.rt);
        return rc == 0 ? 0 : 1;
    }
    if (rc < 0)
        return 1;

    /* Thousands of connections need thousands of descriptors: raise the soft limit to the
     * hard one, as the administrator allows. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    if (d.rt->lock_memory && !can_lock_all()) {
        struct rlimit ml;
        getrlimit(RLIMIT_MEMLOCK, &ml);
        log_line("lock_memory: RLIMIT_MEMLOCK is %llu bytes and the process lacks "
                 "CAP_IPC_LOCK: mlockall(MCL_FUTURE) would make every later thread stack and "
                 "buffer fail once the limit is reached; raise the limit (LimitMEMLOCK=infinity) "
                 "or grant CAP_IPC_LOCK (see docs/configuration.md)",
                 (unsigned long long)ml.rlim_cur);
        return 1;
    }
    if (d.rt->lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
        log_line("lock_memory: mlockall failed: %s (needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK "
                 "large enough for the whole daemon; see docs/configuration.md)",
                 strerror(errno));
        return 1;
    }

    /* Signals are taken through a signalfd by this thread only; block them before any other
     * thread starts so that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    if (sl_runtime_bind(d.rt, stderr) < 0)
        return 1;
    if (!foreground && daemon(1, 0) < 0) {
        log_line("cannot detach: %s", strerror(errno));
        return 1;
    }
    /* Pidfile and control socket are made while still privileged (they usually live in
     * /run), the control socket last: its appearance means the daemon answers. */
    if (d.rt->pidfile && write_pidfile(d.rt->pidfile) < 0) {
        log_line("pidfile %s: %s", d.rt->pidfile, strerror(errno));
        return 1;
    }
    if (d.rt->control_socket) {
        d.control_fd = control_listen(d.rt->control_socket);
        if (d.control_fd < 0) {
            log_line("control socket %s: %s", d.rt->control_socket, strerror(-d.control_fd));
            return 1;
        }
    }
    if (drop_privileges(d.rt) < 0)
        return 1;
    if (sl_runtime_start(d.rt, stderr) < 0)
        return 1;
    d.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    arm_stats_timer(&d);
    notify("READY=1");
    log_line("started");

    bool running = true;
    while (running) {
        struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
                              {.fd = d.control_fd, .events = POLLIN},
                              {.fd = d.timer_fd, .events = POLLIN}};
        if (poll(p, 3, -1) < 0)
            continue;
        int reload_pending = 0;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP)
                    reload_pending = 1;
                else
                    running = false;
            }
        }
        if (p[1].revents & POLLIN)
            control_serve(&d, &reload_pending);
        if (p[2].revents & POLLIN) {
            uint64_t ticks;
            if (read(d.timer_fd, &ticks, sizeof(ticks)) > 0) {
                fprintf(stderr, "sluiced: ");
                sl_runtime_stats_line(d.rt, stderr);
            }
        }
        if (reload_pending && running) {
            notify("RELOADING=1");
            sl_runtime_reopen(d.rt);
            const char *stuck = suspended_action(d.rt);
            if (stuck)
                /* A reload drains every old action first; one whose target is down would hold
                 * the whole daemon until the target is back. Files are reopened (logrotate's
                 * SIGHUP works); the configuration reload waits for the next SIGHUP. */
                log_line("files reopened; configuration reload postponed: action %s is "
                         "suspended (its target is down) and could not drain",
                         stuck);
            else
                reload(&d);
            notify("READY=1");
        }
    }
    notify("STOPPING=1");
    log_line("stopping: draining queues");
    struct timespec deadline;
    deadline_in(&deadline, d.rt->shutdown_timeout_ms);
    sl_runtime_stop(d.rt, &deadline);
    fprintf(stderr, "sluiced: final ");
    sl_runtime_stats_line(d.rt, stderr);
    if (d.rt->pidfile)
        unlink(d.rt->pidfile);
    if (d.rt->control_socket)
        unlink(d.rt->control_socket);
    sl_runtime_free(d.rt);
    return 0;
}
