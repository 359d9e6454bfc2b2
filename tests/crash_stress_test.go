package tests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stressMsg is a message a client sent: its sequence number (the text)
// and type; maybe marks one whose send failed in a crash, which may or
// may not have happened.
type stressMsg struct {
	seq   int
	typ   int64
	maybe bool
}

// stressClient creates and removes its segments, sends to and receives
// from its queue and increments its set, and remembers what it saw
// succeed, and what it tried in a crash without an answer.
type stressClient struct {
	t    *testing.T
	ns   string
	id   int
	rnd  *rand.Rand
	errs []string

	segs     map[string]int // key -> 1 exists, 0 gone, -1 maybe
	hist     map[string]string
	nextSeg  int
	queue    []stressMsg
	nextSeq  int
	lostRecv int // receives that failed in a crash: each may have taken the head
	semCount int
	semMaybe int
	ops      int
}

func (c *stressClient) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("client %d: ", c.id)+fmt.Sprintf(format, args...))
}

func (c *stressClient) note(key, op string, err error) {
	if c.hist == nil {
		c.hist = map[string]string{}
	}
	c.hist[key] += fmt.Sprintf(" %s@%s:%v", op, time.Now().Format("05.000"), err)
}

func (c *stressClient) segPath(key string) string { return c.ns + "/shm/" + key }
func (c *stressClient) queuePath() string         { return fmt.Sprintf("%s/msg/0x0000e00%d", c.ns, c.id) }
func (c *stressClient) setPath() string           { return fmt.Sprintf("%s/sem/0x0000f00%d", c.ns, c.id) }

// step does one operation at random.
func (c *stressClient) step() {
	c.ops++
	// Removes come twice as often as creates, so that the segments
	// stay few.
	op := c.rnd.Intn(6)
	if op == 5 {
		op = 1
	}
	switch op {
	case 0: // create a segment, with its name as contents
		key := fmt.Sprintf("0x%04x%04x", 0x5000+c.id, c.nextSeg)
		c.nextSeg++
		fd, err := syscall.Open(c.segPath(key), syscall.O_CREAT|syscall.O_EXCL|syscall.O_RDWR, 0o600)
		if err == nil {
			_, err = syscall.Pwrite(fd, []byte(key), 0)
			syscall.Close(fd)
		}
		c.note(key, "create", err)
		if err == nil {
			c.segs[key] = 1
		} else {
			c.segs[key] = -1
		}
	case 1: // remove one
		for key, st := range c.segs {
			if st == 0 {
				continue
			}
			err := syscall.Unlink(c.segPath(key))
			c.note(key, "unlink", err)
			if err == nil {
				if st == 1 || st == -1 {
					c.segs[key] = 0
				}
			} else if err == syscall.ENOENT && st == -1 {
				// A create that got no answer, and an unlink that
				// found nothing: the kernel says ENOENT from a dentry
				// of the dead mount without asking anyone, so it stays
				// unknown until verify looks.
			} else if err == syscall.ENOENT {
				c.fail("segment %s, created, is gone", key)
				c.segs[key] = 0
			} else {
				c.segs[key] = -1
			}
			break
		}
	case 2: // send
		seq := c.nextSeq
		c.nextSeq++
		typ := int64(1 + seq%3)
		buf := make([]byte, 8, 16)
		binary.NativeEndian.PutUint64(buf, uint64(typ))
		buf = append(buf, strconv.Itoa(seq)...)
		fd, err := syscall.Open(c.queuePath()+",IPC_NOWAIT", syscall.O_WRONLY, 0)
		if err == nil {
			_, err = syscall.Write(fd, buf)
			syscall.Close(fd)
		}
		if err == syscall.EAGAIN {
			return // full: nothing sent
		}
		c.queue = append(c.queue, stressMsg{seq: seq, typ: typ, maybe: err != nil})
	case 3: // receive
		fd, err := syscall.Open(c.queuePath()+",IPC_NOWAIT", syscall.O_RDONLY, 0)
		buf := make([]byte, 64)
		n := 0
		if err == nil {
			n, err = syscall.Read(fd, buf)
			syscall.Close(fd)
		}
		switch {
		case err == syscall.ENOMSG:
			c.received(-1, 0)
		case err != nil:
			c.lostRecv++
		default:
			seq, _ := strconv.Atoi(string(buf[8:n]))
			c.received(seq, int64(binary.NativeEndian.Uint64(buf)))
		}
	case 4: // semop
		fd, err := syscall.Open(c.setPath(), syscall.O_WRONLY, 0)
		if err == nil {
			_, err = syscall.Write(fd, []byte("0 +1"))
			syscall.Close(fd)
		}
		if err == nil {
			c.semCount++
		} else {
			c.semMaybe++
		}
	}
}

// received checks a receive of message seq (-1: the queue was empty)
// against what was sent: every message before it must be one that may
// not have been sent, or one a receive lost in a crash may have taken.
func (c *stressClient) received(seq int, typ int64) {
	i := 0
	for ; i < len(c.queue) && c.queue[i].seq != seq; i++ {
	}
	if seq >= 0 && i == len(c.queue) {
		c.fail("received message %d, which was never sent or was received before", seq)
		return
	}
	for _, m := range c.queue[:i] {
		if m.maybe {
			continue
		}
		if c.lostRecv == 0 {
			c.fail("message %d, sent, was lost (received %d)", m.seq, seq)
			continue
		}
		c.lostRecv--
	}
	if seq >= 0 && c.queue[i].typ != typ {
		c.fail("message %d has type %d, sent as %d", seq, typ, c.queue[i].typ)
	}
	if seq >= 0 {
		i++
	}
	c.queue = c.queue[i:]
	c.lostRecv = 0
}

// verify compares what the mount holds with what the client saw, and
// takes what was uncertain as the mount says it is.
func (c *stressClient) verify() {
	for key, st := range c.segs {
		data, err := os.ReadFile(c.segPath(key))
		switch {
		case err == nil && strings.HasPrefix(string(data), key):
			if st == 0 {
				c.fail("segment %s, removed, is back: %s", key, c.hist[key])
			}
			c.segs[key] = 1
		case errors.Is(err, syscall.ENOENT):
			if st == 1 {
				c.fail("segment %s, created, is lost", key)
			}
			c.segs[key] = 0
		case err == nil && st == -1:
			// Made, but its contents never written: not acknowledged.
			syscall.Unlink(c.segPath(key))
			c.segs[key] = 0
		default:
			var fi syscall.Stat_t
			syscall.Stat(c.segPath(key), &fi)
			c.fail("segment %s (state %d, size %d): %v %q;%s", key, st, fi.Size, err, data, c.hist[key])
		}
	}
	// The queue, looked at without taking: one MSG_COPY handle walks it.
	var got []stressMsg
	fd, err := syscall.Open(c.queuePath()+",MSG_COPY,IPC_NOWAIT", syscall.O_RDONLY, 0)
	if err != nil {
		c.fail("queue: %v", err)
		return
	}
	for {
		buf := make([]byte, 64)
		n, err := syscall.Read(fd, buf)
		if err == syscall.ENOMSG || (err == nil && n == 0) {
			break
		}
		if err != nil {
			c.fail("queue copy %d: %v", len(got), err)
			syscall.Close(fd)
			return
		}
		seq, _ := strconv.Atoi(string(buf[8:n]))
		got = append(got, stressMsg{seq: seq, typ: int64(binary.NativeEndian.Uint64(buf))})
	}
	syscall.Close(fd)
	// got must be c.queue less some maybes, less up to lostRecv messages
	// at its head.
	var want []stressMsg
	j := 0
	for _, m := range c.queue {
		if j < len(got) && got[j].seq == m.seq {
			if got[j].typ != m.typ {
				c.fail("message %d: type %d, sent as %d", m.seq, got[j].typ, m.typ)
			}
			want = append(want, stressMsg{seq: m.seq, typ: m.typ})
			j++
			continue
		}
		if !m.maybe {
			if c.lostRecv > 0 && len(want) == 0 {
				c.lostRecv--
				continue
			}
			c.fail("message %d, sent, is lost (queue holds %v)", m.seq, got)
		}
	}
	if j != len(got) {
		c.fail("the queue holds %v, never sent or doubled (sent: %v)", got[j:], c.queue)
	}
	c.queue, c.lostRecv = want, 0
	data, err := os.ReadFile(c.setPath())
	if err != nil {
		c.fail("set: %v", err)
		return
	}
	v, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if v < c.semCount || v > c.semCount+c.semMaybe {
		c.fail("semaphore %d, after %d semops seen to succeed and %d unanswered", v, c.semCount, c.semMaybe)
	}
	c.semCount, c.semMaybe = v, 0
}

// TestCrashStress kills the server 20 times at random moments while 4
// clients create and remove segments, send and receive messages and
// semop; after each restart every operation a client saw succeed is
// there, none is doubled, and the server holds as many descriptors as
// there are live segments plus a constant.
func TestCrashStress(t *testing.T) {
	logPath := t.TempDir() + "/shmfs.log"
	mnt := mountShmfs(t, "--max-restarts=100", "--log", logPath)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	ns := mnt + "/default"
	const nclients, kills = 4, 20
	// Room for the messages of a round: the default 16384 bytes would
	// refuse some, which is no test of anything.
	shOK(t, "echo 1000000 > "+mnt+"/default/limits/msgmnb")
	var clients []*stressClient
	for i := 0; i < nclients; i++ {
		c := &stressClient{t: t, ns: ns, id: i, rnd: rand.New(rand.NewSource(int64(i + 1))), segs: map[string]int{}}
		shOK(t, fmt.Sprintf("echo 'SETALL 0' > %s; : > %s", c.setPath(), c.queuePath()))
		clients = append(clients, c)
	}
	fdConst := -1
	rnd := rand.New(rand.NewSource(42))
	for round := 0; round < kills; round++ {
		tRound := time.Now()
		var stop atomic.Bool
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					c.step()
					// A pace a loaded machine keeps up with.
					time.Sleep(time.Millisecond)
				}
			}()
		}
		time.Sleep(time.Duration(50+rnd.Intn(400)) * time.Millisecond)
		t0 := time.Now()
		took, _ := killServer(t, mnt)
		if round == 0 || took > time.Second {
			t.Logf("round %d: the mount answered again %v after the kill (%v of clients first)", round, took, t0.Sub(tRound))
		}
		// Go on against the new server a little, then stop.
		time.Sleep(time.Duration(rnd.Intn(100)) * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		live := 0
		for _, c := range clients {
			c.verify()
			for _, st := range c.segs {
				if st == 1 {
					live++
				}
			}
			for _, e := range c.errs {
				t.Errorf("round %d: %s", round, e)
			}
			c.errs = nil
		}
		if t.Failed() {
			out, _ := sh(t, "ls "+ns+"/msg; cat "+ns+"/sysvipc/msg "+ns+"/sysvipc/shm")
			t.Logf("the mount:\n%s\nstate:\n%s", out, dumpState(t, crashStatus(t, mnt).KeeperPID))
			t.FailNow()
		}
		// The server holds one memfd per live segment, plus a constant
		// of its own (the state record among them); released handles
		// reach it after close returns.
		var fds, memfds int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st := crashStatus(t, mnt)
			fds, memfds = st.ServerFDs, segmentMemfds(st.ServerPID)
			// A request being served may hold a descriptor a moment (a
			// read of /proc/<pid>/maps): the constant is allowed that.
			if memfds == live && (fdConst < 0 || fds-live <= fdConst+2) {
				break
			}
			if time.Now().After(deadline) {
				out, _ := sh(t, fmt.Sprintf("ls -l /proc/%d/fd | sed 's/.*-> //' | sort | uniq -c | sort -rn | head", st.ServerPID))
				t.Errorf("round %d: the server holds %d descriptors, %d of them segment memfds, for %d live segments (%d over them after round 1)\n%s", round, fds, memfds, live, fdConst, out)
				break
			}
		}
		if round == 1 {
			fdConst = fds - live
		}
		t.Logf("round %d: %v, %d live segments, %d descriptors", round, time.Since(tRound), live, fds)
	}
	ops := 0
	for _, c := range clients {
		ops += c.ops
	}
	st := crashStatus(t, mnt)
	t.Logf("%d kills, %d operations; the server holds %d descriptors over its live segments; state record %d bytes", kills, ops, fdConst, st.StateBytes)
}

// segmentMemfds counts the memfds of segments that process pid holds.
func segmentMemfds(pid int) int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	n := 0
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.HasPrefix(l, "/memfd:shmfs:") {
			n++
		}
	}
	return n
}

// dumpState prints the record types of the keeper's state record, for a
// failure's log.
func dumpState(t *testing.T, keeperPid int) string {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", keeperPid))
	var b strings.Builder
	for _, fd := range fds {
		p := fmt.Sprintf("/proc/%d/fd/%s", keeperPid, fd.Name())
		if l, _ := os.Readlink(p); !strings.Contains(l, "shmfs-state") {
			continue
		}
		data, _ := os.ReadFile(p)
		for off := 0; off+8 <= len(data); {
			n := int(binary.LittleEndian.Uint32(data[off:]))
			rec := data[off+8 : min(off+8+n, len(data))]
			nl, k := binary.Uvarint(rec[1:])
			name := string(rec[1+k : 1+k+int(nl)])
			rest := rec[1+k+int(nl):]
			fmt.Fprintf(&b, "%c %s %x\n", rec[0], name, rest[:min(len(rest), 12)])
			off += 8 + n
		}
	}
	return b.String()
}
