/* Escape attempt: copy a shell into an anonymous memory file (memfd) and execute it,
 * side-stepping the rule that only the program itself may be executed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    int src = open("/usr/bin/dash", O_RDONLY);
    if (src < 0) { perror("open dash"); return 0; }
    int fd = memfd_create("x", MFD_CLOEXEC);
    if (fd < 0) { perror("memfd_create"); return 0; }
    char buf[65536]; ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0) if (write(fd, buf, n) != n) { perror("write"); return 0; }
    char *argv[] = {"sh", "-c", "echo SHELL_RAN", NULL};
    char *envp[] = {NULL};
    fexecve(fd, argv, envp);
    perror("fexecve");
    return 0;
}
