/*
 * The legacy syslog.conf reader: Debian's default rsyslog.conf, every action form, inputs,
 * continuation lines, includes, unsupported constructs reported with their line numbers, errors,
 * format detection, and truncated input at every length (run under ASan to catch overreads).
 * The main check is that a legacy file gives the same tree as the equivalent YAML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cfg.h"
#include "core/cfg_legacy.h"

/* ---- Helpers ---------------------------------------------------------------------------- */

static const char *fmt_err(const sl_cfg_errs_t *errs, size_t i)
{
    static char buf[1024];
    assert_true(i < errs->n);
    sl_cfg_err_format(&errs->v[i], buf, sizeof(buf));
    return buf;
}

static void print_tree(const sl_cfg_node_t *n, int ind)
{
    if (!n) {
        fprintf(stderr, "(none)\n");
        return;
    }
    if (n->type == SL_CFG_SCALAR) {
        fprintf(stderr, "'%s'\n", n->str);
    } else if (n->type == SL_CFG_MAP) {
        fprintf(stderr, "\n");
        for (size_t i = 0; i < n->n; i++) {
            fprintf(stderr, "%*s%s: ", ind, "", n->pairs[i].key);
            print_tree(n->pairs[i].value, ind + 2);
        }
    } else {
        fprintf(stderr, "\n");
        for (size_t i = 0; i < n->n; i++) {
            fprintf(stderr, "%*s- ", ind, "");
            print_tree(n->items[i], ind + 2);
        }
    }
}

static sl_cfg_doc_t *legacy_ok(const char *text, const char *name, sl_cfg_errs_t *warns)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = NULL;
    int rc = sl_cfg_legacy_load_string(text, strlen(text), name, &doc, &errs, warns);
    if (rc != 0)
        sl_cfg_errs_print(&errs, stderr, "error");
    assert_int_equal(rc, 0);
    assert_non_null(doc);
    sl_cfg_errs_free(&errs);
    return doc;
}

static void assert_same_as_yaml(const sl_cfg_doc_t *doc, const char *yaml)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *y;
    int rc = sl_cfg_load_yaml_string(yaml, strlen(yaml), "expected.yaml", &y, &errs);
    if (rc != 0)
        sl_cfg_errs_print(&errs, stderr, "error");
    assert_int_equal(rc, 0);
    if (!sl_cfg_node_equal(doc->root, y->root)) {
        fprintf(stderr, "legacy gave:");
        print_tree(doc->root, 2);
        fprintf(stderr, "yaml gave:");
        print_tree(y->root, 2);
        fail_msg("trees differ");
    }
    sl_cfg_doc_free(y);
}

/* Asserts that the list holds exactly these messages, in order. */
static void assert_msgs(const sl_cfg_errs_t *list, const char *const *want, size_t n)
{
    bool ok = list->n == n && list->dropped == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(fmt_err(list, i), want[i]) == 0;
    if (!ok) {
        for (size_t i = 0; i < list->n; i++)
            fprintf(stderr, "  have: %s\n", fmt_err(list, i));
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  want: %s\n", want[i]);
        fail_msg("messages differ");
    }
}

/* Loads text that must fail; returns the errors. */
static sl_cfg_errs_t legacy_bad(const char *text)
{
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = (sl_cfg_doc_t *)1;
    assert_int_equal(sl_cfg_legacy_load_string(text, strlen(text), "bad.conf", &doc, &errs, NULL),
                     -EINVAL);
    assert_null(doc);
    return errs;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- Debian's default rsyslog.conf ------------------------------------------------------ */

/*
 * Debian 12's /etc/rsyslog.conf as shipped (rsyslog 8.2302), except that $IncludeConfig names
 * a directory next to the file instead of /etc/rsyslog.d/, so the test does not read the host's.
 */
static const char debian_conf[] =
    "# /etc/rsyslog.conf configuration file for rsyslog\n"
    "#\n"
    "# For more information install rsyslog-doc and see\n"
    "# /usr/share/doc/rsyslog-doc/html/configuration/index.html\n"
    "\n"
    "\n"
    "#################\n"
    "#### MODULES ####\n"
    "#################\n"
    "\n"
    "module(load=\"imuxsock\") # provides support for local system logging\n"
    "module(load=\"imklog\")   # provides kernel logging support\n"
    "#module(load=\"immark\")  # provides --MARK-- message capability\n"
    "\n"
    "# provides UDP syslog reception\n"
    "#module(load=\"imudp\")\n"
    "#input(type=\"imudp\" port=\"514\")\n"
    "\n"
    "# provides TCP syslog reception\n"
    "#module(load=\"imtcp\")\n"
    "#input(type=\"imtcp\" port=\"514\")\n"
    "\n"
    "\n"
    "###########################\n"
    "#### GLOBAL DIRECTIVES ####\n"
    "###########################\n"
    "\n"
    "#\n"
    "# Set the default permissions for all log files.\n"
    "#\n"
    "$FileOwner root\n"
    "$FileGroup adm\n"
    "$FileCreateMode 0640\n"
    "$DirCreateMode 0755\n"
    "$Umask 0022\n"
    "\n"
    "#\n"
    "# Where to place spool and state files\n"
    "#\n"
    "$WorkDirectory /var/spool/rsyslog\n"
    "\n"
    "#\n"
    "# Include all config files in /etc/rsyslog.d/\n"
    "#\n"
    "$IncludeConfig rsyslog.d/*.conf\n"
    "\n"
    "\n"
    "###############\n"
    "#### RULES ####\n"
    "###############\n"
    "\n"
    "#\n"
    "# Log anything besides private authentication messages to a single log file\n"
    "#\n"
    "*.*;auth,authpriv.none\t\t-/var/log/syslog\n"
    "\n"
    "#\n"
    "# Log commonly used facilities to their own log file\n"
    "#\n"
    "auth,authpriv.*\t\t\t/var/log/auth.log\n"
    "cron.*\t\t\t\t-/var/log/cron.log\n"
    "kern.*\t\t\t\t-/var/log/kern.log\n"
    "mail.*\t\t\t\t-/var/log/mail.log\n"
    "user.*\t\t\t\t-/var/log/user.log\n"
    "\n"
    "#\n"
    "# Emergencies are sent to everybody logged in.\n"
    "#\n"
    "*.emerg\t\t\t\t:omusrmsg:*\n";

/* What postfix's Debian package drops into /etc/rsyslog.d/. */
static const char postfix_conf[] = "# Create an additional socket in postfix's chroot\n"
                                   "$AddUnixListenSocket /var/spool/postfix/dev/log\n";

static const char debian_yaml[] =
    "work_dir: /var/spool/rsyslog\n"
    "inputs:\n"
    "  - {name: imuxsock, type: unix, path: /dev/log}\n"
    "  - {name: imuxsock-2, type: unix, path: /var/spool/postfix/dev/log}\n"
    "actions:\n"
    "  - {type: file, path: /var/log/syslog, select: '*.*;auth,authpriv.none'}\n"
    "  - {type: file, path: /var/log/auth.log, select: 'auth,authpriv.*'}\n"
    "  - {type: file, path: /var/log/cron.log, select: 'cron.*'}\n"
    "  - {type: file, path: /var/log/kern.log, select: 'kern.*'}\n"
    "  - {type: file, path: /var/log/mail.log, select: 'mail.*'}\n"
    "  - {type: file, path: /var/log/user.log, select: 'user.*'}\n";

static void test_debian_default(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_cfg_legacy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char conf[64], incdir[64], inc[64];
    snprintf(conf, sizeof(conf), "%s/rsyslog.conf", dir);
    snprintf(incdir, sizeof(incdir), "%s/rsyslog.d", dir);
    snprintf(inc, sizeof(inc), "%s/rsyslog.d/postfix.conf", dir);
    write_file(conf, debian_conf);
    assert_int_equal(mkdir(incdir, 0700), 0);
    write_file(inc, postfix_conf);

    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT, warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    /* Detected as legacy, read through the generic entry point. */
    int rc = sl_cfg_load(conf, SL_CFG_FORMAT_AUTO, &doc, &errs, &warns);
    if (rc)
        sl_cfg_errs_print(&errs, stderr, "error");
    assert_int_equal(rc, 0);
    assert_same_as_yaml(doc, debian_yaml);

    char w[7][300];
    const char *want[7];
    const char *texts[7][2] = {
        {"12:1", "module 'imklog' is not supported; ignored"},
        {"31:1", "directive '$FileOwner' is not supported; ignored"},
        {"32:1", "directive '$FileGroup' is not supported; ignored"},
        {"33:1", "directive '$FileCreateMode' is not supported; ignored"},
        {"34:1", "directive '$DirCreateMode' is not supported; ignored"},
        {"35:1", "directive '$Umask' is not supported; ignored"},
        {"69:12",
         "messages to logged-in users (':omusrmsg:*', omusrmsg) are not supported; ignored"},
    };
    for (int i = 0; i < 7; i++) {
        snprintf(w[i], sizeof(w[i]), "%s:%s: %s", conf, texts[i][0], texts[i][1]);
        want[i] = w[i];
    }
    assert_msgs(&warns, want, 7);

    /* Positions point into the legacy files. */
    const sl_cfg_node_t *actions = sl_cfg_map_get(doc->root, "actions");
    const sl_cfg_node_t *syslog = actions->items[0];
    assert_string_equal(syslog->pos.file, conf);
    assert_int_equal(syslog->pos.line, 55);
    assert_int_equal(syslog->pos.col, 1);
    const sl_cfg_node_t *path = sl_cfg_map_get(syslog, "path");
    assert_int_equal(path->pos.line, 55);
    assert_int_equal(path->pos.col, 26);
    assert_int_equal(sl_cfg_map_get(syslog, "select")->pos.col, 1);
    const sl_cfg_node_t *inputs = sl_cfg_map_get(doc->root, "inputs");
    assert_int_equal(inputs->items[0]->pos.line, 11);
    const sl_cfg_node_t *pf = sl_cfg_map_get(inputs->items[1], "path");
    assert_string_equal(pf->pos.file, inc);
    assert_int_equal(pf->pos.line, 2);
    assert_int_equal(pf->pos.col, 22);
    const sl_cfg_pair_t *wd = sl_cfg_map_find(doc->root, "work_dir");
    assert_int_equal(wd->key_pos.line, 40);
    assert_int_equal(wd->value->pos.col, 16);

    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&errs);
    sl_cfg_errs_free(&warns);
    unlink(inc);
    rmdir(incdir);
    unlink(conf);
    rmdir(dir);
}

/* ---- Actions ---------------------------------------------------------------------------- */

static void test_action_forms(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = legacy_ok("mail.info\t/var/log/mail.info\n"
                                  "mail.warn -/var/log/mail.warn;RSYSLOG_TraditionalFileFormat\n"
                                  "*.* @loghost\n"
                                  "*.* @loghost:10514\n"
                                  "*.* @@10.0.0.2;RSYSLOG_SyslogProtocol23Format\n"
                                  "*.* @@[2001:db8::1]:6514\n"
                                  "*.* @[::1]\n"
                                  "*.* :omrelp:relay.example.com:2514\n"
                                  "local7.* ~\n"
                                  "local6.* stop\n"
                                  "news.* /var/log/news\n"
                                  "& @@central\n"
                                  "&  ~\n"
                                  "*.* action(type=\"omfile\" file=\"/var/log/all\" sync=\"on\")\n",
                                  "a.conf", &warns);
    assert_same_as_yaml(
        doc, "actions:\n"
             "  - {type: file, path: /var/log/mail.info, select: mail.info}\n"
             "  - {type: file, path: /var/log/mail.warn, select: mail.warn,\n"
             "     template: traditional}\n"
             "  - {type: forward, target: 'loghost:514', protocol: udp, select: '*.*',\n"
             "     template: rfc3164}\n"
             "  - {type: forward, target: 'loghost:10514', protocol: udp, select: '*.*',\n"
             "     template: rfc3164}\n"
             "  - {type: forward, target: '10.0.0.2:514', protocol: tcp, select: '*.*',\n"
             "     template: rfc5424}\n"
             "  - {type: forward, target: '[2001:db8::1]:6514', protocol: tcp, select: '*.*',\n"
             "     template: rfc3164}\n"
             "  - {type: forward, target: '[::1]:514', protocol: udp, select: '*.*',\n"
             "     template: rfc3164}\n"
             "  - {type: forward, target: 'relay.example.com:2514', protocol: relp,\n"
             "     select: '*.*', template: rfc3164}\n"
             "  - {type: discard, select: local7.*, stop: true}\n"
             "  - {type: discard, select: local6.*, stop: true}\n"
             "  - {type: file, path: /var/log/news, select: news.*}\n"
             "  - {type: forward, target: 'central:514', protocol: tcp, select: news.*,\n"
             "     template: rfc3164}\n"
             "  - {type: discard, select: news.*, stop: true}\n"
             "  - {type: file, path: /var/log/all, select: '*.*', fsync: true}\n");
    assert_int_equal(warns.n, 0);

    /* `&` reuses the selector with the selector's own position. */
    const sl_cfg_node_t *actions = sl_cfg_map_get(doc->root, "actions");
    const sl_cfg_node_t *amp = actions->items[11];
    assert_int_equal(amp->pos.line, 12);
    assert_int_equal(sl_cfg_map_get(amp, "select")->pos.line, 11);
    const sl_cfg_node_t *v6 = sl_cfg_map_get(actions->items[5], "target");
    assert_int_equal(v6->pos.line, 6);
    assert_int_equal(v6->pos.col, 8);
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

static void test_unsupported_actions(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = legacy_ok("*.emerg *\n"
                                  "*.alert root,admin\n"
                                  "daemon.* |/dev/xconsole\n"
                                  "*.* ^/usr/bin/prog\n"
                                  "*.* ?DynFile\n"
                                  "*.* :ommysql:db,user,pass\n"
                                  "*.* @(o)host\n"
                                  "*.* action(type=\"omprog\" binary=\"/bin/x\")\n"
                                  "*.* /var/log/x;MyTemplate\n",
                                  "u.conf", &warns);
    const char *want[] = {
        "u.conf:1:9: messages to logged-in users ('*', omusrmsg) are not supported; ignored",
        ("u.conf:2:9: messages to logged-in users ('root,admin', omusrmsg) are not supported; "
         "ignored"),
        "u.conf:3:10: named pipes ('|/dev/xconsole') are not supported; ignored",
        "u.conf:4:5: running programs ('^/usr/bin/prog') is not supported; ignored",
        ("u.conf:5:5: dynamic file names ('?DynFile') are not supported (in YAML, write the path "
         "with ${field}); ignored"),
        "u.conf:6:5: output module 'ommysql' is not supported; ignored",
        "u.conf:7:6: forwarding options '(o)' are not supported; ignored",
        "u.conf:8:5: action(type=\"omprog\") is not supported; ignored",
        ("u.conf:9:16: template 'MyTemplate' is not supported (only "
         "RSYSLOG_TraditionalFileFormat, RSYSLOG_TraditionalForwardFormat and "
         "RSYSLOG_SyslogProtocol23Format map to built-in templates); the action uses its "
         "default template"),
    };
    assert_msgs(&warns, want, sizeof(want) / sizeof(want[0]));
    /* What could be kept is kept. */
    assert_same_as_yaml(doc, "actions:\n"
                             "  - {type: forward, target: 'host:514', protocol: udp,\n"
                             "     select: '*.*', template: rfc3164}\n"
                             "  - {type: file, path: /var/log/x, select: '*.*'}\n");
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

static void test_default_templates(void **state)
{
    (void)state;
    sl_cfg_doc_t *doc = legacy_ok("*.* /var/log/a\n"
                                  "$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat\n"
                                  "$ActionForwardDefaultTemplate RSYSLOG_SyslogProtocol23Format\n"
                                  "*.* /var/log/b\n"
                                  "*.* @h\n"
                                  "*.* @h;RSYSLOG_TraditionalForwardFormat\n",
                                  "t.conf", NULL);
    assert_same_as_yaml(doc, "actions:\n"
                             "  - {type: file, path: /var/log/a, select: '*.*'}\n"
                             "  - {type: file, path: /var/log/b, select: '*.*',\n"
                             "     template: traditional}\n"
                             "  - {type: forward, target: 'h:514', protocol: udp, select: '*.*',\n"
                             "     template: rfc5424}\n"
                             "  - {type: forward, target: 'h:514', protocol: udp, select: '*.*',\n"
                             "     template: rfc3164}\n");
    sl_cfg_doc_free(doc);
}

/* ---- Inputs ----------------------------------------------------------------------------- */

static void test_inputs_legacy_directives(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = legacy_ok("$ModLoad imuxsock\n"
                                  "$ModLoad imudp.so\n"
                                  "$UDPServerRun 514\n"
                                  "$UDPServerAddress 127.0.0.1\n"
                                  "$UDPServerRun 10514\n"
                                  "$ModLoad /usr/lib/rsyslog/imtcp.so\n"
                                  "$InputTCPServerRun 1514\n"
                                  "$ModLoad imptcp\n"
                                  "$InputPTCPServerRun 2514\n"
                                  "$SystemLogSocketName /run/systemd/journal/syslog\n",
                                  "i.conf", &warns);
    assert_same_as_yaml(doc, "inputs:\n"
                             "  - {name: imuxsock, type: unix, path: /run/systemd/journal/syslog}\n"
                             "  - {name: imudp, type: udp, listen: '0.0.0.0:514'}\n"
                             "  - {name: imudp-2, type: udp, listen: '127.0.0.1:10514'}\n"
                             "  - {name: imtcp, type: tcp, listen: '0.0.0.0:1514'}\n"
                             "  - {name: imptcp, type: tcp, listen: '0.0.0.0:2514'}\n");
    assert_int_equal(warns.n, 0);
    /* The socket path came from line 10, the input from line 1. */
    const sl_cfg_node_t *ux = sl_cfg_map_get(doc->root, "inputs")->items[0];
    assert_int_equal(ux->pos.line, 1);
    assert_int_equal(sl_cfg_map_get(ux, "path")->pos.line, 10);
    assert_int_equal(sl_cfg_map_get(ux, "path")->pos.col, 22);
    const sl_cfg_node_t *udp = sl_cfg_map_get(doc->root, "inputs")->items[1];
    assert_int_equal(sl_cfg_map_get(udp, "listen")->pos.line, 3);
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

static void test_inputs_rainerscript(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = legacy_ok("module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
                                  "module(load=\"imudp\")\n"
                                  "input(type=\"imudp\" port=\"514\")\n"
                                  "module(load=\"imtcp\" MaxSessions=\"500\")\n"
                                  "input(type=\"imtcp\"\n"
                                  "      port=[\"514\", \"10514\"] # two ports\n"
                                  "      address=\"::1\" name=\"remote\")\n"
                                  "input(type=\"imptcp\" port=\"2514\")\n"
                                  "input(type=\"imuxsock\" socket=\"/var/lib/x/dev/log\")\n"
                                  "input(type=\"imfile\" file=\"/var/log/app.log\")\n"
                                  "global(workDirectory=\"/var/lib/rsyslog\" "
                                  "maxMessageSize=\"64k\")\n",
                                  "r.conf", &warns);
    assert_same_as_yaml(doc, "work_dir: /var/lib/rsyslog\n"
                             "inputs:\n"
                             "  - {name: imudp, type: udp, listen: '0.0.0.0:514'}\n"
                             "  - {name: remote, type: tcp, listen: '[::1]:514'}\n"
                             "  - {name: remote-2, type: tcp, listen: '[::1]:10514'}\n"
                             "  - {name: imptcp, type: tcp, listen: '0.0.0.0:2514'}\n"
                             "  - {name: imuxsock-2, type: unix, path: /var/lib/x/dev/log}\n");
    const char *want[] = {
        ("r.conf:4:21: parameter 'MaxSessions' of module(load=\"imtcp\") is not supported; "
         "ignored"),
        "r.conf:10:1: input type 'imfile' is not supported; ignored",
        "r.conf:11:41: parameter 'maxMessageSize' of global() is not supported; ignored",
    };
    assert_msgs(&warns, want, 3);
    const sl_cfg_node_t *tcp = sl_cfg_map_get(doc->root, "inputs")->items[2];
    assert_int_equal(tcp->pos.line, 5);
    assert_int_equal(sl_cfg_map_get(tcp, "listen")->pos.line, 6);
    assert_int_equal(sl_cfg_map_get(tcp, "listen")->pos.col, 20);
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

/* ---- Lines, comments, unsupported statements -------------------------------------------- */

static void test_continuation_lines(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc = legacy_ok("# a comment \\\n"
                                  "mail.*;\\\n"
                                  "# a comment inside\n"
                                  "\n"
                                  "    news.none;\\\r\n"
                                  "\tcron.none \\\n"
                                  "   /var/log/misc   # trailing comment\n"
                                  "kern.* /var/log/kern\n",
                                  "c.conf", &warns);
    assert_same_as_yaml(doc, "actions:\n"
                             "  - {type: file, path: /var/log/misc, "
                             "select: 'mail.*;news.none;cron.none'}\n"
                             "  - {type: file, path: /var/log/kern, select: kern.*}\n");
    const sl_cfg_node_t *a = sl_cfg_map_get(doc->root, "actions");
    /* The joined line is at its first line; the path at the line it was on. */
    assert_int_equal(a->items[0]->pos.line, 2);
    assert_int_equal(sl_cfg_map_get(a->items[0], "path")->pos.line, 7);
    assert_int_equal(sl_cfg_map_get(a->items[0], "path")->pos.col, 4);
    assert_int_equal(a->items[1]->pos.line, 8);
    assert_int_equal(warns.n, 0);
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

static void test_unsupported_statements(void **state)
{
    (void)state;
    sl_cfg_errs_t warns = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc =
        legacy_ok("$ActionQueueType LinkedList\n"                               /* 1 */
                  "$template DynFile,\"/var/log/%HOSTNAME%.log\"\n"             /* 2 */
                  ":msg, contains, \"iptables\" /var/log/iptables.log\n"        /* 3 */
                  "& stop\n"                                                    /* 4 */
                  "if $programname == 'sshd' and $msg contains 'then' then {\n" /* 5 */
                  "  action(type=\"omfile\" file=\"/var/log/sshd.log\")\n"
                  "  stop\n"
                  "}\n"
                  "auth.* /var/log/auth\n"                                      /* 9 */
                  "if $fromhost-ip startswith '10.' then /var/log/remote.log\n" /* 10 */
                  "& ~\n"                                                       /* 11 */
                  "if ($syslogseverity <= 3) then\n"                            /* 12 */
                  "    action(type=\"omfwd\" target=\"x\"\n"
                  "           protocol=\"tcp\")\n"
                  "else {\n"
                  "    stop\n"
                  "}\n"
                  "template(name=\"t\" type=\"list\") {\n" /* 18 */
                  "    property(name=\"msg\")\n"
                  "    constant(value=\"}\\n\")\n"
                  "}\n"
                  "ruleset(name=\"remote\") {\n" /* 22 */
                  "    *.* /var/log/remote\n"
                  "}\n"
                  "set $.x = \"a;b\";\n"                /* 25 */
                  "main_queue(queue.size=\"100000\")\n" /* 26 */
                  "/* a C comment\n"
                  "   over lines */\n"
                  "stop\n"                                                   /* 29 */
                  ":programname, isequal, \"cron\" action(type=\"omfile\"\n" /* 30 */
                  "    file=\"/var/log/cron\")\n"
                  "mail.* /var/log/mail\n", /* 32 */
                  "s.conf", &warns);
    const char *want[] = {
        "s.conf:1:1: directive '$ActionQueueType' is not supported; ignored",
        "s.conf:2:1: directive '$template' is not supported; ignored",
        ("s.conf:3:1: property filters (':msg, contains') are not supported (use where: in the "
         "YAML format); the filter and its action are ignored"),
        "s.conf:4:1: action belongs to the unsupported filter at line 3; ignored",
        ("s.conf:5:1: 'if' statements are not supported (use where: in the YAML format); the "
         "statement and its actions are ignored"),
        ("s.conf:10:1: 'if' statements are not supported (use where: in the YAML format); the "
         "statement and its actions are ignored"),
        "s.conf:11:1: action belongs to the unsupported filter at line 10; ignored",
        ("s.conf:12:1: 'if' statements are not supported (use where: in the YAML format); the "
         "statement and its actions are ignored"),
        ("s.conf:18:1: template() is not supported (define templates: in the YAML format); "
         "ignored"),
        "s.conf:22:1: ruleset() is not supported; the actions in it are ignored",
        "s.conf:25:1: 'set' statements are not supported; ignored",
        "s.conf:26:1: 'main_queue()' is not supported; ignored",
        "s.conf:29:1: 'stop' outside a filter is not supported; ignored",
        ("s.conf:30:1: property filters (':programname, isequal') are not supported (use where: "
         "in the YAML format); the filter and its action are ignored"),
    };
    assert_msgs(&warns, want, sizeof(want) / sizeof(want[0]));
    /* Only the two plain selector lines are actions; nothing inside the skipped blocks is. */
    assert_same_as_yaml(doc, "actions:\n"
                             "  - {type: file, path: /var/log/auth, select: auth.*}\n"
                             "  - {type: file, path: /var/log/mail, select: mail.*}\n");
    const sl_cfg_node_t *a = sl_cfg_map_get(doc->root, "actions");
    assert_int_equal(a->items[0]->pos.line, 9);
    assert_int_equal(a->items[1]->pos.line, 32);
    sl_cfg_doc_free(doc);
    sl_cfg_errs_free(&warns);
}

static void test_errors(void **state)
{
    (void)state;
    sl_cfg_errs_t errs = legacy_bad("*.* @host:99999\n"
                                    "bogus\n"
                                    "mail.*\n"
                                    "*.* /var/log/a b\n"
                                    "& /var/log/x\n"
                                    "!sshd\n"
                                    "*.* @\n"
                                    "*.* relative/path\n"
                                    "$UDPServerRun 0\n"
                                    "$WorkDirectory\n"
                                    "input(type=\"imudp\")\n"
                                    "module(load=\"imudp\" port=)\n"
                                    "*.* action(type=\"omfile\"\n");
    const char *want[] = {
        "bad.conf:1:11: expected a port number from 1 to 65535, got '99999'",
        "bad.conf:2:1: expected a selector like 'mail.info' followed by an action, got 'bogus'",
        "bad.conf:3:7: expected an action after the selector",
        "bad.conf:4:5: expected one file path, got '/var/log/a b'",
        ("bad.conf:6:1: BSD-style program/host blocks ('!...') are not supported; remove them "
         "and filter with where: in the YAML format"),
        "bad.conf:7:6: expected a host name or address after '@host'",
        ("bad.conf:8:5: expected an action (/path, -/path, @host, @@host, ~ or stop), got "
         "'relative/path'"),
        "bad.conf:9:15: expected a port number from 1 to 65535, got '0'",
        "bad.conf:10:15: expected a value after '$WorkDirectory'",
        "bad.conf:11:1: input(type=\"imudp\") needs port=\"...\"",
        "bad.conf:12:26: expected a value for 'port'",
        "bad.conf:13:11: expected ')' to close this '('",
    };
    assert_msgs(&errs, want, sizeof(want) / sizeof(want[0]));
    sl_cfg_errs_free(&errs);

    errs = legacy_bad("& /var/log/x\n");
    assert_string_equal(fmt_err(&errs, 0), "bad.conf:1:1: expected a filter before this '&' line");
    sl_cfg_errs_free(&errs);

    /* A NUL byte is refused where it is (legacy_bad would stop at it, so load directly). */
    static const char nul[] = "*.* /x\n*.* /y\0z\n";
    sl_cfg_doc_t *doc;
    assert_int_equal(sl_cfg_legacy_load_string(nul, sizeof(nul) - 1, "n.conf", &doc, &errs, NULL),
                     -EINVAL);
    assert_string_equal(fmt_err(&errs, 0), "n.conf:2:7: expected text, found a NUL byte");
    sl_cfg_errs_free(&errs);
}

static void test_include(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_cfg_legacy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char main_conf[64], d[64], a[64], b[64], loop[64], sub[64];
    snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
    snprintf(d, sizeof(d), "%s/conf.d", dir);
    snprintf(a, sizeof(a), "%s/conf.d/20-b.conf", dir);
    snprintf(b, sizeof(b), "%s/conf.d/10-a.conf", dir);
    snprintf(sub, sizeof(sub), "%s/conf.d/skipme", dir);
    snprintf(loop, sizeof(loop), "%s/loop.conf", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(main_conf, "kern.* /var/log/kern\n"
                          "$IncludeConfig conf.d/*.conf\n"
                          "include(file=\"conf.d/\")\n"
                          "include(file=\"missing.conf\" mode=\"optional\")\n"
                          "$IncludeConfig nothing-here/*.conf\n"
                          "mail.* /var/log/mail\n");
    write_file(a, "cron.* /var/log/cron\n");
    write_file(b, "user.* /var/log/user\n");

    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    int rc = sl_cfg_legacy_load_file(main_conf, &doc, &errs, NULL);
    if (rc)
        sl_cfg_errs_print(&errs, stderr, "error");
    assert_int_equal(rc, 0);
    /* Sorted, in place; the directory include takes every file (and skips subdirectories). */
    assert_same_as_yaml(doc, "actions:\n"
                             "  - {type: file, path: /var/log/kern, select: kern.*}\n"
                             "  - {type: file, path: /var/log/user, select: user.*}\n"
                             "  - {type: file, path: /var/log/cron, select: cron.*}\n"
                             "  - {type: file, path: /var/log/user, select: user.*}\n"
                             "  - {type: file, path: /var/log/cron, select: cron.*}\n"
                             "  - {type: file, path: /var/log/mail, select: mail.*}\n");
    const sl_cfg_node_t *acts = sl_cfg_map_get(doc->root, "actions");
    assert_string_equal(acts->items[1]->pos.file, b);
    assert_string_equal(acts->items[5]->pos.file, main_conf);
    sl_cfg_doc_free(doc);

    /* A file that includes itself stops at the nesting limit, with an error. */
    write_file(loop, "$IncludeConfig loop.conf\n");
    assert_int_equal(sl_cfg_legacy_load_file(loop, &doc, &errs, NULL), -EINVAL);
    assert_int_equal(errs.n, 1);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:1:1: includes nested deeper than %d levels (does a file include itself?)", loop,
             SL_CFG_LEGACY_MAX_INCLUDE);
    assert_string_equal(fmt_err(&errs, 0), want);
    sl_cfg_errs_free(&errs);

    /* A missing file without wildcards is an error unless optional. */
    write_file(loop, "include(file=\"nope.conf\")\n");
    assert_int_equal(sl_cfg_legacy_load_file(loop, &doc, &errs, NULL), -EINVAL);
    assert_non_null(strstr(fmt_err(&errs, 0), "nope.conf': no such file"));
    sl_cfg_errs_free(&errs);

    unlink(a);
    unlink(b);
    rmdir(sub);
    rmdir(d);
    unlink(main_conf);
    unlink(loop);
    rmdir(dir);
}

/* ---- Detection and robustness ----------------------------------------------------------- */

static void test_detect_format(void **state)
{
    (void)state;
    struct {
        const char *text;
        sl_cfg_format_t want;
    } cases[] = {
        {"", SL_CFG_FORMAT_YAML},
        {"# only comments\n\n", SL_CFG_FORMAT_YAML},
        {"work_dir: ./x\n", SL_CFG_FORMAT_YAML},
        {"# c\n\ninputs:\n  - {}\n", SL_CFG_FORMAT_YAML},
        {"---\na: 1\n", SL_CFG_FORMAT_YAML},
        {"%YAML 1.1\n---\n", SL_CFG_FORMAT_YAML},
        {"- a\n", SL_CFG_FORMAT_YAML},
        {"\"quoted key\": 1\n", SL_CFG_FORMAT_YAML},
        {"{a: 1}\n", SL_CFG_FORMAT_YAML},
        {"\xef\xbb\xbfkey:\n", SL_CFG_FORMAT_YAML},
        {"*.* /var/log/all\n", SL_CFG_FORMAT_LEGACY},
        {"# rsyslog\n$ModLoad imuxsock\n", SL_CFG_FORMAT_LEGACY},
        {"module(load=\"imuxsock\")\n", SL_CFG_FORMAT_LEGACY},
        {"mail.info /var/log/mail\n", SL_CFG_FORMAT_LEGACY},
        {":msg, contains, \"x\" /var/log/x\n", SL_CFG_FORMAT_LEGACY},
        {"kern.*\t/dev/console\nwork_dir: x\n", SL_CFG_FORMAT_LEGACY},
        {"-/var/log/x\n", SL_CFG_FORMAT_LEGACY},
        {"if $msg contains 'a' then stop\n", SL_CFG_FORMAT_LEGACY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_cfg_format_t got = sl_cfg_detect_format(cases[i].text, strlen(cases[i].text));
        if (got != cases[i].want)
            fail_msg("case %zu ('%s'): got %d", i, cases[i].text, (int)got);
    }
}

static void test_load_forced_format(void **state)
{
    (void)state;
    char path[] = "/tmp/test_cfg_legacy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "work_dir: /x\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    sl_cfg_errs_t errs = SL_CFG_ERRS_INIT;
    sl_cfg_doc_t *doc;
    assert_int_equal(sl_cfg_load(path, SL_CFG_FORMAT_AUTO, &doc, &errs, NULL), 0);
    assert_string_equal(sl_cfg_map_get(doc->root, "work_dir")->str, "/x");
    sl_cfg_doc_free(doc);
    /* Forced to legacy, the same text is not a valid syslog.conf. */
    assert_int_equal(sl_cfg_load(path, SL_CFG_FORMAT_LEGACY, &doc, &errs, NULL), -EINVAL);
    assert_null(doc);
    assert_true(errs.n > 0);
    sl_cfg_errs_free(&errs);
    unlink(path);
}

/* A config with every construct, loaded cut at every length: must never crash or overread. */
static void test_truncated_input(void **state)
{
    (void)state;
    static const char text[] =
        "$ModLoad imuxsock\n$UDPServerRun 514\nmodule(load=\"imtcp\")\n"
        "input(type=\"imtcp\" port=[\"1\", \"2\"] address=\"::1\")\n"
        "mail.*;\\\n  news.none -/var/log/m;RSYSLOG_TraditionalFileFormat\n"
        "& @@[2001:db8::1]:6514\n& ~\n*.* @(o)h:1;X\n"
        ":msg, contains, \"a\\\"b\" action(type=\"omfile\" file=\"/x\")\n"
        "if $msg contains 'x' then {\n  stop\n} else /var/log/y\n"
        "template(name=\"t\" type=\"string\" string=\"%msg%\\n\")\n"
        "/* c */ set $.a = 'b;';\n*.* action(type=\"omfwd\" target=\"h\" port=\"1\")\n"
        "include(file=\"/nonexistent/*.conf\")\n*.emerg :omusrmsg:*\n";
    for (size_t n = 0; n <= sizeof(text) - 1; n++) {
        /* An exact-size heap copy, so ASan sees any read past the end. */
        char *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, text, n);
        sl_cfg_errs_t errs = SL_CFG_ERRS_INIT, warns = SL_CFG_ERRS_INIT;
        sl_cfg_doc_t *doc = NULL;
        int rc = sl_cfg_legacy_load_string(copy, n, "t.conf", &doc, &errs, &warns);
        assert_true(rc == 0 || rc == -EINVAL);
        assert_true((rc == 0) == (doc != NULL));
        sl_cfg_doc_free(doc);
        sl_cfg_errs_free(&errs);
        sl_cfg_errs_free(&warns);
        (void)sl_cfg_detect_format(copy, n);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debian_default),
        cmocka_unit_test(test_action_forms),
        cmocka_unit_test(test_unsupported_actions),
        cmocka_unit_test(test_default_templates),
        cmocka_unit_test(test_inputs_legacy_directives),
        cmocka_unit_test(test_inputs_rainerscript),
        cmocka_unit_test(test_continuation_lines),
        cmocka_unit_test(test_unsupported_statements),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_detect_format),
        cmocka_unit_test(test_load_forced_format),
        cmocka_unit_test(test_truncated_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
