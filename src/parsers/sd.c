/*
 * RFC 5424 STRUCTURED-DATA scanning and iteration (see sd.h for the grammar and the choices).
 *
 * sl_sd_scan() runs once per RFC 5424 message on the hot path, so it is a plain forward scan whose
 * token loops are the vector scans of scan.h; the iterator repeats the same steps one parameter at
 * a time for the few callers that need the contents. The token readers below are forced inline:
 * as calls they cost sl_sd_scan() about 140 of its 550 instructions for a two-element
 * STRUCTURED-DATA (argument set-up, and the scan constants loaded again on every call). Every read
 * is checked against the end pointer: message bytes are not NUL-terminated at the end of a span and
 * may hold NUL bytes.
 */
#include "parsers/sd.h"

#include <errno.h>
#include <string.h>

#include "parsers/scan.h"

/*
 * Reads an SD-NAME of at most SL_SD_NAME_MAX bytes at p; returns the byte after it, or NULL when
 * it is empty. A longer name stops at a name byte, which every caller rejects, since what may
 * follow a name (SP, ']' or '=') is never a name byte.
 */
static inline __attribute__((always_inline)) const char *sd_name(const char *p, const char *end)
{
    const char *start = p;
    const char *limit = end - p > SL_SD_NAME_MAX ? p + SL_SD_NAME_MAX : end;
    p = sl_scan_sd_name(p, limit);
    return p == start ? NULL : p;
}

static int sd_escaped(char c)
{
    return c == '"' || c == '\\' || c == ']';
}

/* Reads a PARAM-VALUE whose opening quote is just before p. Returns the closing quote, or NULL
 * when there is none; *escapes counts the escape sequences. */
static inline __attribute__((always_inline)) const char *sd_value(const char *p, const char *end,
                                                                  size_t *escapes)
{
    size_t n = 0;
    for (;;) {
        /* Only a quote or a backslash can end or change the value. */
        p = sl_scan_until2(p, end, '"', '\\');
        if (p >= end)
            return NULL;
        if (*p == '"') {
            *escapes = n;
            return p;
        }
        if (end - p >= 2 && sd_escaped(p[1])) {
            p += 2;
            n++;
            continue;
        }
        p++;
    }
}

/* Reads SP PARAM-NAME "=" '"' PARAM-VALUE '"' with p at the SP. Returns the byte after it. */
static inline __attribute__((always_inline)) const char *sd_param(const char *p, const char *end,
                                                                  sl_sd_param_t *param)
{
    const char *name = ++p;
    const char *value;
    size_t escapes;
    p = sd_name(p, end);
    if (!p || end - p < 2 || p[0] != '=' || p[1] != '"')
        return NULL;
    value = p + 2;
    p = sd_value(value, end, &escapes);
    if (!p)
        return NULL;
    if (param) {
        param->name = name;
        param->name_len = (size_t)(value - 2 - name);
        param->value = value;
        param->value_len = (size_t)(p - value);
        param->unescaped_len = param->value_len - escapes;
    }
    return p + 1;
}

const char *sl_sd_scan(const char *p, const char *end)
{
    do {
        if (p >= end || *p != '[')
            return NULL;
        p = sd_name(p + 1, end);
        if (!p)
            return NULL;
        for (;;) {
            if (p >= end)
                return NULL;
            if (*p == ']')
                break;
            if (*p != ' ')
                return NULL;
            p = sd_param(p, end, NULL);
            if (!p)
                return NULL;
        }
        p++;
    } while (p < end && *p == '[');
    return p;
}

void sl_sd_iter_init(sl_sd_iter_t *it, const char *sd, size_t len)
{
    it->p = sd;
    it->end = sd + len;
    it->in_element = 0;
}

static int sd_fail(sl_sd_iter_t *it)
{
    it->p = it->end;
    it->in_element = 0;
    return -EINVAL;
}

int sl_sd_next_param(sl_sd_iter_t *it, sl_sd_param_t *param)
{
    const char *p = it->p;
    if (!it->in_element)
        return 0;
    if (p >= it->end)
        return sd_fail(it);
    if (*p == ']') {
        it->p = p + 1;
        it->in_element = 0;
        return 0;
    }
    if (*p != ' ')
        return sd_fail(it);
    p = sd_param(p, it->end, param);
    if (!p)
        return sd_fail(it);
    it->p = p;
    return 1;
}

int sl_sd_next(sl_sd_iter_t *it, const char **id, size_t *id_len)
{
    const char *p;
    int rc;
    while ((rc = sl_sd_next_param(it, NULL)) > 0)
        ;
    if (rc < 0)
        return rc;
    p = it->p;
    if (p >= it->end)
        return 0;
    if (*p != '[')
        return sd_fail(it);
    p = sd_name(p + 1, it->end);
    if (!p)
        return sd_fail(it);
    *id = it->p + 1;
    *id_len = (size_t)(p - *id);
    it->p = p;
    it->in_element = 1;
    return 1;
}

size_t sl_sd_unescape(const char *value, size_t value_len, char *out)
{
    const char *p = value;
    const char *end = value + value_len;
    char *o = out;
    while (p < end) {
        if (*p == '\\' && end - p >= 2 && sd_escaped(p[1]))
            p++;
        *o++ = *p++;
    }
    return (size_t)(o - out);
}

int sl_sd_find(const char *sd, size_t len, const char *id, size_t id_len, const char *name,
               size_t name_len, sl_sd_param_t *param)
{
    sl_sd_iter_t it;
    const char *eid;
    size_t eid_len;
    int rc;
    sl_sd_iter_init(&it, sd, len);
    while ((rc = sl_sd_next(&it, &eid, &eid_len)) > 0) {
        if (eid_len != id_len || memcmp(eid, id, id_len) != 0)
            continue;
        while ((rc = sl_sd_next_param(&it, param)) > 0) {
            if (param->name_len == name_len && memcmp(param->name, name, name_len) == 0)
                return 1;
        }
        if (rc < 0)
            return rc;
    }
    return rc;
}
