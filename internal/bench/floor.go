package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Floor is a cost that every FUSE server pays on this machine, measured
// in the same run as the table: what no change to shmfs can remove.
type Floor struct {
	Name string    `json:"name"`
	Us   float64   `json:"us"`
	Runs []float64 `json:"runs"`
}

// placement is where a round trip's client and server run: on one CPU
// the kernel hands the request from one to the other directly; across
// two, each hand-off wakes the other CPU.
type placement struct {
	name           string
	server, client int // CPU, or -1 for anywhere
}

// measureFloors times a FUSE round trip (a statx that forces a GETATTR)
// on a minimal single-threaded C server and
// on shmfs, with client and server on one CPU and on two, and the
// passthrough backing-file registration that go-fuse does per open.
func (b *bench) measureFloors() ([]Floor, error) {
	raw, stop, err := b.startRawFuse()
	if err != nil {
		return nil, err
	}
	defer stop()
	seg := filepath.Join(b.shm, keyName(b.fresh(1)))
	f, err := os.OpenFile(seg, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	defer os.Remove(seg)

	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	places := []placement{{"client and server on one CPU", cpus[0], cpus[0]}}
	if len(cpus) > 1 {
		places = append(places, placement{"on two CPUs", cpus[0], cpus[1]})
	}
	places = append(places, placement{"unpinned", -1, -1})
	shmfsPid := b.servingPid()
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(shmfsPid, &orig); err != nil {
		return nil, err
	}
	defer setAffinity(shmfsPid, &orig)

	n := strconv.Itoa(max(b.cfg.statN*3, 100))
	var floors []Floor
	for _, p := range places {
		fr := Floor{Name: "FUSE round trip, minimal C server, " + p.name}
		fs := Floor{Name: "FUSE round trip, shmfs (go-fuse), " + p.name}
		for r := 0; r < b.cfg.runs; r++ {
			if err := setAffinity(raw.Process.Pid, cpuSet(p.server, &orig)); err != nil {
				return nil, err
			}
			if err := setAffinity(shmfsPid, cpuSet(p.server, &orig)); err != nil {
				return nil, err
			}
			for _, side := range []*Floor{&fr, &fs} {
				path := seg
				if side == &fr {
					path = filepath.Join(b.tmp, "floor", "f")
				}
				res, err := b.run(nil, "rtt", path, n, strconv.Itoa(p.client))
				if err != nil {
					return nil, err
				}
				side.Runs = append(side.Runs, res["ns_per_op"]/1e3)
			}
		}
		fr.Us, fs.Us = median(fr.Runs), median(fs.Runs)
		floors = append(floors, fr, fs)
	}
	setAffinity(shmfsPid, &orig)

	if fd, ok := fuseFdOf(shmfsPid); ok {
		fb := Floor{Name: "passthrough backing file register + unregister (2 ioctls)"}
		for r := 0; r < b.cfg.runs; r++ {
			res, err := b.run(nil, "backing", strconv.Itoa(shmfsPid), strconv.Itoa(fd), n)
			if err != nil {
				return nil, err
			}
			fb.Runs = append(fb.Runs, res["ns_per_op"]/1e3)
		}
		fb.Us = median(fb.Runs)
		floors = append(floors, fb)
	}
	return floors, nil
}

// startRawFuse mounts the client's minimal FUSE server on b.tmp/floor.
func (b *bench) startRawFuse() (*exec.Cmd, func(), error) {
	dir := filepath.Join(b.tmp, "floor")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(b.client, "rawfuse", dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	stop := func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
		cmd.Wait()
		close(done)
	}()
	b.restore = append(b.restore, func() { unix.Unmount(dir, unix.MNT_DETACH) })
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			stop()
			return nil, nil, fmt.Errorf("the minimal FUSE server did not come up: %s", strings.TrimSpace(stderr.String()))
		}
	case <-time.After(10 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("the minimal FUSE server did not come up in 10s")
	}
	return cmd, stop, nil
}

func cpuSet(cpu int, all *unix.CPUSet) *unix.CPUSet {
	if cpu < 0 {
		return all
	}
	var s unix.CPUSet
	s.Set(cpu)
	return &s
}

// setAffinity moves every thread of pid: a Go server has several, and
// the one that reads the next request may be any of them.
func setAffinity(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return err
			}
		}
	}
	return nil
}

func onlineCPUs() ([]int, error) {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return nil, err
	}
	var cpus []int
	for i := 0; i < 1024 && len(cpus) < s.Count(); i++ {
		if s.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}

// fuseFdOf finds the descriptor on which pid serves /dev/fuse.
func fuseFdOf(pid int) (int, bool) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		if t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && t == "/dev/fuse" {
			fd, err := strconv.Atoi(e.Name())
			return fd, err == nil
		}
	}
	return 0, false
}
