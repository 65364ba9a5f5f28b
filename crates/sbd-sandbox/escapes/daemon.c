/* Escape attempt: leave a daemon behind (double fork, new session, ignore SIGHUP).
 * argv[1] = the process name the daemon takes (checked on the host afterwards). */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t p = fork();
    if (p != 0) { printf("parent exits\n"); return 0; }
    setsid();
    signal(SIGHUP, SIG_IGN);
    if (fork() != 0) _exit(0);
    prctl(PR_SET_NAME, argv[1], 0, 0, 0);
    close(0); close(1); close(2);
    for (int i = 0; i < 600; i++) sleep(1);
    return 0;
}
