package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// newMsgQueue makes a queue in the default namespace through msg/ctl and
// returns its file's path.
func newMsgQueue(t testing.TB, mnt string, key int, extra ...string) string {
	t.Helper()
	ctl := filepath.Join(mnt, "default/msg/ctl")
	if _, err := msgCtl(t, ctl, fmt.Sprintf("IPC_CREAT key=%#x mode=0666", key)); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range extra {
		if _, err := msgCtl(t, ctl, fmt.Sprintf(cmd, key)); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	return filepath.Join(mnt, fmt.Sprintf("default/msg/0x%08x", key))
}

// TestMsgExchangeC has two C processes talk through one queue: a ping-pong
// where each side selects its messages by type, and a stream whose
// receiver must see every message in the order sent.
func TestMsgExchangeC(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x100)
	pong := msgStart(t, tool, "pong", q, "300")
	ping := msgStart(t, tool, "ping", q, "300")
	if out := ping.wait(); len(out) != 1 || out[0] != "done 300" {
		t.Errorf("ping: %q", out)
	}
	if out := pong.wait(); len(out) != 1 || out[0] != "done 300" {
		t.Errorf("pong: %q", out)
	}

	// A queue of 64 bytes makes the sender wait for the receiver.
	q2 := newMsgQueue(t, mnt, 0x101, "IPC_SET %#x qbytes=64")
	recv := msgStart(t, tool, "recv", q2, "1000")
	send := msgStart(t, tool, "send", q2, "1000", "0")
	send.wait()
	lines := recv.wait()
	if len(lines) != 1000 {
		t.Fatalf("received %d messages", len(lines))
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%d %d", i%3+1, i); l != want {
			t.Fatalf("message %d: %q, want %q", i, l, want)
		}
	}
	if r := msgByKey(t, mnt, 0x101); r.QNum != 0 || r.LSPID != send.cmd.Process.Pid || r.LRPID != recv.cmd.Process.Pid {
		t.Errorf("after the stream: %q (sender %d, receiver %d)", r.line, send.cmd.Process.Pid, recv.cmd.Process.Pid)
	}
}

// TestMsgBlockedReaderWoken blocks readers on an empty queue and wakes
// them by sending, each with the message it selected.
func TestMsgBlockedReaderWoken(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x110)
	any := msgStart(t, tool, "read", q)
	any.blocked()
	typ2 := msgStart(t, tool, "read", q+",msgtyp=2")
	typ2.blocked()
	if out, err := runCmd(t, nil, tool, "write", q, "2", "for-the-second"); err != nil || out != "sent\n" {
		t.Fatalf("write: %q %v", out, err)
	}
	// The type-2 message goes to the first reader that wants it: the
	// reader of any type, who blocked first.
	if l := any.line(); l != "2 for-the-second" {
		t.Errorf("first reader: %q", l)
	}
	if out, err := runCmd(t, nil, tool, "write", q, "1", "not-for-typ2"); err != nil || out != "sent\n" {
		t.Fatalf("write: %q %v", out, err)
	}
	typ2.blocked()
	if r := msgByKey(t, mnt, 0x110); r.QNum != 1 {
		t.Errorf("the type-1 message should wait in the queue: %q", r.line)
	}
	if out, err := runCmd(t, nil, tool, "write", q, "2", "second"); err != nil || out != "sent\n" {
		t.Fatalf("write: %q %v", out, err)
	}
	if l := typ2.line(); l != "2 second" {
		t.Errorf("type-2 reader: %q", l)
	}
	typ2.wait()
	any.wait()
}

// TestMsgSignalInterrupts interrupts a blocked reader and blocked writers
// with a signal: the call fails with EINTR, and nothing is lost or sent
// twice.
func TestMsgSignalInterrupts(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x120)
	r := msgStart(t, tool, "read", q, "retry")
	r.blocked()
	r.cmd.Process.Signal(syscall.SIGUSR1)
	if l := r.line(); l != "EINTR" {
		t.Fatalf("interrupted read: %q", l)
	}
	r.blocked()
	if out, err := runCmd(t, nil, tool, "write", q, "7", "after-the-signal"); err != nil || out != "sent\n" {
		t.Fatal(out, err)
	}
	if l := r.line(); l != "7 after-the-signal" {
		t.Errorf("read after EINTR: %q", l)
	}
	r.wait()
	if row := msgByKey(t, mnt, 0x120); row.QNum != 0 {
		t.Errorf("queue after the read: %q", row.line)
	}

	// Two writers blocked on a full queue: a signal interrupts the one it
	// is sent to, and only that one; its message is not sent.
	full := newMsgQueue(t, mnt, 0x121, "IPC_SET %#x qbytes=0")
	w1 := msgStart(t, tool, "write", full, "1", "one")
	w1.blocked()
	w2 := msgStart(t, tool, "write", full, "1", "two")
	w2.blocked()
	w1.cmd.Process.Signal(syscall.SIGUSR1)
	if l := w1.line(); l != "EINTR" {
		t.Errorf("interrupted write: %q", l)
	}
	w1.wait()
	w2.blocked()
	// A blocked writer holds up nothing that is done to the queue's name
	// by others: chmod, chown, an O_TRUNC open.
	shOK(t, "timeout 10 chmod 0660 "+full+" && timeout 10 chown 0:0 "+full+" && timeout 10 truncate -s 0 "+full)
	if r := msgByKey(t, mnt, 0x121); r.Perms != 0o660 {
		t.Errorf("chmod under a blocked writer: %q", r.line)
	}
	w2.blocked()
	if _, err := msgCtl(t, filepath.Join(mnt, "default/msg/ctl"), "IPC_SET 0x121 qbytes=100"); err != nil {
		t.Fatal(err)
	}
	if l := w2.line(); l != "sent" {
		t.Errorf("second writer: %q", l)
	}
	w2.wait()
	if out, err := runCmd(t, nil, tool, "ops", "file", full, "rcv:0:100:n", "rcv:0:100:n"); err != nil || !strings.HasSuffix(out, "\n1 two\nENOMSG\n") {
		t.Errorf("queue after the writers: %q %v", out, err)
	}

	// SIGKILL ends a blocked reader at once.
	k := msgStart(t, tool, "read", q)
	k.blocked()
	k.cmd.Process.Kill()
	<-k.exited
	if ws, ok := k.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("killed reader: %v", k.cmd.ProcessState)
	}
}

// TestMsgSignalStorm signals a receiver over and over while a sender
// sends, through a queue small enough that both block: every message
// arrives exactly once, in order.
func TestMsgSignalStorm(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x130, "IPC_SET %#x qbytes=32")
	const n = 2000
	recv := msgStart(t, tool, "recv", q, strconv.Itoa(n))
	send := msgStart(t, tool, "send", q, strconv.Itoa(n), "0")
	waitCatches(t, recv.cmd.Process.Pid, syscall.SIGUSR1)
	waitCatches(t, send.cmd.Process.Pid, syscall.SIGUSR1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
				recv.cmd.Process.Signal(syscall.SIGUSR1)
				send.cmd.Process.Signal(syscall.SIGUSR1)
			}
		}
	}()
	send.wait()
	lines := recv.wait()
	close(stop)
	wg.Wait()
	if len(lines) != n {
		t.Fatalf("received %d of %d", len(lines), n)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%d %d", i%3+1, i); l != want {
			t.Fatalf("message %d: %q, want %q", i, l, want)
		}
	}
	if r := msgByKey(t, mnt, 0x130); r.QNum != 0 || r.CBytes != 0 {
		t.Errorf("queue after: %q", r.line)
	}
	t.Logf("receiver: %s; sender: %s", strings.TrimSpace(recv.errb.String()), strings.TrimSpace(send.errb.String()))
}

// TestMsgRemovalWakesBlocked removes a queue under blocked readers and
// writers: each fails with EIDRM.
func TestMsgRemovalWakesBlocked(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x140, "IPC_SET %#x qbytes=0")
	readers := []*msgProc{msgStart(t, tool, "read", q), msgStart(t, tool, "read", q+",msgtyp=-3,MSG_NOERROR")}
	writers := []*msgProc{msgStart(t, tool, "write", q, "1", "x"), msgStart(t, tool, "write", q, "2", "y")}
	for _, p := range append(readers, writers...) {
		p.blocked()
	}
	shOK(t, "rm "+q)
	for _, p := range append(readers, writers...) {
		if l := p.line(); l != "EIDRM" {
			t.Errorf("%v: %q, want EIDRM", p.cmd.Args, l)
		}
		p.wait()
	}
	if _, err := os.Stat(q); err == nil {
		t.Error("the queue is still there")
	}
}

// TestMsgManySendersAndReceivers runs senders and receivers, as separate
// processes, all at once through a small queue: every message must be
// received exactly once.
func TestMsgManySendersAndReceivers(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := newMsgQueue(t, mnt, 0x150, "IPC_SET %#x qbytes=256")
	const senders, receivers, each = 4, 4, 400
	var recvs, sends []*msgProc
	for i := 0; i < receivers; i++ {
		// Half of the receivers take the lowest type first.
		name := q
		if i%2 == 1 {
			name += ",msgtyp=-3"
		}
		recvs = append(recvs, msgStart(t, tool, "recv", name, strconv.Itoa(senders*each/receivers)))
	}
	for i := 0; i < senders; i++ {
		sends = append(sends, msgStart(t, tool, "send", q, strconv.Itoa(each), strconv.Itoa(i*each)))
	}
	for _, s := range sends {
		s.wait()
	}
	var values []int
	sum := 0
	for _, r := range recvs {
		for _, l := range r.wait() {
			var typ, v int
			if _, err := fmt.Sscanf(l, "%d %d", &typ, &v); err != nil || typ != v%3+1 {
				t.Fatalf("received %q", l)
			}
			values = append(values, v)
			sum += v
		}
	}
	sort.Ints(values)
	n := senders * each
	if len(values) != n || sum != n*(n-1)/2 {
		t.Fatalf("received %d messages summing to %d, want %d summing to %d", len(values), sum, n, n*(n-1)/2)
	}
	for i, v := range values {
		if v != i {
			t.Fatalf("message %d missing or received twice", i)
		}
	}
	if r := msgByKey(t, mnt, 0x150); r.QNum != 0 || r.CBytes != 0 {
		t.Errorf("queue after: %q", r.line)
	}
}
