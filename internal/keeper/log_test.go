package keeper

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/nsmodel"
)

// TestFramesTornTail: a frame cut short or with a bad checksum ends the
// record there, and what came before is whole.
func TestFramesTornTail(t *testing.T) {
	var data []byte
	for _, rec := range []string{"one", "two", "three"} {
		data = appendFrame(data, []byte(rec))
	}
	whole := len(data)
	recs, valid, torn := Frames(data)
	if len(recs) != 3 || valid != whole || torn {
		t.Fatalf("whole record: %d records, %d valid, torn %v", len(recs), valid, torn)
	}
	data = appendFrame(data, []byte("four"))
	for cut := whole + 1; cut < len(data); cut++ {
		recs, valid, torn := Frames(data[:cut])
		if len(recs) != 3 || valid != whole || !torn {
			t.Errorf("cut at %d: %d records, %d valid, torn %v", cut, len(recs), valid, torn)
		}
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 1
	if recs, valid, torn := Frames(bad); len(recs) != 3 || valid != whole || !torn {
		t.Errorf("bad checksum: %d records, %d valid, torn %v", len(recs), valid, torn)
	}
}

// memLog is a Log on a memfd with no keeper behind it.
func memLog(tb testing.TB, m *nsmodel.Model) *Log {
	f, err := newLogFile()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(f.fd) })
	return NewLog(nil, m, f.fd, 0, nil)
}

// TestLogReplays: what the Log wrote replays to the same model.
func TestLogReplays(t *testing.T) {
	m := nsmodel.NewModel(backing.New)
	l := memLog(t, m)
	m.SetJournal(l)
	c := nsmodel.RootCred()
	ns := m.Get(nsmodel.DefaultNamespace)
	q, err := ns.Msg.Get(c, nsmodel.MsgGet{Key: 5, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	nsmodel.PutMsgType(buf, 4)
	if err := q.Send(context.Background(), 1, buf, 0); err != nil {
		t.Fatal(err)
	}
	data, err := readAll(l.cur.fd)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, torn := Frames(data)
	if torn || len(recs) != 2 {
		t.Fatalf("%d records, torn %v", len(recs), torn)
	}
	n := nsmodel.NewModel(backing.New)
	r := nsmodel.NewRestorer(n)
	for _, rec := range recs {
		if err := r.Apply(rec); err != nil {
			t.Fatal(err)
		}
	}
	r.Finish(func(uint64, bool) (nsmodel.Pages, error) { return nil, unix.ENOENT })
	if got, want := n.Get("default").Msg.SysvipcMsg(), ns.Msg.SysvipcMsg(); got != want {
		t.Errorf("replayed:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkRecording measures what the record costs each model change,
// without FUSE: a segment made and removed, a message sent and received,
// a semop, with no journal and with the memfd Log.
func BenchmarkRecording(b *testing.B) {
	for _, rec := range []bool{false, true} {
		name := "off"
		if rec {
			name = "on"
		}
		m := nsmodel.NewModel(backing.New)
		if rec {
			m.SetJournal(memLog(b, m))
		}
		c := nsmodel.RootCred()
		ns := m.Get(nsmodel.DefaultNamespace)
		b.Run("create+unlink/"+name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s, err := ns.Shm.Get(c, nsmodel.ShmGet{Key: 9, Size: 4096, Mode: 0o600, Create: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := ns.Shm.Remove(c, s); err != nil {
					b.Fatal(err)
				}
			}
		})
		q, _ := ns.Msg.Get(c, nsmodel.MsgGet{Key: 9, Mode: 0o600, Create: true})
		b.Run("msgsnd+msgrcv/"+name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				buf := make([]byte, 8+64)
				nsmodel.PutMsgType(buf, 1)
				if err := q.Send(context.Background(), 1, buf, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := q.Receive(context.Background(), 1, nsmodel.MsgRecv{BufSize: 64}); err != nil {
					b.Fatal(err)
				}
			}
		})
		s, _ := ns.Sem.Get(c, nsmodel.SemGet{Key: 9, Nsems: 1, Mode: 0o600, Create: true})
		b.Run("semop/"+name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				op := int16(1)
				if i%2 == 1 {
					op = -1
				}
				if err := s.Op(context.Background(), c, 1, nil, nsmodel.SemOp{Ops: []nsmodel.Sembuf{{Num: 0, Op: op}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
