/*
 * The reference-counting race rsyslog had in 2009 (DESIGN.md, "Where this comes from"), kept as
 * a model that must FAIL: it shows that the checker finds this class of bug, and it records why
 * sluice's sl_msg_ref_n / sl_msg_unref are built the way they are.
 *
 * rsyslog's protocol, reduced to what the race needs:
 * - MsgAddRef: the increment is atomic (ATOMIC_INC) and takes no lock;
 * - MsgDestruct: the decrement is `currRefCount = --pThis->iRefCount;` under the message's mutex,
 *   which compiles to load; sub; store (three memory operations) and excludes other decrements
 *   but not the increment, because MsgAddRef never takes that mutex;
 * - the main thread takes one reference per action just before enqueueing to that action, so a
 *   worker may already be releasing the message while the main thread adds the next reference.
 * One main thread (the producer) and NC worker threads share one message. The lost update:
 * a worker loads 2 under the mutex, the producer's atomic increment makes it 3, the worker
 * stores 1: the increment is gone, the count is one too low, and the message is freed while an
 * owner still uses it (use after free), or released once more after its free.
 *
 * With -DFIXED=1 the decrement is one atomic fetch_sub (what sl_msg_unref does) and the same
 * model passes, so the failure is the race, not the model. (The increment after the first
 * enqueue is then safe because the producer's own reference keeps the count above zero until
 * its last step; sluice still adds all references up front with sl_msg_ref_n, one atomic
 * operation instead of k.)
 *
 * Properties, as assertions: no use after free (every read, increment and release asserts the
 * message is not freed), no double free, and at the end the message is freed exactly once.
 */

#ifndef NC
#define NC 2
#endif
#ifndef FIXED
#define FIXED 0
#endif

byte refs = 1; /* the producer's own reference, as the parser returns the message */
bool freed;
byte nfree;
bool msg_mutex; /* the message's mutex (MsgLock / MsgUnlock) */
bool handed[NC];
byte done;

/* MsgDestruct: --iRefCount under the message mutex; free at zero. */
inline release(who)
{
#if FIXED
    d_step {
        assert(!freed);
        tmp = refs - 1;
        refs = tmp;
        printf("T%d: release, refs -> %d (one fetch_sub)\n", who, tmp)
    }
#else
    atomic { msg_mutex == 0 -> msg_mutex = 1 };
    atomic { assert(!freed); tmp = refs; printf("T%d: release loads refs %d\n", who, tmp) };
    tmp = tmp - 1; /* the subtraction is thread-local */
    atomic { refs = tmp; printf("T%d: release stores refs %d\n", who, tmp) };
#endif
    atomic {
        if
        :: tmp == 0 ->
            freed = 1;
            nfree++;
            printf("T%d: frees the message\n", who)
        :: else -> skip
        fi;
        assert(nfree <= 1)
    }
#if !FIXED
    ;
    msg_mutex = 0
#endif
}

proctype worker(byte id)
{
    byte tmp;
    handed[id];
    atomic {
        printf("T%d: delivers the message\n", id);
        assert(!freed) /* the output reads the message */
    }
    release(id)
    ;
    done++
}

proctype producer()
{
    byte i, tmp;
    for (i : 0 .. NC - 1) {
        /* MsgAddRef: atomic increment, no mutex; then enqueue to action i. */
        atomic {
            assert(!freed);
            refs++;
            printf("T%d: adds a reference for action %d, refs -> %d\n", NC, i, refs)
        }
        handed[i] = 1
    }
    /* The producer drops its own reference. */
    release(NC)
    ;
    done++
}

init
{
    byte i;
    atomic {
        printf("T0 .. T%d: the workers of actions 0 .. %d; T%d: the producer\n", NC - 1, NC - 1, NC);
        for (i : 0 .. NC - 1) {
            run worker(i)
        }
        run producer()
    }
    done == NC + 1;
    assert(freed);      /* no leak */
    assert(nfree == 1)  /* freed exactly once */
}
