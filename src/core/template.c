/* Placeholder until the template engine lands: nothing compiles. */
#include <errno.h>
#include <stdio.h>

#include "core/template.h"

int sl_template_compile(const char *spec, sl_template_t **out, char *err, size_t errlen)
{
    (void)spec;
    *out = NULL;
    snprintf(err, errlen, "templates are not built yet");
    return -ENOSYS;
}

int sl_template_format(const sl_template_t *t, const sl_msg_t *m, sl_strbuf_t *b)
{
    (void)t;
    (void)m;
    (void)b;
    return -ENOSYS;
}

void sl_template_free(sl_template_t *t)
{
    (void)t;
}
