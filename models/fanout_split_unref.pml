/*
 * The fan-out model (fanout.pml) with one seeded bug: sl_msg_unref's decrement done as three
 * memory operations (load; sub; store, what `--m->refs` on a plain integer compiles to) instead
 * of one atomic fetch_sub. The checker must find two workers that load the same count and store
 * the same result, so that one release is lost and the message is never freed (a leak), or
 * freed while still owned. This model is expected to fail; it shows that fanout.pml's pass
 * depends on the decrement being one atomic operation.
 */
#define BUG_SPLIT_UNREF 1
#include "fanout.pml"
