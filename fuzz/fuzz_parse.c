/* libFuzzer harness: any bytes through sl_parse, format detection included. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_parse_ctx_t ctx = fuzz_ctx();
    sl_msg_t *m = sl_parse((const char *)data, size, &ctx);
    if (!m)
        return 0;
    fuzz_check_msg(m);
    sl_msg_unref(m);
    return 0;
}
