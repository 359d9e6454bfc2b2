package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pollSemPySrc waits with poll for a semop with IPC_NOWAIT that failed with
// EAGAIN to become possible, then applies it.
const pollSemPySrc = `
import os, select, subprocess, sys

path = sys.argv[1]
fd = os.open(path, os.O_RDWR)
p = select.poll()
p.register(fd, select.POLLOUT)
# Nothing written yet: writable.
assert p.poll(0) == [(fd, select.POLLOUT)], "fresh handle not writable"
try:
    os.write(fd, b"0 -1 IPC_NOWAIT")
    raise SystemExit("took a semaphore at 0")
except BlockingIOError:
    pass
# The last operation would block: not writable; readable all along.
assert p.poll(300) == [], "blocked decrement polled writable"
p.register(fd, select.POLLIN)
assert p.poll(0) == [(fd, select.POLLIN)], "set file not readable"
p.register(fd, select.POLLOUT)
# Another process raises the value.
up = subprocess.Popen(["sh", "-c", "sleep 0.2; echo '0 +1' > " + path])
ev = p.poll(10000)
up.wait()
assert ev == [(fd, select.POLLOUT)], ev
os.write(fd, b"0 -1 IPC_NOWAIT")
print(open(path).read().strip())
`

// TestPollSemWritable: a set file polls writable when the last
// operations written on the handle would not block, and poll wakes when
// another process makes them possible.
func TestPollSemWritable(t *testing.T) {
	mnt := mountShmfs(t)
	set := filepath.Join(mnt, "default", "sem", "0x00001305")
	shOK(t, "echo 'SETALL 0 0' > "+set)
	script := filepath.Join(t.TempDir(), "pollsem.py")
	if err := os.WriteFile(script, []byte(pollSemPySrc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, nil, "python3", script, set)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "0 0" {
		t.Errorf("values after the poll and the decrement: %q, want \"0 0\"", got)
	}
}
