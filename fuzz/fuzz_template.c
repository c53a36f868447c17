/*
 * libFuzzer harness for the template engine: the input's first line is a template spec (a
 * built-in name or a custom string), the rest a raw message. Compiling may fail (that is an
 * answer, not a crash); when it succeeds the message is formatted with it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t spec_len = nl ? (size_t)(nl - (const char *)data) : size;
    char *spec = malloc(spec_len + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, spec_len);
    spec[spec_len] = '\0';
    sl_parse_ctx_t ctx = fuzz_ctx();
    size_t rest = nl ? size - spec_len - 1 : 0;
    sl_msg_t *m = sl_parse(nl ? nl + 1 : "", rest, &ctx);
    char err[256];
    sl_template_t *t;
    if (m && sl_template_compile(spec, &t, err, sizeof(err)) == 0) {
        sl_strbuf_t out = SL_STRBUF_INIT;
        if (sl_template_format(t, m, &out) < 0)
            fuzz_fail("template failed");
        sl_strbuf_free(&out);
        sl_template_free(t);
    } else if (m && err[0] == '\0') {
        fuzz_fail("template compile failed without a reason");
    }
    if (m) {
        fuzz_check_msg(m);
        sl_msg_unref(m);
    }
    free(spec);
    return 0;
}
