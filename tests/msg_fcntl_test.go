package tests

import (
	"strings"
	"testing"
)

// TestMsgFcntlNonblock: fcntl(F_SETFL, O_NONBLOCK) after open makes the
// queue's reads and writes IPC_NOWAIT (ENOMSG, EAGAIN), and clearing it
// makes them block again, as the file's mode says at each call.
func TestMsgFcntlNonblock(t *testing.T) {
	mnt := mountShmfs(t)
	q := newMsgQueue(t, mnt, 0x1f0, "IPC_SET %#x qbytes=16")
	script := `
import errno, os, signal, struct, sys
q = sys.argv[1]
fd = os.open(q + ",recv", os.O_RDWR)   # a receiving name (docs/msg.md)
msg = struct.pack("=q", 1) + b"x" * 16
os.set_blocking(fd, False)
try:
    os.read(fd, 64)
    print("read: no error")
except OSError as e:
    print("read:", errno.errorcode[e.errno])
os.write(fd, msg)                       # fills the queue (qbytes 16)
try:
    os.write(fd, msg)
    print("write: no error")
except OSError as e:
    print("write:", errno.errorcode[e.errno])
os.set_blocking(fd, True)
class Alarm(Exception): pass
def ring(sig, frame): raise Alarm()
signal.signal(signal.SIGALRM, ring)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    os.write(fd, msg)
    print("blocking write: no error")
except Alarm:
    print("blocking write: blocked")
print("took:", os.read(fd, 64)[8:].decode())
`
	out, err := runCmd(t, nil, semPython(), "-c", script, q)
	if err != nil {
		t.Fatal(err)
	}
	want := "read: ENOMSG\nwrite: EAGAIN\nblocking write: blocked\ntook: " + strings.Repeat("x", 16) + "\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}
