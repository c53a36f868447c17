/*
 * Small file-system helpers. No shared state.
 */
#ifndef SL_FSUTIL_H
#define SL_FSUTIL_H

#include <sys/types.h>

/* Creates the missing parent directories of path (mkdir -p of its dirname). 0 or -errno. */
int sl_mkdir_parents(const char *path, mode_t mode);

/* Creates path and its missing parents as directories. 0 or -errno. */
int sl_mkdir_all(const char *path, mode_t mode);

#endif
