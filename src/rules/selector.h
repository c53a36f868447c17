/*
 * The `select` filter: the classic syslog.conf selector ("*.info;mail.none;authpriv.none").
 *
 * A selector names, for each of the 24 facilities, which of the 8 severities it takes. That is a
 * set of PRI values (facility * 8 + severity, 0..191), so it compiles to a 192-bit set and matching
 * a message is one bit test on its PRI: no parsing or string work per message. The syntax and its
 * meaning follow rsyslog and sysklogd (items applied left to right, later ones overriding); the
 * user-facing reference is docs/rules.md.
 *
 * Concurrency: a compiled selector is a plain value, written once at configuration time and only
 * read afterwards; any number of threads may match against it at once.
 */
#ifndef SL_SELECTOR_H
#define SL_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rule_err.h"

#define SL_NFACILITIES 24
#define SL_NSEVERITIES 8
#define SL_NPRI        (SL_NFACILITIES * SL_NSEVERITIES)

/* Bit p of the set (word p / 64, bit p % 64) is set when PRI p is selected. */
typedef struct sl_selector {
    uint64_t bits[SL_NPRI / 64];
} sl_selector_t;

/*
 * Compiles a selector. Returns 0 and fills *out, or -EINVAL and describes the first problem in
 * *err (err may be NULL). *out is left as it was on failure. Allocates nothing.
 */
int sl_selector_compile(const char *text, sl_selector_t *out, sl_rule_err_t *err);

/* Makes s select every message (what an action without `select` does). */
void sl_selector_set_all(sl_selector_t *s);

/* Whether the selector takes a message of this PRI. PRIs above 191 never match. */
static inline bool sl_selector_match(const sl_selector_t *s, unsigned pri)
{
    return pri < SL_NPRI && ((s->bits[pri >> 6] >> (pri & 63)) & 1u);
}

/*
 * Facility and severity names, shared with `where` so both filters know the same names.
 * Case-insensitive; name[0..len) need not be NUL-terminated. Return the code (facility 0..23,
 * severity 0..7), or -1 for an unknown name. Neither accepts numbers, `*`, `none` or `mark`.
 */
int sl_selector_facility_by_name(const char *name, size_t len);
int sl_selector_severity_by_name(const char *name, size_t len);

/* Canonical names ("kern", ..., "local7"; "emerg", ..., "debug"); "?" when out of range. */
const char *sl_selector_facility_name(unsigned facility);
const char *sl_selector_severity_name(unsigned severity);

/* The lists of accepted names, for error messages ("emerg, alert, ..., debug"). */
extern const char sl_selector_facility_list[];
extern const char sl_selector_severity_list[];

#endif
