/* Escape attempt: debug another process (ptrace, process_vm_readv). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int secret = 42;

int main(void) {
    pid_t child = fork();
    if (child == 0) { for (;;) pause(); }
    if (ptrace(PTRACE_ATTACH, child, 0, 0) == 0) printf("ATTACHED child\n");
    else perror("ptrace attach child");
    if (ptrace(PTRACE_ATTACH, 1, 0, 0) == 0) printf("ATTACHED init\n");
    else perror("ptrace attach init");
    int got = 0;
    struct iovec local = {&got, sizeof got}, remote = {&secret, sizeof secret};
    if (process_vm_readv(child, &local, 1, &remote, 1, 0) > 0) printf("VMREAD %d\n", got);
    else perror("process_vm_readv");
    kill(child, SIGKILL);
    waitpid(child, 0, 0);
    return 0;
}
