/* Escape attempt: allocate and touch memory without bound. Prints ALLOCATED <MiB>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    long mb = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 1, 1 << 20);
        mb++;
        if (mb > 64 * 1024) break;
    }
    printf("ALLOCATED %ld\n", mb);
    return 0;
}
