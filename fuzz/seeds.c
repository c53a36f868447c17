/*
 * Writes a fuzzer's seed corpus: the raw inputs of the parser unit vectors, so the fuzzers start
 * from every shape the tests know.
 *   usage: fuzz_seeds FUZZER_NAME DIR
 */
#include <stdio.h>
#include <string.h>

#include "core/msg.h"
#include "vectors.h"
#include "vectors_rfc3164.h"
#include "vectors_rfc5424.h"

static int put(const char *dir, const char *prefix, int i, const char *head, const char *raw,
               size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%03d", dir, prefix, i);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    if (head)
        fputs(head, f);
    fwrite(raw, 1, len, f);
    return fclose(f);
}

static int put_all(const char *dir, const char *prefix, const struct sl_vector *v, size_t n,
                   const char *head)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = v[i].raw_len ? v[i].raw_len : strlen(v[i].raw);
        if (put(dir, prefix, (int)i, head, v[i].raw, len) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_seeds FUZZER_NAME DIR\n");
        return 2;
    }
    const char *name = argv[1], *dir = argv[2];
    int rc = 0;
    int want3164 = strstr(name, "rfc5424") == NULL;
    int want5424 = strstr(name, "rfc3164") == NULL;
    if (strstr(name, "template")) {
        static const char *specs[] = {"json\n",
                                      "traditional\n",
                                      "rfc3164\n",
                                      "rfc5424\n",
                                      "${timestamp} ${hostname} ${tag}${msg}\\n\n",
                                      "${pri}|${facility}|${severity}|${received}|${input}\n"};
        for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "t%zu-3164", s);
            rc |= put_all(dir, prefix, sl_vectors_rfc3164, SL_VECTORS_RFC3164_COUNT, specs[s]);
            snprintf(prefix, sizeof(prefix), "t%zu-5424", s);
            rc |= put_all(dir, prefix, sl_vectors_rfc5424, SL_VECTORS_RFC5424_COUNT, specs[s]);
        }
        return rc ? 1 : 0;
    }
    if (want3164)
        rc |= put_all(dir, "3164", sl_vectors_rfc3164, SL_VECTORS_RFC3164_COUNT, NULL);
    if (want5424)
        rc |= put_all(dir, "5424", sl_vectors_rfc5424, SL_VECTORS_RFC5424_COUNT, NULL);
    return rc ? 1 : 0;
}
