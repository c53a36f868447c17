/*
 * Templates: how a message becomes bytes for an output.
 *
 * Built-in templates are "traditional" (byte-identical to rsyslog's
 * RSYSLOG_TraditionalFileFormat), "rfc3164", "rfc5424" and "json" (one object a line, keys are
 * the field names from DESIGN.md). A custom template is a string with ${field} references and
 * C-style escapes (\n, \t, \\, \$). A template is compiled once and is then read-only, so any
 * number of worker threads may format with it at once.
 *
 * The built-ins, each record ending in "\n":
 *   traditional  "Mmm dd hh:mm:ss HOST TAG MSG" as rsyslog's
 *                "%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%"
 *                writes it with its default reception settings (control characters as "#ooo").
 *                "RSYSLOG_TraditionalFileFormat" is accepted as another name for it.
 *   rfc3164      "<PRI>Mmm dd hh:mm:ss HOST TAG MSG", rsyslog's TraditionalForwardFormat
 *                ("<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag:1:32%%msg:::sp-if-no-1st-sp%%msg%").
 *   rfc5424      "<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD MSG", always valid RFC 5424:
 *                "-" for empty header fields, other bytes than '!'..'~' in them become '_',
 *                lengths cut to 255/48/128/32, malformed SD becomes "-", the BOM is restored.
 *   json         {"timestamp":..,"hostname":..,"app_name":..,"procid":..,"msgid":..,
 *                "structured_data":..,"msg":..,"tag":..,"pri":N,"facility":N,"severity":N,
 *                "fromhost":..,"received":..,"input":..}: valid JSON and UTF-8 for any bytes
 *                (see lib/json.h); fields exactly as parsed, an absent one is "".
 *
 * Custom templates. Any other spec is literal text with field references:
 *   ${name}   the field (names as in DESIGN.md: hostname, app_name, msg, ...). Bytes below 0x20
 *             in the value become '#' and three octal digits, as rsyslog writes them, so a
 *             value never breaks a line; a msg that ends the raw text loses one trailing NUL and
 *             then one trailing LF, as in rsyslog.
 *   \n \t \r  LF, tab, CR;   \\  a backslash;   \$  a dollar sign.
 *   Literal dollar rule: '$' is literal unless "${" follows it, so "$5" and "$$" are written as
 *   they are; to write the two characters "${" literally, write "\${". Any other backslash
 *   escape is an error. Literal text, escapes included, is written exactly as given (no
 *   "\n" is added at the end). A custom template must reference at least one field, so a
 *   misspelt built-in name ("tradtional") is an error rather than a constant line.
 */
#ifndef SL_TEMPLATE_H
#define SL_TEMPLATE_H

#include <stddef.h>

#include "core/msg.h"
#include "lib/strbuf.h"

typedef struct sl_template sl_template_t;

/*
 * Compiles spec: the name of a built-in template, or a custom template string. Returns 0 and sets
 * *out, or a negative errno and writes a one-line reason to err (e.g. "unknown field 'hostnme'
 * at column 3"), naming the column (1-based) in spec where it applies.
 */
int sl_template_compile(const char *spec, sl_template_t **out, char *err, size_t errlen);

/*
 * Compiles a custom template for a file path (always custom, never a built-in name): each field
 * value becomes one safe path component ('/' and control characters replaced by '_', an empty,
 * "." or ".." value by "_"), so a sender cannot steer a dynamic file out of its directory.
 */
int sl_template_compile_path(const char *spec, sl_template_t **out, char *err, size_t errlen);

/* Appends the formatted message to b. 0, or -ENOMEM. */
int sl_template_format(const sl_template_t *t, const sl_msg_t *m, sl_strbuf_t *b);

void sl_template_free(sl_template_t *t);

#endif
