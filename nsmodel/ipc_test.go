package nsmodel_test

import (
	"sync"
	"testing"

	"github.com/shmfs/shmfs/nsmodel"
)

// TestRmidAgainstListings: IPC_RMID of attached segments (SHM_DEST, the
// key taken, as ipc_set_key_private does), of queues and of sets, while
// other goroutines list, look up and stat the three tables. Under -race
// this fails if any path hands out a live ipc_perm that IPC_RMID writes
// (a listing once read a segment's key after the table's lock was
// dropped).
func TestRmidAgainstListings(t *testing.T) {
	m, _ := newModel(t)
	ns := m.Get(nsmodel.DefaultNamespace)
	const n = 64
	var segs []*nsmodel.Shm
	var queues []*nsmodel.Msg
	var sets []*nsmodel.Sem
	for i := range n {
		key := int32(0x100 + i)
		s, err := ns.Shm.Open(owner(), nsmodel.ShmGet{Key: key, Size: 1, Mode: 0o600, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		q, err := ns.Msg.Get(owner(), nsmodel.MsgGet{Key: key, Mode: 0o600, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		e, err := ns.Sem.Get(owner(), nsmodel.SemGet{Key: key, Nsems: 1, Mode: 0o600, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		segs, queues, sets = append(segs, s), append(queues, q), append(sets, e)
	}
	listed := make(chan struct{}, 3)
	var wg sync.WaitGroup
	list := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
			listed <- struct{}{}
			for range 20 {
				f()
			}
		}()
	}
	list(func() {
		for _, st := range ns.Shm.List() {
			if s, err := ns.Shm.Lookup(nsmodel.Ref{ByID: true, ID: st.ID}); err == nil {
				_ = ns.Shm.Stat(s).Name
			}
		}
		_ = ns.Shm.SysvipcShm()
	})
	list(func() {
		for _, st := range ns.Msg.List() {
			_ = st.Name
		}
		_ = ns.Msg.SysvipcMsg()
	})
	list(func() {
		for _, st := range ns.Sem.Stats() {
			_ = st.Name
		}
		for _, s := range sets {
			_ = ns.Sem.Stat(s).Key
		}
	})
	for range 3 {
		<-listed
	}
	for i := range n {
		wantErr(t, "IPC_RMID of an attached segment", ns.Shm.Remove(owner(), segs[i]), nil)
		wantErr(t, "IPC_RMID of a queue", ns.Msg.Remove(owner(), queues[i]), nil)
		wantErr(t, "IPC_RMID of a set", ns.Sem.Remove(owner(), sets[i]), nil)
	}
	wg.Wait()
	if got := len(ns.Shm.List()); got != 0 {
		t.Errorf("%d segments listed after IPC_RMID", got)
	}
	if got := len(ns.Shm.Stats()); got != n {
		t.Errorf("%d attached segments in sysvipc after IPC_RMID, want %d", got, n)
	}
}
