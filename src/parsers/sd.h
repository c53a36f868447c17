/*
 * RFC 5424 STRUCTURED-DATA: validation and iteration.
 *
 * A message keeps its STRUCTURED-DATA as the raw text the sender wrote (escapes included), one
 * span in the message buffer. The RFC 5424 parser validates it with sl_sd_scan() while it parses
 * the header; filters and templates that need one element or one parameter walk the span with
 * the iterator below, which never allocates and never reads outside the span. A PARAM-VALUE is
 * handed out raw, with its unescaped length; sl_sd_unescape() writes the unescaped bytes where
 * the caller wants them, and is needed only when the value had escapes.
 *
 * Grammar (RFC 5424 section 6.3): SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]", SD-PARAM =
 * PARAM-NAME "=" %d34 PARAM-VALUE %d34, SD-ID and PARAM-NAME are 1 to 32 printable US-ASCII
 * bytes other than '=', SP, ']' and '"'. In a value, \" \\ and \] are escapes; a backslash
 * before any other byte is an ordinary backslash (section 6.3.3). A ']' that was not escaped is
 * accepted inside a value (only '"' ends one), and the rule that an SD-ID appears once per
 * message is not enforced: rejecting either would throw away messages rsyslog keeps.
 *
 * Concurrency: none. An iterator belongs to the thread that uses it; the bytes it walks are an
 * immutable message's.
 */
#ifndef SL_SD_H
#define SL_SD_H

#include <stddef.h>

/* Longest SD-ID and PARAM-NAME (RFC 5424 SD-NAME). */
#define SL_SD_NAME_MAX 32

/*
 * Scans one or more SD-ELEMENTs back to back starting at p, reading nothing at or after end.
 * Returns the byte after the last ']' (the STRUCTURED-DATA ends there), or NULL when p does not
 * start with a well-formed element or one of them is garbled or unterminated.
 */
const char *sl_sd_scan(const char *p, const char *end);

/* One parameter of an element. value is raw (escapes as sent, not NUL-terminated). */
typedef struct sl_sd_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;     /* raw bytes between the quotes */
    size_t unescaped_len; /* bytes sl_sd_unescape writes; equal to value_len when no escapes */
} sl_sd_param_t;

/* Walks the elements of a STRUCTURED-DATA span and the parameters of each. */
typedef struct sl_sd_iter {
    const char *p;   /* next byte to read */
    const char *end; /* end of the span */
    int in_element;  /* 1 while the parameters of the current element are being read */
} sl_sd_iter_t;

/* Starts an iterator over sd[0..len). An empty span (NILVALUE) has no elements. */
void sl_sd_iter_init(sl_sd_iter_t *it, const char *sd, size_t len);

/*
 * Moves to the next element, skipping any parameters of the current one not yet read. Returns 1
 * and sets *id, *id_len to its SD-ID; 0 when there are no more elements; -EINVAL when the text is
 * not well-formed STRUCTURED-DATA (the iterator then stays at the end).
 */
int sl_sd_next(sl_sd_iter_t *it, const char **id, size_t *id_len);

/*
 * Reads the next parameter of the current element. Returns 1 and fills *param; 0 at the end of
 * the element (or when no element is current); -EINVAL when the text is garbled.
 */
int sl_sd_next_param(sl_sd_iter_t *it, sl_sd_param_t *param);

/*
 * Writes the unescaped form of a raw PARAM-VALUE (param->value, param->value_len) to out, which
 * must have room for param->unescaped_len bytes (value_len always suffices). No NUL is added.
 * Returns the number of bytes written.
 */
size_t sl_sd_unescape(const char *value, size_t value_len, char *out);

/*
 * Finds parameter name in element id of sd[0..len). Returns 1 and fills *param when found, 0 when
 * it is not there, -EINVAL when the text is garbled before it is found. The first match counts.
 * param must not be NULL; it may be written even when the result is 0.
 */
int sl_sd_find(const char *sd, size_t len, const char *id, size_t id_len, const char *name,
               size_t name_len, sl_sd_param_t *param);

#endif
