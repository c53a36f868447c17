/*
 * RFC 5424 parser vectors (see vectors.h for the struct and the shared parse context).
 *
 * Every input here starts with "<PRI>1 ", so the dispatcher hands it to the RFC 5424 parser and
 * the expectations do not depend on the RFC 3164 parser: a well-formed one is parsed as RFC 5424,
 * anything else comes back malformed (proto none, the whole raw text in msg, hostname the
 * sender's address, timestamp the reception time). Inputs with another VERSION never reach the
 * RFC 5424 parser through sl_parse, so they are in sl_rfc5424_other_versions below and
 * test_rfc5424.c calls the parser on them directly.
 *
 * raw_len is sizeof(raw) - 1 throughout, so inputs may hold NUL bytes; a vector whose msg holds
 * one leaves msg unchecked here (NULL) and test_rfc5424.c compares its bytes (for every
 * malformed vector, msg must be the raw input byte for byte).
 */
#ifndef SL_TEST_VECTORS_RFC5424_H
#define SL_TEST_VECTORS_RFC5424_H

#include "core/msg.h"
#include "vectors.h"

/* The reception time of vectors.h, as the timestamp field prints it. */
#define SL_V5_RECEIVED "2026-11-22T10:00:00+00:00"

/* Runs of 'a' to build fields at and over the length limits. */
#define SL_V5_A8   "aaaaaaaa"
#define SL_V5_A32  SL_V5_A8 SL_V5_A8 SL_V5_A8 SL_V5_A8
#define SL_V5_A48  SL_V5_A32 SL_V5_A8 SL_V5_A8
#define SL_V5_A128 SL_V5_A32 SL_V5_A32 SL_V5_A32 SL_V5_A32
#define SL_V5_A255 SL_V5_A128 SL_V5_A32 SL_V5_A32 SL_V5_A32 SL_V5_A8 SL_V5_A8 SL_V5_A8 "aaaaaaa"

/* A message the parser must accept. raw must be a string literal. */
#define SL_V5_OK(name_, raw_, pri_, flags_, ts_, host_, app_, procid_, msgid_, sd_, msg_, tag_)    \
    {                                                                                              \
        .name = (name_), .raw = (raw_), .raw_len = sizeof(raw_) - 1, .pri = (pri_),                \
        .proto = SL_PROTO_RFC5424, .flags = (flags_), .timestamp = (ts_), .hostname = (host_),     \
        .app_name = (app_), .procid = (procid_), .msgid = (msgid_), .structured_data = (sd_),      \
        .msg = (msg_), .tag = (tag_)                                                               \
    }

/* A message the parser must reject: kept whole as malformed. raw must be a string literal. */
#define SL_V5_BAD(name_, raw_, pri_)                                                               \
    {                                                                                              \
        .name = (name_), .raw = (raw_), .raw_len = sizeof(raw_) - 1, .pri = (pri_),                \
        .proto = SL_PROTO_NONE, .flags = SL_MSG_MALFORMED, .timestamp = SL_V5_RECEIVED,            \
        .hostname = SL_VEC_FROMHOST, .app_name = "", .procid = "", .msgid = "",                    \
        .structured_data = "", .msg = (raw_), .tag = ""                                            \
    }

/* Same for an input holding NUL bytes: msg is left to test_rfc5424.c, which compares bytes. */
#define SL_V5_BAD_NUL(name_, raw_, pri_)                                                           \
    {                                                                                              \
        .name = (name_), .raw = (raw_), .raw_len = sizeof(raw_) - 1, .pri = (pri_),                \
        .proto = SL_PROTO_NONE, .flags = SL_MSG_MALFORMED, .timestamp = SL_V5_RECEIVED,            \
        .hostname = SL_VEC_FROMHOST, .app_name = "", .procid = "", .msgid = "",                    \
        .structured_data = "", .msg = NULL, .tag = ""                                              \
    }

/* The common shape: "<13>1 TS host app 1 id - msg" with one part varied. */
#define SL_V5_TS(name_, ts_in_, ts_out_)                                                           \
    SL_V5_OK(name_, "<13>1 " ts_in_ " host app 1 id - msg", 13, 0, ts_out_, "host", "app", "1",    \
             "id", "", "msg", "app[1]")
#define SL_V5_TS_BAD(name_, ts_in_) SL_V5_BAD(name_, "<13>1 " ts_in_ " host app 1 id - msg", 13)
#define SL_V5_SD(name_, sd_in_)                                                                    \
    SL_V5_OK(name_, "<13>1 2003-10-11T22:14:15Z host app 1 id " sd_in_ " msg", 13, 0,              \
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", sd_in_, "msg", "app[1]")
#define SL_V5_SD_BAD(name_, sd_in_)                                                                \
    SL_V5_BAD(name_, "<13>1 2003-10-11T22:14:15Z host app 1 id " sd_in_ " msg", 13)

static const struct sl_vector sl_vectors_rfc5424[] = {
    /* RFC 5424 section 6.5, examples 1 to 4. */
    SL_V5_OK("rfc example 1",
             "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
             "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
             34, SL_MSG_BOM, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su", "",
             "ID47", "", "'su root' failed for lonvick on /dev/pts/8", "su"),
    SL_V5_OK("rfc example 2",
             "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
             "make the do-nuts.",
             165, 0, "2003-08-24T05:14:15.000003-07:00", "192.0.2.1", "myproc", "8710", "", "",
             "%% It's time to make the do-nuts.", "myproc[8710]"),
    SL_V5_OK("rfc example 3",
             "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
             "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
             "\xEF\xBB\xBF"
             "An application event log entry...",
             165, SL_MSG_BOM, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog",
             "", "ID47",
             "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]",
             "An application event log entry...", "evntslog"),
    SL_V5_OK("rfc example 4",
             "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
             "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
             "[examplePriority@32473 class=\"high\"]",
             165, 0, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", "",
             "ID47",
             "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
             "[examplePriority@32473 class=\"high\"]",
             "", "evntslog"),

    /* NILVALUE: each field alone, all of them, none of them (test_rfc5424.c runs all 64
     * combinations as well). A nil TIMESTAMP is the reception time. */
    SL_V5_OK("nil everything", "<13>1 - - - - - -", 13, 0, SL_V5_RECEIVED, "", "", "", "", "", "",
             "-"),
    SL_V5_OK("nil everything with msg", "<13>1 - - - - - - hello", 13, 0, SL_V5_RECEIVED, "", "",
             "", "", "", "hello", "-"),
    SL_V5_OK("nil timestamp", "<13>1 - host app 1 id - msg", 13, 0, SL_V5_RECEIVED, "host", "app",
             "1", "id", "", "msg", "app[1]"),
    SL_V5_OK("nil hostname", "<13>1 2003-10-11T22:14:15Z - app 1 id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "", "app", "1", "id", "", "msg", "app[1]"),
    SL_V5_OK("nil app-name", "<13>1 2003-10-11T22:14:15Z host - 1 id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "", "1", "id", "", "msg", "-[1]"),
    SL_V5_OK("nil procid", "<13>1 2003-10-11T22:14:15Z host app - id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "", "id", "", "msg", "app"),
    SL_V5_OK("nil msgid", "<13>1 2003-10-11T22:14:15Z host app 1 - - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "", "", "msg", "app[1]"),
    SL_V5_OK("no nil at all", "<13>1 2003-10-11T22:14:15Z host app 1 id [a] msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "[a]", "msg", "app[1]"),
    SL_V5_OK("double dash is a value", "<13>1 2003-10-11T22:14:15Z -- -- -- -- - msg", 13, 0,
             "2003-10-11T22:14:15Z", "--", "--", "--", "--", "", "msg", "--[--]"),

    /* TIMESTAMP: fractions of 1 to 6 digits, longer ones truncated to microseconds. */
    SL_V5_TS("fraction none", "2003-10-11T22:14:15Z", "2003-10-11T22:14:15Z"),
    SL_V5_TS("fraction 1 digit", "2003-10-11T22:14:15.5Z", "2003-10-11T22:14:15.5Z"),
    SL_V5_TS("fraction 2 digits rfc3339", "1985-04-12T19:20:50.52-04:00",
             "1985-04-12T19:20:50.52-04:00"),
    SL_V5_TS("fraction 3 digits", "2003-10-11T22:14:15.003Z", "2003-10-11T22:14:15.003Z"),
    SL_V5_TS("fraction 4 digits", "2003-10-11T22:14:15.1234Z", "2003-10-11T22:14:15.1234Z"),
    SL_V5_TS("fraction 5 digits", "2003-10-11T22:14:15.98765Z", "2003-10-11T22:14:15.98765Z"),
    SL_V5_TS("fraction 6 digits", "2003-10-11T22:14:15.999999Z",
             "2003-10-11T22:14:15.999999Z"),
    SL_V5_TS("fraction 7 digits truncated", "2003-10-11T22:14:15.1234567Z",
             "2003-10-11T22:14:15.123456Z"),
    SL_V5_TS("fraction 9 digits truncated", "2003-08-24T05:14:15.000000003-07:00",
             "2003-08-24T05:14:15.000000-07:00"),
    SL_V5_TS("fraction zeros kept", "2003-10-11T22:14:15.000Z", "2003-10-11T22:14:15.000Z"),
    SL_V5_TS_BAD("fraction empty", "2003-10-11T22:14:15.Z"),
    SL_V5_TS_BAD("fraction not a digit", "2003-10-11T22:14:15.5aZ"),
    SL_V5_TS_BAD("fraction comma", "2003-10-11T22:14:15,5Z"),

    /* TIMESTAMP: zones. */
    SL_V5_TS("zone lowercase t and z", "2003-10-11t22:14:15z", "2003-10-11T22:14:15Z"),
    SL_V5_TS("zone +00:00", "2003-10-11T22:14:15+00:00", "2003-10-11T22:14:15+00:00"),
    SL_V5_TS("zone -00:00", "2003-10-11T22:14:15-00:00", "2003-10-11T22:14:15+00:00"),
    SL_V5_TS("zone +05:30", "2003-10-11T22:14:15.1+05:30", "2003-10-11T22:14:15.1+05:30"),
    SL_V5_TS("zone +23:59", "2003-10-11T22:14:15+23:59", "2003-10-11T22:14:15+23:59"),
    SL_V5_TS("zone -23:59", "2003-10-11T22:14:15-23:59", "2003-10-11T22:14:15-23:59"),
    SL_V5_TS_BAD("zone hour 24", "2003-10-11T22:14:15+24:00"),
    SL_V5_TS_BAD("zone minute 60", "2003-10-11T22:14:15+05:60"),
    SL_V5_TS_BAD("zone without colon", "2003-10-11T22:14:15+0530"),
    SL_V5_TS_BAD("zone hours only", "2003-10-11T22:14:15+05"),
    SL_V5_TS_BAD("zone missing", "2003-10-11T22:14:15"),
    SL_V5_TS_BAD("zone letter", "2003-10-11T22:14:15A"),
    SL_V5_TS_BAD("zone named", "2003-10-11T22:14:15UTC"),

    /* TIMESTAMP: calendar and clock ranges. */
    SL_V5_TS("leap day 2024", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
    SL_V5_TS("leap day 2000", "2000-02-29T12:00:00Z", "2000-02-29T12:00:00Z"),
    SL_V5_TS("year 0000", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
    SL_V5_TS("year 9999", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    SL_V5_TS_BAD("leap day 2023", "2023-02-29T00:00:00Z"),
    SL_V5_TS_BAD("leap day 1900", "1900-02-29T00:00:00Z"),
    SL_V5_TS_BAD("february 30", "2024-02-30T00:00:00Z"),
    SL_V5_TS_BAD("april 31", "2003-04-31T00:00:00Z"),
    SL_V5_TS("december 31 end of day", "2003-12-31T23:59:59.999999Z",
             "2003-12-31T23:59:59.999999Z"),
    SL_V5_TS("leap second", "2016-12-31T23:59:60Z", "2016-12-31T23:59:60Z"),
    SL_V5_TS_BAD("month 13", "2003-13-11T22:14:15Z"),
    SL_V5_TS_BAD("month 00", "2003-00-11T22:14:15Z"),
    SL_V5_TS_BAD("day 00", "2003-10-00T22:14:15Z"),
    SL_V5_TS_BAD("day 32", "2003-10-32T22:14:15Z"),
    SL_V5_TS_BAD("hour 24", "2003-10-11T24:00:00Z"),
    SL_V5_TS_BAD("minute 60", "2003-10-11T22:60:15Z"),
    SL_V5_TS_BAD("second 61", "2003-10-11T22:14:61Z"),
    SL_V5_TS_BAD("slashes in date", "2003/10/11T22:14:15Z"),
    SL_V5_TS_BAD("space instead of T", "2003-10-11 22:14:15Z"),
    SL_V5_TS_BAD("one-digit month", "2003-1-11T22:14:15Z"),
    SL_V5_TS_BAD("two-digit year", "03-10-11T22:14:15Z"),
    SL_V5_TS_BAD("no seconds", "2003-10-11T22:14Z"),
    SL_V5_TS_BAD("rfc 3164 timestamp", "Oct 11 22:14:15"),
    SL_V5_TS_BAD("sign in year", "+003-10-11T22:14:15Z"),

    /* Header field limits (section 6): at the limit and one over it. */
    SL_V5_OK("hostname 255", "<13>1 2003-10-11T22:14:15Z " SL_V5_A255 " app 1 id - msg", 13, 0,
             "2003-10-11T22:14:15Z", SL_V5_A255, "app", "1", "id", "", "msg", "app[1]"),
    SL_V5_BAD("hostname 256", "<13>1 2003-10-11T22:14:15Z " SL_V5_A255 "b app 1 id - msg", 13),
    SL_V5_OK("app-name 48", "<13>1 2003-10-11T22:14:15Z host " SL_V5_A48 " 1 id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", SL_V5_A48, "1", "id", "", "msg",
             SL_V5_A48 "[1]"),
    SL_V5_BAD("app-name 49", "<13>1 2003-10-11T22:14:15Z host " SL_V5_A48 "b 1 id - msg", 13),
    SL_V5_OK("procid 128", "<13>1 2003-10-11T22:14:15Z host app " SL_V5_A128 " id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", SL_V5_A128, "id", "", "msg",
             "app[" SL_V5_A128 "]"),
    SL_V5_BAD("procid 129", "<13>1 2003-10-11T22:14:15Z host app " SL_V5_A128 "b id - msg", 13),
    SL_V5_OK("msgid 32", "<13>1 2003-10-11T22:14:15Z host app 1 " SL_V5_A32 " - msg", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", SL_V5_A32, "", "msg", "app[1]"),
    SL_V5_BAD("msgid 33", "<13>1 2003-10-11T22:14:15Z host app 1 " SL_V5_A32 "b - msg", 13),
    SL_V5_OK("longest header",
             "<191>1 2003-10-11T22:14:15.123456+23:59 " SL_V5_A255 " " SL_V5_A48 " " SL_V5_A128
             " " SL_V5_A32 " - msg",
             191, 0, "2003-10-11T22:14:15.123456+23:59", SL_V5_A255, SL_V5_A48, SL_V5_A128,
             SL_V5_A32, "", "msg", SL_V5_A48 "[" SL_V5_A128 "]"),
    SL_V5_OK("pri 0", "<0>1 2003-10-11T22:14:15Z host app 1 id - msg", 0, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "msg", "app[1]"),
    SL_V5_OK("ipv6 hostname", "<13>1 2003-10-11T22:14:15Z 2001:db8::1 app 1 id - msg", 13, 0,
             "2003-10-11T22:14:15Z", "2001:db8::1", "app", "1", "id", "", "msg", "app[1]"),
    SL_V5_OK("printable punctuation in fields",
             "<13>1 2003-10-11T22:14:15Z h!~\"[] a=b{} p/1 m@x - msg", 13, 0,
             "2003-10-11T22:14:15Z", "h!~\"[]", "a=b{}", "p/1", "m@x", "", "msg",
             "a=b{}[p/1]"),

    /* Header field bytes and separators. */
    SL_V5_BAD("hostname with DEL", "<13>1 2003-10-11T22:14:15Z ho\x7fst app 1 id - msg", 13),
    SL_V5_BAD("hostname with UTF-8", "<13>1 2003-10-11T22:14:15Z h\xC3\xA9te app 1 id - msg", 13),
    SL_V5_BAD("app-name with tab", "<13>1 2003-10-11T22:14:15Z host a\tpp 1 id - msg", 13),
    SL_V5_BAD_NUL("hostname with NUL", "<13>1 2003-10-11T22:14:15Z ho\0st app 1 id - msg", 13),
    SL_V5_BAD("two spaces between fields", "<13>1 2003-10-11T22:14:15Z host  app 1 id - msg", 13),
    SL_V5_BAD("empty msgid", "<13>1 2003-10-11T22:14:15Z host app 1  - msg", 13),
    SL_V5_BAD("empty hostname", "<13>1 2003-10-11T22:14:15Z  app 1 id - msg", 13),
    SL_V5_BAD("two spaces after version", "<13>1  2003-10-11T22:14:15Z host app 1 id - msg", 13),
    SL_V5_BAD("tab as separator", "<13>1 2003-10-11T22:14:15Z\thost app 1 id - msg", 13),
    SL_V5_BAD("junk after nil timestamp", "<13>1 -x host app 1 id - msg", 13),
    SL_V5_BAD("junk after timestamp", "<13>1 2003-10-11T22:14:15Zx host app 1 id - msg", 13),
    SL_V5_BAD("not a timestamp", "<13>1 hello world", 13),

    /* Truncated at every field. */
    SL_V5_BAD("truncated after version", "<13>1 ", 13),
    SL_V5_BAD("truncated in timestamp", "<13>1 2003-10-11T22:14", 13),
    SL_V5_BAD("truncated in fraction", "<13>1 2003-10-11T22:14:15.123", 13),
    SL_V5_BAD("truncated in zone", "<13>1 2003-10-11T22:14:15+01:0", 13),
    SL_V5_BAD("truncated after timestamp", "<13>1 2003-10-11T22:14:15Z", 13),
    SL_V5_BAD("truncated after nil timestamp", "<13>1 -", 13),
    SL_V5_BAD("truncated before hostname", "<13>1 - ", 13),
    SL_V5_BAD("truncated in hostname", "<13>1 - host", 13),
    SL_V5_BAD("truncated in app-name", "<13>1 - host app", 13),
    SL_V5_BAD("truncated in procid", "<13>1 - host app 1", 13),
    SL_V5_BAD("truncated in msgid", "<13>1 - host app 1 id", 13),
    SL_V5_BAD("truncated before sd", "<13>1 - host app 1 id ", 13),
    SL_V5_BAD("truncated in sd id", "<13>1 - host app 1 id [exa", 13),
    SL_V5_BAD("truncated in sd param", "<13>1 - host app 1 id [ex a=\"v", 13),

    /* STRUCTURED-DATA. */
    SL_V5_SD("sd without params", "[exampleSDID@32473]"),
    SL_V5_SD("sd escapes", "[id a=\"x\\\"y\" b=\"p\\\\q\" c=\"r\\]s\"]"),
    SL_V5_SD("sd escaped backslash before quote", "[id a=\"x\\\\\"]"),
    SL_V5_SD("sd other backslash kept", "[id a=\"C:\\temp\\new\"]"),
    SL_V5_SD("sd unescaped bracket in value", "[id a=\"x]y\"]"),
    SL_V5_SD("sd empty value", "[id a=\"\"]"),
    SL_V5_SD("sd value with spaces and UTF-8", "[id a=\"h\xC3\xA9 llo [w] = x\"]"),
    SL_V5_SD("sd three elements", "[a x=\"1\"][b][c@1 y=\"2\" z=\"3\"]"),
    SL_V5_SD("sd same id twice", "[a x=\"1\"][a x=\"2\"]"),
    SL_V5_SD("sd names of 32", "[" SL_V5_A32 " " SL_V5_A32 "=\"v\"]"),
    SL_V5_SD("sd name of dash", "[- -=\"-\"]"),
    SL_V5_OK("sd then bracketed msg", "<13>1 2003-10-11T22:14:15Z host app 1 id [a] [b]", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "[a]", "[b]", "app[1]"),
    SL_V5_OK("sd without msg", "<13>1 2003-10-11T22:14:15Z host app 1 id [a x=\"1\"]", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "[a x=\"1\"]", "", "app[1]"),
    SL_V5_SD_BAD("sd id of 33", "[" SL_V5_A32 "b]"),
    SL_V5_SD_BAD("sd param name of 33", "[id " SL_V5_A32 "b=\"v\"]"),
    SL_V5_SD_BAD("sd empty id", "[]"),
    SL_V5_SD_BAD("sd space before id", "[ id]"),
    SL_V5_SD_BAD("sd space before bracket", "[id a=\"b\" ]"),
    SL_V5_SD_BAD("sd params not separated", "[id a=\"b\"c=\"d\"]"),
    SL_V5_SD_BAD("sd two spaces before param", "[id  a=\"b\"]"),
    SL_V5_SD_BAD("sd value without quotes", "[id a=b]"),
    SL_V5_SD_BAD("sd value single quotes", "[id a='b']"),
    SL_V5_SD_BAD("sd param without value", "[id a]"),
    SL_V5_SD_BAD("sd empty param name", "[id =\"b\"]"),
    SL_V5_SD_BAD("sd space around equals", "[id a = \"b\"]"),
    SL_V5_SD_BAD("sd quote in name", "[id a\"b=\"c\"]"),
    SL_V5_SD_BAD("sd equals in id", "[i=d]"),
    SL_V5_SD_BAD("sd tab before param", "[id\ta=\"b\"]"),
    SL_V5_SD_BAD("sd escaped closing quote", "[id a=\"x\\\"]"),
    SL_V5_SD_BAD("sd missing bracket", "[id a=\"b\""),
    SL_V5_SD_BAD("sd element without bracket", "id a=\"b\"]"),
    SL_V5_BAD("sd then junk", "<13>1 2003-10-11T22:14:15Z host app 1 id [id]x", 13),
    SL_V5_BAD("nil sd then junk", "<13>1 2003-10-11T22:14:15Z host app 1 id -x", 13),
    SL_V5_BAD("sd unterminated at end", "<13>1 2003-10-11T22:14:15Z host app 1 id [id a=\"b\"", 13),
    SL_V5_BAD("sd unterminated value at end",
              "<13>1 2003-10-11T22:14:15Z host app 1 id [id a=\"b] msg", 13),

    /* MSG. */
    SL_V5_OK("msg empty after separator", "<13>1 2003-10-11T22:14:15Z host app 1 id - ", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "", "app[1]"),
    SL_V5_OK("msg leading spaces kept", "<13>1 2003-10-11T22:14:15Z host app 1 id -   x", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "  x", "app[1]"),
    SL_V5_OK("msg bom only", "<13>1 2003-10-11T22:14:15Z host app 1 id - \xEF\xBB\xBF", 13,
             SL_MSG_BOM, "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "", "app[1]"),
    SL_V5_OK("msg partial bom kept", "<13>1 2003-10-11T22:14:15Z host app 1 id - \xEF\xBBx", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "\xEF\xBBx", "app[1]"),
    SL_V5_OK("msg bom not first kept", "<13>1 2003-10-11T22:14:15Z host app 1 id -  \xEF\xBB\xBFx",
             13, 0, "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", " \xEF\xBB\xBFx",
             "app[1]"),
    SL_V5_OK("msg two boms", "<13>1 2003-10-11T22:14:15Z host app 1 id - \xEF\xBB\xBF\xEF\xBB\xBFx",
             13, SL_MSG_BOM, "2003-10-11T22:14:15Z", "host", "app", "1", "id", "",
             "\xEF\xBB\xBFx", "app[1]"),
    SL_V5_OK("msg control chars",
             "<13>1 2003-10-11T22:14:15Z host app 1 id - a\tb\rc\nd\x01\x1b[0m", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "a\tb\rc\nd\x01\x1b[0m",
             "app[1]"),
    SL_V5_OK("msg trailing newline dropped", "<13>1 2003-10-11T22:14:15Z host app 1 id - line\n", 13,
             0, "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "line", "app[1]"),
    SL_V5_OK("msg invalid utf-8", "<13>1 2003-10-11T22:14:15Z host app 1 id - \xff\xfe\xc3(", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", "\xff\xfe\xc3(", "app[1]"),
    SL_V5_OK("msg with NUL bytes", "<13>1 2003-10-11T22:14:15Z host app 1 id - a\0b\0", 13, 0,
             "2003-10-11T22:14:15Z", "host", "app", "1", "id", "", NULL, "app[1]"),
    SL_V5_OK("msg that looks like a header",
             "<13>1 - - - - - - <14>1 2003-10-11T22:14:15Z host app 1 id - msg", 13, 0,
             SL_V5_RECEIVED, "", "", "", "", "", "<14>1 2003-10-11T22:14:15Z host app 1 id - msg",
             "-"),
};

#define SL_VECTORS_RFC5424_COUNT (sizeof(sl_vectors_rfc5424) / sizeof(sl_vectors_rfc5424[0]))

/* Text after the PRI that is not VERSION "1 ": the RFC 5424 parser itself must refuse it. */
static const char *const sl_rfc5424_other_versions[] = {
    "2 2003-10-11T22:14:15Z host app 1 id - msg",
    "0 2003-10-11T22:14:15Z host app 1 id - msg",
    "10 2003-10-11T22:14:15Z host app 1 id - msg",
    "11 2003-10-11T22:14:15Z host app 1 id - msg",
    "1",
    "",
    "1\t2003-10-11T22:14:15Z host app 1 id - msg",
    "x 2003-10-11T22:14:15Z host app 1 id - msg",
};

#define SL_RFC5424_OTHER_VERSIONS_COUNT                                                            \
    (sizeof(sl_rfc5424_other_versions) / sizeof(sl_rfc5424_other_versions[0]))

#endif
