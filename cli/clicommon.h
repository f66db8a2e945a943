/* Small helpers shared by the CLI's commands. */
#ifndef WASITLS_CLICOMMON_H
#define WASITLS_CLICOMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasitls/engine.h"

/* The largest input file any command reads (a component or .wast file): 1 GiB. */
#define WASITLS__CLI_MAX_INPUT ((off_t)1 << 30)

/* Opens `path` for reading if it is a regular, non-empty file of at most 1 GiB (empty allowed
 * when `empty_ok`); prints `error: PATH ...` and returns -1 otherwise. Opened without blocking
 * so that a FIFO with no writer is refused instead of waited for. On success the caller owns
 * the fd. */
static inline int wasitls__cli_open_input(const char *path, bool empty_ok, int *fd_out,
                                          size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        why = "is a directory";
    else if (!S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_size == 0 && !empty_ok)
        why = "is empty";
    if (why) {
        fprintf(stderr, "error: %s %s%s\n", path, why[0] == 'i' ? "" : "cannot be read: ", why);
        close(fd);
        return -1;
    }
    if (st.st_size > WASITLS__CLI_MAX_INPUT) {
        fprintf(stderr, "error: %s is too large (%lld bytes; the limit is 1 GiB)\n", path,
                (long long)st.st_size);
        close(fd);
        return -1;
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return 0;
}

/* Checks `path` as wasitls__cli_open_input does, without reading it. */
static inline int wasitls__cli_check_input(const char *path)
{
    int fd;
    size_t n;
    if (wasitls__cli_open_input(path, false, &fd, &n)) return -1;
    close(fd);
    return 0;
}

/* Reads a whole input file (see wasitls__cli_open_input); prints `error: PATH ...` and returns
 * -1 on failure. *out is malloc'd (at least 1 byte) and owned by the caller. */
static inline int wasitls__cli_read_ex(const char *path, bool empty_ok, uint8_t **out, size_t *len)
{
    int fd;
    size_t size;
    if (wasitls__cli_open_input(path, empty_ok, &fd, &size)) return -1;
    uint8_t *p = malloc(size ? size : 1);
    if (!p) {
        close(fd);
        fprintf(stderr, "error: out of memory reading %s (%zu bytes)\n", path, size);
        return -1;
    }
    size_t n = 0;
    while (n < size) {
        ssize_t r = read(fd, p + n, size - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
            close(fd);
            free(p);
            return -1;
        }
        if (r == 0) break; /* shrank while being read: use what is there */
        n += (size_t)r;
    }
    close(fd);
    if (n == 0 && !empty_ok) {
        fprintf(stderr, "error: %s is empty\n", path);
        free(p);
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

/* A file the user named: regular, non-empty, at most 1 GiB. */
static inline int wasitls__cli_read(const char *path, uint8_t **out, size_t *len)
{
    return wasitls__cli_read_ex(path, false, out, len);
}

/* Resolves the cache directory as the engine does (cfg->cache_dir, else $WASITLS_CACHE_DIR, else
 * $XDG_CACHE_HOME/wasitls, else ~/.cache/wasitls), creates it and checks that a file can be
 * created in it. Returns 0 when it is usable or caching is off; else -1 with the directory in
 * `dir` (empty when none could be named) and the reason in `why`. The engine treats an unusable
 * cache as "no cache" silently; the commands decide whether that is an error. */
static inline int wasitls__cli_cache_probe(const wasitls_engine_config *cfg, char *dir,
                                           size_t dirlen, const char **why)
{
    const char *env;
    dir[0] = 0;
    *why = NULL;
    if (cfg->no_cache) return 0;
    if (cfg->cache_dir && *cfg->cache_dir)
        snprintf(dir, dirlen, "%s", cfg->cache_dir);
    else if ((env = getenv("WASITLS_CACHE_DIR")) && *env)
        snprintf(dir, dirlen, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env == '/')
        snprintf(dir, dirlen, "%s/wasitls", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(dir, dirlen, "%s/.cache/wasitls", env);
    if (!dir[0]) {
        *why = "no cache directory (give --cache-dir, or set $WASITLS_CACHE_DIR or $HOME)";
        return -1;
    }
    /* mkdir -p */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(dir, 0755);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST) {
            *why = strerror(e);
            return -1;
        }
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *why = strerror(errno);
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = "not a directory";
        return -1;
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* Matches option `name` given as `NAME VALUE` or `NAME=VALUE` at argv[*i]: returns 0 when
 * argv[*i] is another option, 1 with *val set (and *i moved past a separate value), or -1 after
 * printing `error: NAME needs a value`. */
static inline int wasitls__cli_opt(int argc, char **argv, int *i, const char *name,
                                   const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=' && a[n + 1]) {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] == 0 && *i + 1 < argc && argv[*i + 1][0]) {
        *val = argv[++*i];
        return 1;
    }
    if (a[n] != 0 && a[n] != '=') return 0;
    fprintf(stderr, "error: %s needs a value\n", name);
    return -1;
}

static inline int wasitls__cli_tier(const char *s, wasitls_tier *out)
{
    if (!strcmp(s, "fast"))
        *out = WASITLS_TIER_FAST;
    else if (!strcmp(s, "opt"))
        *out = WASITLS_TIER_OPT;
    else {
        fprintf(stderr, "error: --tier must be fast or opt, not '%s'\n", s);
        return -1;
    }
    return 0;
}

#endif
