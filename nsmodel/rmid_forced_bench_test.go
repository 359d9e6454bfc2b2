package nsmodel_test

import (
	"os"
	"testing"

	"github.com/shmfs/shmfs/nsmodel"
)

// BenchmarkShmCreateRemove is shmget then IPC_RMID of a one-page
// segment, by a creator the model watches (the benchmark's own thread:
// each create opens a pidfd, each removal, emptying the creator's list,
// closes it) and by one it cannot name (pid 0: no watch), so that the
// difference is what watching creators costs a create.
func BenchmarkShmCreateRemove(b *testing.B) {
	for _, bc := range []struct {
		name string
		pid  int32
	}{{"watched", int32(os.Getpid())}, {"unwatched", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			m, _ := newModel(b)
			tab := m.Get(nsmodel.DefaultNamespace).Shm
			c := nsmodel.NewFixedCred(0, 0, bc.pid, nil, ^uint64(0))
			for b.Loop() {
				s, err := tab.Get(c, nsmodel.ShmGet{Size: 4096, Mode: 0o600, Create: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := tab.Remove(c, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
