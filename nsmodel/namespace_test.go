package nsmodel_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

func TestValidName(t *testing.T) {
	good := []string{"a", "default", "A-Z_0.9", "x.", strings.Repeat("n", 64), "-", "_x", "0"}
	bad := []string{"", ".", "..", ".hidden", strings.Repeat("n", 65), "a/b", "a b", "é", "a\x00", "ns:1", "a\n"}
	for _, n := range good {
		if !nsmodel.ValidName(n) {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range bad {
		if nsmodel.ValidName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestCreateAndRemove(t *testing.T) {
	m, log := newModel(t)
	if got := m.Names(); !reflect.DeepEqual(got, []string{"default"}) {
		t.Errorf("a new model has %q", got)
	}
	_, err := m.Create(".x")
	wantErr(t, "create of a bad name", err, unix.EINVAL)
	_, err = m.Create("default")
	wantErr(t, "create of default", err, unix.EEXIST)
	b, err := m.Create("b")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Create("a")
	if got := m.Names(); !reflect.DeepEqual(got, []string{"a", "b", "default"}) {
		t.Errorf("names %q", got)
	}
	if m.Get("b") != b || m.Get("nosuch") != nil {
		t.Errorf("Get finds the wrong namespace")
	}
	if a.Serial() == b.Serial() || a.Serial() == m.Get("default").Serial() {
		t.Errorf("namespaces share a serial")
	}

	wantErr(t, "remove of an unknown namespace", m.Remove("nosuch"), unix.ENOENT)
	wantErr(t, "remove of default", m.Remove("default"), unix.EBUSY)

	// A namespace with a segment, even one removed and waiting for its
	// last detach, is not empty.
	s, err := b.Shm.Open(owner(), nsmodel.ShmGet{Key: 1, Size: 1, Mode: 0o600, Create: true, Access: nsmodel.AccessRead})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "remove of a namespace with a segment", m.Remove("b"), unix.ENOTEMPTY)
	b.Shm.Remove(owner(), s)
	wantErr(t, "remove of a namespace with a removed, attached segment", m.Remove("b"), unix.ENOTEMPTY)
	if m.Get("b") != b {
		t.Fatalf("a refused remove removed the namespace")
	}
	// Creating still works in a namespace whose removal was refused.
	if _, err := b.Shm.Get(owner(), nsmodel.ShmGet{Key: 2, Size: 1, Mode: 0o600, Create: true}); err != nil {
		t.Errorf("create after a refused remove: %v", err)
	}
	other, _ := b.Shm.Lookup(nsmodel.Ref{Key: 2})
	b.Shm.Remove(owner(), other)
	b.Shm.Detach(s, 1)
	wantErr(t, "remove of an emptied namespace", m.Remove("b"), nil)
	if m.Get("b") != nil {
		t.Errorf("removed namespace still there")
	}

	// Whoever still holds the removed namespace creates nothing in it:
	// ENOENT, as a create in a removed directory.
	_, err = b.Shm.Get(owner(), nsmodel.ShmGet{Key: 3, Size: 1, Mode: 0o600, Create: true})
	wantErr(t, "shmget in a removed namespace", err, unix.ENOENT)
	_, err = b.Shm.Open(owner(), nsmodel.ShmGet{Key: 3, Create: true, AllowEmpty: true})
	wantErr(t, "open(O_CREAT) in a removed namespace", err, unix.ENOENT)
	if b.Shm.InUse() != 0 || log.open() != 0 {
		t.Errorf("a removed namespace holds %d segments, %d page stores open", b.Shm.InUse(), log.open())
	}

	// The name can be used again, for a fresh namespace.
	b2, err := m.Create("b")
	if err != nil || b2 == b {
		t.Fatalf("recreate: %v", err)
	}
	if s := create(t, b2.Shm, owner(), 3, 1, 0o600); nsmodel.IDOf(s) != 0 {
		t.Errorf("first id of a recreated namespace: %d", nsmodel.IDOf(s))
	}
}

// TestRemoveRacesCreate: a removal and a create racing on the same
// namespace end one of two ways, never with a segment in a removed
// namespace.
func TestRemoveRacesCreate(t *testing.T) {
	m, _ := newModel(t)
	outcomes := map[string]int{}
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("race%d", i)
		ns, err := m.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var createErr, removeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, createErr = ns.Shm.Open(owner(), nsmodel.ShmGet{Key: 1, Create: true, AllowEmpty: true})
		}()
		go func() {
			defer wg.Done()
			removeErr = m.Remove(name)
		}()
		wg.Wait()
		switch {
		case removeErr == nil && createErr == unix.ENOENT && ns.Shm.InUse() == 0 && m.Get(name) == nil:
			outcomes["removed"]++
		case removeErr == unix.ENOTEMPTY && createErr == nil && ns.Shm.InUse() == 1 && m.Get(name) == ns:
			outcomes["created"]++
		default:
			t.Fatalf("round %d: remove %v, create %v, %d segments, namespace listed %v",
				i, errName(removeErr), errName(createErr), ns.Shm.InUse(), m.Get(name) != nil)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
