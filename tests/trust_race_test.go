package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestListingAgainstRemoval runs IPC_RMID through ctl against concurrent
// listings of the three tables. Under -race (the server is built with it
// when the tests are) a listing that read an object's key after the
// table's lock was dropped, while IPC_RMID rewrote it, is a DATA RACE in
// the server's stderr, which the harness reports.
func TestListingAgainstRemoval(t *testing.T) {
	mnt := mountShmfs(t)
	d := filepath.Join(mnt, "default")
	create := map[string]string{"shm": " size=4096", "msg": "", "sem": " nsems=1"}
	for round := 0; round < 3; round++ {
		for kind, extra := range create {
			for i := 1; i <= 40; i++ {
				if err := os.WriteFile(filepath.Join(d, kind, "ctl"), []byte(fmt.Sprintf("IPC_CREAT key=%#x%s", i, extra)), 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for kind := range create {
			wg.Add(1)
			go func(dir string) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := os.ReadDir(dir); err != nil {
						t.Error(err)
						return
					}
				}
			}(filepath.Join(d, kind))
		}
		for kind := range create {
			for i := 1; i <= 40; i++ {
				if err := os.WriteFile(filepath.Join(d, kind, "ctl"), []byte(fmt.Sprintf("IPC_RMID %#010x", i)), 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(stop)
		wg.Wait()
	}
}
