package nsmodel_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/nsmodel"
)

// recorder is a journal that keeps its records.
type recorder struct {
	mu   sync.Mutex
	recs [][]byte
}

func (r *recorder) Append(rec []byte) {
	r.mu.Lock()
	r.recs = append(r.recs, append([]byte(nil), rec...))
	r.mu.Unlock()
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.recs...)
}

// fill makes a model hold one of everything that must come back: a
// second namespace with its own shmmax, segments (one IPC_SET to 0640,
// one locked, one removed while attached, one private), a queue with
// messages of three types (one taken), a set after SETALL and a SEM_UNDO
// semop, and gaps in the ids.
func fill(t *testing.T, m *nsmodel.Model) (dest *nsmodel.Shm) {
	t.Helper()
	c := root()
	def := m.Get(nsmodel.DefaultNamespace)
	tenant, err := m.Create("tenant")
	if err != nil {
		t.Fatal(err)
	}
	if err := tenant.SetLimit(c, "shmmax", "65536"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // ids move on
		s := create(t, def.Shm, c, 0x100+int32(i), 4096, 0o600)
		if i%2 == 0 {
			if err := def.Shm.Remove(c, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := create(t, def.Shm, owner(), 0x1234, 8192, 0o666)
	mode := uint32(0o640)
	if err := def.Shm.Set(owner(), a, nsmodel.SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	unix.Pwrite(a.Fd(), []byte("contents of a"), 100)
	if err := def.Shm.Lock(c, a, true); err != nil {
		t.Fatal(err)
	}
	dest = create(t, def.Shm, c, 0x5678, 4096, 0o600)
	if err := def.Shm.Attach(c, dest, nsmodel.AccessRead); err != nil {
		t.Fatal(err)
	}
	if err := def.Shm.Remove(c, dest); err != nil {
		t.Fatal(err)
	}
	create(t, tenant.Shm, c, nsmodel.IPCPrivate, 65536, 0o600)

	q, err := def.Msg.Get(c, nsmodel.MsgGet{Key: 0x42, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range []int64{3, 1, 2, 1} {
		buf := make([]byte, nsmodel.MsgHdrSize+6)
		nsmodel.PutMsgType(buf, typ)
		copy(buf[nsmodel.MsgHdrSize:], fmt.Sprintf("msg %d.", i))
		if err := q.Send(context.Background(), 77, buf, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Receive(context.Background(), 78, nsmodel.MsgRecv{Type: 2, BufSize: 100}); err != nil {
		t.Fatal(err)
	}
	// A second queue, at index 1 (a restore once put every new queue
	// at index 0).
	q2, err := def.Msg.Get(c, nsmodel.MsgGet{Key: 0x43, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, nsmodel.MsgHdrSize+5)
	nsmodel.PutMsgType(buf, 7)
	copy(buf[nsmodel.MsgHdrSize:], "other")
	if err := q2.Send(context.Background(), 79, buf, 0); err != nil {
		t.Fatal(err)
	}
	s, err := def.Sem.Get(c, nsmodel.SemGet{Key: 0x99, Nsems: 3, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAll(c, 55, []int{5, 6, 7}); err != nil {
		t.Fatal(err)
	}
	var u nsmodel.SemUndo
	if err := s.Op(context.Background(), c, 56, &u, nsmodel.SemOp{Ops: []nsmodel.Sembuf{{Num: 1, Op: -2, Flg: nsmodel.SemUndoFlag}}}); err != nil {
		t.Fatal(err)
	}
	return dest
}

// state renders what a model holds, as its files would show it.
func state(t *testing.T, m *nsmodel.Model) string {
	t.Helper()
	var b strings.Builder
	for _, name := range m.Names() {
		ns := m.Get(name)
		l := ns.Limits()
		shmmax, _ := l.Format("shmmax")
		fmt.Fprintf(&b, "== %s shmmax %s", name, shmmax)
		b.WriteString(ns.Shm.SysvipcShm())
		b.WriteString(ns.Msg.SysvipcMsg())
		b.WriteString(ns.Sem.SysvipcSem())
		for _, st := range ns.Sem.List() {
			s, _ := ns.Sem.Lookup(nsmodel.Ref{ByID: true, ID: st.ID})
			vals, _ := s.GetAll(root())
			fmt.Fprintln(&b, "sem", st.ID, vals)
		}
		for _, st := range ns.Msg.List() {
			q, _ := ns.Msg.Lookup(nsmodel.Ref{ByID: true, ID: st.ID})
			for i := 0; ; i++ {
				buf, err := q.Receive(context.Background(), 1, nsmodel.MsgRecv{Type: int64(i), Flags: nsmodel.MsgCopy | nsmodel.IPCNoWait, BufSize: 100})
				if err != nil {
					break
				}
				fmt.Fprintf(&b, "msg %d %d %q\n", ns.Msg.Stat(q).ID, nsmodel.MsgType(buf), buf[nsmodel.MsgHdrSize:])
			}
		}
		for _, s := range ns.Shm.Stats() {
			for _, st := range ns.Shm.List() {
				sh, _ := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: st.ID})
				if st.ID == s.ID {
					buf := make([]byte, 13)
					unix.Pread(sh.Fd(), buf, 100)
					fmt.Fprintf(&b, "shm %d %q\n", s.ID, buf)
				}
			}
		}
	}
	return b.String()
}

// restore rebuilds a model from recs, giving each segment its memfd
// (a duplicate of the old model's) by inode number.
func restore(t *testing.T, old *nsmodel.Model, recs [][]byte) (*nsmodel.Model, *nsmodel.Restorer) {
	t.Helper()
	fds := map[uint64]int{}
	for _, name := range old.Names() {
		ns := old.Get(name)
		for _, o := range ns.Shm.Stats() {
			s, err := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: o.ID})
			if err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			unix.Fstat(s.Fd(), &st)
			fd, _ := unix.Dup(s.Fd())
			fds[st.Ino] = fd
		}
	}
	m, _ := newModel(t)
	m.Now = old.Now
	r := nsmodel.NewRestorer(m)
	for _, rec := range recs {
		if err := r.Apply(rec); err != nil {
			t.Fatal(err)
		}
	}
	r.Finish(func(ino uint64, huge bool) (nsmodel.Pages, error) {
		fd, ok := fds[ino]
		if !ok {
			return nil, fmt.Errorf("no memfd of inode %d", ino)
		}
		delete(fds, ino)
		return backing.Adopt(fd, huge)
	})
	for _, fd := range fds {
		unix.Close(fd)
	}
	t.Cleanup(func() {
		for _, name := range m.Names() {
			for _, st := range m.Get(name).Shm.Stats() {
				if s, err := m.Get(name).Shm.Lookup(nsmodel.Ref{ByID: true, ID: st.ID}); err == nil {
					m.Get(name).Shm.Remove(root(), s)
				}
			}
		}
	})
	return m, r
}

func fixedClock(m *nsmodel.Model) {
	var mu sync.Mutex
	now := int64(1000)
	m.Now = func() int64 { mu.Lock(); defer mu.Unlock(); now++; return now }
}

// TestSnapshotRoundTrip: a model rebuilt from a Snapshot shows the same
// tables, values, messages, contents and limits; the next ids are the
// ones the old model would have given; a removed segment still attached
// stays until the mapping that outlived the server goes, and one that
// nothing outlived is destroyed.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, survive := range []bool{true, false} {
		t.Run(fmt.Sprintf("survive=%v", survive), func(t *testing.T) {
			m, _ := newModel(t)
			fixedClock(m)
			dest := fill(t, m)
			destID := m.Get("default").Shm.Stat(dest).ID
			var recs [][]byte
			m.Snapshot(func(rec []byte) { recs = append(recs, append([]byte(nil), rec...)) })
			before := state(t, m)
			n, r := restore(t, m, recs)
			if len(r.Problems) > 0 {
				t.Errorf("problems: %q", r.Problems)
			}
			// The undo record died with its handle: value 1 is 6 again.
			want := strings.Replace(before, "sem 0 [5 4 7]", "sem 0 [5 6 7]", 1)
			if want == before {
				t.Fatalf("no undo to apply in:\n%s", before)
			}
			// Attaches start at none; the removed segment waits for
			// Survive.
			def := n.Get("default")
			rd, err := def.Shm.Lookup(nsmodel.Ref{ByID: true, ID: destID})
			if err != nil {
				t.Fatalf("SHM_DEST segment not restored: %v", err)
			}
			if survive {
				def.Shm.Survive(rd)
			}
			n.ReapDestroyed()
			got := stripVolatile(state(t, n), false)
			want = stripVolatile(want, false)
			if !survive {
				want = dropLine(want, fmt.Sprintf(" %d 1600 ", destID))
			}
			if got != want {
				t.Errorf("restored state differs:\n--- want\n%s\n--- got\n%s", want, got)
			}
			if survive {
				if def.Shm.Stat(rd).Mode&nsmodel.ShmDest == 0 {
					t.Error("restored segment lost SHM_DEST")
				}
				def.Shm.Detach(rd, 9)
			}
			if _, err := def.Shm.Lookup(nsmodel.Ref{ByID: true, ID: destID}); err == nil {
				t.Error("SHM_DEST segment still there after its last attach went")
			}
			m.Get("default").Shm.Detach(dest, 9)
			s1 := create(t, m.Get("default").Shm, root(), 0x7777, 10, 0o600)
			s2 := create(t, def.Shm, root(), 0x7777, 10, 0o600)
			if a, b := m.Get("default").Shm.Stat(s1).ID, def.Shm.Stat(s2).ID; a != b {
				t.Errorf("next id: old model %d, restored %d", a, b)
			}
			q1, _ := m.Get("tenant").Msg.Get(root(), nsmodel.MsgGet{Key: 5, Create: true})
			q2, _ := n.Get("tenant").Msg.Get(root(), nsmodel.MsgGet{Key: 5, Create: true})
			if a, b := m.Get("tenant").Msg.Stat(q1).ID, n.Get("tenant").Msg.Stat(q2).ID; a != b {
				t.Errorf("next queue id: %d vs %d", a, b)
			}
		})
	}
}

// stripVolatile drops what a restore changes on purpose: the nattch
// and lpid columns of sysvipc/shm (attaches died with the server) and the
// rss column. With all, the atime/dtime too.
func stripVolatile(s string, all bool) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 16 && f[0] != "key" && !strings.HasPrefix(line, "sem") {
			// key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap
			f[5], f[6], f[14] = "-", "-", "-"
			if all {
				f[11], f[12] = "-", "-"
			}
			line = strings.Join(f, " ")
		}
		if len(f) == 10 && f[0] != "key" {
			// The undo records applied at restore move sem_otime.
			f[8] = "-"
			line = strings.Join(f, " ")
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestJournalReplay: records of every change, from the empty model on,
// rebuild the same model; so does a snapshot taken half way with the
// records after it; a torn or unknown record is refused.
func TestJournalReplay(t *testing.T) {
	m, _ := newModel(t)
	fixedClock(m)
	rec := &recorder{}
	m.SetJournal(rec)
	fill(t, m)
	before := stripVolatile(state(t, m), true)
	before = strings.Replace(before, "sem 0 [5 4 7]", "sem 0 [5 6 7]", 1)

	n, r := restore(t, m, rec.all())
	if len(r.Problems) > 0 {
		t.Errorf("problems: %q", r.Problems)
	}
	n.ReapDestroyed()
	got := stripVolatile(state(t, n), true)
	// The SHM_DEST segment had no survivor: it is gone after the reap.
	wantNoDest := dropLine(before, " 1600 ")
	if got != wantNoDest {
		t.Errorf("journal replay differs:\n--- before\n%s\n--- after\n%s", before, got)
	}

	// Half way: a snapshot, then more changes recorded.
	var half [][]byte
	m.Snapshot(func(b []byte) { half = append(half, append([]byte(nil), b...)) })
	mark := len(rec.all())
	def := m.Get("default")
	q, err := def.Msg.Lookup(nsmodel.Ref{ByID: true, ID: def.Msg.List()[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, nsmodel.MsgHdrSize+3)
	nsmodel.PutMsgType(buf, 9)
	copy(buf[8:], "new")
	if err := q.Send(context.Background(), 1, buf, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Get("tenant").SetLimit(root(), "msgmax", "100"); err != nil {
		t.Fatal(err)
	}
	after := stripVolatile(state(t, m), true)
	after = strings.Replace(after, "sem 0 [5 4 7]", "sem 0 [5 6 7]", 1)
	n2, _ := restore(t, m, append(half, rec.all()[mark:]...))
	if got := stripVolatile(state(t, n2), true); got != after {
		t.Errorf("snapshot + journal differs:\n--- want\n%s\n--- got\n%s", after, got)
	}
	if n2.Get("tenant").Limits().MsgMax != 100 {
		t.Error("limit written after the snapshot lost")
	}

	if err := nsmodel.NewRestorer(n2).Apply([]byte{'S', 0x80}); err == nil {
		t.Error("torn record applied")
	}
	if err := nsmodel.NewRestorer(n2).Apply([]byte{'?'}); err == nil {
		t.Error("unknown record applied")
	}
}

func dropLine(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
