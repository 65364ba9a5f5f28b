/* Escape attempt: start a shell (directly and through system()). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    int rc = system("echo SHELL_RAN");
    printf("system() returned %d\n", rc);
    fflush(stdout);
    char *argv[] = {"sh", "-c", "echo SHELL_RAN", NULL};
    char *envp[] = {NULL};
    execve("/bin/sh", argv, envp);
    perror("execve /bin/sh");
    execve("/usr/bin/python3", (char *[]){"python3", "-c", "print('SHELL_RAN')", NULL}, envp);
    perror("execve python3");
    return 0;
}
