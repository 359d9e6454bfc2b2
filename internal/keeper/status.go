package keeper

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Status is what shmfs status --json prints: the keeper's part, which it
// answers on its socket, and the counts that the command adds from the
// mount itself. The JSON keys are documented in docs/crash.md.
type Status struct {
	Mountpoint string `json:"mountpoint"`
	// Mode is how segment I/O is served: "passthrough" or "cached".
	Mode      string `json:"mode"`
	ServerPID int    `json:"server_pid"`
	KeeperPID int    `json:"keeper_pid"`
	// UptimeSeconds counts from the keeper's start (the mount);
	// ServerUptimeSeconds from the running server's.
	UptimeSeconds       float64 `json:"uptime_seconds"`
	ServerUptimeSeconds float64 `json:"server_uptime_seconds"`
	Restarts            int     `json:"restarts"`
	// HeldMemfds is how many segment memfds the keeper holds;
	// StateBytes the size of the state record.
	HeldMemfds int   `json:"held_memfds"`
	StateBytes int64 `json:"state_bytes"`
	// ServerRSSBytes and ServerFDs are the server's resident memory and
	// open descriptors, from /proc.
	ServerRSSBytes int64 `json:"server_rss_bytes"`
	ServerFDs      int   `json:"server_fds"`
	// Namespaces and Objects are counted through the mount.
	Namespaces int            `json:"namespaces"`
	Objects    map[string]int `json:"objects"`
}

// SocketName is the abstract unix socket on which the keeper of the
// mount on dir answers: "@shmfs-status:" and the mount point, or a hash
// of it where it is too long for a socket address.
func SocketName(dir string) string {
	name := "@shmfs-status:" + dir
	if len(name) > 100 {
		sum := sha256.Sum256([]byte(dir))
		name = "@shmfs-status:sha256:" + hex.EncodeToString(sum[:])
	}
	return name
}

// serveStatus answers each connection to the status socket with one
// line of JSON, and returns what closes it.
func (k *keeper) serveStatus() (func(), error) {
	ln, err := net.Listen("unix", SocketName(k.cfg.Dir))
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			st := k.status()
			c.SetWriteDeadline(time.Now().Add(time.Second))
			json.NewEncoder(c).Encode(st)
			c.Close()
		}
	}()
	return func() { ln.Close() }, nil
}

// status is the keeper's part of Status.
func (k *keeper) status() Status {
	k.mu.Lock()
	st := Status{
		Mountpoint:    k.cfg.Dir,
		Mode:          k.mode,
		ServerPID:     k.server,
		KeeperPID:     os.Getpid(),
		UptimeSeconds: time.Since(k.started).Seconds(),
		Restarts:      k.restarts,
		HeldMemfds:    len(k.held),
	}
	if k.server > 0 {
		st.ServerUptimeSeconds = time.Since(k.served).Seconds()
	}
	if fi, err := k.log.Stat(); err == nil {
		st.StateBytes = fi.Size()
	}
	k.mu.Unlock()
	if st.ServerPID > 0 {
		st.ServerRSSBytes, st.ServerFDs = procUsage(st.ServerPID)
	}
	return st
}

// procUsage reads a process's resident size and descriptor count.
func procUsage(pid int) (rss int64, fds int) {
	p := "/proc/" + strconv.Itoa(pid)
	if f, err := os.Open(p + "/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb * 1024
			}
		}
		f.Close()
	}
	if d, err := os.Open(p + "/fd"); err == nil {
		names, _ := d.Readdirnames(-1)
		fds = len(names)
		d.Close()
	}
	return rss, fds
}

// Query asks the keeper of the mount on dir for its status.
func Query(dir string) (Status, error) {
	var st Status
	c, err := net.DialTimeout("unix", SocketName(dir), 2*time.Second)
	if err != nil {
		return st, fmt.Errorf("no shmfs keeper answers for %s (not mounted by shmfs mount, or an older shmfs)", dir)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return st, fmt.Errorf("reading the keeper's status: %v", err)
	}
	return st, nil
}
