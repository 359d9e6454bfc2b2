package tests

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// crashStatusJSON is what shmfs status --json prints (docs/crash.md).
type crashStatusJSON struct {
	Mountpoint    string         `json:"mountpoint"`
	Mode          string         `json:"mode"`
	ServerPID     int            `json:"server_pid"`
	KeeperPID     int            `json:"keeper_pid"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Restarts      int            `json:"restarts"`
	HeldMemfds    int            `json:"held_memfds"`
	StateBytes    int64          `json:"state_bytes"`
	ServerRSS     int64          `json:"server_rss_bytes"`
	ServerFDs     int            `json:"server_fds"`
	Namespaces    int            `json:"namespaces"`
	Objects       map[string]int `json:"objects"`
}

// crashStatus runs shmfs status --json on mnt.
func crashStatus(t testing.TB, mnt string) crashStatusJSON {
	t.Helper()
	out, err := exec.Command(shmfsBin, "status", "--json", mnt).Output()
	if err != nil {
		t.Fatalf("shmfs status --json %s: %v", mnt, err)
	}
	var st crashStatusJSON
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("shmfs status --json: %v: %q", err, out)
	}
	return st
}
