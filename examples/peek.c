#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argv[1], O_RDWR);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("C sees: %s", p);      /* what Python stored */
    p[0] = 'J';                   /* visible to everyone at once */
    munmap(p, 4096);
    close(fd);
    return 0;
}
