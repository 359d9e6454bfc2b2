package tests

import (
	"strings"
	"testing"
)

// quotaPy makes one system call per line of its arguments on a segment
// and prints "ok" or the errno's name for each, so a test can see each
// refusal. Calls: pwrite OFF, fallocate MODE OFF LEN (MODE: 0, keep,
// punch, zero, zerogrow), copy OFF (copy_file_range of one byte of the
// segment named by $SRC to OFF).
const quotaPy = `
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
modes = {"0": 0, "keep": 1, "punch": 3, "zero": 0x11, "zerogrow": 0x10}
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
src = os.open(os.environ["SRC"], os.O_RDONLY)
for line in sys.argv[2:]:
    w = line.split()
    try:
        if w[0] == "pwrite":
            os.pwrite(fd, b"x", int(w[1]))
        elif w[0] == "fallocate":
            if libc.fallocate(fd, modes[w[1]], int(w[2]), int(w[3])) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        elif w[0] == "copy":
            os.copy_file_range(src, fd, 1, 0, int(w[1]))
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
`

// TestShmQuotaHolds: with shmmax 1 MiB and shmall 256 pages, no system
// call on a segment's file (pwrite, fallocate of each mode,
// copy_file_range) makes a segment larger than shmmax or the namespace
// larger than shmall, in either I/O mode: each refused call gets an
// errno, and sysvipc/shm shows the sizes and rss unchanged. Under
// passthrough the kernel writes to the memfd itself, which the seal
// refuses (EPERM); without, the server refuses (EFBIG, EPERM).
func TestShmQuotaHolds(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		ns := mnt + "/q/"
		shOK(t, "mkdir "+ns+" && echo 1048576 > "+ns+"limits/shmmax && echo 256 > "+ns+"limits/shmall")
		src := ns + "shm/0x00000009"
		shOK(t, "echo source > "+src)
		seg := ns + "shm/0x00000001"
		shOK(t, "truncate -s 65536 "+seg)
		run := func(seg string, calls ...string) []string {
			t.Helper()
			out, err := runCmd(t, []string{"SRC=" + src}, pythonBin(), append([]string{"-c", quotaPy, seg}, calls...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			return strings.Fields(out)
		}
		refused := func(got string) bool { return got == "EPERM" || got == "EFBIG" || got == "ENOSPC" }
		calls := []string{
			"pwrite 67108864", "pwrite 314572800", "pwrite 65536", "pwrite 1048576",
			"fallocate 0 0 67108864", "fallocate 0 65536 4096", "fallocate zerogrow 0 131072",
			"copy 67108864", "copy 65536",
		}
		for i, got := range run(seg, calls...) {
			if !refused(got) {
				t.Errorf("%s past the end of a 64 KiB segment: %s, want EPERM, EFBIG or ENOSPC", calls[i], got)
			}
		}
		row := func(key int32) shmRow {
			t.Helper()
			r := shmByKey(shmTable(t, ns+"sysvipc/shm"), key)
			if r == nil {
				t.Fatalf("segment %#x gone", key)
			}
			return *r
		}
		if r := row(1); r.Size != 65536 || r.RSS != 0 {
			t.Errorf("after the refused calls: size %d, rss %d, want 65536, 0", r.Size, r.RSS)
		}

		// Within the size, fallocate reaches the pages, each mode;
		// KEEP_SIZE past the end allocates nothing past it.
		within := []string{"fallocate 0 0 65536", "fallocate keep 0 1048576", "fallocate punch 0 32768", "fallocate zero 0 4096", "pwrite 65535"}
		for i, got := range run(seg, within...) {
			if got != "ok" {
				t.Errorf("%s within the segment: %s", within[i], got)
			}
		}
		if r := row(1); r.Size != 65536 || r.RSS != 32768+4096 {
			t.Errorf("after fallocate within: size %d, rss %d, want 65536, %d", r.Size, r.RSS, 32768+4096)
		}

		// shmall: 256 pages in the namespace, 17 taken.
		shOK(t, "truncate -s 978944 "+ns+"shm/0x00000002") // 239 pages
		if _, err := sh(t, "truncate -s 4096 "+ns+"shm/0x00000003"); err == nil {
			t.Errorf("a segment past shmall was made")
		}
		for i, got := range run(ns+"shm/0x00000002", "pwrite 978944", "fallocate 0 978944 4096", "copy 978944") {
			if !refused(got) {
				t.Errorf("call %d growing the namespace past shmall: %s", i, got)
			}
		}
		if r := row(2); r.Size != 978944 {
			t.Errorf("the full namespace's segment grew to %d", r.Size)
		}
	})
}

// TestShmQuotaEmptySegment: a segment made empty by open(O_CREAT) has no
// size yet. Its first growth within the limits is its size from then
// on; one past shmmax is refused by the server (EFBIG) without
// passthrough. Under passthrough the kernel's write into the empty
// memfd cannot be refused; the server cuts it back at its next look, so
// the segment, and the memory, are as before the write.
func TestShmQuotaEmptySegment(t *testing.T) {
	inBothModes(t, func(t *testing.T, mnt string, passthrough bool) {
		ns := mnt + "/q/"
		shOK(t, "mkdir "+ns+" && echo 1048576 > "+ns+"limits/shmmax")
		src := "/dev/null"
		run := func(seg string, calls ...string) []string {
			t.Helper()
			out, err := runCmd(t, []string{"SRC=" + src}, pythonBin(), append([]string{"-c", quotaPy, seg}, calls...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			return strings.Fields(out)
		}
		if got := run(ns+"shm/0x00000001", "pwrite 8191"); got[0] != "ok" {
			t.Errorf("first write into an empty segment: %v", got)
		}
		if got := run(ns+"shm/0x00000001", "pwrite 8192"); got[0] != "EPERM" {
			t.Errorf("a write past the size the first write gave: %v, want EPERM", got)
		}
		got := run(ns+"shm/0x00000002", "pwrite 67108864")
		if !passthrough && got[0] != "EFBIG" {
			t.Errorf("a write past shmmax into an empty segment: %v, want EFBIG", got)
		}
		rows := shmTable(t, ns+"sysvipc/shm")
		if r := shmByKey(rows, 1); r == nil || r.Size != 8192 {
			t.Errorf("the segment sized by its first write: %+v", r)
		}
		if r := shmByKey(rows, 2); r == nil || r.Size != 0 || r.RSS != 0 {
			t.Errorf("the empty segment after a write past shmmax: %+v", r)
		}
	})
}
