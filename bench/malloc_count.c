/*
 * A counting allocator shim for the benchmark suite (LD_PRELOAD; bench/suite.sh builds it
 * with cc, it is no part of the sluice build).
 *
 * It counts the calls to malloc, calloc, realloc, the aligned allocators and free of any
 * process it is preloaded into, passes each call on to glibc (__libc_malloc and friends, so
 * no dlsym bootstrap is needed), and at exit appends one line to $MALLOC_COUNT_OUT:
 *     allocs=N frees=N reallocs=N
 * The suite runs a daemon once without traffic and once with M messages; the difference of
 * the two divided by M is the allocations per message, startup and shutdown cancelled out.
 *
 * Concurrency: the counters are relaxed atomics; any thread of the host process may allocate.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_ulong n_alloc, n_free, n_realloc;

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(p ? &n_realloc : &n_alloc, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *memalign(size_t al, size_t n)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return __libc_memalign(al, n);
}

void *aligned_alloc(size_t al, size_t n)
{
    return memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
    void *p = memalign(al, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void free(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    __libc_free(p);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("MALLOC_COUNT_OUT");
    char line[128];
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof(line), "allocs=%lu frees=%lu reallocs=%lu\n",
                     atomic_load(&n_alloc), atomic_load(&n_free), atomic_load(&n_realloc));
    if (write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}
