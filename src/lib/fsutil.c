/* File-system helpers; see fsutil.h. */
#include "lib/fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int mkdir_upto(char *p, mode_t mode, int include_last)
{
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = mkdir(p, mode) < 0 && errno != EEXIST ? -errno : 0;
        *s = '/';
        if (rc < 0)
            return rc;
    }
    if (include_last && p[0] && mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int sl_mkdir_parents(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = mkdir_upto(p, mode, 0);
    free(p);
    return rc;
}

int sl_mkdir_all(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = mkdir_upto(p, mode, 1);
    free(p);
    return rc;
}
