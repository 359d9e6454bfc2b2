package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shmfs/shmfs/internal/keeper"
)

func statusCmd(args []string) error {
	fl := flag.NewFlagSet("status", flag.ContinueOnError)
	const usage = `usage: shmfs status [--json] MOUNTPOINT

Says how the shmfs mount on MOUNTPOINT is served: the mode (passthrough
or cached), the pids of the server and of its keeper, uptime, how many
times the server was restarted after a crash, the server's memory and
descriptors, and the namespaces and objects by kind. --json prints one
object; its keys are documented in docs/crash.md.

flags:
`
	asJSON := fl.Bool("json", false, "print one JSON object")
	operands, help, err := parseFlags(fl, usage, args)
	if err != nil {
		return fmt.Errorf("status: %v", err)
	}
	if help {
		return nil
	}
	if len(operands) != 1 {
		return errors.New("status: need exactly one MOUNTPOINT (see shmfs status --help)")
	}
	dir, err := filepath.Abs(operands[0])
	if err != nil {
		return fmt.Errorf("status %s: %v", operands[0], err)
	}
	st, err := keeper.Query(dir)
	if err != nil {
		return fmt.Errorf("status %s: %v", dir, err)
	}
	st.Namespaces, st.Objects = countObjects(dir)
	if *asJSON {
		b, _ := json.Marshal(st)
		fmt.Println(string(b))
		return nil
	}
	server := "none (restarting)"
	if st.ServerPID > 0 {
		server = fmt.Sprintf("pid %d, up %s, %d MiB resident, %d descriptors", st.ServerPID,
			(time.Duration(st.ServerUptimeSeconds) * time.Second).String(), st.ServerRSSBytes>>20, st.ServerFDs)
	}
	fmt.Printf("mount:      %s\nmode:       %s\nserver:     %s\nkeeper:     pid %d, up %s, %d memfds held, state record %d bytes\nrestarts:   %d\nnamespaces: %d\nobjects:    %d shm, %d msg, %d sem\n",
		st.Mountpoint, st.Mode, server, st.KeeperPID, (time.Duration(st.UptimeSeconds) * time.Second).String(),
		st.HeldMemfds, st.StateBytes, st.Restarts, st.Namespaces, st.Objects["shm"], st.Objects["msg"], st.Objects["sem"])
	return nil
}

// countObjects counts the namespaces of the mount and the rows of their
// sysvipc tables. A caller that sees part of the mount (isolation)
// counts that part.
func countObjects(dir string) (int, map[string]int) {
	objs := map[string]int{"shm": 0, "msg": 0, "sem": 0}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, objs
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "kernel" {
			continue
		}
		n++
		for kind := range objs {
			f, err := os.Open(filepath.Join(dir, e.Name(), "sysvipc", kind))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for first := true; sc.Scan(); first = false {
				if !first && strings.TrimSpace(sc.Text()) != "" {
					objs[kind]++
				}
			}
			f.Close()
		}
	}
	return n, objs
}
