package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// kernelShm is the mirror's table of the bench's own kernel IPC
// namespace, as a program finds it: through the kernel/self link.
func (b *bench) kernelShm() string { return filepath.Join(b.mnt, "kernel", "self", "shm") }

// kernelServed reports whether the mount has the kernel mirror (a build
// from before it, or a server that is not root, has no kernel/self).
func (b *bench) kernelServed() bool {
	fi, err := os.Stat(b.kernelShm())
	return err == nil && fi.IsDir()
}

// kernelGroups measure MOUNT/kernel/: a segment made with shmget in the
// bench's own IPC namespace, used through kernel/self/shm/0x<key> and
// through shmat, alternated as the other groups' sides are. Both sides
// make their segment with shmget(IPC_CREAT|IPC_EXCL) of a key of the
// bench's range, and remove it with IPC_RMID; a client that fails has
// its segments removed by removeKernelLeftovers (they carry its pid).
func (b *bench) kernelGroups() []group {
	c := b.cfg
	size := strconv.FormatUint(c.size, 10)
	mib := fmt.Sprintf("%d MiB", c.size>>20)
	n := strconv.Itoa
	both := func(dir string) func(env []string) (map[string]float64, error) {
		return func(env []string) (map[string]float64, error) {
			return b.runAll(env, []string{"kmmap", dir, n(int(kernelKeys())), size, "1"},
				[]string{"kattach", dir, n(int(kernelKeys())), n(c.attachN)})
		}
	}
	return []group{{
		name: "kernel",
		sides: []side{
			{"kernel/self", both(b.kernelShm())},
			{"shmat", both("sysv")},
		},
		rows: []row{
			{op: "kernel/self mmap write+read " + mib + ", warm", metric: "rw_Bps", kernel: "shmat", unit: gibps, target: atLeast(0.95)},
			{op: "kernel/self attach: open+mmap+touch+munmap+close", metric: "attach_ns", kernel: "shmat", path: "shmat+touch+shmdt", unit: usec},
		},
		// An attach through the file is what reaches the server; the
		// mmap pass makes one open.
		ops: c.attachN + 1,
	}}
}
