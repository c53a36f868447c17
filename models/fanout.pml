/*
 * The fan-out protocol of sluice as the code implements it: messages shared by reference between
 * the routing threads that push them and the action workers that deliver and release them,
 * through bounded queues, up to and including shutdown. docs/model.md maps every part to the C
 * functions and argues why the abstractions are sound; this comment says what is where.
 *
 * Threads (Promela processes):
 * - producer (sl_router_route, engine.c): routes one batch. For each message it evaluates the
 *   filters (a read of the message); when k actions match it adds k - 1 references with one
 *   atomic add (sl_msg_ref_n), its own reference being the k-th; with no match it releases the
 *   message. Then one sl_queue_push per action that matched something, in action order.
 * - worker (worker_main and deliver_batch, action.c): sl_queue_pop of up to BATCH messages. If
 *   the action is already stopping (past the drain deadline) the batch is discarded unread;
 *   otherwise the output reads each message and either takes it (delivered), rejects it
 *   (failed, OUTCOME_FAIL), or keeps asking to retry (or blocks until cancelled) until the
 *   action is stopping, which gives up the rest of the batch (discarded). Then every message of
 *   the batch is released and sl_queue_done reports the counts. A pop that returns 0 (closed and empty) ends the loop; the final flush may retry
 *   until stopping.
 * - stopper (sl_runtime_stop, runtime.c; sl_action_stop, action.c): waits for the producers
 *   (inputs stop first), then for each action in turn: sl_queue_close, sl_queue_drain until the
 *   deadline, stopping = true, join the worker(s); then sl_queue_destroy (purge) for each queue.
 * - monitor: checks the accounting identity in every state.
 *
 * The queue's mutex is not a variable: every critical section of queue.c is an atomic block,
 * because no critical section blocks or waits for another thread except in pthread_cond_wait,
 * which releases the mutex. Condition variables are explicit: a waiter sets its bit in the
 * variable's waiter set (cvw) and then waits for the bit to clear; a broadcast clears the set.
 * For an untimed wait the waiting statement sits inside the atomic block, where Promela gives up
 * atomicity exactly when the statement blocks (the mutex is released) and resumes the block when
 * it can run again (the mutex is taken again). The drain's timed wait is split into three steps
 * (register and unlock; woken or timed out; lock again) so that the timeout can come at any
 * moment. Only the wake-ups the code sends exist, under the code's "only if someone waits"
 * conditions, so a lost wake-up shows as a deadlock. sl_msg_unref is one d_step: the atomic
 * fetch_sub; the release that sees 1 frees.
 *
 * Properties:
 * - no use after free: every read of a message (filters, delivery) and every release asserts
 *   the message is not freed (in C, releasing a freed message already reads freed memory);
 * - no double free, no underflow: nfree <= 1; a release never sees a count of 0;
 * - accounting in every state: enqueued == delivered + failed + discarded + queued per queue,
 *   queued being ring + in flight (the monitor; it can only run between critical sections, which
 *   are the moments sl_queue_stats could take its snapshot);
 * - no leak, no lost message, at the end: every message freed exactly once; every copy handed to
 *   a queue has exactly one outcome (delivered, failed or discarded); the rings are empty before
 *   sl_queue_destroy purges them; block mode never discards for lack of room; and when the
 *   inputs stop first and no drain timed out, nothing at all was discarded;
 * - no deadlock: no invalid end state (pan's default check);
 * - termination: run_model.sh expect-no-cycle finds no cycle in the state graph.
 *
 * Configuration (spin -DNAME=VALUE; the defaults are the first configuration of the tests):
 * NQ actions/queues, 2 or 3; NPROD producers, 1 or 2; P0MSGS and P1MSGS messages routed by
 * producer 0 (block mode) and producer 1 (mode MODE1: 0 block, 1 drop), at most PMAX each;
 * NW0 workers on queue 0, 1 or 2 (the other queues have one); MATCH_ALL 1 makes every message
 * match every action, 0 lets each message match any subset (nondeterministic); DEADLINE 1 lets
 * the drain deadline pass at any moment and outputs retry until stopping, 0 means no deadline
 * and outputs that answer; EARLY_CLOSE 1 lets the actions stop while producers still push (a
 * superset of the runtime's order, which exercises pushes to a closed queue); OUTCOME_FAIL 1
 * lets outputs reject messages.
 *
 * Seeded bugs, used by the expect-fail models that show a pass means something:
 * BUG_MISSING_REF (the router does not add the k - 1 references: fanout_missing_ref.pml) and
 * BUG_SPLIT_UNREF (the release is load; sub; store, not one fetch_sub: fanout_split_unref.pml).
 */

#ifndef NQ
#define NQ 2
#endif
#ifndef NPROD
#define NPROD 2
#endif
#ifndef P0MSGS
#define P0MSGS 2
#endif
#ifndef P1MSGS
#define P1MSGS 1
#endif
#ifndef MATCH_ALL
#define MATCH_ALL 0
#endif
#ifndef MODE1
#define MODE1 1
#endif
#ifndef DEADLINE
#define DEADLINE 1
#endif
#ifndef EARLY_CLOSE
#define EARLY_CLOSE 0
#endif
#ifndef NW0
#define NW0 1
#endif
#ifndef OUTCOME_FAIL
#define OUTCOME_FAIL 0
#endif
#ifndef BUG_MISSING_REF
#define BUG_MISSING_REF 0
#endif
#ifndef BUG_SPLIT_UNREF
#define BUG_SPLIT_UNREF 0
#endif

#define NWORKERS(q) ((q) == 0 -> NW0 : 1) /* worker threads of each queue */
#define CAP 2   /* capacity of every queue */
#define BATCH 2 /* the most messages a worker pops at once (batch_size) */
#if NPROD == 1
#define M P0MSGS
#elif NPROD == 2
#define M (P0MSGS + P1MSGS)
#else
#error "NPROD must be 1 or 2"
#endif
#define PMAX 3 /* the most messages one route call handles (the local arrays' size) */
#if P0MSGS > PMAX || P1MSGS > PMAX || NW0 < 1 || NW0 > 2
#error "P0MSGS and P1MSGS must be at most PMAX, NW0 1 or 2"
#endif

#define BLOCK 0 /* SL_QUEUE_BLOCK */
#define DROP 1  /* SL_QUEUE_DROP */

/* Condition variables of queue q: index q * 3 + one of these. */
#define NOT_EMPTY 0
#define NOT_FULL 1
#define IDLE 2
#define CV(q, c) cvw[(q) * 3 + (c)]
#define BIT(me) (1 << (me))

/* The message objects. */
byte refs[M];
bool freed[M];
byte nfree[M];
/* Ghosts: how many queues each message was handed to, and how many of those copies have an
 * outcome (delivered, failed or discarded). */
byte routed[M];
byte outcome[M];

/* The queues; everything here is what queue.c keeps under the queue's mutex. */
byte ring[NQ * CAP];
byte head[NQ];
byte count[NQ];
byte enqueued[NQ];
byte delivered[NQ];
byte failed[NQ];
byte discarded_full[NQ];
byte discarded_shutdown[NQ];
byte in_flight[NQ];
bool closed[NQ];
byte producers_waiting[NQ];
byte consumers_waiting[NQ];
byte drainers_waiting[NQ];
/* The waiter set of each condition variable: bit `me` set while process `me` waits. */
byte cvw[NQ * 3];

/* action.c: stopping is set after the drain; the worker is joined after that. */
bool stopping[NQ];
byte workers_done[NQ]; /* workers of each queue that have returned (joined) */
/* The producers that have finished routing (the runtime stops inputs first). */
byte producers_done;
/* Some drain returned because of the deadline with messages still queued. */
bool drain_timed_out;

#define ACCT(q) (enqueued[q] == delivered[q] + failed[q] + discarded_full[q] + \
                 discarded_shutdown[q] + count[q] + in_flight[q])
#if NQ == 2
#define ACCT_ALL (ACCT(0) && ACCT(1))
#elif NQ == 3
#define ACCT_ALL (ACCT(0) && ACCT(1) && ACCT(2))
#else
#error "NQ must be 2 or 3"
#endif

/* sl_msg_unref: one atomic fetch_sub; the thread that sees the old value 1 frees. */
#if BUG_SPLIT_UNREF
/* Seeded bug: the decrement as three memory operations, load, sub, store. */
#define msg_unref(m, old) \
    atomic { assert(!freed[m]); old = refs[m]; printf("  m%d: release loads refs %d\n", m, old) }; \
    atomic { assert(old != 0); refs[m] = old - 1; \
             printf("  m%d: release, refs %d -> %d\n", m, old, old - 1); \
             if :: old == 1 -> freed[m] = 1; nfree[m]++; printf("  m%d: freed\n", m) \
             :: else -> skip fi; \
             assert(nfree[m] <= 1); old = 0 }
#else
#define msg_unref(m, old) \
    d_step { assert(!freed[m]); old = refs[m]; assert(old != 0); refs[m] = old - 1; \
             printf("  m%d: release, refs %d -> %d\n", m, old, old - 1); \
             if :: old == 1 -> freed[m] = 1; nfree[m]++; printf("  m%d: freed\n", m) \
             :: else -> skip fi; \
             assert(nfree[m] <= 1); old = 0 }
#endif

/*
 * sl_router_route for the messages first .. first + nmsgs - 1, then one sl_queue_push per
 * action that matched any of them. mode: BLOCK or DROP.
 */
proctype producer(byte me; byte first; byte nmsgs; bit mode)
{
    byte i, a, k, m, old, bn, queued, j;
    byte match[PMAX]; /* bit a: the message matched action a */
    byte b[PMAX];     /* the batch handed to one queue (r->scratch) */

    /* Matching and sl_msg_ref_n, message by message. Until the first push no other thread can
     * see these messages, so the whole routing pass (filter reads, one atomic add per message,
     * the release of unmatched ones) is one step: no interleaving could observe its middle. */
    atomic {
        for (i : 0 .. nmsgs - 1) {
            m = first + i;
            assert(!freed[m]); /* sl_action_matches reads the message */
            k = 0;
#if MATCH_ALL
            match[i] = (1 << NQ) - 1;
            k = NQ;
#else
            for (a : 0 .. NQ - 1) {
                if
                :: match[i] = match[i] | (1 << a); k++
                :: skip
                fi
            }
#endif
            routed[m] = k;
            printf("producer %d: m%d matches %d action(s) (mask %d)\n", me, m, k, match[i]);
            if
            :: k == 0 -> msg_unref(m, old) /* no action wants it */
            :: k > 1 ->
#if BUG_MISSING_REF
                skip
#else
                refs[m] = refs[m] + k - 1 /* sl_msg_ref_n(m, k - 1): one atomic add */
#endif
            :: else -> skip
            fi
        }
        i = 0;
        m = 0;
        k = 0;
        a = 0
    }

    do
    :: a == NQ -> break
    :: a < NQ ->
        /* The batch for action a, in routing order (local work), then sl_queue_push(a, b, bn,
         * mode): one critical section, left only while waiting on not_full (block mode, full
         * queue). */
        atomic {
            bn = 0;
            for (i : 0 .. nmsgs - 1) {
                if
                :: (match[i] & (1 << a)) != 0 -> b[bn] = first + i; bn++
                :: else -> skip
                fi
            }
            i = 0;
            queued = 0;
            do
            :: bn == 0 -> break /* no push for an action that matched nothing */
            :: bn > 0 && closed[a] ->
                /* Refused: counted as enqueued and discarded (shutdown) at once. */
                enqueued[a] = enqueued[a] + bn - queued;
                discarded_shutdown[a] = discarded_shutdown[a] + bn - queued;
                printf("producer %d: q%d is closed, %d refused\n", me, a, bn - queued);
                for (j : queued .. bn - 1) { outcome[b[j]]++ }
                break
            :: bn > 0 && !closed[a] ->
                /* put_locked: what fits; wakes consumers if any wait and something came. */
                j = queued;
                do
                :: queued < bn && count[a] < CAP ->
                    ring[a * CAP + (head[a] + count[a]) % CAP] = b[queued];
                    printf("producer %d: pushes m%d to q%d\n", me, b[queued], a);
                    count[a]++;
                    enqueued[a]++;
                    queued++
                :: else -> break
                od;
                if
                :: queued > j && consumers_waiting[a] > 0 -> CV(a, NOT_EMPTY) = 0
                :: else -> skip
                fi;
                if
                :: queued == bn -> break
                :: else -> skip
                fi;
                if
                :: mode == DROP ->
                    enqueued[a] = enqueued[a] + bn - queued;
                    discarded_full[a] = discarded_full[a] + bn - queued;
                    printf("producer %d: q%d is full, %d refused\n", me, a, bn - queued);
                    for (j : queued .. bn - 1) { outcome[b[j]]++ }
                    break
                :: else -> skip
                fi;
                /* pthread_cond_wait(not_full): register, release the lock, wait. */
                printf("producer %d: q%d is full, waits\n", me, a);
                producers_waiting[a]++;
                CV(a, NOT_FULL) = CV(a, NOT_FULL) | BIT(me);
                (CV(a, NOT_FULL) & BIT(me)) == 0;
                producers_waiting[a]--
            od;
            j = 0
        }
        /* After unlocking: release the refused messages, once each. */
        do
        :: queued < bn -> atomic { msg_unref(b[queued], old); queued++ }
        :: else -> break
        od;
        atomic {
            for (j : 0 .. PMAX - 1) { b[j] = 0 }
            j = 0;
            bn = 0;
            queued = 0;
            a++
        }
    od;
    producers_done++
}

/* worker_main for a worker of queue q. */
proctype worker(byte me; byte q)
{
    byte n, i, m, old, nd, nf, nx;
    bool gave_up;
    byte bt[BATCH];

    do
    :: /* sl_queue_pop(q, bt, BATCH, timeout): see docs/model.md for why the timeout is left
        * out (a timed-out pop does nothing with messages and pops again). */
        atomic {
            do
            :: count[q] > 0 -> break
            :: count[q] == 0 && closed[q] -> break
            :: else ->
                consumers_waiting[q]++;
                CV(q, NOT_EMPTY) = CV(q, NOT_EMPTY) | BIT(me);
                (CV(q, NOT_EMPTY) & BIT(me)) == 0;
                consumers_waiting[q]--
            od;
            if
            :: count[q] > 0 ->
                n = (count[q] < BATCH -> count[q] : BATCH);
                for (i : 0 .. n - 1) {
                    bt[i] = ring[q * CAP + (head[q] + i) % CAP];
                    printf("worker %d: pops m%d from q%d\n", me, bt[i], q);
                    ring[q * CAP + (head[q] + i) % CAP] = 0 /* a dead slot: canonical value */
                }
                head[q] = (head[q] + n) % CAP;
                count[q] = count[q] - n;
                in_flight[q] = in_flight[q] + n;
                if
                :: producers_waiting[q] > 0 -> CV(q, NOT_FULL) = 0
                :: else -> skip
                fi
            :: else -> n = 0
            fi
        }
        if
        :: n == 0 -> break
        :: else -> skip
        fi;

        /* Past the shutdown deadline (stopping already set) the batch is discarded without
         * being delivered. Otherwise deliver_batch: the output reads each message; ok, fail,
         * or retry until stopping, which gives up the rest of the batch. */
        nd = 0;
        nf = 0;
        nx = 0;
        gave_up = 0;
        atomic {
            if
            :: stopping[q] ->
                printf("worker %d: stopping, discards %d\n", me, n);
                gave_up = 1
            :: else -> skip
            fi
        }
        for (i : 0 .. n - 1) {
            atomic {
                m = bt[i];
                if
                :: gave_up -> nx++
                :: !gave_up ->
                    printf("worker %d: delivers m%d\n", me, m);
                    assert(!freed[m]); /* the output reads the message */
                    nd++
#if OUTCOME_FAIL
                :: !gave_up ->
                    printf("worker %d: delivers m%d, rejected\n", me, m);
                    assert(!freed[m]);
                    nf++
#endif
#if DEADLINE
                :: !gave_up ->
                    printf("worker %d: delivers m%d, retry\n", me, m);
                    assert(!freed[m]);
                    stopping[q]; /* backoff_wait until stopping (the output may be cancelled) */
                    gave_up = 1;
                    nx++
#endif
                fi;
                outcome[m]++
            }
        }
        /* Release each message, then report. */
        for (i : 0 .. n - 1) {
            msg_unref(bt[i], old)
        }
        /* sl_queue_done(q, nd, nf, nx). */
        atomic {
            assert(nd + nf + nx <= in_flight[q]);
            in_flight[q] = in_flight[q] - nd - nf - nx;
            delivered[q] = delivered[q] + nd;
            failed[q] = failed[q] + nf;
            discarded_shutdown[q] = discarded_shutdown[q] + nx;
            if
            :: in_flight[q] == 0 && count[q] == 0 && drainers_waiting[q] > 0 -> CV(q, IDLE) = 0
            :: else -> skip
            fi;
            /* Forget the batch, so that states differ only in what matters. */
            for (i : 0 .. BATCH - 1) { bt[i] = 0 }
            n = 0; i = 0; m = 0; nd = 0; nf = 0; nx = 0; gave_up = 0
        }
    od;
    /* The final flush either succeeds or retries until the action is stopping. */
    if
    :: skip
    :: true -> stopping[q]
    fi;
    workers_done[q]++
}

/* sl_runtime_stop: the inputs, then each action in turn; then sl_queue_destroy. */
proctype stopper(byte me)
{
    byte q, i, m, old;
    bool wait, timed_out, deadline_passed;

#if !EARLY_CLOSE
    producers_done == NPROD; /* inputs stop (and are joined) before the actions */
#endif
    for (q : 0 .. NQ - 1) {
        /* sl_queue_close: broadcasts unconditionally. */
        atomic {
            printf("stopper: closes q%d\n", q);
            closed[q] = 1;
            CV(q, NOT_EMPTY) = 0;
            CV(q, NOT_FULL) = 0
        }
        /* sl_queue_drain(q, deadline): the lock is held except while waiting on idle. The wait
         * ends with a broadcast, or with the deadline at any moment; once the deadline has passed
         * every later timed wait (the same deadline bounds all the drains) returns at once. */
        do
        :: atomic {
               if
               :: count[q] + in_flight[q] == 0 -> wait = 0
               :: else ->
                   drainers_waiting[q]++;
                   CV(q, IDLE) = CV(q, IDLE) | BIT(me);
                   wait = 1
               fi
           }
           if
           :: wait == 0 -> break
           :: else -> skip
           fi;
           /* Lock released; woken, or timed out. */
           if
           :: (CV(q, IDLE) & BIT(me)) == 0 && !deadline_passed -> timed_out = 0
#if DEADLINE
           :: atomic { true -> deadline_passed = 1; CV(q, IDLE) = CV(q, IDLE) & ~BIT(me); timed_out = 1 }
#endif
           fi;
           /* Lock taken again. */
           atomic {
               drainers_waiting[q]--;
               wait = 0;
               if
               :: timed_out && count[q] + in_flight[q] > 0 ->
                   printf("stopper: drain of q%d timed out\n", q);
                   drain_timed_out = 1;
                   timed_out = 0;
                   break
               :: else -> timed_out = 0
               fi
           }
        od;
        /* stopping = true (under wake_lock, with a broadcast of wake); when the drain was late,
         * the outputs are cancelled, which ends a blocked delivery like a retry that sees
         * stopping (the worker model's "retry" choice); then join. The purge of a late drain is
         * for disk queues only and is not modelled. */
        stopping[q] = 1;
        workers_done[q] == NWORKERS(q)
    }
#if EARLY_CLOSE
    producers_done == NPROD; /* no thread may use a queue that is being destroyed */
#endif
    /* sl_queue_destroy: purge what is left, under the lock; nobody may be waiting. */
    for (q : 0 .. NQ - 1) {
        atomic {
            assert(in_flight[q] == 0);
            assert(producers_waiting[q] == 0 && consumers_waiting[q] == 0 &&
                   drainers_waiting[q] == 0);
            /* A worker stops only on a closed and empty queue and nothing enters a closed
             * one, so the purge finds nothing: no message waits in a ring at the end, even when
             * the drain deadline passed. */
            assert(count[q] == 0);
            do
            :: count[q] > 0 ->
                m = ring[q * CAP + head[q]];
                ring[q * CAP + head[q]] = 0;
                outcome[m]++;
                msg_unref(m, old);
                head[q] = (head[q] + 1) % CAP;
                count[q]--;
                discarded_shutdown[q]++
            :: else -> break
            od
        }
    }

    /* Every message freed exactly once, every copy accounted for, every queue empty. */
    atomic {
        for (m : 0 .. M - 1) {
            if
            :: !freed[m] -> printf("m%d was never freed: a leak (refs %d)\n", m, refs[m])
            :: outcome[m] != routed[m] ->
                printf("m%d went to %d queue(s) but has %d outcome(s)\n", m, routed[m], outcome[m])
            :: else -> skip
            fi;
            assert(freed[m]);                 /* no leak */
            assert(nfree[m] == 1);            /* freed once */
            assert(outcome[m] == routed[m])   /* no lost or twice-counted copy */
        }
        for (q : 0 .. NQ - 1) {
            assert(count[q] == 0 && in_flight[q] == 0);
            assert(enqueued[q] == delivered[q] + failed[q] + discarded_full[q] +
                                  discarded_shutdown[q]);
#if NPROD == 1 || MODE1 == BLOCK
            assert(discarded_full[q] == 0); /* block mode never refuses for room */
#endif
#if !EARLY_CLOSE
            /* Inputs stopped first and the drain finished: nothing given up. */
            assert(drain_timed_out || discarded_shutdown[q] == 0);
#endif
        }
    }
}

/* The accounting identity, checked in every reachable state: the guard is evaluated in every
 * state the search reaches, and becomes executable (and fails) as soon as the identity fails. */
active proctype monitor()
{
end:
    atomic {
        !ACCT_ALL -> assert(ACCT_ALL)
    }
}

init
{
    byte m, q;
    atomic {
        for (m : 0 .. M - 1) {
            refs[m] = 1 /* sl_msg_new: the producer's reference */
        }
        /* Process numbers for the waiter sets (at most 8): producers 0 .. NPROD - 1, then
         * the workers of queues 0 .. NQ - 1 (NW0 for queue 0, one for the others), then the
         * stopper. */
        for (q : 0 .. NQ - 1) {
            run worker(NPROD + q, q)
        }
#if NW0 == 2
        run worker(NPROD + NQ, 0);
#endif
        run producer(0, 0, P0MSGS, BLOCK);
#if NPROD == 2
        run producer(1, P0MSGS, P1MSGS, MODE1);
#endif
        run stopper(NPROD + NQ + NW0 - 1)
    }
}
