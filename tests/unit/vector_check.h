/*
 * Runs one parser vector under cmocka (see vectors.h). Included by the parser tests only.
 */
#ifndef SL_TEST_VECTOR_CHECK_H
#define SL_TEST_VECTOR_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/msg.h"
#include "parsers/parse.h"
#include "vectors.h"

static inline sl_parse_ctx_t sl_vector_ctx(void)
{
    sl_parse_ctx_t ctx = {.fromhost = SL_VEC_FROMHOST, .input = SL_VEC_INPUT};
    ctx.received = (sl_timestamp_t){.year = 2026, .month = 11, .day = 22, .hour = 10,
                                    .flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR};
    return ctx;
}

static inline void sl_vector_field(const struct sl_vector *v, const sl_msg_t *m,
                                   sl_field_id_t id, const char *want, int *bad)
{
    char scratch[SL_FIELD_SCRATCH];
    const char *got;
    size_t n;
    if (!want)
        return;
    n = sl_msg_field(m, id, scratch, &got);
    if (n != strlen(want) || memcmp(got, want, n) != 0) {
        print_error("vector '%s': %s is \"%.*s\", expected \"%s\"\n", v->name, sl_field_name(id),
                    (int)n, got, want);
        *bad = 1;
    }
}

static inline void sl_vector_check(const struct sl_vector *v)
{
    sl_parse_ctx_t ctx = sl_vector_ctx();
    size_t len = v->raw_len ? v->raw_len : strlen(v->raw);
    sl_msg_t *m = sl_parse(v->raw, len, &ctx);
    int bad = 0;
    assert_non_null(m);
    if (v->pri >= 0 && m->pri != v->pri) {
        print_error("vector '%s': pri %d, expected %d\n", v->name, m->pri, v->pri);
        bad = 1;
    }
    if (v->proto >= 0 && m->proto != v->proto) {
        print_error("vector '%s': proto %d, expected %d\n", v->name, m->proto, v->proto);
        bad = 1;
    }
    if ((m->flags & ~SL_MSG_MSG_SP) != v->flags) {
        print_error("vector '%s': flags 0x%x, expected 0x%x\n", v->name,
                    m->flags & ~SL_MSG_MSG_SP, v->flags);
        bad = 1;
    }
    sl_vector_field(v, m, SL_F_TIMESTAMP, v->timestamp, &bad);
    sl_vector_field(v, m, SL_F_HOSTNAME, v->hostname, &bad);
    sl_vector_field(v, m, SL_F_APP_NAME, v->app_name, &bad);
    sl_vector_field(v, m, SL_F_PROCID, v->procid, &bad);
    sl_vector_field(v, m, SL_F_MSGID, v->msgid, &bad);
    sl_vector_field(v, m, SL_F_STRUCTURED_DATA, v->structured_data, &bad);
    sl_vector_field(v, m, SL_F_MSG, v->msg, &bad);
    sl_vector_field(v, m, SL_F_TAG, v->tag, &bad);
    sl_vector_field(v, m, SL_F_FROMHOST, SL_VEC_FROMHOST, &bad);
    sl_vector_field(v, m, SL_F_INPUT, SL_VEC_INPUT, &bad);
    sl_msg_unref(m);
    if (bad)
        fail_msg("vector '%s' failed", v->name);
}

#endif
