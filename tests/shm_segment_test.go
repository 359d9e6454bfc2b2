package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inBothModes runs f on a passthrough mount and on a --no-passthrough
// one.
func inBothModes(t *testing.T, f func(t *testing.T, mnt string, passthrough bool)) {
	t.Run("passthrough", func(t *testing.T) { f(t, mountShmfs(t), true) })
	t.Run("cached", func(t *testing.T) { f(t, mountShmfs(t, "--no-passthrough"), false) })
}

// atoi parses a driver's numeric reply.
func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// TestShmCreate: open(O_CREAT) is shmget(IPC_CREAT): the mode is the
// open's after umask, the owner and creator the caller, cpid its pid;
// O_EXCL on an existing key is EEXIST; a name that is not a key is
// EINVAL.
func TestShmCreate(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	shOK(t, "umask 027; echo hi > "+shm+"0x00000001")
	if _, err := shAs(t, 65534, 65534, "umask 002; : > "+shm+"0x00000002"); err != nil {
		t.Fatal(err)
	}
	d := startDriver(t, "c", -1, -1)
	d.ok("open %s0x00000003 rwc 0604", shm)
	d.fails("EEXIST", "open %s0x00000003 rwcx 0600", shm)
	d.fails("EEXIST", "open %s0x00000001 rcx 0600", shm)
	// O_CREAT without O_EXCL opens what is there, mode unchanged.
	d.ok("open %s0x00000001 rc 0666", shm)
	d.fails("ENOENT", "open %s0x00000009 rw", shm)
	for _, bad := range []string{"foo", "0x1", "0X00000001", "0x0000000g", "0x000000001", "private.0", "0x00000000", "1", "ctl2"} {
		d.fails("EINVAL", "open %s%s rwc 0600", shm, bad)
	}

	rows := shmTable(t, mnt+"/default/sysvipc/shm")
	for _, c := range []struct {
		key       int32
		perms     uint32
		uid, cpid int
	}{{1, 0o640, 0, -1}, {2, 0o664, 65534, -1}, {3, 0o604, 0, atoi(t, d.pid)}} {
		r := shmByKey(rows, c.key)
		if r == nil {
			t.Fatalf("key %d not in sysvipc/shm: %+v", c.key, rows)
		}
		if r.Perms != c.perms || r.UID != c.uid || r.CUID != c.uid || r.GID != c.uid || r.CGID != c.uid {
			t.Errorf("key %d: %+v, want perms %o and uid/gid/cuid/cgid %d", c.key, *r, c.perms, c.uid)
		}
		if c.cpid > 0 && (r.CPID != c.cpid || r.LPID != c.cpid) {
			t.Errorf("key %d: cpid %d lpid %d, want %d", c.key, r.CPID, r.LPID, c.cpid)
		}
		fi, err := os.Stat(fmt.Sprintf("%s0x%08x", shm, c.key))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != os.FileMode(c.perms) || int(st.Uid) != c.uid || int(st.Gid) != c.uid || st.Nlink != 1 {
			t.Errorf("stat of key %d: mode %v uid %d gid %d nlink %d", c.key, fi.Mode(), st.Uid, st.Gid, st.Nlink)
		}
	}
	if out := shOK(t, "ls "+shm); strings.Join(strings.Fields(out), " ") != "0x00000001 0x00000002 0x00000003 ctl info" {
		t.Errorf("ls shm: %q", out)
	}
}

// TestShmSizeReadWrite: ftruncate and truncate set shm_segsz; read and
// write reach the pages, from C, sh and Python; stat and sysvipc/shm agree
// on the size.
func TestShmSizeReadWrite(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		seg := mnt + "/default/shm/0x00000010"
		d := startDriver(t, "c", -1, -1)
		fd := d.ok("open %s rwc 0644", seg)
		d.ok("ftruncate %s 10000", fd)
		d.ok("pwrite %s 5000 hello", fd)
		if got := d.ok("pread %s 4998 9", fd); got != "..hello.." {
			t.Errorf("pread: %q", got)
		}
		if got := d.ok("pread %s 9998 10", fd); got != ".." {
			t.Errorf("pread at the end: %q", got)
		}
		fi, err := os.Stat(seg)
		if err != nil || fi.Size() != 10000 {
			t.Fatalf("stat: %v %v", fi, err)
		}
		if r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x10); r == nil || r.Size != 10000 {
			t.Errorf("sysvipc/shm: %+v", r)
		}
		if out := shOK(t, "dd if="+seg+" bs=1 skip=5000 count=5 status=none"); out != "hello" {
			t.Errorf("dd: %q", out)
		}
		py := `import sys; f = open(sys.argv[1], "r+b"); f.seek(7000); f.write(b"from-python"); f.close(); print(open(sys.argv[1], "rb").read()[5000:5005].decode())`
		if out, err := runCmd(t, nil, pythonBin(), "-c", py, seg); err != nil || out != "hello\n" {
			t.Errorf("python: %q %v", out, err)
		}
		if got := d.ok("pread %s 7000 11", fd); got != "from-python" {
			t.Errorf("python's write read from C: %q", got)
		}
		d.ok("truncate %s 6000", seg)
		if fi, _ := os.Stat(seg); fi.Size() != 6000 {
			t.Errorf("size after truncate: %d", fi.Size())
		}
		if got := d.ok("pread %s 5000 20", fd); got != "hello"+strings.Repeat(".", 15) {
			t.Errorf("after shrinking: %q", got)
		}
		d.ok("truncate %s 8000", seg)
		if got := d.ok("pread %s 7000 11", fd); got != strings.Repeat(".", 11) {
			t.Errorf("a shrunk then grown segment kept old bytes: %q", got)
		}
		// Pages are allocated as they are written: rss counts them.
		if r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x10); r == nil || r.RSS != 4096 {
			t.Errorf("rss after writing into the second page only: %+v", r)
		}
		d.ok("pwrite %s 0 first-page", fd)
		if r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x10); r == nil || r.RSS != 2*4096 {
			t.Errorf("rss after writing into both pages: %+v", r)
		}
	})
}

// TestShmSharedMapping: C, Python and Go processes map one segment with
// MAP_SHARED at the same time and each sees the others' stores at once,
// with no msync; a fresh open reads them too.
func TestShmSharedMapping(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		seg := mnt + "/default/shm/0x0000beef"
		shOK(t, "truncate -s 65536 "+seg)
		c := startDriver(t, "c", -1, -1)
		py := startDriver(t, "python", -1, -1)
		gp := startDriver(t, "go", -1, -1)
		cm := c.ok("map %s 65536", seg)
		pm := py.ok("map %s 65536", seg)
		gm := gp.ok("map %s 65536", seg)

		c.ok("poke %s 0 from-c", cm)
		if got := py.ok("peek %s 0 6", pm); got != "from-c" {
			t.Errorf("python sees %q at 0", got)
		}
		py.ok("poke %s 40000 from-python", pm)
		if got := gp.ok("peek %s 40000 11", gm); got != "from-python" {
			t.Errorf("go sees %q at 40000", got)
		}
		gp.ok("poke %s 65530 go!", gm)
		if got := c.ok("peek %s 65530 3", cm); got != "go!" {
			t.Errorf("C sees %q at 65530", got)
		}
		if got := gp.ok("peek %s 0 6", gm); got != "from-c" {
			t.Errorf("go sees %q at 0", got)
		}
		// A store overwritten by another process.
		py.ok("poke %s 0 PY", pm)
		if got := c.ok("peek %s 0 6", cm); got != "PYom-c" {
			t.Errorf("C sees %q after python's overwrite", got)
		}
		r := startDriver(t, "c", -1, -1)
		fd := r.ok("open %s r", seg)
		for off, want := range map[int]string{0: "PYom-c", 40000: "from-python", 65530: "go!"} {
			if got := r.ok("pread %s %d %d", fd, off, len(want)); got != want {
				t.Errorf("pread at %d: %q, want %q", off, got, want)
			}
		}
		if r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0xbeef); r == nil || r.Nattch < 3 {
			t.Errorf("three mappings and an open: %+v", r)
		}
	})
}

// TestShmPassthroughIsMemfd: under passthrough a mapping is the memfd's
// pages: the server's memfd holds a store made through a mapping, rss
// (which the server takes from the memfd) grows page by page as a
// mapping touches them, and the mapping shows under the mount in
// /proc/PID/maps.
func TestShmPassthroughIsMemfd(t *testing.T) {
	mnt := mountShmfs(t)
	seg := mnt + "/default/shm/0x0000f00d"
	shOK(t, "truncate -s 65536 "+seg)
	rss := func() uint64 {
		r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0xf00d)
		if r == nil {
			t.Fatal("segment gone")
		}
		return r.RSS
	}
	if got := rss(); got != 0 {
		t.Fatalf("rss of an untouched segment: %d", got)
	}
	c := startDriver(t, "c", -1, -1)
	m := c.ok("map %s 65536", seg)
	c.ok("touch %s 3", m)
	if got := rss(); got != 3*4096 {
		t.Errorf("rss after touching 3 pages: %d", got)
	}
	c.ok("touch %s 16", m)
	if got := rss(); got != 16*4096 {
		t.Errorf("rss after touching 16 pages: %d", got)
	}
	c.ok("poke %s 12345 seen-by-server", m)

	// The server's own descriptor of the memfd, through /proc.
	server := serverPid(t, mnt)
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(server) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range fds {
		p := "/proc/" + strconv.Itoa(server) + "/fd/" + fd.Name()
		if l, _ := os.Readlink(p); strings.Contains(l, "memfd:") && strings.Contains(l, "0000f00d") {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(data[12345:12345+14]) != "seen-by-server" {
				t.Errorf("server's memfd at 12345: %q", data[12345:12345+14])
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no memfd of the segment among the server's descriptors")
	}
	maps, _ := os.ReadFile("/proc/" + c.pid + "/maps")
	if !strings.Contains(string(maps), seg) {
		t.Errorf("the mapping does not show the segment's path:\n%s", maps)
	}
}

// TestShmNattch: nattch counts attaches: each open is one until its last
// close, and a mapping keeps its attach after the close until munmap;
// lpid and the times move with them.
func TestShmNattch(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		seg := mnt + "/default/shm/0x00000a77"
		table := mnt + "/default/sysvipc/shm"
		shOK(t, "truncate -s 8192 "+seg)
		row := func() shmRow {
			r := shmByKey(shmTable(t, table), 0xa77)
			if r == nil {
				t.Fatal("segment gone")
			}
			return *r
		}
		waitNattch := func(n int) shmRow {
			t.Helper()
			var r shmRow
			waitFor(t, "nattch "+strconv.Itoa(n), func() bool { r = row(); return r.Nattch == n })
			return r
		}
		waitNattch(0)
		before := time.Now().Unix()
		a := startDriver(t, "c", -1, -1)
		b := startDriver(t, "python", -1, -1)
		fa := a.ok("open %s rw", seg)
		r := row()
		if r.Nattch != 1 || r.LPID != atoi(t, a.pid) || r.Atime < before {
			t.Errorf("after one open: %+v (pid %s)", r, a.pid)
		}
		fa2 := a.ok("open %s r", seg)
		if r := row(); r.Nattch != 2 {
			t.Errorf("after two opens: %+v", r)
		}
		ma := a.ok("mmap %s 8192", fa)
		a.ok("close %s", fa)
		a.ok("close %s", fa2)
		// The mapped handle stays attached; the other goes.
		waitNattch(1)
		mb := b.ok("map %s 8192", seg)
		if r := row(); r.Nattch != 2 || r.LPID != atoi(t, b.pid) {
			t.Errorf("python mapped too: %+v (pid %s)", r, b.pid)
		}
		a.ok("poke %s 100 still-attached", ma)
		if got := b.ok("peek %s 100 14", mb); got != "still-attached" {
			t.Errorf("python peeks %q", got)
		}
		a.ok("munmap %s", ma)
		r = waitNattch(1)
		if r.Dtime < before {
			t.Errorf("dtime not set by the detach: %+v", r)
		}
		b.ok("unmap %s", mb)
		r = waitNattch(0)
		if r.LPID != atoi(t, b.pid) {
			t.Errorf("lpid after python's munmap: %d, want %s", r.LPID, b.pid)
		}
		// A process that dies with a mapping detaches.
		a.ok("map %s 4096", seg)
		waitNattch(1)
		a.stop()
		waitNattch(0)
	})
}

// TestShmStatTimes: stat shows shm_atim as atime and shm_ctim as ctime,
// the size, and blocks as the resident pages; chmod sets ctime.
func TestShmStatTimes(t *testing.T) {
	mnt := mountShmfs(t)
	seg := mnt + "/default/shm/0x00000717"
	before := time.Now().Unix()
	d := startDriver(t, "c", -1, -1)
	d.ok("ctl %s/default/shm/ctl IPC_CREAT key=0x717 size=20000 mode=0640", mnt)
	r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x717)
	if r == nil || r.CPID != atoi(t, d.pid) || r.LPID != 0 || r.Atime != 0 || r.Dtime != 0 || r.Ctime < before || r.Nattch != 0 {
		t.Fatalf("a segment made by IPC_CREAT: %+v (pid %s)", r, d.pid)
	}
	fd := d.ok("open %s rw", seg)
	d.ok("pwrite %s 0 x", fd)
	r = shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x717)
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Atim.Sec != r.Atime || st.Ctim.Sec != r.Ctime || r.Atime < before {
		t.Errorf("stat atime %d ctime %d, sysvipc %+v", st.Atim.Sec, st.Ctim.Sec, r)
	}
	if fi.Size() != 20000 || st.Blocks != 8 || fi.Mode() != 0o640 {
		t.Errorf("stat: size %d blocks %d mode %v", fi.Size(), st.Blocks, fi.Mode())
	}
	d.ok("chmod %s 0600", seg)
	r2 := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x717)
	if r2.Ctime < r.Ctime || r2.Perms != 0o600 {
		t.Errorf("after chmod: %+v", r2)
	}
}

// TestShmUnlinkDeferred: unlink is IPC_RMID: the name goes at once, the
// segment stays in sysvipc/shm with key 0 and SHM_DEST (01000) while a
// mapping holds it, its data readable and writable through the mapping,
// the key free for a new segment with a new id; the last munmap
// destroys it.
func TestShmUnlinkDeferred(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		shm := mnt + "/default/shm/"
		table := mnt + "/default/sysvipc/shm"
		seg := shm + "0x0000dead"
		c := startDriver(t, "c", -1, -1)
		fd := c.ok("open %s rwc 0640", seg)
		c.ok("ftruncate %s 8192", fd)
		m := c.ok("mmap %s 8192", fd)
		c.ok("close %s", fd)
		c.ok("poke %s 10 keep-me", m)
		old := shmByKey(shmTable(t, table), 0xdead)
		if old == nil {
			t.Fatal("no segment")
		}

		shOK(t, "rm "+seg)
		if _, err := os.Stat(seg); !os.IsNotExist(err) {
			t.Errorf("stat after rm: %v", err)
		}
		if out := shOK(t, "ls "+shm); out != "ctl\ninfo\n" {
			t.Errorf("ls after rm: %q", out)
		}
		c.fails("ENOENT", "open %s rw", seg)
		c.fails("ENOENT", "unlink %s", seg)
		rows := shmTable(t, table)
		r := shmByID(rows, old.ID)
		if r == nil || r.Key != 0 || r.Perms != 0o1640 || r.Nattch != 1 || r.Size != 8192 {
			t.Fatalf("removed, still mapped: %+v, want key 0, perms 1640, nattch 1", r)
		}
		if got := c.ok("peek %s 10 7", m); got != "keep-me" {
			t.Errorf("mapping after rm reads %q", got)
		}
		// The key is free: a new segment, a new id, both listed.
		shOK(t, "echo new > "+seg)
		rows = shmTable(t, table)
		n := shmByKey(rows, 0xdead)
		if n == nil || n.ID == old.ID || shmByID(rows, old.ID) == nil {
			t.Fatalf("after re-creating the key: %+v", rows)
		}
		if got, _ := os.ReadFile(seg); string(got) != "new\n" {
			t.Errorf("the new segment holds %q", got)
		}
		c.ok("poke %s 10 changed", m)
		if got, _ := os.ReadFile(seg); string(got) != "new\n" {
			t.Errorf("a store to the removed segment reached the new one: %q", got)
		}
		c.ok("munmap %s", m)
		waitFor(t, "the removed segment to be destroyed", func() bool {
			return shmByID(shmTable(t, table), old.ID) == nil
		})
		// A removed segment whose handles are all released is gone (a
		// release may still be on its way when rm runs).
		shOK(t, "rm "+seg)
		waitFor(t, "an unheld removed segment to go", func() bool { return len(shmTable(t, table)) == 0 })
	})
}

// TestShmChmodChown: chmod and chown are IPC_SET: owner, creator or root
// may; only the nine permission bits are taken; the owner may give the
// segment away; others get EPERM.
func TestShmChmodChown(t *testing.T) {
	mnt := mountShmfs(t)
	seg := mnt + "/default/shm/0x0000c0de"
	table := mnt + "/default/sysvipc/shm"
	root := startDriver(t, "c", -1, -1)
	nobody := startDriver(t, "c", 65534, 65534)
	root.ok("open %s rwc 0600", seg)
	root.ok("chmod %s 04751", seg)
	r := shmByKey(shmTable(t, table), 0xc0de)
	if r.Perms != 0o751 {
		t.Errorf("chmod 04751: perms %o, want 751", r.Perms)
	}
	nobody.fails("EPERM", "chmod %s 0777", seg)
	nobody.fails("EPERM", "chown %s 65534 65534", seg)
	nobody.fails("EPERM", "unlink %s", seg)
	root.ok("chown %s 65534 65534", seg)
	r = shmByKey(shmTable(t, table), 0xc0de)
	if r.UID != 65534 || r.GID != 65534 || r.CUID != 0 || r.CGID != 0 {
		t.Errorf("after chown: %+v", r)
	}
	fi, _ := os.Stat(seg)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 || fi.Mode() != 0o751 {
		t.Errorf("stat after chown: %v %d %d", fi.Mode(), st.Uid, st.Gid)
	}
	// Now the owner, nobody may set the mode and give it back.
	nobody.ok("chmod %s 0604", seg)
	nobody.ok("chown %s 0 0", seg)
	r = shmByKey(shmTable(t, table), 0xc0de)
	if r.Perms != 0o604 || r.UID != 0 || r.GID != 0 {
		t.Errorf("after the owner's chmod and chown: %+v", r)
	}
	nobody.fails("EPERM", "chmod %s 0666", seg)
	// chown of the uid alone leaves the gid.
	if err := os.Chown(seg, 12345, -1); err != nil {
		t.Fatal(err)
	}
	if r := shmByKey(shmTable(t, table), 0xc0de); r.UID != 12345 || r.GID != 0 || r.Perms != 0o604 {
		t.Errorf("chown uid only: %+v", r)
	}
}

// TestShmPermissions: opens are checked as ipcperms checks them, with an
// unprivileged user: the owner, group or other bits by class, root
// passes; what the kernel refuses (EACCES on open, EPERM on IPC_RMID and
// IPC_SET of others' objects) is refused and what it allows is allowed.
func TestShmPermissions(t *testing.T) {
	mnt := mountShmfs(t)
	shm := mnt + "/default/shm/"
	root := startDriver(t, "c", -1, -1)
	nobody := startDriver(t, "c", 65534, 65534)
	mk := func(key string, mode string, uid, gid int) string {
		p := shm + key
		root.ok("open %s rwc 0600", p)
		root.ok("chown %s %d %d", p, uid, gid)
		root.ok("chmod %s %s", p, mode)
		return p
	}
	for _, c := range []struct {
		key, mode string
		uid, gid  int
		r, w, rw  string // "ok" or the errno, for nobody
	}{
		{"0x00000101", "0600", 0, 0, "EACCES", "EACCES", "EACCES"},         // root's, private
		{"0x00000102", "0644", 0, 0, "ok", "EACCES", "EACCES"},             // readable by others
		{"0x00000103", "0606", 0, 0, "ok", "ok", "ok"},                     // other bits
		{"0x00000104", "0660", 0, 65534, "ok", "ok", "ok"},                 // group bits
		{"0x00000105", "0606", 0, 65534, "EACCES", "EACCES", "EACCES"},     // the group class, not other
		{"0x00000106", "0000", 65534, 65534, "EACCES", "EACCES", "EACCES"}, // nobody's own, mode 0
		{"0x00000107", "0400", 65534, 0, "ok", "EACCES", "EACCES"},         // owner bits
		{"0x00000108", "0066", 65534, 0, "EACCES", "EACCES", "EACCES"},     // the owner class, not other
	} {
		p := mk(c.key, c.mode, c.uid, c.gid)
		for flags, want := range map[string]string{"r": c.r, "w": c.w, "rw": c.rw} {
			if want == "ok" {
				nobody.ok("close %s", nobody.ok("open %s %s", p, flags))
			} else {
				nobody.fails(want, "open %s %s", p, flags)
			}
		}
		// Root passes (CAP_IPC_OWNER).
		root.ok("close %s", root.ok("open %s rw", p))
	}
	// Writes by path need write permission.
	nobody.fails("EACCES", "truncate %s0x00000102 1", shm)
	nobody.ok("truncate %s0x00000103 100", shm)

	// IPC_RMID and IPC_SET of others' objects: EPERM, by file and by ctl.
	other := shm + "0x00000103"
	nobody.fails("EPERM", "unlink %s", other)
	nobody.fails("EPERM", "chmod %s 0777", other)
	nobody.fails("EPERM", "chown %s 65534 65534", other)
	ctl := shm + "ctl"
	nobody.fails("EPERM", "ctl %s IPC_RMID 0x103", ctl)
	nobody.fails("EPERM", "ctl %s IPC_SET 0x103 mode=0777", ctl)
	nobody.fails("EPERM", "ctl %s SHM_LOCK 0x103", ctl)
	nobody.fails("EPERM", "ctl %s SHM_UNLOCK 0x103", ctl)
	if r := shmByKey(shmTable(t, mnt+"/default/sysvipc/shm"), 0x103); r == nil || r.Perms != 0o606 {
		t.Errorf("refused requests changed the segment: %+v", r)
	}
	// shmget of an existing key checks access: EACCES.
	nobody.fails("EACCES", "ctl %s IPC_CREAT key=0x101 size=0 mode=0600", ctl)

	// Their own objects: nobody may do everything, owner or creator.
	mine := shm + "0x00000201"
	nobody.ok("close %s", nobody.ok("open %s rwc 0600", mine))
	nobody.ok("chmod %s 0640", mine)
	nobody.ok("ctl %s IPC_SET 0x201 mode=0600", ctl)
	nobody.ok("ctl %s SHM_LOCK 0x201", ctl)
	nobody.ok("ctl %s SHM_UNLOCK 0x201", ctl)
	nobody.ok("unlink %s", mine)
	nobody.ok("ctl %s IPC_CREAT key=0x202 size=10 mode=0600", ctl)
	nobody.ok("ctl %s IPC_RMID 0x202", ctl)
	// Root may act on nobody's.
	nobody.ok("ctl %s IPC_CREAT key=0x203 size=10 mode=0600", ctl)
	root.ok("ctl %s IPC_SET 0x203 mode=0644", ctl)
	root.ok("unlink %s0x00000203", shm)

	// The tree: namespaces and limits are root's.
	nobody.fails("EPERM", "mkdir %s/tenant", mnt)
	nobody.fails("EACCES", "write %s/default/limits/shmmni 1", mnt)
	for _, f := range []string{"sysvipc/shm", "sysvipc/msg", "sysvipc/sem", "limits/shmmax"} {
		nobody.ok("cat %s/default/%s", mnt, f)
	}
	if out, err := shAs(t, 65534, 65534, "ls -R "+mnt+" >/dev/null && echo walked"); err != nil || out != "walked\n" {
		t.Errorf("nobody cannot walk the tree: %q %v", out, err)
	}
}
