/* Escape attempt: allocate memory the data limit does not count: shared anonymous
 * mappings and System V shared memory. Prints SHARED <MiB> and SYSV <MiB>. */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

int main(void) {
    long mb = 0;
    for (; mb < 2048; mb++) {
        void *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap shared"); break; }
        memset(p, 1, 1 << 20);
    }
    printf("SHARED %ld\n", mb);
    fflush(stdout);
    long sv = 0;
    for (; sv < 2048; sv += 16) {
        int id = shmget(IPC_PRIVATE, 16 << 20, IPC_CREAT | 0600);
        if (id < 0) { perror("shmget"); break; }
        void *p = shmat(id, 0, 0);
        if (p == (void *)-1) { perror("shmat"); break; }
        memset(p, 1, 16 << 20);
    }
    printf("SYSV %ld\n", sv);
    return 0;
}
