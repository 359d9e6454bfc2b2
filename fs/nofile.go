package fs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// The server holds one memfd per segment (a passthrough backing file is a
// whole file), so RLIMIT_NOFILE bounds the segments of all namespaces
// together. A memfd that cannot be made for want of a descriptor fails
// the create with ENOSPC, as shmget does when no more segments fit
// (nsmodel); these say why, once, on stderr.

// nofileSpare is what the server needs besides the memfds: /dev/fuse,
// stdio, passthrough probes, /proc files being read.
const nofileSpare = 64

// checkNofile warns once when the descriptor limit is below what the
// namespaces' shmmni let their segments need.
func (m *mountState) checkNofile() {
	need := nofileSpare
	for _, name := range m.model.Names() {
		if ns := m.model.Get(name); ns != nil {
			need += min(ns.Limits().ShmMni, nsmodel.IPCMNI)
		}
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= uint64(need) {
		return
	}
	m.warnNofile(fmt.Sprintf("RLIMIT_NOFILE is %d, below the %d descriptors that the namespaces' shmmni let their segments need (one memfd each); a segment past the limit fails with ENOSPC: raise it (ulimit -n, or LimitNOFILE= for a service)", lim.Cur, need))
}

// createFailed is told of a create that failed with ENOSPC: if the
// server is out of descriptors, it says so.
func (m *mountState) createFailed() {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return
	}
	if err == unix.EMFILE || err == unix.ENFILE {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		m.warnNofile(fmt.Sprintf("out of descriptors (RLIMIT_NOFILE %d): no more segments fit, creates fail with ENOSPC; raise the limit (ulimit -n, or LimitNOFILE= for a service)", lim.Cur))
	}
}

func (m *mountState) warnNofile(msg string) {
	if m.nofileWarned.CompareAndSwap(false, true) {
		fmt.Fprintln(os.Stderr, "shmfs: warning:", msg)
	}
}
