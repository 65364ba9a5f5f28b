/* Escape attempt: multiply the per-process memory limit by forking: every child allocates
 * almost the whole limit. Prints TOTAL <MiB> (what the children reported reaching). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    for (int c = 0; c < 8; c++) {
        if (fork() == 0) {
            long mb = 0;
            for (; mb < 120; mb++) {
                char *p = malloc(1 << 20);
                if (!p) break;
                memset(p, 1, 1 << 20);
            }
            if (write(fds[1], &mb, sizeof mb) != sizeof mb) _exit(1);
            sleep(2);
            _exit(0);
        }
    }
    close(fds[1]);
    long total = 0, mb;
    while (read(fds[0], &mb, sizeof mb) == sizeof mb) total += mb;
    while (wait(NULL) > 0) {}
    printf("TOTAL %ld\n", total);
    return 0;
}
