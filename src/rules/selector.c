/*
 * Selector compiler: text to a 192-bit PRI set.
 *
 * The grammar, with blanks allowed between any two tokens:
 *
 *     selector  := item ((';' | ',') item)* [';']
 *     item      := facility (',' facility)* '.' severity
 *     facility  := name | number | '*'
 *     severity  := ['!'] ['='] (name | number | '*')
 *
 * Each item changes the set of the facilities it names, in order, exactly as rsyslog's and
 * sysklogd's DecodePRIFilter do, so a selector copied from an existing syslog.conf selects the same
 * messages. For one facility, with S the severity's number:
 *
 *     S      adds S and every more severe level (numbers 0..S)
 *     =S     adds S only                  !=S   removes S only
 *     !S     removes S and everything more severe (rsyslog's "not this and above")
 *     *      sets all eight              !*    clears all
 *     none   clears all                  !none sets all (rsyslog's reading of it)
 *
 * The work is done on one 8-bit mask per facility, which is how the rules are stated, and packed
 * into the bit set at the end. A ',' after a severity separates items like ';' (rsyslog skips both
 * there). Numbers are facility codes 0..23 and severity codes 0..7; rsyslog reads a facility number
 * as a LOG_* constant (code * 8), which nobody means, so we take the code. The facility `mark`
 * (rsyslog's internal "-- MARK --" messages) is accepted and selects nothing: sluice makes no mark
 * messages. No shared state.
 */
#include "rules/selector.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Names longer than this are quoted only up to here in error messages. */
#define QUOTE_MAX 40

typedef struct name_code {
    const char *name;
    int code;
} name_code_t;

/* Canonical names first (the reverse lookup takes the first), then aliases. */
static const name_code_t facility_names[] = {
    {"kern", 0},
    {"user", 1},
    {"mail", 2},
    {"daemon", 3},
    {"auth", 4},
    {"syslog", 5},
    {"lpr", 6},
    {"news", 7},
    {"uucp", 8},
    {"cron", 9},
    {"authpriv", 10},
    {"ftp", 11},
    {"ntp", 12},
    {"audit", 13},
    {"alert", 14},
    {"clock", 15},
    {"local0", 16},
    {"local1", 17},
    {"local2", 18},
    {"local3", 19},
    {"local4", 20},
    {"local5", 21},
    {"local6", 22},
    {"local7", 23},
    /* Aliases. security is rsyslog's deprecated name for auth. 12..15 have no agreed names; the
     * canonical ones above are those of RFC 5424's table and rsyslog's syslogfacility-text, and
     * these are what other systems call them (rsyslog's selectors: bsd_security, console;
     * sysklogd: cron_sol; syslog-ng: solaris-cron). */
    {"security", 4},
    {"bsd_security", 13},
    {"console", 14},
    {"cron_sol", 15},
    {"solaris-cron", 15},
};

static const name_code_t severity_names[] = {
    {"emerg", 0},
    {"alert", 1},
    {"crit", 2},
    {"err", 3},
    {"warning", 4},
    {"notice", 5},
    {"info", 6},
    {"debug", 7},
    /* Deprecated aliases rsyslog still accepts. */
    {"panic", 0},
    {"error", 3},
    {"warn", 4},
};

const char sl_selector_facility_list[] =
    "kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, "
    "alert, clock, local0..local7";
const char sl_selector_severity_list[] = "emerg, alert, crit, err, warning, notice, info, debug";

static int lookup(const name_code_t *tab, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(tab[i].name) == len && strncasecmp(tab[i].name, name, len) == 0)
            return tab[i].code;
    }
    return -1;
}

int sl_selector_facility_by_name(const char *name, size_t len)
{
    return lookup(facility_names, sizeof(facility_names) / sizeof(facility_names[0]), name, len);
}

int sl_selector_severity_by_name(const char *name, size_t len)
{
    return lookup(severity_names, sizeof(severity_names) / sizeof(severity_names[0]), name, len);
}

const char *sl_selector_facility_name(unsigned facility)
{
    return facility < SL_NFACILITIES ? facility_names[facility].name : "?";
}

const char *sl_selector_severity_name(unsigned severity)
{
    return severity < SL_NSEVERITIES ? severity_names[severity].name : "?";
}

void sl_selector_set_all(sl_selector_t *s)
{
    for (size_t i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
        s->bits[i] = ~(uint64_t)0;
}

/* The scanner: the text and a position in it. */
typedef struct scan {
    const char *text;
    size_t pos;
    sl_rule_err_t *err;
} scan_t;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static void skip_blanks(scan_t *s)
{
    while (is_blank(s->text[s->pos]))
        s->pos++;
}

/* Length of the name at the position (0 if there is none). */
static size_t name_len(const scan_t *s)
{
    size_t n = 0;
    while (is_name_char(s->text[s->pos + n]))
        n++;
    return n;
}

/* A name made only of digits is a number; returns it, or -1 when it is not one or too large. */
static int as_number(const char *p, size_t len)
{
    if (len == 0 || len > 4)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static bool all_digits(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
    }
    return len > 0;
}

/* Describes what is at the position, for "expected X, found Y" messages. */
static void describe(const scan_t *s, char *buf, size_t size)
{
    char c = s->text[s->pos];
    if (c == '\0')
        snprintf(buf, size, "the end");
    else if (is_name_char(c))
        snprintf(buf, size, "'%.*s'", (int)(name_len(s) > QUOTE_MAX ? QUOTE_MAX : name_len(s)),
                 s->text + s->pos);
    else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        snprintf(buf, size, "byte 0x%02x", (unsigned)(unsigned char)c);
    else
        snprintf(buf, size, "'%c'", c);
}

/* Severity part of an item. */
typedef struct sev_spec {
    bool negate; /* '!' */
    bool exact;  /* '=' */
    enum { SEV_LEVEL, SEV_ALL, SEV_NONE } kind;
    int level;
} sev_spec_t;

static int parse_severity(scan_t *s, sev_spec_t *sev)
{
    skip_blanks(s);
    sev->negate = sev->exact = false;
    if (s->text[s->pos] == '!') {
        sev->negate = true;
        s->pos++;
        skip_blanks(s);
    }
    if (s->text[s->pos] == '=') {
        sev->exact = true;
        s->pos++;
        skip_blanks(s);
    }
    size_t at = s->pos;
    if (s->text[at] == '*') {
        s->pos++;
        sev->kind = SEV_ALL;
    } else {
        size_t n = name_len(s);
        const char *p = s->text + at;
        if (n == 0) {
            char found[64];
            describe(s, found, sizeof(found));
            if (s->text[at] == '!' && sev->exact)
                sl_rule_err_set(s->err, s->text, at,
                                "'!' goes before '=' ('!=info', not '=!info')");
            else
                sl_rule_err_set(
                    s->err, s->text, at, "expected a severity after '%s', found %s (%s, none or *)",
                    sev->exact ? "=" : (sev->negate ? "!" : "."), found, sl_selector_severity_list);
            return -EINVAL;
        }
        s->pos += n;
        if (all_digits(p, n)) {
            int v = as_number(p, n);
            if (v < 0 || v >= SL_NSEVERITIES) {
                sl_rule_err_set(s->err, s->text, at, "severity %.*s out of range (0..7)",
                                (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p);
                return -EINVAL;
            }
            sev->kind = SEV_LEVEL;
            sev->level = v;
        } else if (n == 4 && strncasecmp(p, "none", 4) == 0) {
            sev->kind = SEV_NONE;
        } else {
            int v = sl_selector_severity_by_name(p, n);
            if (v < 0) {
                sl_rule_err_set(s->err, s->text, at,
                                "unknown severity '%.*s' (expected %s, none or *)",
                                (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p, sl_selector_severity_list);
                return -EINVAL;
            }
            sev->kind = SEV_LEVEL;
            sev->level = v;
        }
    }
    if (sev->exact && sev->kind != SEV_LEVEL) {
        /* rsyslog shifts by the internal codes of '*' and 'none' here (undefined behaviour); a
         * clear error is better than guessing what was meant. */
        sl_rule_err_set(s->err, s->text, at, "'=' needs one severity (%s), not '%s'",
                        sl_selector_severity_list, sev->kind == SEV_ALL ? "*" : "none");
        return -EINVAL;
    }
    return 0;
}

/* Applies one severity spec to one facility's mask (bit n = severity n). */
static uint8_t apply(uint8_t mask, const sev_spec_t *sev)
{
    switch (sev->kind) {
    case SEV_NONE:
        return sev->negate ? 0xff : 0;
    case SEV_ALL:
        return sev->negate ? 0 : 0xff;
    case SEV_LEVEL:
    default: {
        uint8_t bits =
            sev->exact ? (uint8_t)(1u << sev->level) : (uint8_t)((1u << (sev->level + 1)) - 1);
        return sev->negate ? (uint8_t)(mask & ~bits) : (uint8_t)(mask | bits);
    }
    }
}

/* A facility list as a 24-bit set (bit n = facility n); `mark` contributes nothing. */
static int parse_facilities(scan_t *s, uint32_t *facs)
{
    *facs = 0;
    for (;;) {
        skip_blanks(s);
        size_t at = s->pos;
        if (s->text[at] == '*') {
            s->pos++;
            *facs |= (1u << SL_NFACILITIES) - 1;
        } else {
            size_t n = name_len(s);
            const char *p = s->text + at;
            if (n == 0) {
                char found[64];
                describe(s, found, sizeof(found));
                sl_rule_err_set(s->err, s->text, at,
                                "expected a facility, found %s (%s, a number 0..23 or *)", found,
                                sl_selector_facility_list);
                return -EINVAL;
            }
            s->pos += n;
            if (all_digits(p, n)) {
                int v = as_number(p, n);
                if (v < 0 || v >= SL_NFACILITIES) {
                    sl_rule_err_set(s->err, s->text, at, "facility %.*s out of range (0..23)",
                                    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p);
                    return -EINVAL;
                }
                *facs |= 1u << v;
            } else if (n == 4 && strncasecmp(p, "mark", 4) == 0) {
                /* Accepted for old configurations; there are no mark messages to select. */
            } else {
                int v = sl_selector_facility_by_name(p, n);
                if (v < 0) {
                    sl_rule_err_set(s->err, s->text, at,
                                    "unknown facility '%.*s' (expected %s, a number 0..23 or *)",
                                    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p,
                                    sl_selector_facility_list);
                    return -EINVAL;
                }
                *facs |= 1u << v;
            }
        }
        skip_blanks(s);
        if (s->text[s->pos] != ',')
            return 0;
        s->pos++;
    }
}

int sl_selector_compile(const char *text, sl_selector_t *out, sl_rule_err_t *err)
{
    scan_t s = {.text = text, .pos = 0, .err = err};
    uint8_t mask[SL_NFACILITIES] = {0};
    bool any = false;

    for (;;) {
        skip_blanks(&s);
        if (text[s.pos] == '\0') {
            if (!any) {
                sl_rule_err_set(err, text, s.pos,
                                "empty selector (expected facility.severity, e.g. *.info)");
                return -EINVAL;
            }
            break;
        }
        uint32_t facs;
        int rc = parse_facilities(&s, &facs);
        if (rc)
            return rc;
        if (text[s.pos] != '.') {
            char found[64];
            describe(&s, found, sizeof(found));
            sl_rule_err_set(err, text, s.pos, "expected '.' and a severity, found %s", found);
            return -EINVAL;
        }
        s.pos++;
        sev_spec_t sev = {0};
        rc = parse_severity(&s, &sev);
        if (rc)
            return rc;
        for (unsigned f = 0; f < SL_NFACILITIES; f++) {
            if (facs & (1u << f))
                mask[f] = apply(mask[f], &sev);
        }
        any = true;
        skip_blanks(&s);
        char c = text[s.pos];
        if (c == '\0')
            break;
        if (c != ';' && c != ',') {
            char found[64];
            describe(&s, found, sizeof(found));
            sl_rule_err_set(err, text, s.pos,
                            "expected ';' or the end after the severity, found %s", found);
            return -EINVAL;
        }
        /* Any run of separators ends the item, as in rsyslog. */
        while (text[s.pos] == ';' || text[s.pos] == ',' || is_blank(text[s.pos]))
            s.pos++;
    }

    sl_selector_t sel;
    memset(&sel, 0, sizeof(sel));
    for (unsigned f = 0; f < SL_NFACILITIES; f++) {
        for (unsigned v = 0; v < SL_NSEVERITIES; v++) {
            if (mask[f] & (1u << v)) {
                unsigned pri = f * SL_NSEVERITIES + v;
                sel.bits[pri >> 6] |= (uint64_t)1 << (pri & 63);
            }
        }
    }
    *out = sel;
    return 0;
}
