package nsmodel_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

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
			// CPU time is reported beside the wall time, which the other
			// work of a shared machine swamps.
			cpu0 := cpuTime()
			for b.Loop() {
				s, err := tab.Get(c, nsmodel.ShmGet{Size: 4096, Mode: 0o600, Create: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := tab.Remove(c, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system time, in nanoseconds.
func cpuTime() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
