/* Start-up timer for the benchmarks: runs a command N times (stdout to /dev/null) and prints
 * the median wall time and the median CPU time (user + system, from wait4) in milliseconds.
 *
 *   bench_time N COMMAND [ARGS...]     ->  "wall_ms cpu_ms"
 *
 * The CPU figure is the one to trust on a loaded machine: wall time there includes waiting for
 * a core, CPU time does not. Exits non-zero if any run fails.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc < 3 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N COMMAND [ARGS...]\n", argv[0]);
        return 64;
    }
    int n = atoi(argv[1]);
    double *wall = calloc((size_t)n, sizeof *wall), *cpu = calloc((size_t)n, sizeof *cpu);
    if (!wall || !cpu) return 1;
    for (int i = 0; i < n; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) dup2(fd, 1);
            execvp(argv[2], argv + 2);
            perror(argv[2]);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) != pid) {
            perror("wait4");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "bench_time: run %d of %s failed\n", i + 1, argv[2]);
            return 1;
        }
        wall[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        cpu[i] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    }
    printf("%.2f %.2f\n", median(wall, n), median(cpu, n));
    return 0;
}
