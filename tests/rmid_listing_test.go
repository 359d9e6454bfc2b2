package tests

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestRmidAgainstListings: IPC_RMID of attached objects (which marks a
// segment SHM_DEST and takes its key, ipc_set_key_private) while other
// processes list the tables and read sysvipc, over and over. With
// `go test -race` the server runs under the race detector, and the mount's
// cleanup fails the test on any race it reports (a listing once read a
// segment's key while IPC_RMID rewrote it).
func TestRmidAgainstListings(t *testing.T) {
	mnt := mountShmfs(t)
	ns := mnt + "/default/"
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, dir := range []string{"shm", "msg", "sem", "sysvipc"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ents, _ := os.ReadDir(ns + dir)
				if dir == "sysvipc" {
					for _, e := range ents {
						os.ReadFile(ns + dir + "/" + e.Name())
					}
				}
			}
		}()
	}
	// Each round makes 30 objects of each kind and holds them open, so
	// that every listing walks objects that IPC_RMID is changing.
	for round := range 2 {
		var files []*os.File
		var names []string
		for i := range 30 {
			for _, kind := range []string{"shm", "msg", "sem"} {
				name := fmt.Sprintf("%s%s/0x%08x", ns, kind, 0x1000*(round+1)+i)
				f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				files, names = append(files, f), append(names, name)
			}
		}
		for _, name := range names {
			if err := os.Remove(name); err != nil {
				t.Error(err)
			}
		}
		for _, f := range files {
			f.Close()
		}
	}
	close(done)
	wg.Wait()
}
