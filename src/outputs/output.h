/*
 * The interface every output implements.
 *
 * An action runs one output instance per worker thread: an instance is owned by its worker and
 * all its operations run on that thread, so outputs need no locks of their own. Several workers
 * of one action writing one file is safe because a file output only ever writes whole records
 * with O_APPEND (see file.c).
 *
 * deliver() is handed a batch in queue order and says how far it got: *done messages (a prefix
 * of the batch) were accepted and count as delivered; the status tells what happened to the
 * rest. SL_OUT_RETRY suspends the action (with backoff) and the rest is offered again later;
 * SL_OUT_FAIL means the next message can never be delivered (it is counted as failed and
 * skipped). An output never keeps a reference to a message after deliver() returns.
 */
#ifndef SL_OUTPUT_H
#define SL_OUTPUT_H

#include <stddef.h>

#include "core/msg.h"

typedef enum sl_out_status {
    SL_OUT_OK = 0,
    SL_OUT_RETRY = 1,
    SL_OUT_FAIL = 2,
} sl_out_status_t;

typedef struct sl_output_ops {
    const char *type;
    sl_out_status_t (*deliver)(void *inst, sl_msg_t *const *msgs, size_t n, size_t *done);
    /* Writes out what is buffered; called when the queue runs empty and on the flush timer.
     * Returns SL_OUT_OK or SL_OUT_RETRY (data stays buffered). */
    sl_out_status_t (*flush)(void *inst);
    /* Closes files or connections so the next write opens them anew (SIGHUP, logrotate). */
    void (*reopen)(void *inst);
    /* Optional (NULL: never blocks for long). The one operation called from another thread
     * than the instance's worker: at shutdown, once the deadline has passed, it makes a
     * deliver() that is blocked (a peer that stopped reading) return soon with SL_OUT_RETRY,
     * and every later one too. It must be safe to call while deliver() runs. */
    void (*cancel)(void *inst);
    void (*destroy)(void *inst);
} sl_output_ops_t;

#endif
