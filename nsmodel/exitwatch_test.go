package nsmodel

import (
	"os/exec"
	"testing"
	"time"
)

// TestExitWatchLetsGo: once a creator exits, the watch closes its pidfd
// by itself, with shm_rmid_forced clear and nothing looking at the
// table: a server holds no descriptor for a creator that is gone.
func TestExitWatchLetsGo(t *testing.T) {
	child := exec.Command("sleep", "1000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	m := NewModel(func(name string, hugetlb bool) (Pages, error) { return &memPages{}, nil })
	tab := m.Get(DefaultNamespace).Shm
	pid := int32(child.Process.Pid)
	s, err := tab.Get(NewFixedCred(0, 0, pid, nil, ^uint64(0)), ShmGet{Size: 4096, Mode: 0o600, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	watched := func() bool {
		exits.mu.Lock()
		defer exits.mu.Unlock()
		return exits.tasks[pid] != nil
	}
	if !watched() {
		t.Fatalf("the creator %d is not watched", pid)
	}
	child.Process.Kill()
	child.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for watched() {
		if time.Now().After(deadline) {
			t.Fatal("the exited creator's pidfd is still held after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	tab.mu.Lock()
	orphan := s.creator == nil
	tab.mu.Unlock()
	if !orphan {
		t.Error("the segment of the exited creator is not an orphan")
	}
}

// memPages is a page store of nothing, for tests that need a segment
// but never its pages; what it does not define panics.
type memPages struct {
	Pages
	size int64
}

func (p *memPages) Truncate(size int64) error { p.size = size; return nil }
func (p *memPages) Seal() error               { return nil }
func (p *memPages) Stat() (PageUsage, error)  { return PageUsage{Size: p.size}, nil }
func (p *memPages) Close() error              { return nil }
