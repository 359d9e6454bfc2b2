package tests

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// semSet makes a set of nsems semaphores with the given values through
// sem/ctl and returns the ctl and the set's file.
func semSet(t testing.TB, mnt string, key int, values string) (ctl, set string) {
	t.Helper()
	ctl = filepath.Join(mnt, "default/sem/ctl")
	n := len(strings.Fields(values))
	semCtlOK(t, ctl, fmt.Sprintf("IPC_CREAT key=%d nsems=%d mode=0666", key, n))
	semCtlOK(t, ctl, fmt.Sprintf("SETALL %d %s", key, values))
	return ctl, filepath.Join(mnt, fmt.Sprintf("default/sem/0x%08x", key))
}

// TestSemMutexGuardsSegment: processes take a SEM_UNDO lock through a
// set's file around a read-modify-write of a counter in a segment of
// the same namespace, mapped MAP_SHARED; no increment is lost.
func TestSemMutexGuardsSegment(t *testing.T) {
	mnt := mountShmfs(t)
	_, set := semSet(t, mnt, 0x51, "1")
	seg := filepath.Join(mnt, "default/shm/0x00000051")
	if err := os.WriteFile(seg, make([]byte, 4096), 0o666); err != nil {
		t.Fatal(err)
	}
	const procs, rounds = 4, 300
	ps := make([]*semProc, procs)
	for i := range ps {
		ps[i] = semStart(t, "", "mutex", set, seg, fmt.Sprint(rounds))
	}
	for i, p := range ps {
		if got := p.result(t); got != "ok" {
			t.Errorf("driver %d: %s", i, got)
		}
	}
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.NativeEndian.Uint64(b); got != procs*rounds {
		t.Errorf("counter %d, want %d", got, procs*rounds)
	}
	if got := semValues(t, set); got != "1" {
		t.Errorf("lock left at %q", got)
	}
}

// TestSemUndoOnKill: a process killed while it holds a lock taken with
// SEM_UNDO gives it back, and a process waiting for it gets it.
func TestSemUndoOnKill(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x52, "1 0")
	holder := semStart(t, "held", "hold", set)
	if got := semValues(t, set); got != "0 0" {
		t.Fatalf("held lock reads %q", got)
	}
	waiter := semStart(t, "", "op", set, "0 -1; timeout=30")
	semWaiters(t, ctl, set, 0, 1)
	holder.signal(syscall.SIGKILL)
	if got := holder.result(t); got != "" {
		t.Errorf("holder said %q", got)
	}
	if got := waiter.result(t); got != "ok" {
		t.Fatalf("waiter after the holder died: %s", got)
	}
	if got := semValues(t, set); got != "0 0" {
		t.Errorf("values %q, want the lock taken by the waiter", got)
	}
	// The waiter had no undo: its handle's release gives nothing back.
	if got := semCount(t, ctl, set, 0, false); got != "0" {
		t.Errorf("GETNCNT %s", got)
	}
}

// TestSemWaitersServedInOrder: decrements that wait are served in the
// order they came, each as soon as it can proceed.
func TestSemWaitersServedInOrder(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x53, "0")
	first := semStart(t, "", "op", set, "0 -1")
	semWaiters(t, ctl, set, 0, 1)
	big := semStart(t, "", "op", set, "0 -2")
	semWaiters(t, ctl, set, 0, 2)
	last := semStart(t, "", "op", set, "0 -1")
	semWaiters(t, ctl, set, 0, 3)

	if got := semRun(t, "op", set, "0 1"); got != "ok" {
		t.Fatal(got)
	}
	if got := first.result(t); got != "ok" {
		t.Errorf("first: %s", got)
	}
	semWaiters(t, ctl, set, 0, 2)
	// One unit: the waiter for two cannot use it, the one behind it can.
	semRun(t, "op", set, "0 1")
	if got := last.result(t); got != "ok" {
		t.Errorf("last: %s", got)
	}
	if !big.running() {
		t.Errorf("the waiter for two ended: %s", big.result(t))
	}
	semRun(t, "op", set, "0 2")
	if got := big.result(t); got != "ok" {
		t.Errorf("waiter for two: %s", got)
	}
	if got := semValues(t, set); got != "0" {
		t.Errorf("values %q", got)
	}
}

// TestSemWaitForZero: an operation of 0 waits until the value is zero.
func TestSemWaitForZero(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x54, "2 0")
	z := semStart(t, "", "op", set, "1 0; 0 0")
	waitFor(t, "a waiter for zero", func() bool { return semCount(t, ctl, set, 0, true) == "1" })
	if got := semCount(t, ctl, set, 1, true); got != "0" {
		t.Errorf("GETZCNT of the semaphore it does not sleep on: %s", got)
	}
	semRun(t, "op", set, "0 -1")
	if !z.running() {
		t.Fatalf("waiter for zero ended at 1: %s", z.result(t))
	}
	semRun(t, "op", set, "0 -1")
	if got := z.result(t); got != "ok" {
		t.Errorf("waiter for zero: %s", got)
	}
}

// TestSemTimeout: a semtimedop that cannot proceed in time fails with
// EAGAIN and takes nothing.
func TestSemTimeout(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x55, "1 0")
	if got := semRun(t, "op", set, "0 -1; 1 -1; timeout=0.1"); got != "EAGAIN" {
		t.Errorf("text timeout: %s", got)
	}
	if got := semRun(t, "bop", set, "-t", "0", "100000000", "0", "-1", "0", "1", "-1", "0"); got != "EAGAIN" {
		t.Errorf("binary timeout: %s", got)
	}
	if got := semValues(t, set); got != "1 0" {
		t.Errorf("values after timeouts: %q", got)
	}
	if got := semCount(t, ctl, set, 1, false); got != "0" {
		t.Errorf("GETNCNT after timeouts: %s", got)
	}
}

// TestSemRemovalWakesWaiters: rm and IPC_RMID wake every waiter with
// EIDRM, while they wait.
func TestSemRemovalWakesWaiters(t *testing.T) {
	mnt := mountShmfs(t)
	for _, how := range []string{"rm", "IPC_RMID"} {
		ctl, set := semSet(t, mnt, 0x56, "0 1")
		dec := semStart(t, "", "op", set, "0 -1")
		semWaiters(t, ctl, set, 0, 1)
		zero := semStart(t, "", "op", set, "1 0")
		waitFor(t, "a waiter for zero", func() bool { return semCount(t, ctl, set, 1, true) == "1" })
		if how == "rm" {
			if err := os.Remove(set); err != nil {
				t.Fatal(err)
			}
		} else {
			semCtlOK(t, ctl, "IPC_RMID 0x56")
		}
		for _, w := range []*semProc{dec, zero} {
			if got := w.result(t); got != "EIDRM" {
				t.Errorf("%s: waiter got %s", how, got)
			}
		}
	}
}

// TestSemSignals: a signal interrupts a waiting semop with EINTR and
// nothing taken; SIGKILL ends a waiter at once.
func TestSemSignals(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x57, "1 0")
	w := semStart(t, "", "intr", set, "0 -1 SEM_UNDO; 1 -1 SEM_UNDO")
	semWaiters(t, ctl, set, 1, 1)
	w.signal(syscall.SIGUSR1)
	if got := w.result(t); got != "EINTR" {
		t.Errorf("interrupted semop: %s", got)
	}
	if got := semValues(t, set); got != "1 0" {
		t.Errorf("values after the interruption: %q", got)
	}
	if got := semCount(t, ctl, set, 1, false); got != "0" {
		t.Errorf("GETNCNT after the interruption: %s", got)
	}

	k := semStart(t, "", "op", set, "1 -1")
	semWaiters(t, ctl, set, 1, 1)
	k.signal(syscall.SIGKILL)
	k.result(t)
	waitFor(t, "the killed waiter to leave the queue", func() bool { return semCount(t, ctl, set, 1, false) == "0" })
	if got := semValues(t, set); got != "1 0" {
		t.Errorf("values after the kill: %q", got)
	}
}

// TestSemSharedHandle: threads that share one open set wait and wake
// each other through it: a sleeper does not keep the others out.
func TestSemSharedHandle(t *testing.T) {
	mnt := mountShmfs(t)
	ctl, set := semSet(t, mnt, 0x58, "0")
	script := `
import os, sys, threading, time
fd = os.open(sys.argv[1], os.O_RDWR)
ctl = os.open(sys.argv[2], os.O_RDWR)
got = []
def wait():
    os.write(fd, b"0 -1")
    got.append("woken")
ts = [threading.Thread(target=wait) for _ in range(3)]
for t in ts: t.start()
deadline = time.time() + 10
while time.time() < deadline:
    os.write(ctl, b"GETNCNT 0x58 0")
    if os.pread(ctl, 100, 0) == b"3\n": break
    time.sleep(0.005)
for _ in ts: os.write(fd, b"0 1")
for t in ts: t.join(30)
print(len(got), os.read(fd, 100).decode().strip())
`
	out, err := runCmd(t, nil, semPython(), "-c", script, set, ctl)
	if err != nil || out != "3 0\n" {
		t.Errorf("threads sharing a handle: %q, %v", out, err)
	}
}
