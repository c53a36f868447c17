/*
 * Invariant checks. sl_assert is active in debug and test builds (SL_DEBUG=1) and compiles to
 * nothing otherwise; the expression must have no side effects.
 */
#ifndef SL_ASSERT_H
#define SL_ASSERT_H

#include "sl_config.h"

#if SL_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define sl_assert(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define sl_assert(cond) ((void)0)
#endif

#endif
