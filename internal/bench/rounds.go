package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// roundsRow is the FUSE requests one timed section of the client made,
// per iteration (per pass, call, cycle, segment or entry).
type roundsRow struct {
	Section  string             `json:"section"`
	Per      string             `json:"per"`
	Total    float64            `json:"requests"`
	Requests map[string]float64 `json:"by_opcode"`
	// Backing counts new passthrough registrations (a backing id the
	// server had not handed out before): an ioctl each, and another to
	// unregister.
	Backing float64 `json:"backing_registrations"`
}

var sectionInfo = map[string][2]string{
	"write":   {"mmap write pass", "pass"},
	"read":    {"mmap read pass", "pass"},
	"touch":   {"first touch", "page"},
	"pwrite":  {"pwrite 1 MiB", "call"},
	"pread":   {"pread 1 MiB", "call"},
	"attach":  {"attach cycle", "cycle"},
	"create":  {"create+size 4 KiB+close", "segment"},
	"unlink":  {"unlink", "segment"},
	"stat":    {"stat", "call"},
	"fstat":   {"fstat", "call"},
	"ls":      {"ls -l", "entry"},
	"msgrtt":  {"msg round trip", "round trip"},
	"msgtput": {"msg one-way", "message"},
	"sempair": {"sem lock+unlock", "pair"},
	"sempp":   {"sem ping-pong", "round trip"},
	"kwrite":  {"kernel/self mmap write pass", "pass"},
	"kread":   {"kernel/self mmap read pass", "pass"},
	"kattach": {"kernel/self attach cycle", "cycle"},
}

// countRounds runs the shmfs side of every wanted group once, with few
// iterations, against a server started with --debug, and counts the
// requests its log shows between the client's section markers.
func (b *bench) countRounds() ([]roundsRow, error) {
	env := []string{"SHMFS_BENCH_MARK=" + b.mnt}
	iters := map[string]float64{}
	note := func(res map[string]float64) {
		for k, v := range res {
			if s, ok := strings.CutPrefix(k, "iters_"); ok {
				iters[s] += v
			}
		}
	}
	for _, g := range b.wanted() {
		res, err := g.sides[0].run(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", g.name, err)
		}
		note(res)
	}
	if b.cfg.want("scale") {
		n := b.cfg.scale[0]
		base := strconv.Itoa(int(b.fresh(n)))
		if _, err := b.run(nil, "create", b.shm, base, strconv.Itoa(n), "keep"); err != nil {
			return nil, err
		}
		res, err := b.run(env, "ls", b.shm)
		if err != nil {
			return nil, err
		}
		note(res)
		b.run(nil, "remove", b.shm, base, strconv.Itoa(n))
	}
	// Releases are sent in the background; let the last ones land.
	time.Sleep(200 * time.Millisecond)
	log, err := os.ReadFile(b.log)
	if err != nil {
		return nil, err
	}
	counts, backing := parseRounds(string(log))
	var rows []roundsRow
	for _, s := range []string{"write", "read", "touch", "pwrite", "pread", "attach", "create", "unlink", "stat", "fstat", "msgrtt", "msgtput", "sempair", "sempp", "kwrite", "kread", "kattach", "ls"} {
		n := iters[s]
		if n == 0 {
			continue
		}
		r := roundsRow{Section: sectionInfo[s][0], Per: sectionInfo[s][1], Requests: map[string]float64{}, Backing: backing[s] / n}
		for op, c := range counts[s] {
			r.Requests[op] = c / n
			r.Total += c / n
		}
		rows = append(rows, r)
	}
	return rows, nil
}

var (
	rxLine   = regexp.MustCompile(`rx (\d+)(?: \d+/\d+)?: ([A-Z_0-9]+) (.*)`)
	txLine   = regexp.MustCompile(`tx (\d+): (.*)`)
	markLine = regexp.MustCompile(`"\.bench-mark-(begin|end)-(\w+)"`)
	backID   = regexp.MustCompile(`backing=(\d+)`)
)

// parseRounds counts, per section, the requests received between its
// markers, and the backing ids first seen in replies to them.
func parseRounds(log string) (counts map[string]map[string]float64, backing map[string]float64) {
	counts, backing = map[string]map[string]float64{}, map[string]float64{}
	section := map[string]string{} // request unique → section
	seen := map[string]bool{}      // backing ids handed out so far
	cur := ""
	for _, line := range strings.Split(log, "\n") {
		if m := rxLine.FindStringSubmatch(line); m != nil {
			if mk := markLine.FindStringSubmatch(m[3]); mk != nil && m[2] == "LOOKUP" {
				cur = ""
				if mk[1] == "begin" {
					cur = mk[2]
				}
				continue
			}
			if cur == "" {
				continue
			}
			if counts[cur] == nil {
				counts[cur] = map[string]float64{}
			}
			counts[cur][m[2]]++
			section[m[1]] = cur
			continue
		}
		if m := txLine.FindStringSubmatch(line); m != nil {
			id := backID.FindStringSubmatch(m[2])
			if id == nil || seen[id[1]] {
				continue
			}
			seen[id[1]] = true
			if s := section[m[1]]; s != "" {
				backing[s]++
			}
		}
	}
	return counts, backing
}

func (b *bench) printRounds(rows []roundsRow) error {
	if b.cfg.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	fmt.Printf("FUSE requests per operation (server --debug log; segment I/O %s)\n\n", b.mode)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tper\trequests\tby opcode\tbacking registrations\t")
	for _, r := range rows {
		var ops []string
		for op := range r.Requests {
			ops = append(ops, op)
		}
		slices.Sort(ops)
		var parts []string
		for _, op := range ops {
			parts = append(parts, fmt.Sprintf("%s %s", op, num(r.Requests[op])))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Section, r.Per, num(r.Total), strings.Join(parts, ", "), num(r.Backing))
	}
	return tw.Flush()
}
