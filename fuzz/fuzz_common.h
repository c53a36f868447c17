/*
 * Shared by the fuzz harnesses: a fixed parse context and the checks every parsed message must
 * pass whatever the input: spans inside the message's buffer, and JSON output that is valid
 * JSON and valid UTF-8.
 */
#ifndef SL_FUZZ_COMMON_H
#define SL_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "core/msg.h"
#include "core/template.h"
#include "json_check.h"
#include "lib/strbuf.h"
#include "parsers/parse.h"

static inline sl_parse_ctx_t fuzz_ctx(void)
{
    sl_parse_ctx_t ctx = {.fromhost = "192.0.2.7", .input = "fuzz"};
    ctx.received = (sl_timestamp_t){.year = 2026,
                                    .month = 1,
                                    .day = 1,
                                    .hour = 0,
                                    .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
    return ctx;
}

static inline void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    abort();
}

/* Every span lies inside the buffer, and every template turns the message into output; the
 * JSON one must be valid JSON in valid UTF-8. */
static inline void fuzz_check_msg(const sl_msg_t *m)
{
    static sl_template_t *t[4];
    static const char *names[4] = {"json", "traditional", "rfc3164", "rfc5424"};
    char err[256];
    sl_strbuf_t out = SL_STRBUF_INIT;
    for (int i = 0; i < SL_F_NSPANS; i++) {
        if ((uint64_t)m->f[i].off + m->f[i].len > m->buf_len)
            fuzz_fail("span outside the message");
    }
    if ((m->flags & SL_MSG_MALFORMED) && m->f[SL_F_MSG].len != m->raw_len)
        fuzz_fail("malformed message does not keep its raw text in msg");
    for (int i = 0; i < 4; i++) {
        if (!t[i] && sl_template_compile(names[i], &t[i], err, sizeof(err)) < 0)
            fuzz_fail(err);
        sl_strbuf_reset(&out);
        if (sl_template_format(t[i], m, &out) < 0)
            fuzz_fail("template failed");
        if (out.len == 0 || out.data[out.len - 1] != '\n')
            fuzz_fail("template output does not end with a newline");
        if (memchr(out.data, '\n', out.len) != out.data + out.len - 1)
            fuzz_fail("template output spans several lines");
        if (i == 0 && sl_json_check(out.data, out.len - 1, NULL, NULL) != 0)
            fuzz_fail("invalid JSON");
    }
    sl_strbuf_free(&out);
}

#endif
