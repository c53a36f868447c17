/* libFuzzer harness: any bytes straight into the RFC 5424 parser (no format detection). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_parse_ctx_t ctx = fuzz_ctx();
    sl_msg_t *m = sl_msg_new((const char *)data, size, ctx.fromhost, ctx.input);
    if (!m)
        return 0;
    m->received = ctx.received;
    const char *p = m->buf;
    int pri, used = sl_parse_pri(p, m->raw_len, &pri);
    if (used > 0) {
        m->pri = (uint8_t)pri;
        p += used;
    }
    if (sl_parse_rfc5424(m, p, &ctx) < 0)
        sl_msg_mark_malformed(m);
    fuzz_check_msg(m);
    sl_msg_unref(m);
    return 0;
}
