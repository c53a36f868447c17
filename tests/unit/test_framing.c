/*
 * The stream framer: both framings and auto detection, truncation, invalid counts, end of
 * stream, flow control, and property tests that feed random streams in random pieces (down to
 * one byte at a time) and compare the frames with a model, while checking the memory bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inputs/framing.h"

/* One frame as the callback saw it. */
typedef struct frame {
    char *data;
    size_t len;
    unsigned flags;
    int zero_copy; /* the pointer was inside the fed bytes */
} frame_t;

typedef struct collector {
    frame_t *v;
    size_t n, cap;
    const char *in_lo, *in_hi; /* the bytes being fed */
    unsigned pause_every;      /* return 1 from every pause_every-th call; 0: never */
    unsigned calls;
} collector_t;

static int collect(void *ctx, const char *frame, size_t len, unsigned flags)
{
    collector_t *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        assert_non_null(c->v);
    }
    frame_t *fr = &c->v[c->n++];
    fr->data = malloc(len + 1);
    assert_non_null(fr->data);
    memcpy(fr->data, frame, len);
    fr->data[len] = '\0';
    fr->len = len;
    fr->flags = flags;
    fr->zero_copy = c->in_lo && frame >= c->in_lo && frame + len <= c->in_hi;
    c->calls++;
    return c->pause_every && c->calls % c->pause_every == 0;
}

static void collector_free(collector_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].data);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static void check_bound(const sl_framer_t *f)
{
    assert_true(f->cap <= f->max_size + 1 + SL_FRAMER_SLACK);
    assert_true(f->len <= f->cap);
}

/* Feeds data[0..len) in one call, re-feeding after pauses, and checks the memory bound. */
static void feed_chunk(sl_framer_t *f, collector_t *c, const char *data, size_t len)
{
    size_t off = 0;
    int rounds = 0;
    do {
        c->in_lo = data + off;
        c->in_hi = data + len;
        ssize_t r = sl_framer_feed(f, data + off, len - off, collect, c);
        assert_true(r >= 0);
        assert_true((size_t)r <= len - off);
        off += (size_t)r;
        check_bound(f);
        assert_true(++rounds < 1000000);
    } while (off < len);
    c->in_lo = c->in_hi = NULL;
}

/* Feeds s in pieces of `chunk` bytes (0: all at once), then finishes when `eof`. */
static void feed_str(sl_framer_t *f, collector_t *c, const char *s, size_t len, size_t chunk,
                     int eof)
{
    if (!chunk)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        /* A copy of exactly n bytes, so that ASan catches a read past the piece. */
        char *piece = malloc(n);
        assert_non_null(piece);
        memcpy(piece, s + off, n);
        feed_chunk(f, c, piece, n);
        free(piece);
    }
    if (eof)
        sl_framer_finish(f, collect, c);
}

static void expect_frame(const collector_t *c, size_t i, const char *text, unsigned flags)
{
    assert_true(i < c->n);
    assert_int_equal(c->v[i].len, strlen(text));
    assert_memory_equal(c->v[i].data, text, strlen(text));
    assert_int_equal(c->v[i].flags, flags);
}

#define S(lit) lit, sizeof(lit) - 1

/* Runs one input through a fresh framer, in one piece and one byte at a time, both giving the
 * same frames; the frames of the byte-wise run are left in *c. */
static void run_both(collector_t *c, sl_framing_t mode, size_t max, unsigned opts, const char *s,
                     size_t len, int eof)
{
    sl_framer_t f1, f2;
    collector_t whole = {0};
    assert_int_equal(sl_framer_init(&f1, mode, max, opts), 0);
    assert_int_equal(sl_framer_init(&f2, mode, max, opts), 0);
    feed_str(&f1, &whole, s, len, 0, eof);
    feed_str(&f2, c, s, len, 1, eof);
    assert_int_equal(whole.n, c->n);
    for (size_t i = 0; i < c->n; i++) {
        assert_int_equal(whole.v[i].len, c->v[i].len);
        assert_memory_equal(whole.v[i].data, c->v[i].data, c->v[i].len);
        assert_int_equal(whole.v[i].flags, c->v[i].flags);
    }
    collector_free(&whole);
    sl_framer_free(&f1);
    sl_framer_free(&f2);
}

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    sl_framer_t f;
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 0, 0), -EINVAL);
    assert_int_equal(sl_framer_init(&f, (sl_framing_t)7, 100, 0), -EINVAL);
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 100, 1u << 6), -EINVAL);
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, (size_t)SL_FRAMER_MAX_COUNT + 1, 0),
                     -EINVAL);
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_LF, 1, SL_FRAMER_NUL_DELIM), 0);
    assert_true(sl_framer_idle(&f));
    sl_framer_free(&f);
}

static void test_mode_names(void **state)
{
    (void)state;
    sl_framing_t m;
    assert_int_equal(sl_framing_parse("auto", &m), 0);
    assert_int_equal(m, SL_FRAMING_AUTO);
    assert_int_equal(sl_framing_parse("octet-counted", &m), 0);
    assert_int_equal(m, SL_FRAMING_OCTET);
    assert_int_equal(sl_framing_parse("lf", &m), 0);
    assert_int_equal(m, SL_FRAMING_LF);
    assert_int_equal(sl_framing_parse("LF ", &m), -EINVAL);
    assert_string_equal(sl_framing_name(SL_FRAMING_OCTET), "octet-counted");
}

static void test_octet_counted_frames_zero_copy(void **state)
{
    (void)state;
    sl_framer_t f;
    collector_t c = {0};
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_OCTET, 1024, 0), 0);
    /* Counted bodies may hold LF, CR and NUL; they are passed as they are. */
    static const char in[] = "5 <13>a12 <14>b\nc\r\0xyz1 x";
    feed_str(&f, &c, in, sizeof(in) - 1, 0, 0);
    assert_int_equal(c.n, 3);
    expect_frame(&c, 0, "<13>a", 0);
    assert_int_equal(c.v[1].len, 12);
    assert_memory_equal(c.v[1].data, "<14>b\nc\r\0xyz", 12);
    expect_frame(&c, 2, "x", 0);
    for (size_t i = 0; i < c.n; i++)
        assert_true(c.v[i].zero_copy);
    assert_true(sl_framer_idle(&f));
    assert_null(f.buf); /* nothing had to be buffered */
    collector_free(&c);
    sl_framer_free(&f);
}

static void test_octet_counted_split_everywhere(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "11 <13>message15 <14>message-two";
    run_both(&c, SL_FRAMING_OCTET, 1024, 0, S(in), 1);
    assert_int_equal(c.n, 2);
    expect_frame(&c, 0, "<13>message", 0);
    expect_frame(&c, 1, "<14>message-two", 0);
    collector_free(&c);
}

static void test_lf_frames_and_cr(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "<13>one\n<13>two\r\n\n\r\n<13>th\rree\r\r\n<13>four";
    run_both(&c, SL_FRAMING_LF, 1024, 0, S(in), 1);
    /* One CR before LF goes; blank lines are dropped; the partial last line comes at the end. */
    assert_int_equal(c.n, 4);
    expect_frame(&c, 0, "<13>one", 0);
    expect_frame(&c, 1, "<13>two", 0);
    expect_frame(&c, 2, "<13>th\rree\r", 0);
    expect_frame(&c, 3, "<13>four", 0);
    collector_free(&c);

    run_both(&c, SL_FRAMING_LF, 1024, SL_FRAMER_KEEP_CR, S(in), 1);
    assert_int_equal(c.n, 5);
    expect_frame(&c, 0, "<13>one", 0);
    expect_frame(&c, 1, "<13>two\r", 0);
    expect_frame(&c, 2, "\r", 0);
    expect_frame(&c, 3, "<13>th\rree\r\r", 0);
    expect_frame(&c, 4, "<13>four", 0);
    collector_free(&c);
}

static void test_lf_zero_copy(void **state)
{
    (void)state;
    sl_framer_t f;
    collector_t c = {0};
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 1024, 0), 0);
    feed_str(&f, &c, S("<13>a\n<13>b\n<13>partial"), 0, 0);
    assert_int_equal(c.n, 2);
    assert_true(c.v[0].zero_copy);
    assert_true(c.v[1].zero_copy);
    assert_false(sl_framer_idle(&f));
    feed_str(&f, &c, S(" end\n"), 0, 0);
    assert_int_equal(c.n, 3);
    expect_frame(&c, 2, "<13>partial end", 0);
    assert_false(c.v[2].zero_copy);
    collector_free(&c);
    sl_framer_free(&f);
}

static void test_nul_delimiter_option(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "<13>a\0<13>b\r\0<13>c\n\0\0<13>d";
    run_both(&c, SL_FRAMING_AUTO, 1024, SL_FRAMER_NUL_DELIM, S(in), 1);
    assert_int_equal(c.n, 4);
    expect_frame(&c, 0, "<13>a", 0);
    expect_frame(&c, 1, "<13>b", 0);
    expect_frame(&c, 2, "<13>c", 0);
    expect_frame(&c, 3, "<13>d", 0);
    collector_free(&c);

    /* Without the option a NUL is just a byte of the line. */
    run_both(&c, SL_FRAMING_AUTO, 1024, 0, S(in), 1);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[0].len, 18);
    assert_memory_equal(c.v[0].data, "<13>a\0<13>b\r\0<13>c", 18);
    collector_free(&c);
}

static void test_auto_detects_per_frame(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "<13>line one\n7 <13>o\nx<13>line two\n3 abc0 zero\n";
    run_both(&c, SL_FRAMING_AUTO, 1024, 0, S(in), 1);
    assert_int_equal(c.n, 5);
    expect_frame(&c, 0, "<13>line one", 0);
    expect_frame(&c, 1, "<13>o\nx", 0);
    expect_frame(&c, 2, "<13>line two", 0);
    expect_frame(&c, 3, "abc", 0);
    expect_frame(&c, 4, "0 zero", 0); /* '0' cannot start a count: a plain line */
    collector_free(&c);
}

static void test_lf_mode_ignores_counts(void **state)
{
    (void)state;
    collector_t c = {0};
    run_both(&c, SL_FRAMING_LF, 1024, 0, S("5 hello world\n12 x\n"), 1);
    assert_int_equal(c.n, 2);
    expect_frame(&c, 0, "5 hello world", 0);
    expect_frame(&c, 1, "12 x", 0);
    collector_free(&c);
}

static void test_octet_mode_bad_start_falls_back_to_line(void **state)
{
    (void)state;
    collector_t c = {0};
    run_both(&c, SL_FRAMING_OCTET, 1024, 0, S("<13>plain line\n0 zero\n4 good"), 1);
    assert_int_equal(c.n, 3);
    expect_frame(&c, 0, "<13>plain line", SL_FRAME_BAD_COUNT);
    expect_frame(&c, 1, "0 zero", SL_FRAME_BAD_COUNT);
    expect_frame(&c, 2, "good", 0);
    collector_free(&c);
}

static void test_bad_counts_become_lines(void **state)
{
    (void)state;
    for (int mode = SL_FRAMING_AUTO; mode <= SL_FRAMING_OCTET; mode++) {
        collector_t c = {0};
        static const char in[] = "12abc\n"         /* digits not followed by SP */
                                 "99999999999 x\n" /* more than 2^31 */
                                 "2147483648 y\n"  /* one more than the limit */
                                 "42\n"            /* digits then LF */
                                 "3 ok!"           /* and the stream recovers */
                                 "2147483647";     /* the largest count, then the end */
        run_both(&c, (sl_framing_t)mode, 1024, 0, S(in), 1);
        assert_int_equal(c.n, 6);
        expect_frame(&c, 0, "12abc", SL_FRAME_BAD_COUNT);
        expect_frame(&c, 1, "99999999999 x", SL_FRAME_BAD_COUNT);
        expect_frame(&c, 2, "2147483648 y", SL_FRAME_BAD_COUNT);
        expect_frame(&c, 3, "42", SL_FRAME_BAD_COUNT);
        expect_frame(&c, 4, "ok!", 0);
        expect_frame(&c, 5, "2147483647", SL_FRAME_BAD_COUNT);
        collector_free(&c);
    }
}

static void test_max_count_is_settable(void **state)
{
    (void)state;
    sl_framer_t f;
    collector_t c = {0};
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 64, 0), 0);
    f.max_count = 100;
    feed_str(&f, &c, S("100 "), 1, 0);
    assert_true(c.n == 0 && !sl_framer_idle(&f));
    sl_framer_finish(&f, collect, &c);
    expect_frame(&c, 0, "", SL_FRAME_INCOMPLETE);
    feed_str(&f, &c, S("101 abc\n"), 0, 1);
    expect_frame(&c, 1, "101 abc", SL_FRAME_BAD_COUNT);
    collector_free(&c);
    sl_framer_free(&f);
}

static void test_octet_truncation_skips_exactly(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "10 0123456789"
                             "8 abcdefgh"
                             "9 ABCDEFGHI"
                             "3 end";
    run_both(&c, SL_FRAMING_OCTET, 8, 0, S(in), 1);
    assert_int_equal(c.n, 4);
    expect_frame(&c, 0, "01234567", SL_FRAME_TRUNCATED);
    expect_frame(&c, 1, "abcdefgh", 0);
    expect_frame(&c, 2, "ABCDEFGH", SL_FRAME_TRUNCATED);
    expect_frame(&c, 3, "end", 0);
    collector_free(&c);
}

static void test_lf_truncation_skips_to_lf(void **state)
{
    (void)state;
    collector_t c = {0};
    static const char in[] = "abcdefghijkl\n" /* 12 bytes: cut */
                             "abcdefgh\n"     /* exactly max */
                             "abcdefgh\r\n"   /* max and a CR to take off */
                             "abcdefghi\n"    /* max + 1 */
                             "abcdefgh\rX\n"  /* max, CR, more */
                             "short\n";
    run_both(&c, SL_FRAMING_LF, 8, 0, S(in), 1);
    assert_int_equal(c.n, 6);
    expect_frame(&c, 0, "abcdefgh", SL_FRAME_TRUNCATED);
    expect_frame(&c, 1, "abcdefgh", 0);
    expect_frame(&c, 2, "abcdefgh", 0);
    expect_frame(&c, 3, "abcdefgh", SL_FRAME_TRUNCATED);
    expect_frame(&c, 4, "abcdefgh", SL_FRAME_TRUNCATED);
    expect_frame(&c, 5, "short", 0);
    collector_free(&c);

    /* With the CR kept, max bytes and a CR are one byte too many. */
    run_both(&c, SL_FRAMING_LF, 8, SL_FRAMER_KEEP_CR, S("abcdefgh\r\nabcdefg\r\n"), 1);
    assert_int_equal(c.n, 2);
    expect_frame(&c, 0, "abcdefgh", SL_FRAME_TRUNCATED);
    expect_frame(&c, 1, "abcdefg\r", 0);
    collector_free(&c);
}

static void test_bad_count_longer_than_max(void **state)
{
    (void)state;
    collector_t c = {0};
    run_both(&c, SL_FRAMING_AUTO, 3, 0, S("12345x\n1234\n12 ab"), 1);
    assert_int_equal(c.n, 3);
    expect_frame(&c, 0, "123", SL_FRAME_TRUNCATED | SL_FRAME_BAD_COUNT);
    expect_frame(&c, 1, "123", SL_FRAME_TRUNCATED | SL_FRAME_BAD_COUNT);
    expect_frame(&c, 2, "ab", SL_FRAME_INCOMPLETE);
    collector_free(&c);

    /* Digits alone at the end of the stream, longer than max. */
    run_both(&c, SL_FRAMING_OCTET, 2, 0, S("1234"), 1);
    assert_int_equal(c.n, 1);
    expect_frame(&c, 0, "12", SL_FRAME_TRUNCATED | SL_FRAME_BAD_COUNT);
    collector_free(&c);
}

static void test_end_of_stream(void **state)
{
    (void)state;
    collector_t c = {0};
    /* A partial line is a frame; a partial CR is taken off. */
    run_both(&c, SL_FRAMING_AUTO, 64, 0, S("<13>a\n<13>partial\r"), 1);
    assert_int_equal(c.n, 2);
    expect_frame(&c, 1, "<13>partial", 0);
    collector_free(&c);

    /* A partial octet-counted frame is passed on as incomplete, even when empty. */
    run_both(&c, SL_FRAMING_AUTO, 64, 0, S("10 <13>abc"), 1);
    assert_int_equal(c.n, 1);
    expect_frame(&c, 0, "<13>abc", SL_FRAME_INCOMPLETE);
    collector_free(&c);
    run_both(&c, SL_FRAMING_OCTET, 64, 0, S("10 "), 1);
    assert_int_equal(c.n, 1);
    expect_frame(&c, 0, "", SL_FRAME_INCOMPLETE);
    collector_free(&c);

    /* Nothing more for a frame already passed on cut, or a cut line. */
    run_both(&c, SL_FRAMING_AUTO, 4, 0, S("10 abcdefg"), 1);
    assert_int_equal(c.n, 1);
    expect_frame(&c, 0, "abcd", SL_FRAME_TRUNCATED);
    collector_free(&c);
    run_both(&c, SL_FRAMING_AUTO, 4, 0, S("abcdefg"), 1);
    assert_int_equal(c.n, 1);
    expect_frame(&c, 0, "abcd", SL_FRAME_TRUNCATED);
    collector_free(&c);

    /* Between frames nothing is called, and the framer can be used again after finish. */
    sl_framer_t f;
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 64, 0), 0);
    feed_str(&f, &c, S("3 abc"), 1, 1);
    assert_int_equal(c.n, 1);
    feed_str(&f, &c, S("5 ab"), 0, 1);
    feed_str(&f, &c, S("<13>x\n"), 0, 1);
    assert_int_equal(c.n, 3);
    expect_frame(&c, 1, "ab", SL_FRAME_INCOMPLETE);
    expect_frame(&c, 2, "<13>x", 0);
    assert_true(sl_framer_idle(&f));
    collector_free(&c);
    sl_framer_free(&f);
}

static void test_pause_returns_offset(void **state)
{
    (void)state;
    sl_framer_t f;
    collector_t c = {0};
    static const char in[] = "<13>a\n3 bcd<13>e\n4 fghi";
    assert_int_equal(sl_framer_init(&f, SL_FRAMING_AUTO, 64, 0), 0);
    c.pause_every = 1;
    ssize_t r = sl_framer_feed(&f, in, sizeof(in) - 1, collect, &c);
    assert_int_equal(r, 6);
    assert_int_equal(c.n, 1);
    r = sl_framer_feed(&f, in + 6, sizeof(in) - 1 - 6, collect, &c);
    assert_int_equal(r, 5);
    r = sl_framer_feed(&f, in + 11, sizeof(in) - 1 - 11, collect, &c);
    assert_int_equal(r, 6);
    r = sl_framer_feed(&f, in + 17, sizeof(in) - 1 - 17, collect, &c);
    assert_int_equal(r, sizeof(in) - 1 - 17);
    assert_int_equal(c.n, 4);
    expect_frame(&c, 3, "fghi", 0);
    assert_int_equal(sl_framer_finish(&f, collect, &c), 0);
    collector_free(&c);
    sl_framer_free(&f);
}

static void test_unfinished_frame_memory_bound(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    char *junk = malloc(big);
    assert_non_null(junk);
    memset(junk, 'x', big);
    for (int mode = SL_FRAMING_AUTO; mode <= SL_FRAMING_LF; mode++) {
        sl_framer_t f;
        collector_t c = {0};
        assert_int_equal(sl_framer_init(&f, (sl_framing_t)mode, 1000, 0), 0);
        if (mode != SL_FRAMING_LF)
            feed_str(&f, &c, S("2147483647 "), 0, 0);
        else
            feed_str(&f, &c, S("<13>"), 0, 0);
        for (size_t off = 0; off < big; off += 4093)
            feed_str(&f, &c, junk + off, big - off < 4093 ? big - off : 4093, 0, 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.v[0].len, 1000);
        assert_int_equal(c.v[0].flags, SL_FRAME_TRUNCATED);
        assert_true(f.cap <= 1000 + 1 + SL_FRAMER_SLACK);
        sl_framer_finish(&f, collect, &c);
        assert_int_equal(c.n, 1);
        collector_free(&c);
        sl_framer_free(&f);
    }
    free(junk);
}

/* A small deterministic generator, so that a failure can be replayed from its seed. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

typedef struct byte_buf {
    char *p;
    size_t len, cap;
} byte_buf_t;

static void bb_put(byte_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Appends the expected frame for `content` to the model. */
static void model_add(collector_t *m, const char *content, size_t len, size_t max, unsigned flags)
{
    if (len > max) {
        len = max;
        flags |= SL_FRAME_TRUNCATED;
    }
    collect(m, content, len, flags);
}

/* Feeds `stream` in pieces drawn by `how` and compares with the model. */
static void check_stream(sl_framing_t mode, size_t max, unsigned opts, const byte_buf_t *stream,
                         const collector_t *model, uint64_t *rng, int how, uint64_t seed)
{
    sl_framer_t f;
    collector_t got = {0};
    assert_int_equal(sl_framer_init(&f, mode, max, opts), 0);
    got.pause_every = how == 3 ? 3 : 0;
    for (size_t off = 0; off < stream->len;) {
        size_t n;
        switch (how) {
        case 0:
            n = 1;
            break;
        case 1:
            n = 1 + rng_below(rng, 7);
            break;
        case 2:
            n = 1 + rng_below(rng, 3 * max);
            break;
        default:
            n = 1 + rng_below(rng, 8192);
            break;
        }
        if (n > stream->len - off)
            n = stream->len - off;
        feed_str(&f, &got, stream->p + off, n, 0, 0);
        off += n;
    }
    sl_framer_finish(&f, collect, &got);
    if (got.n != model->n)
        fprintf(stderr, "seed %llu how %d: %zu frames, expected %zu\n", (unsigned long long)seed,
                how, got.n, model->n);
    assert_int_equal(got.n, model->n);
    for (size_t i = 0; i < got.n; i++) {
        if (got.v[i].len != model->v[i].len || got.v[i].flags != model->v[i].flags ||
            memcmp(got.v[i].data, model->v[i].data, got.v[i].len))
            fprintf(stderr, "seed %llu how %d: frame %zu differs\n", (unsigned long long)seed, how,
                    i);
        assert_int_equal(got.v[i].len, model->v[i].len);
        assert_int_equal(got.v[i].flags, model->v[i].flags);
        assert_memory_equal(got.v[i].data, model->v[i].data, got.v[i].len);
    }
    collector_free(&got);
    sl_framer_free(&f);
}

/*
 * Random valid streams: octet-counted frames with any bytes, lines (ending in LF or CRLF), and
 * lines that start with digits that are no count. The model says what each must give.
 */
static void test_property_random_streams(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        uint64_t rng = seed * 0x9E3779B97F4A7C15ull;
        sl_framing_t mode = (sl_framing_t)(seed % 3);
        unsigned opts = seed % 4 == 0 ? SL_FRAMER_KEEP_CR : 0;
        if (seed % 3 == 1)
            opts |= SL_FRAMER_NUL_DELIM;
        size_t max = seed % 5 == 0 ? 1 + rng_below(&rng, 40) : 200 + rng_below(&rng, 2000);
        byte_buf_t stream = {0};
        collector_t model = {0};
        size_t nframes = 50 + rng_below(&rng, 150);
        char content[4096];
        for (size_t i = 0; i < nframes; i++) {
            size_t len = 1 + rng_below(&rng, rng_below(&rng, 4) == 0 ? 4000 : 300);
            int kind = mode == SL_FRAMING_OCTET ? (rng_below(&rng, 5) ? 0 : 2)
                       : mode == SL_FRAMING_LF  ? 1
                                                : (int)rng_below(&rng, 3);
            if (kind == 0) { /* octet-counted: any bytes */
                for (size_t k = 0; k < len; k++)
                    content[k] = (char)rng_next(&rng);
                char hdr[16];
                int h = snprintf(hdr, sizeof(hdr), "%zu ", len);
                bb_put(&stream, hdr, (size_t)h);
                bb_put(&stream, content, len);
                model_add(&model, content, len, max, 0);
                continue;
            }
            /* A line: no LF inside, no CR at its end. */
            for (size_t k = 0; k < len; k++) {
                char ch = (char)(0x20 + rng_below(&rng, 95));
                if (rng_below(&rng, 50) == 0)
                    ch = rng_below(&rng, 2) || (opts & SL_FRAMER_NUL_DELIM) ? '\r' : '\0';
                content[k] = ch;
            }
            unsigned flags = 0;
            if (kind == 2) { /* digits, then something that is neither digit nor SP */
                size_t nd = 1 + rng_below(&rng, len < 12 ? len : 12);
                content[0] = (char)('1' + rng_below(&rng, 9));
                for (size_t k = 1; k < nd; k++)
                    content[k] = (char)('0' + rng_below(&rng, 10));
                if (nd < len && (content[nd] == ' ' || (content[nd] >= '0' && content[nd] <= '9')))
                    content[nd] = 'x';
                flags = SL_FRAME_BAD_COUNT;
            } else if (mode != SL_FRAMING_LF) {
                content[0] = '<'; /* a line in auto mode must not start like a count */
            }
            if (content[len - 1] == '\r')
                content[len - 1] = 'z';
            if (mode == SL_FRAMING_OCTET)
                flags = SL_FRAME_BAD_COUNT;
            bb_put(&stream, content, len);
            if (!(opts & SL_FRAMER_KEEP_CR) && rng_below(&rng, 3) == 0)
                bb_put(&stream, "\r", 1);
            if ((opts & SL_FRAMER_NUL_DELIM) && rng_below(&rng, 2))
                bb_put(&stream, "", 1);
            else
                bb_put(&stream, "\n", 1);
            model_add(&model, content, len, max, flags);
        }
        for (int how = 0; how < 4; how++)
            check_stream(mode, max, opts, &stream, &model, &rng, how, seed);
        collector_free(&model);
        free(stream.p);
    }
}

/*
 * Garbage: random bytes biased towards digits, SP, CR and LF, in every mode and option, fed in
 * random pieces. Nothing may crash, read out of bounds (ASan) or exceed the memory bound, and
 * every frame must respect max_size.
 */
static void test_garbage_never_breaks(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789     \n\n\r\0<>x";
    for (uint64_t seed = 1; seed <= 300; seed++) {
        uint64_t rng = seed * 0xD1B54A32D192ED03ull;
        size_t len = 1 + rng_below(&rng, 20000);
        char *in = malloc(len);
        assert_non_null(in);
        for (size_t i = 0; i < len; i++)
            in[i] = rng_below(&rng, 10) ? alphabet[rng_below(&rng, sizeof(alphabet) - 1)]
                                        : (char)rng_next(&rng);
        sl_framer_t f;
        collector_t c = {0};
        size_t max = 1 + rng_below(&rng, seed % 2 ? 30 : 3000);
        assert_int_equal(
            sl_framer_init(&f, (sl_framing_t)(seed % 3), max, (unsigned)(seed / 3) % 4), 0);
        if (seed % 7 == 0)
            f.max_count = (uint32_t)(1 + rng_below(&rng, 100000));
        c.pause_every = seed % 5 == 0 ? 2 : 0;
        for (size_t off = 0; off < len;) {
            size_t n = 1 + rng_below(&rng, seed % 3 ? 64 : 4096);
            if (n > len - off)
                n = len - off;
            feed_str(&f, &c, in + off, n, 0, 0);
            off += n;
        }
        sl_framer_finish(&f, collect, &c);
        size_t total = 0;
        for (size_t i = 0; i < c.n; i++) {
            assert_true(c.v[i].len <= max);
            assert_true(c.v[i].len > 0 || c.v[i].flags == SL_FRAME_INCOMPLETE);
            total += c.v[i].len;
        }
        assert_true(total <= len);
        collector_free(&c);
        sl_framer_free(&f);
        free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_mode_names),
        cmocka_unit_test(test_octet_counted_frames_zero_copy),
        cmocka_unit_test(test_octet_counted_split_everywhere),
        cmocka_unit_test(test_lf_frames_and_cr),
        cmocka_unit_test(test_lf_zero_copy),
        cmocka_unit_test(test_nul_delimiter_option),
        cmocka_unit_test(test_auto_detects_per_frame),
        cmocka_unit_test(test_lf_mode_ignores_counts),
        cmocka_unit_test(test_octet_mode_bad_start_falls_back_to_line),
        cmocka_unit_test(test_bad_counts_become_lines),
        cmocka_unit_test(test_max_count_is_settable),
        cmocka_unit_test(test_octet_truncation_skips_exactly),
        cmocka_unit_test(test_lf_truncation_skips_to_lf),
        cmocka_unit_test(test_bad_count_longer_than_max),
        cmocka_unit_test(test_end_of_stream),
        cmocka_unit_test(test_pause_returns_offset),
        cmocka_unit_test(test_unfinished_frame_memory_bound),
        cmocka_unit_test(test_property_random_streams),
        cmocka_unit_test(test_garbage_never_breaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
