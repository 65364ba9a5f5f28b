/* Escape attempt: create namespaces, mount filesystems, load kernel code. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) printf("UNSHARED\n"); else perror("unshare");
    if (mount("none", "/tmp", "tmpfs", 0, 0) == 0) printf("MOUNTED\n"); else perror("mount");
    if (syscall(SYS_bpf, 0, 0, 0) >= 0) printf("BPF\n"); else perror("bpf");
    if (syscall(SYS_finit_module, -1, "", 0) == 0) printf("MODULE\n"); else perror("finit_module");
    return 0;
}
