package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// msgRow is one row of a /proc/sysvipc/msg table, with the byte offset
// where each field ends.
type msgRow struct {
	Key                  int32
	ID                   int
	Perms                uint32
	CBytes, QNum         uint64
	LSPID, LRPID         int
	UID, GID, CUID, CGID int
	Stime, Rtime, Ctime  int64
	line                 string
}

const msgTableHeader = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime"

// parseMsgTable parses the text of a sysvipc/msg file, whose header
// must be the kernel's.
func parseMsgTable(t testing.TB, text string) []msgRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != msgTableHeader {
		t.Fatalf("sysvipc/msg header %q", lines[0])
	}
	var rows []msgRow
	for _, l := range lines[1:] {
		r := msgRow{line: l}
		n, err := fmt.Sscanf(l, "%d %d %o %d %d %d %d %d %d %d %d %d %d %d",
			&r.Key, &r.ID, &r.Perms, &r.CBytes, &r.QNum, &r.LSPID, &r.LRPID,
			&r.UID, &r.GID, &r.CUID, &r.CGID, &r.Stime, &r.Rtime, &r.Ctime)
		if err != nil || n != 14 {
			t.Fatalf("sysvipc/msg row %q: %v", l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// msgTable reads the sysvipc/msg of the default namespace of a mount.
func msgTable(t testing.TB, mnt string) []msgRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mnt, "default/sysvipc/msg"))
	if err != nil {
		t.Fatal(err)
	}
	return parseMsgTable(t, string(b))
}

func msgByKey(t testing.TB, mnt string, key int32) *msgRow {
	t.Helper()
	for _, r := range msgTable(t, mnt) {
		if r.Key == key {
			return &r
		}
	}
	return nil
}

// msgFieldEnds is where each blank-separated field of a line ends.
func msgFieldEnds(line string) []int {
	var ends []int
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' && (i+1 == len(line) || line[i+1] == ' ') {
			ends = append(ends, i+1)
		}
	}
	return ends
}

// msgCtl writes one command to a ctl file and reads back its result
// line; err is the errno of the write.
func msgCtl(t testing.TB, ctl, cmd string) (string, error) {
	t.Helper()
	f, err := os.OpenFile(ctl, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(cmd + "\n")); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", pe.Err
		}
		return "", err
	}
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	return string(b[:n]), nil
}

const msgCapSysResource = 24

// msgHasCap reports whether the test runs with capability bit c, which
// decides some outcomes as it does in the kernel.
func msgHasCap(t testing.TB, c uint) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<c) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// TestMsgMatchesKernel runs one sequence of msgsnd and msgrcv calls
// against the kernel, in a new IPC namespace, and against shmfs through
// files, and requires the same outcome of every call and the same
// sysvipc/msg row afterwards.
func TestMsgMatchesKernel(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	ops := []string{
		"snd:1:first", "snd:2:second", "snd:3:third", "snd:1:fourth",
		"snd:0:bad", "snd:-1:bad", "snd:1:@8193", "snd:5:@8192:n",
		"rcv:0:100:c", "rcv:0:100:cen", "rcv:0:100:cn", "rcv:4:100:cn", "rcv:4:10:cnt",
		"rcv:4:8192:cn", "rcv:5:100:cn", "rcv:-1:100:cn",
		"rcv:2:100:-", "rcv:-2:100:-", "rcv:1:100:e", "rcv:9:100:n",
		"rcv:0:3:-", "rcv:0:3:t", "rcv:0:10:n",
		"snd:6:@8192:n", "snd:7:x:n", "snd:8:@0:n",
		"rcv:-6:8192:n", "rcv:0:8192:tn", "rcv:8:1:en", "rcv:0:0:n",
		"snd:4:kept", "snd:9:@100", "rcv:1:10:en", "rcv:0:0:cnt",
	}
	before := time.Now().Unix()
	kernelOut, err := runCmd(t, nil, "unshare", append([]string{"-i", "sh", "-c",
		`"$0" ops sysv 0x1234 "$@" && cat /proc/sysvipc/msg`, tool}, ops...)...)
	if err != nil {
		t.Fatal(err)
	}
	oursOut, err := runCmd(t, nil, tool, append([]string{"ops", "file", filepath.Join(mnt, "default/msg/0x00001234")}, ops...)...)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()

	kLines := strings.Split(strings.TrimSuffix(kernelOut, "\n"), "\n")
	oLines := strings.Split(strings.TrimSuffix(oursOut, "\n"), "\n")
	if len(kLines) != len(ops)+3 || len(oLines) != len(ops)+1 {
		t.Fatalf("kernel said:\n%s\nshmfs said:\n%s", kernelOut, oursOut)
	}
	for i, op := range ops {
		if k, o := kLines[i+1], oLines[i+1]; k != o {
			t.Errorf("%s: kernel %q, shmfs %q", op, k, o)
		}
	}
	kPid, _ := strconv.Atoi(strings.TrimPrefix(kLines[0], "pid "))
	oPid, _ := strconv.Atoi(strings.TrimPrefix(oLines[0], "pid "))

	kRows := parseMsgTable(t, strings.Join(kLines[len(ops)+1:], "\n"))
	oRows := msgTable(t, mnt)
	if len(kRows) != 1 || len(oRows) != 1 {
		t.Fatalf("rows: kernel %v, shmfs %v", kRows, oRows)
	}
	k, o := kRows[0], oRows[0]
	if k.Key != o.Key || k.ID != o.ID || k.Perms != o.Perms || k.CBytes != o.CBytes || k.QNum != o.QNum ||
		k.UID != o.UID || k.GID != o.GID || k.CUID != o.CUID || k.CGID != o.CGID {
		t.Errorf("rows differ:\nkernel %q\nshmfs  %q", k.line, o.line)
	}
	if k.LSPID != kPid || k.LRPID != kPid || o.LSPID != oPid || o.LRPID != oPid {
		t.Errorf("pids: kernel %q (pid %d), shmfs %q (pid %d)", k.line, kPid, o.line, oPid)
	}
	for _, tm := range []int64{o.Stime, o.Rtime, o.Ctime} {
		if tm < before || tm > after {
			t.Errorf("shmfs time %d outside [%d, %d]: %q", tm, before, after, o.line)
		}
	}
	// Same layout: a field of the same width ends at the same column.
	kf, of := strings.Fields(k.line), strings.Fields(o.line)
	ke, oe := msgFieldEnds(k.line), msgFieldEnds(o.line)
	if len(ke) != len(oe) {
		t.Fatalf("fields: kernel %q, shmfs %q", k.line, o.line)
	}
	for i := range ke {
		if len(kf[i]) == len(of[i]) && ke[i] != oe[i] {
			t.Errorf("field %d ends at %d in the kernel's row, %d in shmfs's:\n%q\n%q", i, ke[i], oe[i], k.line, o.line)
		}
	}
}

// TestMsgShell does what docs/msg.md shows a shell user.
func TestMsgShell(t *testing.T) {
	mnt := mountShmfs(t)
	q := filepath.Join(mnt, "default/msg/0x0000162e")
	shOK(t, "umask 022; echo hello > "+q+",mtext")
	shOK(t, "printf 'urgent\\n' > "+q+",mtype=2")
	// A struct msgbuf written from the shell: mtype 3, little-endian.
	shOK(t, `printf '\003\0\0\0\0\0\0\0raw' > `+q)

	r := msgByKey(t, mnt, 0x162e)
	if r == nil || r.QNum != 3 || r.CBytes != uint64(len("hello\nurgent\nraw")) || r.Perms != 0o644 {
		t.Fatalf("after three sends: %+v", r)
	}
	if got := shOK(t, "cat "+q+",mtext,MSG_COPY,IPC_NOWAIT"); got != "hello\nurgent\nraw" {
		t.Errorf("peek: %q", got)
	}
	if got := shOK(t, "od -An -c "+q+",MSG_COPY,IPC_NOWAIT,msgtyp=2 | tr -s ' '"); got != " 003 \\0 \\0 \\0 \\0 \\0 \\0 \\0 r a w\n" {
		t.Errorf("peek at index 2 in msgbuf framing: %q", got)
	}
	if r2 := msgByKey(t, mnt, 0x162e); r2.QNum != 3 || r2.Rtime != 0 {
		t.Errorf("peeking took something: %+v", r2)
	}
	if got := shOK(t, "dd if="+q+",mtext,msgtyp=2 bs=64k count=1 status=none"); got != "urgent\n" {
		t.Errorf("receive of type 2: %q", got)
	}
	if got := shOK(t, "dd if="+q+",mtext bs=64k count=1 status=none"); got != "hello\n" {
		t.Errorf("receive: %q", got)
	}
	if got := shOK(t, "dd if="+q+",recv bs=100 count=1 status=none | od -An -tu8 -N8"); strings.TrimSpace(got) != "3" {
		t.Errorf("mtype of the last message: %q", got)
	}
	for _, cmd := range []string{
		"dd if=" + q + ",mtext,IPC_NOWAIT bs=64k count=1 status=none",
		"dd if=" + q + ",mtext iflag=nonblock bs=64k count=1 status=none",
	} {
		if out, err := sh(t, cmd); err == nil || !strings.Contains(err.Error(), "No message of desired type") {
			t.Errorf("%s on an empty queue: %q, %v", cmd, out, err)
		}
	}
	if got := shOK(t, "cat "+q+",mtext,MSG_COPY,IPC_NOWAIT"); got != "" {
		t.Errorf("peek at an empty queue: %q", got)
	}
	if _, err := sh(t, "cat "+q+",MSG_COPY"); err == nil || !strings.Contains(err.Error(), "Invalid argument") {
		t.Errorf("MSG_COPY without IPC_NOWAIT: %v", err)
	}
	for _, bad := range []string{",bogus", ",msgtyp=x", ",msgtyp=1,msgtyp=2", ",mtext=1", ","} {
		if _, err := sh(t, "cat "+q+bad); err == nil || !strings.Contains(err.Error(), "Invalid argument") {
			t.Errorf("cat %s: %v", bad, err)
		}
	}
	// (dash's builtin printf and echo report any write error as "I/O
	// error"; coreutils' name the errno.)
	for _, bad := range []string{"env printf '\\0\\0\\0\\0\\0\\0\\0\\0x' > " + q, "env printf 'abc' > " + q, "env echo x > " + q + ",mtype=0"} {
		if _, err := sh(t, bad); err == nil || !strings.Contains(err.Error(), "Invalid argument") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if r := msgByKey(t, mnt, 0x162e); r.QNum != 0 || r.CBytes != 0 {
		t.Errorf("refused sends queued something: %+v", r)
	}

	ls := shOK(t, "ls "+filepath.Dir(q))
	if ls != "0x0000162e\nctl\ninfo\n" {
		t.Errorf("ls msg: %q", ls)
	}
	if got := shOK(t, "stat -c '%a %u %h' "+q); got != "644 0 1\n" {
		t.Errorf("stat: %q", got)
	}
	shOK(t, "chmod 600 "+q+" && chown 65534:65534 "+q)
	if r := msgByKey(t, mnt, 0x162e); r.Perms != 0o600 || r.UID != 65534 || r.GID != 65534 || r.CUID != 0 {
		t.Errorf("after chmod and chown: %+v", r)
	}
	shOK(t, "rm "+q)
	if r := msgByKey(t, mnt, 0x162e); r != nil {
		t.Errorf("after rm: %+v", r)
	}
	if _, err := os.Stat(q); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat after rm: %v", err)
	}
}

func TestMsgCtl(t *testing.T) {
	mnt := mountShmfs(t)
	ctl := filepath.Join(mnt, "default/msg/ctl")
	res, err := msgCtl(t, ctl, "IPC_CREAT key=0x42 mode=0640")
	if err != nil {
		t.Fatal(err)
	}
	r := msgByKey(t, mnt, 0x42)
	if r == nil || res != fmt.Sprintf("%d 0x00000042\n", r.ID) || r.Perms != 0o640 {
		t.Fatalf("IPC_CREAT: %q, row %+v", res, r)
	}
	if res2, err := msgCtl(t, ctl, "IPC_CREAT key=66"); err != nil || res2 != res {
		t.Errorf("IPC_CREAT of the existing key in decimal: %q, %v", res2, err)
	}
	res, err = msgCtl(t, ctl, "IPC_CREAT key=IPC_PRIVATE")
	if err != nil {
		t.Fatal(err)
	}
	var privID int
	if _, err := fmt.Sscanf(res, "%d private.%d", &privID, &privID); err != nil {
		t.Fatalf("IPC_PRIVATE: %q", res)
	}
	if _, err := os.Stat(filepath.Join(mnt, "default/msg", fmt.Sprintf("private.%d", privID))); err != nil {
		t.Error(err)
	}

	table := msgTable(t, mnt)
	for _, c := range []struct {
		cmd  string
		want syscall.Errno
	}{
		{"IPC_CREAT key=0x42 IPC_EXCL", syscall.EEXIST},
		{"IPC_CREAT key=0x43 size=10", syscall.EINVAL},
		{"IPC_CREAT key=0x43 mode=01000", syscall.EINVAL},
		{"IPC_CREAT", syscall.EINVAL},
		{"IPC_SET 0x42", syscall.EINVAL},
		{"IPC_SET 0x42 qbytes=x", syscall.EINVAL},
		{"IPC_SET 0x42 uid=4294967295", syscall.EINVAL},
		{"IPC_SET 0x42 color=red", syscall.EINVAL},
		{"IPC_SET 0x99 mode=0600", syscall.ENOENT},
		{"IPC_RMID id=12345", syscall.EINVAL},
		{"IPC_RMID 0x99", syscall.ENOENT},
		{"SHM_LOCK 0x42", syscall.EINVAL},
		{"IPC_STAT 0x42", syscall.EINVAL},
	} {
		if _, err := msgCtl(t, ctl, c.cmd); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.cmd, err, c.want)
		}
	}
	if after := msgTable(t, mnt); fmt.Sprint(after) != fmt.Sprint(table) {
		t.Errorf("refused commands changed the table:\n%v\n%v", table, after)
	}

	if _, err := msgCtl(t, ctl, "IPC_SET 0x42 uid=65534 gid=65534 mode=0606 qbytes=100"); err != nil {
		t.Fatal(err)
	}
	r = msgByKey(t, mnt, 0x42)
	if r.UID != 65534 || r.GID != 65534 || r.Perms != 0o606 || r.Ctime == 0 {
		t.Errorf("after IPC_SET: %+v", r)
	}
	// qbytes 100 holds 100 bytes and no more.
	tool := msgTool(t)
	out, err := runCmd(t, nil, tool, "ops", "file", filepath.Join(mnt, "default/msg/0x00000042"), "snd:1:@100:n", "snd:1:@0:n", "snd:1:x:n")
	if err != nil || !strings.HasSuffix(out, "ok\nok\nEAGAIN\n") {
		t.Errorf("sends into qbytes 100: %q, %v", out, err)
	}
	if _, err := msgCtl(t, ctl, fmt.Sprintf("IPC_RMID id=%d", privID)); err != nil {
		t.Error(err)
	}
	if _, err := msgCtl(t, ctl, "IPC_RMID 0x42"); err != nil {
		t.Error(err)
	}
	if rows := msgTable(t, mnt); len(rows) != 0 {
		t.Errorf("after IPC_RMID: %v", rows)
	}
}

func TestMsgPermissions(t *testing.T) {
	mnt := mountShmfs(t)
	dir := filepath.Join(mnt, "default/msg")
	ctl := filepath.Join(dir, "ctl")
	q := filepath.Join(dir, "0x00000051")
	if _, err := msgCtl(t, ctl, "IPC_CREAT key=0x51 mode=0600"); err != nil {
		t.Fatal(err)
	}
	shOK(t, "echo secret > "+q+",mtext")
	const nobody = 65534
	refused := func(script, want string) {
		t.Helper()
		out, err := shAs(t, nobody, nobody, script)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("as nobody: %s: %q, %v; want %q", script, out, err, want)
		}
	}
	refused("cat "+q+",mtext,IPC_NOWAIT", "Permission denied")
	refused("cat "+q+",mtext,MSG_COPY,IPC_NOWAIT", "Permission denied")
	refused("echo x > "+q+",mtext", "Permission denied")
	refused("rm -f "+q, "Operation not permitted")
	refused("chmod 666 "+q, "Operation not permitted")
	refused("env echo IPC_RMID 0x51 > "+ctl, "Operation not permitted")
	refused("env echo IPC_SET 0x51 mode=0666 > "+ctl, "Operation not permitted")
	refused("env echo IPC_CREAT key=0x51 mode=0600 > "+ctl, "Permission denied")
	refused("env echo IPC_CREAT key=0x51 mode=0600 IPC_EXCL > "+ctl, "File exists")
	if r := msgByKey(t, mnt, 0x51); r == nil || r.QNum != 1 || r.Perms != 0o600 || r.UID != 0 {
		t.Fatalf("refusals changed the queue: %+v", r)
	}

	// Write but no read for others: nobody may send, not receive.
	shOK(t, "chmod 0602 "+q)
	if _, err := shAs(t, nobody, nobody, "echo from-nobody > "+q+",mtype=5"); err != nil {
		t.Error(err)
	}
	refused("dd if="+q+",mtext,msgtyp=5 bs=64k count=1 status=none", "Permission denied")
	if got := shOK(t, "dd if="+q+",mtext,msgtyp=5 bs=64k count=1 status=none"); got != "from-nobody\n" {
		t.Errorf("root received %q", got)
	}
	if r := msgByKey(t, mnt, 0x51); r == nil || r.QNum != 1 {
		t.Errorf("queue: %+v", r)
	}

	// nobody's own queue: it may set, but not raise qbytes past msgmnb.
	own := filepath.Join(dir, "0x00000052")
	if _, err := shAs(t, nobody, nobody, "umask 077; echo mine > "+own+",mtext && chmod 0640 "+own+" && echo IPC_SET 0x52 qbytes=100 > "+ctl); err != nil {
		t.Fatal(err)
	}
	mnb := strings.TrimSpace(shOK(t, "cat "+filepath.Join(mnt, "default/limits/msgmnb")))
	refused(fmt.Sprintf("env echo IPC_SET 0x52 qbytes=%s1 > %s", mnb, ctl), "Operation not permitted")
	// Root may raise it if it holds CAP_SYS_RESOURCE, as in the kernel.
	_, err := msgCtl(t, ctl, "IPC_SET 0x52 qbytes=100000")
	if msgHasCap(t, msgCapSysResource) != (err == nil) || (err != nil && !errors.Is(err, syscall.EPERM)) {
		t.Errorf("root raising qbytes, CAP_SYS_RESOURCE %v: %v", msgHasCap(t, msgCapSysResource), err)
	}
	refused("env echo IPC_SET 0x52 qbytes=100000 > "+ctl, "Operation not permitted")
	r := msgByKey(t, mnt, 0x52)
	if r == nil || r.UID != nobody || r.CUID != nobody || r.Perms != 0o640 || r.QNum != 1 {
		t.Errorf("nobody's queue: %+v", r)
	}
	if _, err := shAs(t, nobody, nobody, "rm "+own); err != nil {
		t.Error(err)
	}
}

func TestMsgLimits(t *testing.T) {
	mnt := mountShmfs(t)
	lim := filepath.Join(mnt, "default/limits")
	tool := msgTool(t)
	q := filepath.Join(mnt, "default/msg/0x00000061")
	shOK(t, "echo 100 > "+lim+"/msgmax && echo 50 > "+lim+"/msgmnb")
	out, err := runCmd(t, nil, tool, "ops", "file", q, "snd:1:@101:n", "snd:1:@40:n", "snd:1:@11:n", "snd:1:@10:n", "rcv:0:100:n")
	if want := "EINVAL\nok\nEAGAIN\nok\n1 " + strings.Repeat("abcdefghijklmnopqrstuvwxyz", 2)[:40] + "\n"; err != nil || !strings.HasSuffix(out, want) {
		t.Errorf("msgmax 100, msgmnb 50: %q, %v; want %q", out, err, want)
	}
	n := len(msgTable(t, mnt))
	shOK(t, fmt.Sprintf("echo %d > %s/msgmni", n, lim))
	if _, err := sh(t, "echo x > "+filepath.Join(mnt, "default/msg/0x00000062,mtext")); err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Errorf("create past msgmni: %v", err)
	}
	if _, err := msgCtl(t, filepath.Join(mnt, "default/msg/ctl"), "IPC_CREAT key=IPC_PRIVATE"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("IPC_CREAT past msgmni: %v", err)
	}
}

// TestMsgLargestMessage sends the longest message the mount carries, from
// the worst-aligned buffer, and one byte more.
func TestMsgLargestMessage(t *testing.T) {
	mnt := mountShmfs(t)
	tool := msgTool(t)
	q := filepath.Join(mnt, "default/msg/0x00000071")
	shOK(t, "echo 4000000 > "+mnt+"/default/limits/msgmax && echo 4000000 > "+mnt+"/default/limits/msgmnb")
	shOK(t, "echo IPC_CREAT key=0x71 > "+mnt+"/default/msg/ctl")
	size, err := strconv.Atoi(strings.TrimSpace(shOK(t, "stat -c %s "+q)))
	if err != nil {
		t.Fatal(err)
	}
	max := size - 8 // st_size is the longest struct msgbuf a write takes
	ops := []string{
		fmt.Sprintf("sndu:1:@%d:n", max), fmt.Sprintf("snd:2:@%d:n", max),
		fmt.Sprintf("sndu:3:@%d:n", max+1), fmt.Sprintf("snd:3:@%d:n", max+1),
		fmt.Sprintf("rcv:0:%d:n", max), fmt.Sprintf("rcv:0:%d:n", max-1), fmt.Sprintf("rcv:0:%d:n", max),
	}
	out, err := runCmd(t, nil, tool, append([]string{"ops", "file", q}, ops...)...)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel, given msgmax and qbytes as large, takes the same
	// messages whole.
	kout, err := runCmd(t, nil, "unshare", append([]string{"-i", "sh", "-c",
		`echo 4000000 > /proc/sys/kernel/msgmax && echo 4000000 > /proc/sys/kernel/msgmnb && "$0" ops sysv 0x71 "$@"`, tool},
		ops[0], ops[1], ops[4], ops[5], ops[6])...)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(out, "\n")[1:]
	kgot := strings.Split(kout, "\n")[1:]
	if len(got) < 7 || len(kgot) < 5 {
		t.Fatalf("shmfs %q, kernel %q", out, kout)
	}
	want := []string{kgot[0], kgot[1], "EINVAL", "EINVAL", kgot[2], kgot[3], kgot[4]}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: %q, want %q", ops[i], got[i], want[i])
		}
	}
	if !strings.Contains(got[4], fmt.Sprintf("len=%d", max)) {
		t.Errorf("largest message: %q", got[4])
	}
}
