/*
 * JSON string escaping (RFC 8259) that yields valid JSON and valid UTF-8 for any input bytes.
 *
 * Log messages carry whatever bytes the sender wrote: Latin-1, broken UTF-8, NULs, terminal
 * escapes. A JSON consumer rejects the whole record when one string is not valid UTF-8, so the
 * escaper repairs rather than copies: every ill-formed UTF-8 sequence becomes U+FFFD, one
 * replacement per "maximal subpart" (Unicode 15, section 3.9, U+FFFD substitution), which is
 * what browsers, Python and ICU do, so the same bytes read the same everywhere. '"', '\\' and
 * the control characters U+0000..U+001F are escaped (\b \f \n \r \t, the others as \u00XX);
 * DEL and every well-formed non-ASCII character are copied as they are.
 *
 * Printable ASCII is checked and copied eight bytes at a time, so the common all-ASCII message
 * costs little more than a memcpy. Plain functions; no shared state.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>

#include "lib/strbuf.h"

/* Appends s[0..n) escaped as the inside of a JSON string (no quotes). Returns 0, or -ENOMEM
 * with b unchanged. */
int sl_json_escape(sl_strbuf_t *b, const char *s, size_t n);

/* Same, with the surrounding quotes. */
int sl_json_string(sl_strbuf_t *b, const char *s, size_t n);

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1): 1..4. Returns 0 when the bytes
 * are ill-formed and sets *bad to the length of the maximal subpart to replace (1..3): the
 * longest prefix that could still begin a well-formed sequence, at least one byte.
 */
size_t sl_utf8_seq(const unsigned char *s, size_t n, size_t *bad);

#endif
