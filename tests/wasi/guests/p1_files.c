/* File I/O in a preopened directory through wasi-libc (preview1, adapter path), then attempts
 * to leave it, which must all fail. Run with --dir ROOT::/data; the test puts
 * outside/secret next to ROOT, and in ROOT the symlinks link_out -> ../outside and
 * abs_link -> the absolute path of outside/secret. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "line %d: %s failed (errno %d: %s)\n", __LINE__, #c, errno,            \
                    strerror(errno));                                                              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* An escape attempt: opening must fail, and no byte of the secret may come back. */
static void must_not_open(const char *path, int flags)
{
    errno = 0;
    int fd = open(path, flags, 0644);
    if (fd >= 0) {
        char buf[64] = {0};
        ssize_t n = read(fd, buf, sizeof buf - 1);
        fprintf(stderr, "ESCAPE: opened %s (read %zd bytes: %s)\n", path, n, buf);
        failures++;
        close(fd);
        return;
    }
    printf("denied %s: %s\n", path, strerror(errno));
}

int main(void)
{
    /* create + write + stat + read back */
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    FILE *f = fopen("/data/new.txt", "w");
    CHECK(f != NULL);
    if (!f) return 1;
    CHECK(fwrite(big, 1, sizeof big, f) == sizeof big);
    CHECK(fclose(f) == 0);
    struct stat st;
    CHECK(stat("/data/new.txt", &st) == 0 && st.st_size == (off_t)sizeof big &&
          S_ISREG(st.st_mode));
    int fd = open("/data/new.txt", O_RDONLY);
    CHECK(fd >= 0);
    static char back[100000];
    size_t got = 0;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, back + got, sizeof back - got)) > 0)
        got += (size_t)n;
    CHECK(got == sizeof big && memcmp(back, big, sizeof big) == 0);
    /* pread-style access through lseek */
    CHECK(lseek(fd, 26 * 100 + 3, SEEK_SET) == 26 * 100 + 3);
    char c = 0;
    CHECK(read(fd, &c, 1) == 1 && c == 'd');
    close(fd);
    /* append */
    f = fopen("/data/new.txt", "a");
    CHECK(f && fputs("tail", f) >= 0 && fclose(f) == 0);
    CHECK(stat("/data/new.txt", &st) == 0 && st.st_size == (off_t)sizeof big + 4);
    /* directories, rename, readdir */
    CHECK(mkdir("/data/sub", 0755) == 0);
    CHECK(mkdir("/data/sub", 0755) != 0 && errno == EEXIST);
    CHECK(rename("/data/new.txt", "/data/sub/renamed.txt") == 0);
    CHECK(access("/data/new.txt", F_OK) != 0 && errno == ENOENT);
    DIR *d = opendir("/data/sub");
    CHECK(d != NULL);
    int seen = 0, entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        entries++;
        if (strcmp(e->d_name, "renamed.txt") == 0) seen = 1;
    }
    if (d) closedir(d);
    CHECK(seen && entries == 1);
    /* truncate via ftruncate */
    fd = open("/data/sub/renamed.txt", O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, 10) == 0 && fstat(fd, &st) == 0 && st.st_size == 10);
    close(fd);
    /* a file kept for the host to check */
    f = fopen("/data/sub/keep.txt", "w");
    CHECK(f && fputs("kept by the guest\n", f) >= 0 && fclose(f) == 0);
    CHECK(unlink("/data/sub/renamed.txt") == 0);
    CHECK(rmdir("/data/sub") != 0 && errno == ENOTEMPTY);
    CHECK(mkdir("/data/empty", 0755) == 0 && rmdir("/data/empty") == 0);

    /* escapes */
    must_not_open("/data/../outside/secret", O_RDONLY);
    must_not_open("/etc/passwd", O_RDONLY);
    must_not_open("/data/link_out/secret", O_RDONLY);
    must_not_open("/data/abs_link", O_RDONLY);
    must_not_open("/data/sub/../../outside/secret", O_RDONLY);
    must_not_open("/data/../outside/created", O_WRONLY | O_CREAT);
    must_not_open("/data/link_out/created", O_WRONLY | O_CREAT);
    errno = 0;
    CHECK(mkdir("/data/../escaped", 0755) != 0);
    f = fopen("/data/sub/keep.txt", "r");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK(rename("/data/sub/keep.txt", "/data/../stolen") != 0);
    CHECK(symlink("/etc/passwd", "/data/evil") != 0);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("files ok\n");
    return 0;
}
