package nsmodel

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSemGetMoreChecksBeforePerms: for an existing key, semget asks
// nsems > sem_nsems (EINVAL) before ipcperms (EACCES), as ipcget_public
// runs sem_more_checks first.
func TestSemGetMoreChecksBeforePerms(t *testing.T) {
	ns := semNS(t)
	newSet(t, ns, 0x77, 2, 0o600)
	_, err := ns.Sem.Get(semStranger(), SemGet{Key: 0x77, Nsems: 3, Access: AccessRead})
	semWant(t, "stranger asking for more semaphores than the set has", err, unix.EINVAL)
	_, err = ns.Sem.Get(semStranger(), SemGet{Key: 0x77, Nsems: 2, Access: AccessRead})
	semWant(t, "stranger asking for the set's size", err, unix.EACCES)
}
