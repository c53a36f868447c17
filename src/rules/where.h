/*
 * The `where` filter: an expression over a message's fields.
 *
 *     severity <= "warning" and app_name != "cron"
 *     (hostname startswith "db" or msg contains "disk") and not msg =~ "^ok\b"
 *
 * The text is compiled once, at configuration time, into a read-only tree (regular expressions
 * compiled and JIT-compiled then too); sl_where_match walks it for each message without allocating.
 * The language is described for users in docs/rules.md and in where.c's opening comment.
 *
 * Concurrency: a compiled expression is immutable after sl_where_compile returns, and any number of
 * threads may call sl_where_match on it at once (each thread keeps its own PCRE2 match data; see
 * where.c). The one exception is the regex error counter, an _Atomic written with relaxed
 * increments. sl_where_free must not run while any thread may still match.
 */
#ifndef SL_WHERE_H
#define SL_WHERE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/msg.h"
#include "rules/rule_err.h"

typedef struct sl_where sl_where_t;

/*
 * Compiles an expression. Returns 0 and sets *out (free it with sl_where_free), or a negative
 * errno and describes the problem in *err (err may be NULL): -EINVAL for a mistake in the text,
 * -ENOTSUP for a regular expression in a build without PCRE2, -ENOMEM when out of memory.
 */
int sl_where_compile(const char *text, sl_where_t **out, sl_rule_err_t *err);

/* Whether the message satisfies the expression. Thread-safe; allocation-free once the calling
 * thread has matched one regular expression (its match data is then cached). */
bool sl_where_match(const sl_where_t *w, const sl_msg_t *m);

/* Number of regex matches that failed with an error (match limit hit, out of memory) and were
 * therefore taken as "no match". */
uint64_t sl_where_regex_errors(const sl_where_t *w);

/* Frees a compiled expression; NULL is allowed. */
void sl_where_free(sl_where_t *w);

#endif
