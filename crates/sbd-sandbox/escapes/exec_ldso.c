/* Escape attempt: run a shell through the dynamic loader (ld.so /bin/sh), which maps the
 * shell itself instead of asking the kernel to execute it. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    const char *loaders[] = {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"};
    for (int i = 0; i < 2; i++) {
        char *argv[] = {"ld.so", "/usr/bin/dash", "-c", "echo SHELL_RAN", NULL};
        char *envp[] = {NULL};
        execve(loaders[i], argv, envp);
        perror(loaders[i]);
    }
    return 0;
}
