/*
 * Templates: how a message becomes bytes for an output.
 *
 * Built-in templates are "traditional" (byte-identical to rsyslog's
 * RSYSLOG_TraditionalFileFormat), "rfc3164", "rfc5424" and "json" (one object a line, keys are
 * the field names from DESIGN.md). A custom template is a string with ${field} references and
 * C-style escapes (\n, \t, \\, \$). A template is compiled once and is then read-only, so any
 * number of worker threads may format with it at once.
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

/* Appends the formatted message to b. 0, or -ENOMEM. */
int sl_template_format(const sl_template_t *t, const sl_msg_t *m, sl_strbuf_t *b);

void sl_template_free(sl_template_t *t);

#endif
