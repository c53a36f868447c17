/*
 * The two trivial outputs: stdout (formatted records to standard output, for foreground runs and
 * pipelines) and discard (accepts everything, writes nothing: with `stop`, a way to drop noise).
 */
#ifndef SL_OUTPUT_SIMPLE_H
#define SL_OUTPUT_SIMPLE_H

#include <stddef.h>

#include "core/template.h"
#include "outputs/output.h"

int sl_stdout_create(const sl_template_t *tmpl, void **inst, char *err, size_t errlen);
extern const sl_output_ops_t sl_stdout_ops;

int sl_discard_create(void **inst, char *err, size_t errlen);
extern const sl_output_ops_t sl_discard_ops;

#endif
