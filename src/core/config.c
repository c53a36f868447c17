/*
 * From a configuration file to a runtime (runtime.h).
 *
 * The file is loaded into a node tree (cfg.h; a legacy syslog.conf becomes the same tree,
 * cfg_legacy.h), then every section is read through a key table, so the tables below are at
 * once the parser, the validator and the documentation of each module's keys. Every problem is
 * collected with its file:line:column; nothing is bound or started here.
 *
 * Concurrency: runs on the main thread only.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>

#include "sl_config.h"
#include "core/cfg.h"
#include "core/cfg_legacy.h"
#include "core/runtime.h"
#include "inputs/net.h"
#include "core/module.h"
#include "inputs/relp.h"
#include "inputs/tls.h"
#include "lib/tls.h"
#include "outputs/file.h"
#include "outputs/forward.h"
#include "outputs/relp.h"
#include "outputs/simple.h"
#include "rules/selector.h"
#include "rules/where.h"

const char sl_default_config[] =
    "# sluice's built-in configuration: local testing and a starting point.\n"
    "work_dir: ./var/lib/sluice\n"
    "pidfile: ./run/sluiced.pid\n"
    "control_socket: ./run/sluiced.ctl\n"
    "inputs:\n"
    "  - {name: tcp, type: tcp, listen: \"127.0.0.1:5514\"}\n"
    "  - {name: udp, type: udp, listen: \"127.0.0.1:5514\"}\n"
    "  - {name: local, type: unix, path: ./run/log.sock}\n"
    "actions:\n"
    "  - {name: messages, type: file, path: ./var/log/messages, template: traditional}\n";

/* ---- Key tables ---------------------------------------------------------------------- */

typedef struct top_conf {
    char *work_dir;
    char *pidfile;
    char *control_socket;
    int64_t stats_interval_ms;
    int64_t shutdown_timeout_ms;
    char *user;
    char *group;
    bool lock_memory;
    const sl_cfg_node_t *inputs;
    const sl_cfg_node_t *templates;
    const sl_cfg_node_t *actions;
} top_conf_t;

static const sl_cfg_key_t top_keys[] = {
    {.name = "work_dir",
     .type = SL_CFG_STR,
     .offset = offsetof(top_conf_t, work_dir),
     .def = "./var/lib/sluice",
     .help = "directory for queues and state"},
    {.name = "pidfile",
     .type = SL_CFG_STR,
     .offset = offsetof(top_conf_t, pidfile),
     .help = "file to write the daemon's pid to"},
    {.name = "control_socket",
     .type = SL_CFG_STR,
     .offset = offsetof(top_conf_t, control_socket),
     .help = "unix socket for sluicectl stats and reload"},
    {.name = "stats_interval",
     .type = SL_CFG_DURATION,
     .offset = offsetof(top_conf_t, stats_interval_ms),
     .def = "0",
     .help = "period of the stats log line (0: none)"},
    {.name = "shutdown_timeout",
     .type = SL_CFG_DURATION,
     .offset = offsetof(top_conf_t, shutdown_timeout_ms),
     .def = "5s",
     .help = "how long SIGTERM waits for queues to drain"},
    {.name = "user",
     .type = SL_CFG_STR,
     .offset = offsetof(top_conf_t, user),
     .help = "user to run as after binding the inputs"},
    {.name = "group",
     .type = SL_CFG_STR,
     .offset = offsetof(top_conf_t, group),
     .help = "group to run as after binding the inputs"},
    {.name = "lock_memory",
     .type = SL_CFG_BOOL,
     .offset = offsetof(top_conf_t, lock_memory),
     .def = "false",
     .help = "mlockall(MCL_CURRENT|MCL_FUTURE); needs CAP_IPC_LOCK"},
    {.name = "inputs",
     .type = SL_CFG_NODE,
     .offset = offsetof(top_conf_t, inputs),
     .help = "list of inputs"},
    {.name = "templates",
     .type = SL_CFG_NODE,
     .offset = offsetof(top_conf_t, templates),
     .help = "map of template name to template string"},
    {.name = "actions",
     .type = SL_CFG_NODE,
     .offset = offsetof(top_conf_t, actions),
     .help = "list of actions"},
    {0},
};

typedef struct input_conf {
    char *name;
    int type;
    char *listen;
    char *path;
    char *port_file;
    int framing;
    uint64_t max_message_size;
    int64_t max_connections;
    int64_t threads;
    uint64_t receive_buffer;
    unsigned socket_mode;
    const sl_cfg_node_t *tls;
} input_conf_t;

enum { IN_TCP = 0, IN_UDP = 1, IN_UNIX_STREAM = 3, IN_TLS = 4, IN_RELP = 5 };
static const char *const input_types[] = {"tcp", "udp", "unix", "unix-stream", "tls", "relp", NULL};
static const char *const framings[] = {"auto", "octet-counted", "lf", NULL};

static const sl_cfg_key_t input_keys[] = {
    {.name = "name",
     .type = SL_CFG_STR,
     .required = true,
     .offset = offsetof(input_conf_t, name),
     .help = "name of the input (the input field of its messages)"},
    {.name = "type",
     .type = SL_CFG_ENUM,
     .required = true,
     .offset = offsetof(input_conf_t, type),
     .choices = input_types,
     .help = "tcp, udp, unix (datagram, like /dev/log), unix-stream, tls or relp"},
    {.name = "listen",
     .type = SL_CFG_STR,
     .offset = offsetof(input_conf_t, listen),
     .help = "tcp/udp/tls/relp: address:port to listen on (\"127.0.0.1:514\", \"[::]:514\", "
             "\"*:514\")"},
    {.name = "path",
     .type = SL_CFG_STR,
     .offset = offsetof(input_conf_t, path),
     .help = "unix/unix-stream: socket path"},
    {.name = "port_file",
     .type = SL_CFG_STR,
     .offset = offsetof(input_conf_t, port_file),
     .help = "tcp/udp/tls/relp: write the bound port here (useful with port 0)"},
    {.name = "framing",
     .type = SL_CFG_ENUM,
     .offset = offsetof(input_conf_t, framing),
     .choices = framings,
     .def = "auto",
     .help = "stream framing: auto, octet-counted or lf"},
    {.name = "max_message_size",
     .type = SL_CFG_SIZE,
     .offset = offsetof(input_conf_t, max_message_size),
     .def = "64KiB",
     .min = 64,
     .max = 256 << 20,
     .help = "longer messages are truncated (and counted)"},
    {.name = "max_connections",
     .type = SL_CFG_INT,
     .offset = offsetof(input_conf_t, max_connections),
     .def = "10000",
     .max = 1000000,
     .help = "stream inputs: connections beyond this are refused (and counted); 0: no limit"},
    {.name = "threads",
     .type = SL_CFG_INT,
     .offset = offsetof(input_conf_t, threads),
     .def = "1",
     .min = 1,
     .max = 16,
     .help = "tcp/unix-stream: server threads, each with its own connections; udp: receiving "
             "threads (SO_REUSEPORT sockets)"},
    {.name = "receive_buffer",
     .type = SL_CFG_SIZE,
     .offset = offsetof(input_conf_t, receive_buffer),
     .def = "4MiB",
     .max = 1 << 30,
     .help = "udp: socket receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF up to "
             "net.core.rmem_max); 0: the system's default"},
    {.name = "socket_mode",
     .type = SL_CFG_MODE,
     .offset = offsetof(input_conf_t, socket_mode),
     .def = "0666",
     .help = "unix: permissions of the socket file"},
    {.name = "tls",
     .type = SL_CFG_NODE,
     .offset = offsetof(input_conf_t, tls),
     .help = "tls: {cert_file, key_file, ca_file, client_auth, allowed_peers}"},
    {0},
};

/* The tls map of a tls input (server) and of a forward action with protocol tls (client). */
typedef struct tls_keys_conf {
    char *cert_file;
    char *key_file;
    char *ca_file;
    int client_auth;
    const sl_cfg_node_t *allowed_peers;
    char *server_name;
} tls_keys_conf_t;

static const char *const client_auths[] = {"none", "optional", "require", NULL};

#define TLS_COMMON_KEYS                                                                            \
    {.name = "cert_file",                                                                          \
     .type = SL_CFG_STR,                                                                           \
     .offset = offsetof(tls_keys_conf_t, cert_file),                                               \
     .help = "PEM certificate (then intermediates) presented to the peer"},                        \
        {.name = "key_file",                                                                       \
         .type = SL_CFG_STR,                                                                       \
         .offset = offsetof(tls_keys_conf_t, key_file),                                            \
         .help = "PEM private key of cert_file"},                                                  \
    {                                                                                              \
        .name = "ca_file", .type = SL_CFG_STR, .offset = offsetof(tls_keys_conf_t, ca_file),       \
        .help = "PEM CA certificates the peer's certificate must chain to"                         \
    }

static const sl_cfg_key_t tls_server_keys[] = {
    TLS_COMMON_KEYS,
    {.name = "client_auth",
     .type = SL_CFG_ENUM,
     .offset = offsetof(tls_keys_conf_t, client_auth),
     .choices = client_auths,
     .def = "none",
     .help = "client certificates: none, optional (verified when sent) or require"},
    {.name = "allowed_peers",
     .type = SL_CFG_NODE,
     .offset = offsetof(tls_keys_conf_t, allowed_peers),
     .help = "list of names one of which the client certificate must carry"},
    {0},
};

static const sl_cfg_key_t tls_client_keys[] = {
    TLS_COMMON_KEYS,
    {.name = "server_name",
     .type = SL_CFG_STR,
     .offset = offsetof(tls_keys_conf_t, server_name),
     .help = "name the server certificate must carry (default: the target's host)"},
    {0},
};

/* Reads a tls map into out (which then owns its strings). 0 or -EINVAL (reported). */
static int load_tls(sl_cfg_errs_t *errs, const sl_cfg_node_t *node, bool server, sl_tls_conf_t *out)
{
    const sl_cfg_key_t *keys = server ? tls_server_keys : tls_client_keys;
    tls_keys_conf_t k = {0};
    int rc = -EINVAL;
    memset(out, 0, sizeof(*out));
    if (sl_cfg_apply(node, keys, &k, errs) < 0)
        goto out;
    const sl_cfg_node_t *peers = k.allowed_peers;
    if (peers && peers->type != SL_CFG_LIST) {
        sl_cfg_errs_add(errs, &peers->pos, "allowed_peers: expected a list of names, found %s",
                        sl_cfg_node_kind(peers));
        goto out;
    }
    sl_tls_conf_t tmp = {.cert_file = k.cert_file,
                         .key_file = k.key_file,
                         .ca_file = k.ca_file,
                         .client_auth = (sl_tls_client_auth_t)k.client_auth,
                         .server_name = k.server_name};
    char *names[64];
    if (peers) {
        if (peers->n > sizeof(names) / sizeof(names[0])) {
            sl_cfg_errs_add(errs, &peers->pos, "allowed_peers: at most 64 names");
            goto out;
        }
        for (size_t i = 0; i < peers->n; i++) {
            const sl_cfg_node_t *p = peers->items[i];
            if (p->type != SL_CFG_SCALAR || sl_cfg_node_is_null(p) || strlen(p->str) != p->len) {
                sl_cfg_errs_add(errs, &p->pos, "allowed_peers: expected a name");
                goto out;
            }
            names[i] = p->str;
        }
        tmp.allowed_peers = names;
        tmp.nallowed_peers = peers->n;
    }
    if (sl_tls_conf_copy(out, &tmp) < 0) {
        sl_cfg_errs_add(errs, &node->pos, "out of memory");
        goto out;
    }
    rc = 0;
out:
    sl_cfg_release(keys, &k);
    return rc;
}

typedef struct action_conf {
    /* Common to every action type. */
    char *name;
    int type;
    char *select;
    char *where;
    bool stop;
    char *template;
    int64_t flush_interval_ms;
    const sl_cfg_node_t *queue;
    /* file */
    char *path;
    unsigned file_mode;
    unsigned dir_mode;
    char *owner;
    char *file_group;
    uint64_t buffer_size;
    int64_t max_open_files;
    bool fsync;
    bool create_dirs;
    /* forward */
    char *target;
    int protocol;
    int fwd_framing;
    int64_t connect_timeout_ms;
    int64_t ack_timeout_ms;
    int64_t window;
    const sl_cfg_node_t *tls;
} action_conf_t;

enum { ACT_FILE, ACT_FORWARD, ACT_STDOUT, ACT_DISCARD };
static const char *const action_types[] = {"file", "forward", "stdout", "discard", NULL};
enum { PROTO_UDP, PROTO_TCP, PROTO_TLS, PROTO_RELP };
static const char *const protocols[] = {"udp", "tcp", "tls", "relp", NULL};
static const char *const fwd_framings[] = {"octet-counted", "lf", NULL};

/* The keys every action has, then each type's own. */
#define COMMON_ACTION_KEYS                                                                         \
    {.name = "name",                                                                               \
     .type = SL_CFG_STR,                                                                           \
     .offset = offsetof(action_conf_t, name),                                                      \
     .help = "name of the action; default TYPE-N (N: its place)"},                                 \
        {.name = "type",                                                                           \
         .type = SL_CFG_ENUM,                                                                      \
         .required = true,                                                                         \
         .offset = offsetof(action_conf_t, type),                                                  \
         .choices = action_types,                                                                  \
         .help = "file, forward, stdout or discard"},                                              \
        {.name = "select",                                                                         \
         .type = SL_CFG_STR,                                                                       \
         .offset = offsetof(action_conf_t, select),                                                \
         .help = "classic selector, e.g. \"*.info;mail.none\""},                                   \
        {.name = "where",                                                                          \
         .type = SL_CFG_STR,                                                                       \
         .offset = offsetof(action_conf_t, where),                                                 \
         .help = "expression over the fields, e.g. 'severity <= 4 and app_name != \"cron\"'"},     \
        {.name = "stop",                                                                           \
         .type = SL_CFG_BOOL,                                                                      \
         .offset = offsetof(action_conf_t, stop),                                                  \
         .def = "false",                                                                           \
         .help = "a message this action takes goes to no later action"},                           \
        {.name = "template",                                                                       \
         .type = SL_CFG_STR,                                                                       \
         .offset = offsetof(action_conf_t, template),                                              \
         .help = "built-in (traditional, rfc3164, rfc5424, json), a name from templates, or a "    \
                 "template string"},                                                               \
        {.name = "flush_interval",                                                                 \
         .type = SL_CFG_DURATION,                                                                  \
         .offset = offsetof(action_conf_t, flush_interval_ms),                                     \
         .def = "1s",                                                                              \
         .min = 1,                                                                                 \
         .help = "longest time output may stay buffered while idle"},                              \
    {                                                                                              \
        .name = "queue", .type = SL_CFG_NODE, .offset = offsetof(action_conf_t, queue),            \
        .help = "queue settings: {type: memory|direct|disk, size, batch, workers, retry_min, "     \
                "retry_max, memory_messages, max_disk, sync, sync_interval}"                       \
    }

static const sl_cfg_key_t file_keys[] = {
    COMMON_ACTION_KEYS,
    {.name = "path",
     .type = SL_CFG_STR,
     .required = true,
     .offset = offsetof(action_conf_t, path),
     .help = "file to append to; may contain ${field} (one file per host, ...)"},
    {.name = "file_mode",
     .type = SL_CFG_MODE,
     .offset = offsetof(action_conf_t, file_mode),
     .def = "0640",
     .help = "permissions of files created"},
    {.name = "dir_mode",
     .type = SL_CFG_MODE,
     .offset = offsetof(action_conf_t, dir_mode),
     .def = "0755",
     .help = "permissions of directories created"},
    {.name = "owner",
     .type = SL_CFG_STR,
     .offset = offsetof(action_conf_t, owner),
     .help = "user owning files created"},
    {.name = "group",
     .type = SL_CFG_STR,
     .offset = offsetof(action_conf_t, file_group),
     .help = "group owning files created"},
    {.name = "buffer_size",
     .type = SL_CFG_SIZE,
     .offset = offsetof(action_conf_t, buffer_size),
     .def = "64KiB",
     .min = 1,
     .max = 64 << 20,
     .help = "write buffer per open file"},
    {.name = "max_open_files",
     .type = SL_CFG_INT,
     .offset = offsetof(action_conf_t, max_open_files),
     .def = "64",
     .min = 1,
     .max = 100000,
     .help = "dynamic paths: open files kept (least recently used closed)"},
    {.name = "fsync",
     .type = SL_CFG_BOOL,
     .offset = offsetof(action_conf_t, fsync),
     .def = "false",
     .help = "fdatasync after every write"},
    {.name = "create_dirs",
     .type = SL_CFG_BOOL,
     .offset = offsetof(action_conf_t, create_dirs),
     .def = "true",
     .help = "create missing directories"},
    {0},
};

static const sl_cfg_key_t forward_keys[] = {
    COMMON_ACTION_KEYS,
    {.name = "target",
     .type = SL_CFG_STR,
     .required = true,
     .offset = offsetof(action_conf_t, target),
     .help = "host:port to send to"},
    {.name = "protocol",
     .type = SL_CFG_ENUM,
     .offset = offsetof(action_conf_t, protocol),
     .choices = protocols,
     .def = "tcp",
     .help = "udp, tcp, tls (RFC 5425) or relp"},
    {.name = "framing",
     .type = SL_CFG_ENUM,
     .offset = offsetof(action_conf_t, fwd_framing),
     .choices = fwd_framings,
     .def = "octet-counted",
     .help = "tcp/tls framing: octet-counted or lf"},
    {.name = "connect_timeout",
     .type = SL_CFG_DURATION,
     .offset = offsetof(action_conf_t, connect_timeout_ms),
     .def = "5s",
     .min = 1,
     .help = "give up a connection attempt (and a TLS handshake) after this long"},
    {.name = "ack_timeout",
     .type = SL_CFG_DURATION,
     .offset = offsetof(action_conf_t, ack_timeout_ms),
     .def = "90s",
     .min = 1,
     .help = "relp: longest wait for the receiver's acknowledgements"},
    {.name = "window",
     .type = SL_CFG_INT,
     .offset = offsetof(action_conf_t, window),
     .def = "128",
     .min = 1,
     .max = 65536,
     .help = "relp: messages sent and not yet acknowledged, at most"},
    {.name = "tls",
     .type = SL_CFG_NODE,
     .offset = offsetof(action_conf_t, tls),
     .help = "protocol tls: {ca_file, cert_file, key_file, server_name}"},
    {0},
};

static const sl_cfg_key_t simple_keys[] = {COMMON_ACTION_KEYS, {0}};

typedef struct queue_conf {
    int type;
    int64_t size;
    int64_t batch;
    int64_t workers;
    int64_t retry_min_ms;
    int64_t retry_max_ms;
    int64_t memory_messages;
    uint64_t max_disk;
    int sync;
    int64_t sync_interval_ms;
} queue_conf_t;

static const char *const queue_types[] = {"memory", "direct", "disk", NULL};
/* In the order of sl_dqueue_sync_t. */
static const char *const queue_syncs[] = {"interval", "batch", "none", NULL};

static const sl_cfg_key_t queue_keys[] = {
    {.name = "type",
     .type = SL_CFG_ENUM,
     .offset = offsetof(queue_conf_t, type),
     .choices = queue_types,
     .def = "memory",
     .help = "memory (default), direct or disk"},
    {.name = "size",
     .type = SL_CFG_INT,
     .offset = offsetof(queue_conf_t, size),
     .def = "100000",
     .min = 1,
     .max = 100000000,
     .help = "messages the queue holds"},
    {.name = "batch",
     .type = SL_CFG_INT,
     .offset = offsetof(queue_conf_t, batch),
     .def = "1024",
     .min = 1,
     .max = 65536,
     .help = "messages a worker takes at once"},
    {.name = "workers",
     .type = SL_CFG_INT,
     .offset = offsetof(queue_conf_t, workers),
     .def = "1",
     .min = 1,
     .max = 64,
     .help = "worker threads"},
    {.name = "retry_min",
     .type = SL_CFG_DURATION,
     .offset = offsetof(queue_conf_t, retry_min_ms),
     .def = "100ms",
     .min = 1,
     .help = "first wait after a failed delivery"},
    {.name = "retry_max",
     .type = SL_CFG_DURATION,
     .offset = offsetof(queue_conf_t, retry_max_ms),
     .def = "30s",
     .min = 1,
     .help = "longest wait between retries"},
    {.name = "memory_messages",
     .type = SL_CFG_INT,
     .offset = offsetof(queue_conf_t, memory_messages),
     .def = "10000",
     .max = 100000000,
     .help = "disk: messages held in memory before the files (0: all through the files)"},
    {.name = "max_disk",
     .type = SL_CFG_SIZE,
     .offset = offsetof(queue_conf_t, max_disk),
     .def = "1GiB",
     .min = 1 << 20,
     .help = "disk: most bytes of queue files; beyond, block (stream) or drop (datagram)"},
    {.name = "sync",
     .type = SL_CFG_ENUM,
     .offset = offsetof(queue_conf_t, sync),
     .choices = queue_syncs,
     .def = "interval",
     .help = "disk: batch (write and fdatasync every message before taking more), interval "
             "or none"},
    {.name = "sync_interval",
     .type = SL_CFG_DURATION,
     .offset = offsetof(queue_conf_t, sync_interval_ms),
     .def = "1s",
     .min = 1,
     .help = "disk: how often sync: interval syncs the files"},
    {0},
};

void sl_config_print_keys(FILE *f)
{
    static const struct {
        const char *title;
        const sl_cfg_key_t *keys;
    } sections[] = {
        {"top level", top_keys},
        {"inputs: - {...} (tcp, udp, unix, unix-stream)", input_keys},
        {"actions: - {type: file, ...}", file_keys},
        {"actions: - {type: forward, ...}", forward_keys},
        {"actions: - {type: stdout | discard, ...}", simple_keys},
        {"actions: - {queue: {...}}", queue_keys},
    };
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        fprintf(f, "%s%s:\n", i ? "\n" : "", sections[i].title);
        sl_cfg_print_help(sections[i].keys, f);
    }
}

/* ---- Building ------------------------------------------------------------------------ */

typedef struct build {
    sl_runtime_t *rt;
    sl_cfg_errs_t *errs;
    const sl_cfg_node_t *templates; /* the user's named templates */
    const char *work_dir;
} build_t;

/* Position of a column inside a scalar's text, for errors in select/where/template strings. */
static sl_cfg_pos_t pos_in(const sl_cfg_node_t *n, unsigned column)
{
    sl_cfg_pos_t p = n->pos;
    if (column > 0)
        p.col += column - 1 + (n->quoted ? 1 : 0);
    return p;
}

static int add_template(build_t *b, sl_template_t *t)
{
    sl_template_t **v = realloc(b->rt->templates, (b->rt->ntemplates + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    v[b->rt->ntemplates++] = t;
    b->rt->templates = v;
    return 0;
}

/* The template an action names: a built-in, a name from templates:, or a template string. */
static sl_template_t *resolve_template(build_t *b, const sl_cfg_node_t *action, const char *spec)
{
    const sl_cfg_pair_t *key = sl_cfg_map_find(action, "template");
    const sl_cfg_node_t *at = key ? key->value : action;
    const sl_cfg_node_t *named = sl_cfg_map_get(b->templates, spec);
    if (named) {
        at = named;
        spec = named->str;
    }
    char err[256];
    sl_template_t *t;
    int rc = sl_template_compile(spec, &t, err, sizeof(err));
    if (rc < 0) {
        sl_cfg_errs_add(b->errs, &at->pos, "template: %s", err);
        return NULL;
    }
    if (add_template(b, t) < 0) {
        sl_template_free(t);
        return NULL;
    }
    return t;
}

static void load_inputs(build_t *b, const sl_cfg_node_t *list)
{
    if (!list)
        return;
    if (list->type != SL_CFG_LIST) {
        sl_cfg_errs_add(b->errs, &list->pos, "inputs: expected a list, found %s",
                        sl_cfg_node_kind(list));
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const sl_cfg_node_t *node = list->items[i];
        input_conf_t c = {0};
        if (node->type != SL_CFG_MAP) {
            sl_cfg_errs_add(b->errs, &node->pos, "input: expected a map, found %s",
                            sl_cfg_node_kind(node));
            continue;
        }
        if (sl_cfg_apply(node, input_keys, &c, b->errs) == 0) {
            const sl_cfg_node_t *type = sl_cfg_map_get(node, "type");
            if (c.type == IN_TLS && !sl_tls_available()) {
                sl_cfg_errs_add(b->errs, &type->pos,
                                "input type tls needs OpenSSL, which this build lacks");
                goto next;
            }
            if (c.type == IN_RELP && !SL_HAVE_RELP) {
                sl_cfg_errs_add(b->errs, &type->pos,
                                "input type relp needs librelp, which this build lacks");
                goto next;
            }
            if (c.threads > 1 && c.type != IN_TCP && c.type != IN_UDP && c.type != IN_UNIX_STREAM) {
                sl_cfg_errs_add(b->errs, &sl_cfg_map_find(node, "threads")->key_pos,
                                "threads: only tcp, unix-stream and udp inputs take more than one");
                goto next;
            }
            if (c.tls && c.type != IN_TLS) {
                sl_cfg_errs_add(b->errs, &sl_cfg_map_find(node, "tls")->key_pos,
                                "tls: only an input of type tls takes it");
                goto next;
            }
            sl_net_input_conf_t nc = {
                .type = input_types[c.type],
                .listen = c.listen,
                .path = c.path,
                .port_file = c.port_file,
                .framing = (sl_framing_t)c.framing,
                .max_message_size = (size_t)c.max_message_size,
                .max_connections = (unsigned)c.max_connections,
                .threads = (unsigned)c.threads,
                .rcvbuf = (int)c.receive_buffer,
                .socket_mode = (mode_t)c.socket_mode,
            };
            char err[1024]; /* a module that cannot be loaded lists every path tried */
            sl_input_t *in;
            for (size_t j = 0; j < b->rt->ninputs; j++) {
                if (strcmp(b->rt->inputs[j]->name, c.name) == 0)
                    sl_cfg_errs_add(b->errs, &node->pos, "input name '%s' is used twice", c.name);
            }
            int rc;
            if (c.type == IN_TLS) {
                sl_tls_conf_t tls;
                if (!c.tls) {
                    sl_cfg_errs_add(b->errs, &node->pos,
                                    "input %s: type tls needs 'tls' (cert_file, key_file)", c.name);
                    goto next;
                }
                if (load_tls(b->errs, c.tls, true, &tls) < 0)
                    goto next;
                sl_tls_input_conf_t tc = {.listen = c.listen,
                                          .port_file = c.port_file,
                                          .framing = (sl_framing_t)c.framing,
                                          .max_message_size = (size_t)c.max_message_size,
                                          .max_connections = (unsigned)c.max_connections,
                                          .tls = &tls};
                /* The module is loaded here, on the main thread, while the configuration is. */
                const sl_tls_module_t *m = sl_module_tls(err, sizeof(err));
                rc = m ? m->input_create(c.name, &tc, &b->rt->engine, &in, err, sizeof(err))
                       : -ENOENT;
                sl_tls_conf_free(&tls);
            } else if (c.type == IN_RELP) {
                sl_relp_input_conf_t rc_ = {.listen = c.listen,
                                            .port_file = c.port_file,
                                            .max_message_size = (size_t)c.max_message_size};
                const sl_relp_module_t *m = sl_module_relp(err, sizeof(err));
                rc = m ? m->input_create(c.name, &rc_, &b->rt->engine, &in, err, sizeof(err))
                       : -ENOENT;
            } else {
                rc = sl_net_input_create(c.name, &nc, &b->rt->engine, &in, err, sizeof(err));
            }
            if (rc < 0) {
                sl_cfg_errs_add(b->errs, &node->pos, "input %s: %s", c.name, err);
            } else {
                sl_input_t **v = realloc(b->rt->inputs, (b->rt->ninputs + 1) * sizeof(*v));
                if (v) {
                    v[b->rt->ninputs++] = in;
                    b->rt->inputs = v;
                }
            }
        }
    next:
        sl_cfg_release(input_keys, &c);
    }
}

static int file_factory(const void *arg, void **inst, char *err, size_t errlen)
{
    return sl_file_create(arg, inst, err, errlen);
}
static int forward_factory(const void *arg, void **inst, char *err, size_t errlen)
{
    return sl_forward_create(arg, inst, err, errlen);
}
static int relp_factory(const void *arg, void **inst, char *err, size_t errlen)
{
    return sl_relp_output_create(arg, inst, err, errlen);
}
static int stdout_factory(const void *arg, void **inst, char *err, size_t errlen)
{
    return sl_stdout_create(arg, inst, err, errlen);
}
static int discard_factory(const void *arg, void **inst, char *err, size_t errlen)
{
    (void)arg;
    return sl_discard_create(inst, err, errlen);
}

/* Output configurations outlive the config tree: they own their strings. */
typedef struct file_conf_box {
    sl_file_conf_t c;
    char *path;
} file_conf_box_t;

static void file_conf_free(void *p)
{
    file_conf_box_t *fb = p;
    if (fb)
        free(fb->path);
    free(fb);
}

typedef struct fwd_conf_box {
    sl_forward_conf_t c;
    sl_relp_output_conf_t relp;
    sl_tls_conf_t tls;
    char *target;
} fwd_conf_box_t;

static void fwd_conf_free(void *p)
{
    fwd_conf_box_t *fb = p;
    if (fb) {
        free(fb->target);
        sl_tls_conf_free(&fb->tls);
    }
    free(fb);
}

static int lookup_ids(build_t *b, const sl_cfg_node_t *node, const action_conf_t *c, uid_t *uid,
                      gid_t *gid)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (c->owner) {
        struct passwd *p = getpwnam(c->owner);
        if (!p) {
            sl_cfg_errs_add(b->errs, &sl_cfg_map_find(node, "owner")->value->pos,
                            "unknown user '%s'", c->owner);
            return -EINVAL;
        }
        *uid = p->pw_uid;
    }
    if (c->file_group) {
        struct group *g = getgrnam(c->file_group);
        if (!g) {
            sl_cfg_errs_add(b->errs, &sl_cfg_map_find(node, "group")->value->pos,
                            "unknown group '%s'", c->file_group);
            return -EINVAL;
        }
        *gid = g->gr_gid;
    }
    return 0;
}

static void load_action(build_t *b, const sl_cfg_node_t *node, size_t index)
{
    action_conf_t c = {0};
    queue_conf_t q = {0};
    const sl_cfg_key_t *keys = simple_keys;
    const sl_cfg_node_t *type = sl_cfg_map_get(node, "type");
    if (type && type->type == SL_CFG_SCALAR) {
        if (strcmp(type->str, "file") == 0)
            keys = file_keys;
        else if (strcmp(type->str, "forward") == 0)
            keys = forward_keys;
    }
    if (sl_cfg_apply(node, keys, &c, b->errs) < 0)
        goto out;
    if (!c.name && asprintf(&c.name, "%s-%zu", action_types[c.type], index + 1) < 0) {
        c.name = NULL;
        goto nomem;
    }
    for (size_t i = 0; i < b->rt->engine.nactions; i++) {
        if (strcmp(b->rt->engine.actions[i]->name, c.name) == 0) {
            sl_cfg_errs_add(b->errs, &node->pos, "action name '%s' is used twice", c.name);
            goto out;
        }
    }
    if (sl_cfg_apply(c.queue, queue_keys, &q, b->errs) < 0)
        goto out;

    sl_selector_t sel;
    sl_where_t *where = NULL;
    sl_rule_err_t rerr;
    if (c.select && sl_selector_compile(c.select, &sel, &rerr) < 0) {
        sl_cfg_pos_t p = pos_in(sl_cfg_map_get(node, "select"), rerr.column);
        sl_cfg_errs_add(b->errs, &p, "select: %s", rerr.msg);
        goto out;
    }
    if (c.where && sl_where_compile(c.where, &where, &rerr) < 0) {
        sl_cfg_pos_t p = pos_in(sl_cfg_map_get(node, "where"), rerr.column);
        sl_cfg_errs_add(b->errs, &p, "where: %s", rerr.msg);
        goto out;
    }

    sl_action_conf_t ac = {
        .name = c.name,
        .queue_type = q.type == 1   ? SL_QT_DIRECT
                      : q.type == 2 ? SL_QT_DISK
                                    : SL_QT_MEMORY,
        .queue_size = (size_t)q.size,
        .batch_size = (size_t)q.batch,
        .workers = (unsigned)q.workers,
        .flush_interval_ms = (int)c.flush_interval_ms,
        .retry_min_ms = (int)q.retry_min_ms,
        .retry_max_ms = (int)q.retry_max_ms,
        .disk = {.memory_messages = (size_t)q.memory_messages,
                 .max_disk = q.max_disk,
                 .sync = (sl_dqueue_sync_t)q.sync,
                 .sync_interval_ms = (int)q.sync_interval_ms},
    };
    void *box = NULL;
    void (*box_free)(void *) = NULL;
    const void *create_arg = NULL; /* the output's configuration when not the box itself */
    const sl_template_t *t = NULL;
    if (c.type != ACT_DISCARD) {
        t = resolve_template(b, node,
                             c.template              ? c.template
                             : c.type == ACT_FORWARD ? "rfc5424"
                                                     : "traditional");
        if (!t) {
            sl_where_free(where);
            goto out;
        }
    }
    if (c.type == ACT_FILE) {
        file_conf_box_t *fb = calloc(1, sizeof(*fb));
        if (!fb)
            goto nomem;
        sl_file_conf_defaults(&fb->c);
        fb->path = strdup(c.path);
        fb->c.path = fb->path;
        fb->c.tmpl = t;
        fb->c.file_mode = c.file_mode;
        fb->c.dir_mode = c.dir_mode;
        fb->c.buffer_size = (size_t)c.buffer_size;
        fb->c.max_open = (unsigned)c.max_open_files;
        fb->c.fsync = c.fsync;
        fb->c.create_dirs = c.create_dirs;
        if (lookup_ids(b, node, &c, &fb->c.uid, &fb->c.gid) < 0) {
            file_conf_free(fb);
            sl_where_free(where);
            goto out;
        }
        box = fb;
        box_free = file_conf_free;
        ac.ops = &sl_file_ops;
        ac.create = file_factory;
    } else if (c.type == ACT_FORWARD) {
        /* The relp output is sluice's own client (outputs/relp.c): it needs no library. */
        const char *lacks = c.protocol == PROTO_TLS && !sl_tls_available() ? "OpenSSL" : NULL;
        if (lacks || (c.tls && c.protocol != PROTO_TLS)) {
            const sl_cfg_pair_t *key = sl_cfg_map_find(node, lacks ? "protocol" : "tls");
            if (lacks)
                sl_cfg_errs_add(b->errs, key ? &key->value->pos : &node->pos,
                                "protocol %s needs %s, which this build lacks",
                                protocols[c.protocol], lacks);
            else
                sl_cfg_errs_add(b->errs, &key->key_pos, "tls: only protocol tls takes it");
            sl_where_free(where);
            goto out;
        }
        fwd_conf_box_t *fb = calloc(1, sizeof(*fb));
        if (!fb)
            goto nomem;
        if (c.tls && load_tls(b->errs, c.tls, false, &fb->tls) < 0) {
            free(fb);
            sl_where_free(where);
            goto out;
        }
        fb->target = strdup(c.target);
        fb->c.target = fb->target;
        fb->c.protocol = c.protocol == PROTO_UDP   ? SL_FWD_UDP
                         : c.protocol == PROTO_TLS ? SL_FWD_TLS
                                                   : SL_FWD_TCP;
        fb->c.framing = c.fwd_framing == 0 ? SL_FWD_OCTET_COUNTED : SL_FWD_LF;
        fb->c.tmpl = t;
        fb->c.connect_timeout_ms = (int)c.connect_timeout_ms;
        fb->c.tls = &fb->tls;
        box = fb;
        box_free = fwd_conf_free;
        ac.ops = &sl_forward_ops;
        ac.create = forward_factory;
        if (c.protocol == PROTO_RELP) {
            fb->relp.target = fb->target;
            fb->relp.tmpl = t;
            fb->relp.connect_timeout_ms = (int)c.connect_timeout_ms;
            fb->relp.ack_timeout_ms = (int)c.ack_timeout_ms;
            fb->relp.window = (unsigned)c.window;
            ac.ops = &sl_relp_output_ops;
            ac.create = relp_factory;
            create_arg = &fb->relp;
        }
    } else if (c.type == ACT_STDOUT) {
        ac.ops = &sl_stdout_ops;
        ac.create = stdout_factory;
    } else {
        ac.ops = &sl_discard_ops;
        ac.create = discard_factory;
    }
    ac.create_arg = create_arg ? create_arg : box ? box : (const void *)t;

    /* A disk queue lives in work_dir/queues/<name>; its files are opened when it starts. */
    char *qdir = NULL;
    if (q.type == 2 && sl_dqueue_dir_for(b->work_dir ? b->work_dir : ".", c.name, &qdir) < 0) {
        if (box_free)
            box_free(box);
        sl_where_free(where);
        goto nomem;
    }
    ac.disk.dir = qdir;
    char err[1024] = ""; /* a module that cannot be loaded lists every path tried */
    sl_action_t *a;
    /* Output instances are created here, so that a bad path or target shows in --check. */
    int crc = sl_action_create(&a, &ac, err, sizeof(err));
    free(qdir);
    if (crc < 0) {
        sl_cfg_errs_add(b->errs, &node->pos, "action %s: %s", c.name, err);
        if (box_free)
            box_free(box);
        sl_where_free(where);
        goto out;
    }
    a->has_select = c.select != NULL;
    if (a->has_select)
        a->select = sel;
    a->where = where;
    a->stop = c.stop;
    sl_runtime_t *rt = b->rt;
    size_t n = rt->engine.nactions;
    sl_action_t **va = realloc(rt->engine.actions, (n + 1) * sizeof(*va));
    void **vb = realloc(rt->output_confs, (n + 1) * sizeof(*vb));
    void (**vf)(void *) = realloc(rt->output_conf_free, (n + 1) * sizeof(*vf));
    if (va)
        rt->engine.actions = va;
    if (vb)
        rt->output_confs = vb;
    if (vf)
        rt->output_conf_free = vf;
    if (!va || !vb || !vf) {
        sl_action_destroy(a);
        if (box_free)
            box_free(box);
        goto nomem;
    }
    va[n] = a;
    vb[n] = box;
    vf[n] = box_free;
    rt->engine.nactions = n + 1;
    goto out;
nomem:
    sl_cfg_errs_add(b->errs, &node->pos, "out of memory");
out:
    sl_cfg_release(queue_keys, &q);
    sl_cfg_release(keys, &c);
}

static void load_actions(build_t *b, const sl_cfg_node_t *list)
{
    if (!list)
        return;
    if (list->type != SL_CFG_LIST) {
        sl_cfg_errs_add(b->errs, &list->pos, "actions: expected a list, found %s",
                        sl_cfg_node_kind(list));
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const sl_cfg_node_t *node = list->items[i];
        if (node->type != SL_CFG_MAP) {
            sl_cfg_errs_add(b->errs, &node->pos, "action: expected a map, found %s",
                            sl_cfg_node_kind(node));
            continue;
        }
        load_action(b, node, i);
    }
}

static void check_templates(build_t *b, const sl_cfg_node_t *map)
{
    if (!map)
        return;
    if (map->type != SL_CFG_MAP) {
        sl_cfg_errs_add(b->errs, &map->pos, "templates: expected a map of name: string, found %s",
                        sl_cfg_node_kind(map));
        b->templates = NULL;
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        const sl_cfg_pair_t *p = &map->pairs[i];
        if (p->value->type != SL_CFG_SCALAR)
            sl_cfg_errs_add(b->errs, &p->value->pos, "template %s: expected a string", p->key);
    }
}

int sl_config_load(const char *path, const char *text, const char *name, sl_runtime_t **out,
                   FILE *err)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT, warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = NULL;
    int rc;
    *out = NULL;
    if (path)
        rc = sl_cfg_load(path, SL_CFG_FORMAT_AUTO, &doc, &errs, &warns);
    else
        rc = sl_cfg_load_yaml_string(text, strlen(text), name, &doc, &errs);
    sl_cfg_errs_print(&warns, err, "warning");
    sl_cfg_errs_free(&warns);
    if (rc < 0)
        goto fail;

    sl_runtime_t *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        rc = -ENOMEM;
        goto fail;
    }
    top_conf_t top = {0};
    build_t b = {.rt = rt, .errs = &errs};
    if (doc->root && doc->root->type != SL_CFG_MAP)
        sl_cfg_errs_add(&errs, &doc->root->pos, "expected a map of settings at the top");
    else
        sl_cfg_apply(doc->root, top_keys, &top, &errs);
    b.templates = top.templates;
    b.work_dir = top.work_dir;
    check_templates(&b, top.templates);
    load_inputs(&b, top.inputs);
    load_actions(&b, top.actions);
    if (rt->engine.nactions == 0 && sl_cfg_errs_count(&errs) == 0)
        sl_cfg_errs_add(&errs, doc->root ? &doc->root->pos : NULL,
                        "no actions: every message would be dropped");
    rt->work_dir = top.work_dir;
    rt->pidfile = top.pidfile;
    rt->control_socket = top.control_socket;
    rt->user = top.user;
    rt->group = top.group;
    top.work_dir = top.pidfile = top.control_socket = top.user = top.group = NULL;
    rt->stats_interval_s = (int)(top.stats_interval_ms / 1000);
    rt->shutdown_timeout_ms = (int)top.shutdown_timeout_ms;
    rt->lock_memory = top.lock_memory;
    sl_cfg_release(top_keys, &top);
    if (sl_cfg_errs_count(&errs) > 0) {
        sl_runtime_free(rt);
        rc = -EINVAL;
        goto fail;
    }
    sl_cfg_doc_free(doc);
    *out = rt;
    return 0;
fail:
    sl_cfg_errs_print(&errs, err, NULL);
    sl_cfg_errs_free(&errs);
    sl_cfg_doc_free(doc);
    return rc < 0 ? rc : -EINVAL;
}
