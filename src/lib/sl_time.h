/*
 * Timestamps as syslog carries them.
 *
 * A syslog timestamp is kept broken down, exactly as the sender wrote it: calendar fields, the
 * fraction with the number of digits it had, and the UTC offset. Converting to an epoch and back
 * would lose the sender's zone and precision, and rsyslog's file formats print the reported time
 * in the sender's zone, so we do the same. Plain value type; no shared state.
 */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
    SL_TS_VALID = 1u << 0,    /* the fields hold a time */
    SL_TS_HAS_TZ = 1u << 1,   /* the sender gave a zone (else tz_min is the receiver's) */
    SL_TS_HAS_YEAR = 1u << 2, /* the sender gave a year (else it was inferred) */
    SL_TS_ZULU = 1u << 3,     /* the sender wrote the zone as "Z" (printed back as Z) */
};

typedef struct sl_timestamp {
    int16_t year;        /* 1..9999 */
    uint8_t month;       /* 1..12 */
    uint8_t day;         /* 1..31 */
    uint8_t hour;        /* 0..23 */
    uint8_t minute;      /* 0..59 */
    uint8_t second;      /* 0..60 (leap second as sent) */
    uint8_t frac_digits; /* 0..6: digits of the fraction as sent */
    uint32_t usec;       /* fraction in microseconds */
    int16_t tz_min;      /* offset from UTC in minutes, -1439..1439 */
    uint8_t flags;       /* SL_TS_* */
} sl_timestamp_t;

/* Longest output of the formatters below, with the NUL. */
#define SL_TS_RFC3339_MAX 33
#define SL_TS_LEGACY_MAX 16

/* "2026-11-22T04:56:13.123456+01:00" (fraction only when it was sent; "Z" for a zone the sender
 * wrote as Z, as rsyslog prints it). Returns the length written, 0 for an invalid timestamp (buf is then ""). */
size_t sl_ts_format_rfc3339(const sl_timestamp_t *ts, char buf[SL_TS_RFC3339_MAX]);

/* "Nov  2 04:56:13" as RFC 3164 and rsyslog's traditional format write it. */
size_t sl_ts_format_legacy(const sl_timestamp_t *ts, char buf[SL_TS_LEGACY_MAX]);

/* Days in a month of a year (1..12), 0 for a bad month. */
int sl_ts_days_in_month(int year, int month);

/* Fills ts from an epoch time in the local zone (offset from localtime_r), microsecond precision. */
void sl_ts_from_epoch_local(sl_timestamp_t *ts, time_t sec, uint32_t usec);

/* Same in UTC. */
void sl_ts_from_epoch_utc(sl_timestamp_t *ts, time_t sec, uint32_t usec);

/* Three-letter English month names, index 1..12 ("Jan".."Dec"). */
extern const char sl_ts_month_names[13][4];

#endif
