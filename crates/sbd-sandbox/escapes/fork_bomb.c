/* Escape attempt: fork without bound. Prints FORKED <n> when fork fails. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        pid_t p = fork();
        if (p < 0) break;
        if (p == 0) { for (;;) pause(); }
        n++;
    }
    printf("FORKED %d\n", n);
    fflush(stdout);
    return 0;
}
