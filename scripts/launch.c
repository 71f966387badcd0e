/* Runs a command with its output sent to /dev/null and prints, from
 * wait4's rusage: exit code, peak RSS (KiB), user+sys CPU (ms), voluntary
 * context switches, wall time (ms). Built static by scripts/bench.sh and
 * ffi/footprint.sh: Linux carries the peak RSS of the process image that
 * calls exec into the new one, so a launcher that is a shell or python
 * would count their memory as the command's. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%d %ld %.1f %ld %.2f\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128,
           ru.ru_maxrss,
           (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0,
           ru.ru_nvcsw,
           (t1.tv_sec - t0.tv_sec) * 1000.0 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}
