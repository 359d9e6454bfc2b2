package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// TestTreeLayout: a new mount has MOUNT/default with the three id tables,
// shm/ctl, sysvipc/ with the kernel's headers byte for byte, and limits/.
func TestTreeLayout(t *testing.T) {
	mnt := mountShmfs(t)
	ls := func(dir string) string {
		return strings.Join(strings.Fields(shOK(t, "ls -A "+filepath.Join(mnt, dir))), " ")
	}
	for dir, want := range map[string]string{
		"":                "default kernel self",
		"default":         "ctl limits msg sem shm sysvipc",
		"default/shm":     "ctl info",
		"default/msg":     "ctl info",
		"default/sem":     "ctl info",
		"default/sysvipc": "msg sem shm",
		"default/limits":  "auto_msgmni msg_next_id msgmax msgmnb msgmni sem sem_next_id shm_next_id shm_rmid_forced shmall shmmax shmmni",
	} {
		if got := ls(dir); got != want {
			t.Errorf("ls %s: %q, want %q", dir, got, want)
		}
	}
	for _, dir := range []string{"default", "default/shm", "default/msg", "default/sem", "default/sysvipc", "default/limits"} {
		fi, err := os.Stat(filepath.Join(mnt, dir))
		if err != nil || !fi.IsDir() {
			t.Errorf("%s: %v, %v", dir, fi, err)
		}
	}
	// The tables are byte-compatible with the kernel's own: an empty one
	// is its header line.
	for _, kind := range []string{"shm", "msg", "sem"} {
		kernel, err := os.ReadFile("/proc/sysvipc/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		header := string(kernel[:strings.IndexByte(string(kernel), '\n')+1])
		got, err := os.ReadFile(filepath.Join(mnt, "default/sysvipc", kind))
		if err != nil || string(got) != header {
			t.Errorf("sysvipc/%s of an empty namespace: %q (%v), want the kernel's header %q", kind, got, err, header)
		}
	}
	// Read-only tables, an undeletable ctl.
	d := startDriver(t, "c", -1, -1)
	d.fails("EACCES", "open %s/default/sysvipc/shm w", mnt)
	d.fails("EPERM", "unlink %s/default/shm/ctl", mnt)
}

// TestTreeNamespaces: mkdir makes a namespace, rmdir removes an empty one,
// with the errnos of the rules: a bad name EINVAL, a taken one EEXIST, a
// non-empty one ENOTEMPTY, the default one EBUSY, and only root may do
// either (EPERM).
func TestTreeNamespaces(t *testing.T) {
	mnt := mountShmfs(t)
	root := startDriver(t, "c", -1, -1)
	nobody := startDriver(t, "c", 65534, 65534)
	long := strings.Repeat("n", 64)
	for _, name := range []string{"a", "A-b_c.9", "tenant-1", long, "x.."} {
		root.ok("mkdir %s/%s", mnt, name)
		if fi, err := os.Stat(filepath.Join(mnt, name, "shm/ctl")); err != nil || fi.IsDir() {
			t.Errorf("namespace %s has no shm/ctl: %v", name, err)
		}
	}
	for _, name := range []string{".hidden", ".", long + "n", "sp ace", "tab\there", "ümlaut", "a:b", "a+b", "new\nline"} {
		err := os.Mkdir(filepath.Join(mnt, name), 0o755)
		if name == "." {
			// The VFS answers for "." itself.
			if !errors.Is(err, syscall.EEXIST) {
				t.Errorf("mkdir .: %v", err)
			}
			continue
		}
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("mkdir %q: %v, want EINVAL", name, err)
		}
	}
	root.fails("EEXIST", "mkdir %s/a", mnt)
	root.fails("EEXIST", "mkdir %s/default", mnt)
	nobody.fails("EPERM", "mkdir %s/mine", mnt)

	got, _ := os.ReadDir(mnt)
	var names []string
	for _, e := range got {
		names = append(names, e.Name())
	}
	want := []string{"A-b_c.9", "a", "default", kernelName, long, "self", "tenant-1", "x.."}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("namespaces %q, want %q", names, want)
	}

	// Namespaces are separate: a key in one is not in another.
	shOK(t, "echo x > "+mnt+"/tenant-1/shm/0x00000007")
	root.fails("ENOENT", "open %s/default/shm/0x00000007 r", mnt)
	if rows := shmTable(t, mnt+"/default/sysvipc/shm"); len(rows) != 0 {
		t.Errorf("default lists tenant-1's segment: %+v", rows)
	}

	root.fails("ENOTEMPTY", "rmdir %s/tenant-1", mnt)
	nobody.fails("EPERM", "rmdir %s/a", mnt)
	root.fails("EBUSY", "rmdir %s/default", mnt)
	root.fails("ENOENT", "rmdir %s/nosuch", mnt)
	root.ok("unlink %s/tenant-1/shm/0x00000007", mnt)
	root.ok("rmdir %s/tenant-1", mnt)
	root.ok("rmdir %s/a", mnt)
	if _, err := os.Stat(mnt + "/tenant-1"); !os.IsNotExist(err) {
		t.Errorf("tenant-1 after rmdir: %v", err)
	}
	// A namespace made again under an old name starts empty.
	root.ok("mkdir %s/tenant-1", mnt)
	if out := shOK(t, "ls "+mnt+"/tenant-1/shm"); out != "ctl\ninfo\n" {
		t.Errorf("a remade namespace is not empty: %q", out)
	}
}

// TestTreeLimits: limits/ reads as /proc/sys/kernel does, with the
// kernel's defaults; everyone may read, only root may write (EACCES for
// others, as ipc_permissions gives); a bad value is EINVAL and changes
// nothing.
func TestTreeLimits(t *testing.T) {
	mnt := mountShmfs(t)
	lim := mnt + "/default/limits/"
	defaults := map[string]string{
		"shmmax": "18446744073692774399",
		"shmall": "18446744073692774399",
		"shmmni": "4096",
		"msgmax": "8192",
		"msgmnb": "16384",
		"msgmni": "32000",
		"sem":    "32000\t1024000000\t500\t32000",
	}
	nobody := startDriver(t, "c", 65534, 65534)
	for name, want := range defaults {
		if got := nobody.ok("cat %s%s", lim, name); got != want+"|" {
			t.Errorf("limits/%s as nobody: %q, want %q", name, got, want+"\n")
		}
		nobody.fails("EACCES", "write %s%s 1", lim, name)
		nobody.fails("EACCES", "open %s%s w", lim, name)
	}

	root := startDriver(t, "c", -1, -1)
	for name, v := range map[string]string{"shmmax": "1048576", "shmall": "100", "shmmni": "10", "msgmax": "100", "sem": "250 32000 32 128"} {
		shOK(t, "echo "+v+" > "+lim+name)
		want := v
		if name == "sem" {
			want = strings.ReplaceAll(v, " ", "\t")
		}
		if got, _ := os.ReadFile(lim + name); string(got) != want+"\n" {
			t.Errorf("limits/%s after writing %s: %q", name, v, got)
		}
	}
	// Each namespace has its own limits.
	root.ok("mkdir %s/other", mnt)
	if got, _ := os.ReadFile(mnt + "/other/limits/shmmni"); string(got) != "4096\n" {
		t.Errorf("a new namespace's shmmni: %q", got)
	}
}

// TestTreeLimitsParseAsKernel: each write to a limit, good or bad, has
// the outcome the kernel gives the same write(2) to /proc/sys/kernel in
// a fresh IPC namespace: the same errno, or success and the same value
// read back afterwards. Two differences are chosen: a write the kernel
// refuses changes nothing here (the kernel keeps the sem values it read
// before a bad semmni), and a write is taken whole where the kernel
// takes only the bytes up to the values it read and ignores the retry.
func TestTreeLimitsParseAsKernel(t *testing.T) {
	mnt := mountShmfs(t)
	root := startDriver(t, "c", -1, -1)
	for i, c := range []struct{ name, text string }{
		{"shmmax", "abc"}, {"shmmax", "-1"}, {"shmmax", "1 2"}, {"shmmax", "18446744073709551616"},
		{"shmmax", "18446744073709551615"}, {"shmmax", "0x10"}, {"shmmax", " 7"}, {"shmmax", "7x"},
		{"shmmax", "7\\n"}, {"shmmax", ""}, {"shmall", "010"}, {"shmall", "0"},
		{"shmmni", "32768"}, {"shmmni", "32769"}, {"shmmni", "-5"}, {"shmmni", "12 13"},
		{"msgmni", "99999999999"}, {"msgmax", "-1"}, {"msgmnb", "2147483648"}, {"msgmnb", "2147483647"},
		{"sem", "1 2 3"}, {"sem", "1 2 3 32769"}, {"sem", "a b c d"}, {"sem", "1 2 3 4 5"},
		{"sem", "250\\t32000\\t32\\t128"}, {"sem", "-1 2 3 4"},
	} {
		kernel := startDriver(t, "c-ipcns", -1, -1)
		kw := kernel.do("write /proc/sys/kernel/%s %s", c.name, c.text)
		kr := kernel.do("cat /proc/sys/kernel/%s", c.name)
		kernel.stop()

		ns := fmt.Sprintf("%s/case%d", mnt, i)
		root.ok("mkdir %s", ns)
		before := root.do("cat %s/limits/%s", ns, c.name)
		sw := root.do("write %s/limits/%s %s", ns, c.name, c.text)
		sr := root.do("cat %s/limits/%s", ns, c.name)
		if strings.HasPrefix(kw, "err ") {
			kr = before
		} else if strings.HasPrefix(sw, "ok ") {
			kw = sw
		}
		if sw != kw || sr != kr {
			t.Errorf("write %q to %s: shmfs %q then %q, want %q then %q", c.text, c.name, sw, sr, kw, kr)
		}
	}
}

// TestTreeLimitsEnforced: a lowered shmmax, shmall or shmmni is enforced
// with the kernel's errnos, on open(O_CREAT), ftruncate and IPC_CREAT.
func TestTreeLimitsEnforced(t *testing.T) {
	mnt := mountShmfs(t)
	d := startDriver(t, "c", -1, -1)
	d.ok("mkdir %s/lim", mnt)
	ns := mnt + "/lim/"
	d.ok("write %slimits/shmmax 8192", ns)

	// shmmax: a size over it is EINVAL.
	fd := d.ok("open %sshm/0x00000001 rwc 0600", ns)
	d.ok("ftruncate %s 8192", fd)
	d.fails("EINVAL", "ftruncate %s 8193", fd)
	d.fails("EINVAL", "truncate %sshm/0x00000001 8193", ns)
	d.fails("EINVAL", "ctl %sshm/ctl IPC_CREAT key=0x2 size=8193 mode=0600", ns)
	d.ok("close %s", fd)

	// shmall: 4 pages in the whole namespace; 0x1 takes 2.
	d.ok("write %slimits/shmall 4", ns)
	d.ok("ctl %sshm/ctl IPC_CREAT key=0x2 size=8192 mode=0600", ns)
	d.fails("ENOSPC", "ctl %sshm/ctl IPC_CREAT key=0x3 size=1 mode=0600", ns)
	d.ok("truncate %sshm/0x00000001 4096", ns)
	d.ok("ctl %sshm/ctl IPC_CREAT key=0x3 size=4096 mode=0600", ns)
	d.fails("ENOSPC", "truncate %sshm/0x00000003 4097", ns)

	// shmmni: three segments at most.
	d.ok("write %slimits/shmall 100", ns)
	d.ok("write %slimits/shmmni 3", ns)
	d.fails("ENOSPC", "open %sshm/0x00000004 rwc 0600", ns)
	d.fails("ENOSPC", "ctl %sshm/ctl IPC_CREAT key=IPC_PRIVATE size=1 mode=0600", ns)
	rows := shmTable(t, ns+"sysvipc/shm")
	if len(rows) != 3 {
		t.Fatalf("%d segments, want 3: %+v", len(rows), rows)
	}
	var pages uint64
	for _, r := range rows {
		if r.Size > 8192 {
			t.Errorf("segment over shmmax: %+v", r)
		}
		pages += (r.Size + 4095) / 4096
	}
	if pages != 4 {
		t.Errorf("%d pages in the namespace, want the 4 that shmall allowed", pages)
	}
	// Raising the limit lets the refused request through.
	d.ok("write %slimits/shmmni 4", ns)
	d.ok("open %sshm/0x00000004 rwc 0600", ns)
}
