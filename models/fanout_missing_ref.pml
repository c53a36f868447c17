/*
 * The fan-out model (fanout.pml) with one seeded bug: sl_router_route does not add the k - 1
 * references of a message that matches k > 1 actions (sl_msg_ref_n left out). The checker must
 * find that the first worker to release such a message frees it while another queue still
 * holds it, so that its worker delivers freed memory. This model is expected to fail; it shows
 * that fanout.pml's pass means something.
 */
#define BUG_MISSING_REF 1
#include "fanout.pml"
