package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestToolboxInstall: shmfs install --prefix puts the binary, the mount
// helper link and the systemd unit (contrib/shmfs.service, its binary
// path made the installed one) in place, and says where.
func TestToolboxInstall(t *testing.T) {
	prefix := t.TempDir()
	out, errs, code := runShmfs(t, "install", "--prefix", prefix)
	if code != 0 {
		t.Fatalf("install: %s", errs)
	}
	bin := prefix + "/bin/shmfs"
	link := prefix + "/sbin/mount.fuse.shmfs"
	unit := prefix + "/lib/systemd/system/shmfs.service"
	if want := bin + "\n" + link + " -> " + bin + "\n" + unit + "\n"; out != want {
		t.Errorf("install printed %q, want %q", out, want)
	}
	a, _ := os.ReadFile(shmfsBin)
	b, _ := os.ReadFile(bin)
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 || string(a) != string(b) {
		t.Errorf("installed binary: %v %v, same bytes %v", fi, err, string(a) == string(b))
	}
	if target, err := os.Readlink(link); err != nil || target != bin {
		t.Errorf("helper link -> %q (%v), want %s", target, err, bin)
	}
	src, _ := os.ReadFile(filepath.Join(repoRoot(t), "contrib/shmfs.service"))
	got, _ := os.ReadFile(unit)
	if want := strings.ReplaceAll(string(src), "/usr/local/bin/shmfs", bin); string(got) != want || !strings.Contains(want, "ExecStart="+bin+" mount ") {
		t.Errorf("installed unit:\n%s\nwant contrib/shmfs.service with %s:\n%s", got, bin, want)
	}
	for _, line := range []string{"Type=notify", "LimitNOFILE=65536", "ExecStop=" + bin + " umount /mnt/shmfs"} {
		if !strings.Contains(string(got), "\n"+line+"\n") {
			t.Errorf("unit lacks %q", line)
		}
	}
	// Again over itself: links and files are replaced, not refused.
	if _, errs, code := runShmfs(t, "install", "--prefix", prefix); code != 0 {
		t.Errorf("second install: %s", errs)
	}
	os.Remove(link)
	os.WriteFile(link, []byte("not ours"), 0o755)
	if _, errs, code := runShmfs(t, "install", "--prefix", prefix); code == 0 || !strings.Contains(errs, "exists and is not a symbolic link") {
		t.Errorf("install over a file: exit %d, %q", code, errs)
	}
}

// TestToolboxFstab: mount(8) runs the installed helper as
// /sbin/mount.fuse.shmfs, for an fstab line (mount --fstab FILE DIR) and
// for mount -t fuse.shmfs -o ...; the options map to the flags, the
// generic ones are ignored, a refused one says why, and mount returns
// once the mount is ready with the server running on. mount(8) finds
// helpers in /sbin only, so the test runs in a mount namespace of its
// own where an overlay adds the helper to /usr/sbin; nothing of the
// host's changes.
func TestToolboxFstab(t *testing.T) {
	prefix := t.TempDir()
	if _, errs, code := runShmfs(t, "install", "--prefix", prefix); code != 0 {
		t.Fatalf("install: %s", errs)
	}
	// A directory every user can pass through: the tenant's ls needs it.
	work, err := os.MkdirTemp("", "shmfs-fstab-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o755)
	t.Cleanup(func() { os.RemoveAll(work) })
	mnt, mnt2, mnt3 := work+"/mnt", work+"/mnt2", work+"/mnt3"
	for _, d := range []string{mnt, mnt2, mnt3} {
		os.Mkdir(d, 0o755)
	}
	logf := work + "/shmfs.log"
	fstab := work + "/fstab"
	line := "shmfs  " + mnt + "  fuse.shmfs  allow_other,isolate,log=" + logf + ",nosuid,nodev,noauto,_netdev,x-systemd.requires=network.target  0 0\n"
	os.WriteFile(fstab, []byte("# a test fstab\n"+line), 0o644)

	script := `set -u
exec 2>&1
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=` + prefix + `/sbin:/usr/sbin /usr/sbin
readlink /sbin/mount.fuse.shmfs
echo "== fstab"
mount -v --fstab ` + fstab + ` ` + mnt + `; echo "status $?"
grep " ` + mnt + ` " /proc/self/mounts | cut -d" " -f1-3
mkdir ` + mnt + `/other
echo "tenant sees: $(setpriv --reuid=65534 --regid=65534 --clear-groups ls ` + mnt + ` | tr '\n' ' ')"
echo "== -t"
mount -v -t fuse.shmfs -o no_passthrough,rw,defaults shmfs ` + mnt2 + `; echo "status $?"
echo "root sees: $(ls ` + mnt2 + ` | tr '\n' ' ')"
echo "== refused"
mount -t fuse.shmfs -o io_uring=on shmfs ` + mnt3 + `; echo "status $?"
mount -t fuse.shmfs -o frobnicate shmfs ` + mnt3 + `; echo "status $?"
grep -c " ` + mnt3 + ` " /proc/self/mounts
echo "== umount"
` + prefix + `/bin/shmfs umount ` + mnt + `; echo "status $?"
umount ` + mnt2 + `; echo "status $?"
grep -c " ` + work + `/" /proc/self/mounts
exit 0
`
	out, err := runCmd(t, nil, "unshare", "-m", "sh", "-c", script)
	// The servers live in that mount namespace; end any still running.
	for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[1])
		t.Cleanup(func() {
			if !procGone(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		prefix + "/bin/shmfs",
		"== fstab",
		`^shmfs: mounted on ` + mnt + `, segment I/O passthrough \(.*\), log in ` + logf + ` \(pid \d+\)$`,
		"status 0",
		"shmfs " + mnt + " fuse.shmfs",
		"tenant sees: default self ",
		"== -t",
		`^shmfs: mounted on ` + mnt2 + `, segment I/O cached \(.*\), log in \S+/tmp-shmfs-fstab-\d+-mnt2\.log \(pid \d+\)$`,
		"status 0",
		"root sees: default self ",
		"== refused",
		"shmfs: mount.fuse.shmfs: io_uring=on: this shmfs serves requests over /dev/fuse only (FUSE over io_uring is not built in yet); use io_uring=off or leave it out",
		"status 1",
		`shmfs: mount.fuse.shmfs: unknown option "frobnicate" (see mount.fuse.shmfs --help)`,
		"status 1",
		"0",
		"== umount",
		"status 0",
		"status 0",
		"0",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(want) {
		t.Fatalf("output:\n%s\nwant %d lines:\n%s", out, len(want), strings.Join(want, "\n"))
	}
	for i, w := range want {
		if strings.HasPrefix(w, "^") {
			if !regexp.MustCompile(w).MatchString(got[i]) {
				t.Errorf("line %d: %q, want /%s/", i+1, got[i], w)
			}
		} else if got[i] != w {
			t.Errorf("line %d: %q, want %q", i+1, got[i], w)
		}
	}
	if b, _ := os.ReadFile(logf); !strings.Contains(string(b), "msg=mounted dir="+mnt) || !strings.Contains(string(b), "msg=unmounted") {
		t.Errorf("log= file:\n%s", b)
	}
}
