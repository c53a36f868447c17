/* Placeholder until the RFC 5424 parser lands: every message is malformed. */
#include <errno.h>

#include "parsers/parse.h"

int sl_parse_rfc5424(sl_msg_t *m, const char *p, const sl_parse_ctx_t *ctx)
{
    (void)m;
    (void)p;
    (void)ctx;
    return -EINVAL;
}
