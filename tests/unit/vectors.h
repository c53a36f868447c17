/*
 * Parser test vectors: one raw input and the fields expected from it. The RFC 3164 and RFC 5424
 * test files hold tables of these (vectors_rfc3164.h, vectors_rfc5424.h), so that the fuzzers'
 * seed corpus (fuzz/seeds.c) is made of the very same inputs.
 *
 * Every vector is parsed with the same context: fromhost "192.0.2.7", input "test", received
 * 2026-11-22T10:00:00+00:00 (receiver in UTC). A NULL expectation is not checked; "" means the
 * field must be empty.
 */
#ifndef SL_TEST_VECTORS_H
#define SL_TEST_VECTORS_H

#include <stddef.h>

struct sl_vector {
    const char *name;
    const char *raw;
    size_t raw_len;    /* 0: strlen(raw); set it for inputs holding NUL bytes */
    int pri;           /* expected pri (-1: not checked) */
    int proto;         /* expected SL_PROTO_* (-1: not checked) */
    unsigned flags;    /* expected SL_MSG_* flags, compared exactly, except SL_MSG_MSG_SP */
    const char *timestamp; /* RFC 3339 as sl_ts_format_rfc3339 writes it */
    const char *hostname;
    const char *app_name;
    const char *procid;
    const char *msgid;
    const char *structured_data;
    const char *msg;
    const char *tag; /* as sl_msg_field returns it */
};

#define SL_VEC_FROMHOST "192.0.2.7"
#define SL_VEC_INPUT "test"

#endif
