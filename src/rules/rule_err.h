/*
 * The error report shared by the rule compilers (select and where).
 *
 * A rule is one string inside the configuration, so the compiler can only say where in that
 * string the problem is; the configuration loader knows the file, the line and the column at which
 * the string starts and puts the two together. The column is therefore kept apart from the text,
 * and the text says what was found and what was expected, without any position.
 *
 * Columns count characters, not bytes (a UTF-8 sequence is one column), from 1, as editors show
 * them. Plain value type; no shared state.
 */
#ifndef SL_RULE_ERR_H
#define SL_RULE_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct sl_rule_err {
    unsigned column; /* 1-based column in the rule text; 0 when the error has no position */
    char msg[256];   /* what was found and what was expected, NUL-terminated */
} sl_rule_err_t;

/* The column of byte offset off in text: one more than the characters before it. */
static inline unsigned sl_rule_err_column(const char *text, size_t off)
{
    unsigned col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        /* UTF-8 continuation bytes (10xxxxxx) belong to the character before them. */
        if (((unsigned char)text[i] & 0xc0) != 0x80)
            col++;
    }
    return col;
}

/* Fills err (which may be NULL) with the column of byte offset off in text and a message. */
static inline void sl_rule_err_set(sl_rule_err_t *err, const char *text, size_t off,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline void sl_rule_err_set(sl_rule_err_t *err, const char *text, size_t off,
                                   const char *fmt, ...)
{
    if (!err)
        return;
    err->column = text ? sl_rule_err_column(text, off) : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

/* "column 6: unknown severity 'inf' (...)", or just the message when there is no column. Returns
 * buf. */
static inline const char *sl_rule_err_format(const sl_rule_err_t *err, char *buf, size_t size)
{
    if (err->column)
        snprintf(buf, size, "column %u: %s", err->column, err->msg);
    else
        snprintf(buf, size, "%s", err->msg);
    return buf;
}

#endif
