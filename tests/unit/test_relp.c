/*
 * The RELP frame parser of the relp output (sl_relp_parse_frame): valid frames, every prefix of
 * them (more bytes needed, never a wrong answer), malformed ones, and random bytes in buffers of
 * exactly their length, so that a read past the end shows under AddressSanitizer.
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

#include "outputs/relp.h"

/* Parses text from an allocation of exactly its length. */
static ssize_t parse(const char *text, size_t len, sl_relp_frame_t *f)
{
    char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    memcpy(buf, text, len);
    ssize_t r = sl_relp_parse_frame(buf, len, f);
    /* The frame points into buf: copy what the caller checks before freeing. */
    static char cmd[64], data[256];
    if (r > 0) {
        assert_true(f->cmd_len < sizeof(cmd) && f->data_len < sizeof(data));
        memcpy(cmd, f->cmd, f->cmd_len);
        cmd[f->cmd_len] = '\0';
        f->cmd = cmd;
        if (f->data) {
            memcpy(data, f->data, f->data_len);
            data[f->data_len] = '\0';
            f->data = data;
        }
    }
    free(buf);
    return r;
}

typedef struct good {
    const char *text;
    uint32_t txnr;
    const char *cmd;
    const char *data; /* NULL: no data */
} good_t;

static const good_t goods[] = {
    {"1 rsp 6 200 OK\n", 1, "rsp", "200 OK"},
    {"0 serverclose 0\n", 0, "serverclose", NULL},
    {"999999999 rsp 0\n", 999999999, "rsp", NULL},
    {"17 rsp 23 200 OK\nrelp_version=0\n1\n", 17, "rsp", "200 OK\nrelp_version=0\n1"},
    {"2 rsp 2 \n\n\n", 2, "rsp", "\n\n"},
};

static void test_valid_frames_and_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        const good_t *g = &goods[i];
        size_t len = strlen(g->text);
        sl_relp_frame_t f;
        assert_int_equal(parse(g->text, len, &f), (ssize_t)len);
        assert_int_equal(f.txnr, g->txnr);
        assert_string_equal(f.cmd, g->cmd);
        if (g->data) {
            assert_string_equal(f.data, g->data);
            assert_int_equal(f.data_len, strlen(g->data));
        } else {
            assert_null(f.data);
            assert_int_equal(f.data_len, 0);
        }
        for (size_t k = 0; k < len; k++) {
            if (parse(g->text, k, &f) != 0)
                fail_msg("prefix %zu of '%s' is not 'more needed'", k, g->text);
        }
        /* A frame followed by the next one takes only its own bytes. */
        char two[512];
        snprintf(two, sizeof(two), "%s%s", g->text, g->text);
        assert_int_equal(parse(two, 2 * len, &f), (ssize_t)len);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x rsp 0\n",
        "1rsp 0\n",
        "1  rsp 0\n",
        "1 rsp x\n",
        "1 rsp 0 \n",
        "1 rsp 2 abc\n",
        "1234567890 rsp 0\n",
        "1 r5p 0\n",
        "1 rsp 65537 ",
        " 1 rsp 0\n",
        "1 rsp 1234567890 x\n",
        "1 rsp 1x\n",
        "1 rsp 2x\n",
        "1 rsp 0x\n",
        "1 abcdefghijklmnopqrstuvwxyzabcdefg 0\n", /* a command of 33 letters */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sl_relp_frame_t f;
        ssize_t r = parse(bad[i], strlen(bad[i]), &f);
        if (r != -EPROTO)
            fail_msg("'%s' gave %zd, expected -EPROTO", bad[i], r);
    }
}

static void test_random_bytes(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789 rspclose\n\n  xyz";
    unsigned seed = 12345;
    for (int round = 0; round < 200000; round++) {
        char text[40];
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof(text));
        for (size_t i = 0; i < len; i++)
            text[i] = alphabet[rand_r(&seed) % (int)(sizeof(alphabet) - 1)];
        sl_relp_frame_t f;
        char *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        memcpy(buf, text, len);
        ssize_t r = sl_relp_parse_frame(buf, len, &f);
        assert_true(r == 0 || r == -EPROTO || (r > 0 && (size_t)r <= len));
        if (r > 0) {
            assert_true(f.cmd >= buf && f.cmd + f.cmd_len <= buf + len);
            assert_true(!f.data || (f.data >= buf && f.data + f.data_len <= buf + len));
            assert_int_equal(buf[r - 1], '\n');
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_frames_and_prefixes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
