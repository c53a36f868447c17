/*
 * Timestamp formatting. Hand-written digit output: these run once or twice per message on the
 * hot path, where snprintf would cost more than the parse itself.
 */
#include "lib/sl_time.h"

#include <string.h>

const char sl_ts_month_names[13][4] = {"???", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static int ts_valid(const sl_timestamp_t *ts)
{
    return (ts->flags & SL_TS_VALID) && ts->month >= 1 && ts->month <= 12 && ts->year >= 0 &&
           ts->year <= 9999 && ts->frac_digits <= 6;
}

size_t sl_ts_format_rfc3339(const sl_timestamp_t *ts, char buf[SL_TS_RFC3339_MAX])
{
    static const uint32_t div[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    char *p = buf;
    if (!ts_valid(ts)) {
        buf[0] = '\0';
        return 0;
    }
    p = put2(p, (unsigned)ts->year / 100);
    p = put2(p, (unsigned)ts->year % 100);
    *p++ = '-';
    p = put2(p, ts->month);
    *p++ = '-';
    p = put2(p, ts->day);
    *p++ = 'T';
    p = put2(p, ts->hour);
    *p++ = ':';
    p = put2(p, ts->minute);
    *p++ = ':';
    p = put2(p, ts->second);
    if (ts->frac_digits > 0) {
        /* usec holds microseconds; print the first frac_digits digits of it. */
        uint32_t v = ts->usec / div[ts->frac_digits];
        *p++ = '.';
        for (int i = ts->frac_digits - 1; i >= 0; i--) {
            p[i] = (char)('0' + v % 10);
            v /= 10;
        }
        p += ts->frac_digits;
    }
    int off = ts->tz_min;
    if ((ts->flags & SL_TS_ZULU) && off == 0) {
        *p++ = 'Z';
        *p = '\0';
        return (size_t)(p - buf);
    }
    *p++ = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    p = put2(p, (unsigned)off / 60);
    *p++ = ':';
    p = put2(p, (unsigned)off % 60);
    *p = '\0';
    return (size_t)(p - buf);
}

size_t sl_ts_format_legacy(const sl_timestamp_t *ts, char buf[SL_TS_LEGACY_MAX])
{
    char *p = buf;
    if (!ts_valid(ts)) {
        buf[0] = '\0';
        return 0;
    }
    memcpy(p, sl_ts_month_names[ts->month], 3);
    p += 3;
    *p++ = ' ';
    *p++ = ts->day >= 10 ? (char)('0' + ts->day / 10) : ' ';
    *p++ = (char)('0' + ts->day % 10);
    *p++ = ' ';
    p = put2(p, ts->hour);
    *p++ = ':';
    p = put2(p, ts->minute);
    *p++ = ':';
    p = put2(p, ts->second);
    *p = '\0';
    return (size_t)(p - buf);
}

int sl_ts_days_in_month(int year, int month)
{
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month];
}

static void from_tm(sl_timestamp_t *ts, const struct tm *tm, uint32_t usec, long gmtoff)
{
    ts->year = (int16_t)(tm->tm_year + 1900);
    ts->month = (uint8_t)(tm->tm_mon + 1);
    ts->day = (uint8_t)tm->tm_mday;
    ts->hour = (uint8_t)tm->tm_hour;
    ts->minute = (uint8_t)tm->tm_min;
    ts->second = (uint8_t)tm->tm_sec;
    ts->usec = usec;
    ts->frac_digits = 6;
    ts->tz_min = (int16_t)(gmtoff / 60);
    ts->flags = SL_TS_VALID | SL_TS_HAS_TZ | SL_TS_HAS_YEAR;
}

void sl_ts_from_epoch_local(sl_timestamp_t *ts, time_t sec, uint32_t usec)
{
    struct tm tm;
    localtime_r(&sec, &tm);
    from_tm(ts, &tm, usec, tm.tm_gmtoff);
}

void sl_ts_from_epoch_utc(sl_timestamp_t *ts, time_t sec, uint32_t usec)
{
    struct tm tm;
    gmtime_r(&sec, &tm);
    from_tm(ts, &tm, usec, 0);
}
