/* kernel_tenant.c: an unmodified System V program, the tenant of the
 * kernel-mirror demo (examples/kernel.sh). It knows nothing of shmfs.
 *
 *   kernel_tenant NAME KEY
 *
 * makes a 4096-byte segment and a one-semaphore set with key KEY in its
 * IPC namespace, writes a greeting into the segment, prints "ready",
 * then waits on the semaphore; each time it is signalled it prints what
 * the segment now holds, and it ends when that is "quit". Build:
 *   gcc -O2 -o kernel_tenant kernel_tenant.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: kernel_tenant NAME KEY\n");
		return 2;
	}
	const char *name = argv[1];
	key_t key = (key_t)strtoul(argv[2], NULL, 0);
	int shm = shmget(key, 4096, IPC_CREAT | 0600);
	int sem = semget(key, 1, IPC_CREAT | 0600);
	if (shm < 0 || sem < 0) {
		perror("shmget/semget");
		return 1;
	}
	char *p = shmat(shm, NULL, 0);
	if (p == (void *)-1) {
		perror("shmat");
		return 1;
	}
	snprintf(p, 4096, "hello from %s, pid %d", name, (int)getpid());
	printf("[%s] shmid %d semid %d: ready\n", name, shm, sem);
	fflush(stdout);
	for (;;) {
		struct sembuf wait = {0, -1, 0};
		if (semop(sem, &wait, 1) < 0) {
			perror("semop");
			return 1;
		}
		printf("[%s] signalled; my segment now says: %s\n", name, p);
		fflush(stdout);
		if (strncmp(p, "quit", 4) == 0)
			break;
	}
	shmdt(p);
	shmctl(shm, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	return 0;
}
