package tests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A driver is a helper process that makes system calls on command, one
// line in, one line out ("ok ..." or "err ENAME"), so that a test can
// step several processes through a scenario and look at the mount
// between steps, with no sleeps. The C driver knows every command below;
// the Python and Go drivers know map, poke, peek, touch, unmap and pid,
// and the Python one keeps one ctl handle open for ctlopen, ctlw, ctlr.
//
//	pid                          ok PID
//	open PATH FLAGS [MODE]       FLAGS: r w rw, plus c (O_CREAT) x (O_EXCL) t (O_TRUNC); ok FD
//	close FD | ftruncate FD N | pread FD OFF LEN | pwrite FD OFF TEXT
//	mmap FD LEN [ro]             ok SLOT (the mapping stays after close FD)
//	map PATH LEN                 open, mmap MAP_SHARED, close: ok SLOT
//	munmap SLOT | unmap SLOT
//	poke SLOT OFF TEXT           store TEXT at OFF, no msync
//	peek SLOT OFF LEN            ok TEXT (NUL shown as '.')
//	touch SLOT NPAGES            store one byte in each of the first NPAGES pages
//	unlink PATH | mkdir PATH | rmdir PATH | chmod PATH MODE | chown PATH UID GID | truncate PATH N
//	write PATH TEXT              open O_WRONLY, one write(2), close: ok BYTES
//	ctl PATH TEXT                open O_RDWR, write(2) TEXT, read back: ok RESULT
//	                             (in TEXT, \n stands for a newline, \t for a tab)
//	cat PATH                     ok CONTENT (newlines shown as '|')
//	ctlopen PATH                 (Python) open a ctl file O_RDWR and keep it
//	ctlw TEXT                    (Python) os.write TEXT to it: ok RESULT read back
//	                             by pread on the same handle, or err ENAME; \n and
//	                             \0 in TEXT stand for a newline and a NUL
//	ctlr                         (Python) read the result back again
//	shmget KEY SIZE | shmrm ID   (C) the kernel's shmget(IPC_CREAT|0600), shmctl(IPC_RMID)
//	exit
type driver struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	pid  string
}

const driverC = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static char *maps[256];
static size_t lens[256];
static int nmaps;

static void fail(void) { printf("err %s\n", strerrorname_np(errno)); }
static void okay(void) { printf("ok\n"); }

static int flagsOf(const char *s) {
	int f = 0;
	if (strstr(s, "rw")) f = O_RDWR; else if (strchr(s, 'w')) f = O_WRONLY; else f = O_RDONLY;
	if (strchr(s, 'c')) f |= O_CREAT;
	if (strchr(s, 'x')) f |= O_EXCL;
	if (strchr(s, 't')) f |= O_TRUNC;
	return f;
}

static void show(const char *p, size_t n) {
	printf("ok ");
	for (size_t i = 0; i < n; i++) putchar(p[i] == 0 ? '.' : p[i] == '\n' ? '|' : p[i]);
	putchar('\n');
}

static int addmap(char *p, size_t n) { maps[nmaps] = p; lens[nmaps] = n; return nmaps++; }

/* unescape turns the two characters \n into a newline, \t into a tab, in place. */
static char *unescape(char *s) {
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
		else if (r[0] == '\\' && r[1] == 't') { *w++ = '\t'; r++; }
		else *w++ = *r;
	}
	*w = 0;
	return s;
}

int main(void) {
	static char line[65536], buf[65536];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *rest = line;
		char *op = strsep(&rest, " ");
		char *a = rest ? strsep(&rest, " ") : "";
		if (!strcmp(op, "pid")) { printf("ok %d\n", getpid()); continue; }
		if (!strcmp(op, "exit")) return 0;
		if (!strcmp(op, "write") || !strcmp(op, "ctl")) {
			const char *text = rest ? unescape(rest) : "";
			int fd = open(a, !strcmp(op, "ctl") ? O_RDWR : O_WRONLY);
			if (fd < 0) { fail(); continue; }
			ssize_t w = write(fd, text, strlen(text));
			if (w < 0) { fail(); close(fd); continue; }
			if (!strcmp(op, "ctl")) {
				ssize_t n = pread(fd, buf, sizeof buf, 0);
				if (n < 0) { fail(); close(fd); continue; }
				if (n > 0 && buf[n-1] == '\n') n--;
				show(buf, n);
			} else printf("ok %zd\n", w);
			close(fd);
			continue;
		}
		char *b = rest ? strsep(&rest, " ") : "";
		char *c = rest ? rest : "";
		if (!strcmp(op, "open")) {
			int fd = open(a, flagsOf(b), *c ? (mode_t)strtol(c, 0, 8) : 0600);
			if (fd < 0) fail(); else printf("ok %d\n", fd);
		} else if (!strcmp(op, "close")) {
			if (close(atoi(a))) fail(); else okay();
		} else if (!strcmp(op, "ftruncate")) {
			if (ftruncate(atoi(a), atoll(b))) fail(); else okay();
		} else if (!strcmp(op, "pread")) {
			size_t n = atoll(c);
			ssize_t r = pread(atoi(a), buf, n < sizeof buf ? n : sizeof buf, atoll(b));
			if (r < 0) fail(); else show(buf, r);
		} else if (!strcmp(op, "pwrite")) {
			if (pwrite(atoi(a), c, strlen(c), atoll(b)) < 0) fail(); else okay();
		} else if (!strcmp(op, "mmap") || !strcmp(op, "map")) {
			int fd = atoi(a);
			if (!strcmp(op, "map") && (fd = open(a, O_RDWR)) < 0) { fail(); continue; }
			int prot = !strcmp(c, "ro") ? PROT_READ : PROT_READ | PROT_WRITE;
			char *p = mmap(0, atoll(b), prot, MAP_SHARED, fd, 0);
			int e = errno;
			if (!strcmp(op, "map")) close(fd);
			errno = e;
			if (p == MAP_FAILED) fail(); else printf("ok %d\n", addmap(p, atoll(b)));
		} else if (!strcmp(op, "munmap") || !strcmp(op, "unmap")) {
			int i = atoi(a);
			if (munmap(maps[i], lens[i])) fail(); else okay();
		} else if (!strcmp(op, "poke")) {
			memcpy(maps[atoi(a)] + atoll(b), c, strlen(c));
			okay();
		} else if (!strcmp(op, "peek")) {
			show(maps[atoi(a)] + atoll(b), atoll(c));
		} else if (!strcmp(op, "touch")) {
			long pg = sysconf(_SC_PAGESIZE);
			for (long i = 0; i < atol(b); i++) maps[atoi(a)][i * pg] = 1;
			okay();
		} else if (!strcmp(op, "shmget")) {
			int id = shmget((key_t)strtoul(a, 0, 0), atoll(b), IPC_CREAT | 0600);
			if (id < 0) fail(); else printf("ok %d\n", id);
		} else if (!strcmp(op, "shmrm")) {
			if (shmctl(atoi(a), IPC_RMID, 0)) fail(); else okay();
		} else if (!strcmp(op, "unlink")) {
			if (unlink(a)) fail(); else okay();
		} else if (!strcmp(op, "mkdir")) {
			if (mkdir(a, 0755)) fail(); else okay();
		} else if (!strcmp(op, "rmdir")) {
			if (rmdir(a)) fail(); else okay();
		} else if (!strcmp(op, "chmod")) {
			if (chmod(a, strtol(b, 0, 8))) fail(); else okay();
		} else if (!strcmp(op, "chown")) {
			if (chown(a, atoi(b), atoi(c))) fail(); else okay();
		} else if (!strcmp(op, "truncate")) {
			if (truncate(a, atoll(b))) fail(); else okay();
		} else if (!strcmp(op, "cat")) {
			int fd = open(a, O_RDONLY);
			if (fd < 0) { fail(); continue; }
			ssize_t n = read(fd, buf, sizeof buf);
			if (n < 0) fail(); else show(buf, n);
			close(fd);
		} else {
			printf("err EBADCMD\n");
		}
	}
	return 0;
}
`

const driverPy = `import mmap, os, sys
maps = []
def show(b):
    return "ok " + b.replace(b"\0", b".").decode("latin-1")
for line in sys.stdin:
    f = line.rstrip("\n").split(" ", 3)
    op = f[0]
    try:
        if op == "pid":
            out = "ok %d" % os.getpid()
        elif op == "map":
            fd = os.open(f[1], os.O_RDWR)
            try:
                maps.append(mmap.mmap(fd, int(f[2]), mmap.MAP_SHARED))
            finally:
                os.close(fd)
            out = "ok %d" % (len(maps) - 1)
        elif op == "unmap":
            maps[int(f[1])].close()
            out = "ok"
        elif op == "poke":
            m, off, text = maps[int(f[1])], int(f[2]), f[3].encode()
            m[off:off + len(text)] = text
            out = "ok"
        elif op == "peek":
            m, off, n = maps[int(f[1])], int(f[2]), int(f[3])
            out = show(m[off:off + n])
        elif op == "touch":
            m = maps[int(f[1])]
            for i in range(int(f[2])):
                m[i * mmap.PAGESIZE] = 1
            out = "ok"
        elif op == "ctlopen":
            ctl = os.open(f[1], os.O_RDWR)
            out = "ok"
        elif op == "ctlw":
            text = line.rstrip("\n").split(" ", 1)[1] if " " in line.rstrip("\n") else ""
            os.write(ctl, text.replace("\\n", "\n").replace("\\0", "\0").encode())
            out = "ok " + os.pread(ctl, 4096, 0).decode().rstrip("\n")
        elif op == "ctlr":
            out = "ok " + os.pread(ctl, 4096, 0).decode().rstrip("\n")
        elif op == "exit":
            break
        else:
            out = "err EBADCMD"
    except OSError as e:
        import errno
        out = "err " + errno.errorcode.get(e.errno, str(e.errno))
    print(out, flush=True)
`

const driverGo = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	var maps [][]byte
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.SplitN(in.Text(), " ", 4)
		num := func(i int) int { n, _ := strconv.Atoi(f[i]); return n }
		var out string
		switch f[0] {
		case "pid":
			out = fmt.Sprintf("ok %d", os.Getpid())
		case "map":
			fd, err := syscall.Open(f[1], syscall.O_RDWR, 0)
			if err != nil {
				out = "err " + errName(err)
				break
			}
			m, err := syscall.Mmap(fd, 0, num(2), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
			syscall.Close(fd)
			if err != nil {
				out = "err " + errName(err)
				break
			}
			maps = append(maps, m)
			out = fmt.Sprintf("ok %d", len(maps)-1)
		case "unmap":
			if err := syscall.Munmap(maps[num(1)]); err != nil {
				out = "err " + errName(err)
			} else {
				out = "ok"
			}
		case "poke":
			copy(maps[num(1)][num(2):], f[3])
			out = "ok"
		case "peek":
			b := maps[num(1)][num(2) : num(2)+num(3)]
			out = "ok " + strings.ReplaceAll(string(b), "\x00", ".")
		case "touch":
			for i := 0; i < num(2); i++ {
				maps[num(1)][i*os.Getpagesize()] = 1
			}
			out = "ok"
		case "exit":
			return
		default:
			out = "err EBADCMD"
		}
		fmt.Println(out)
	}
}

func errName(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		switch e {
		case syscall.EACCES:
			return "EACCES"
		case syscall.ENOENT:
			return "ENOENT"
		case syscall.ENODEV:
			return "ENODEV"
		case syscall.EINVAL:
			return "EINVAL"
		case syscall.EPERM:
			return "EPERM"
		}
	}
	return err.Error()
}
`

var (
	driverOnce           sync.Once
	driverCBin, goDrvBin string
	driverErr            error
)

// buildDrivers compiles the C and Go drivers once per run.
func buildDrivers(t testing.TB) {
	t.Helper()
	driverOnce.Do(func() {
		driverCBin = buildC(t, "driver", driverC)
		dir := filepath.Join(workDir, "godriver")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module godriver\n\ngo 1.21\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(driverGo), 0o644)
		goDrvBin = filepath.Join(dir, "godriver")
		build := exec.Command("go", "build", "-o", goDrvBin, ".")
		build.Dir = dir
		build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			driverErr = fmt.Errorf("go build driver: %v\n%s", err, out)
		}
		pyPath := filepath.Join(workDir, "driver.py")
		if err := os.WriteFile(pyPath, []byte(driverPy), 0o644); err != nil {
			driverErr = err
		}
	})
	if driverErr != nil {
		t.Fatal(driverErr)
	}
}

// pythonBin is a python3 that every user can run (not a shim under
// /root).
func pythonBin() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p
	}
	return "python3"
}

// startDriver starts a driver of language lang ("c", "python" or "go",
// or "c-ipcns" for the C driver in a new kernel IPC namespace),
// as root when uid < 0, else as uid:gid with no supplementary groups.
// The driver is ended with the test.
func startDriver(t testing.TB, lang string, uid, gid int) *driver {
	t.Helper()
	buildDrivers(t)
	var argv []string
	switch lang {
	case "c":
		argv = []string{driverCBin}
	case "c-ipcns":
		// The C driver in an IPC namespace of its own: the kernel as
		// the reference.
		argv = []string{"unshare", "--ipc", driverCBin}
	case "python":
		argv = []string{pythonBin(), "-u", filepath.Join(workDir, "driver.py")}
	case "go":
		argv = []string{goDrvBin}
	default:
		t.Fatalf("no driver for %s", lang)
	}
	if uid >= 0 {
		argv = append([]string{"setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups"}, argv...)
	}
	return startDriverArgv(t, lang, argv)
}

// startDriverArgv starts a driver with the given command line.
func startDriverArgv(t testing.TB, name string, argv []string) *driver {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, name: name, cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(d.stop)
	d.pid = strings.TrimPrefix(d.do("pid"), "ok ")
	return d
}

// stop ends the driver and waits for it; its mappings and handles go with
// it.
func (d *driver) stop() { stopCmd(d.cmd, d.in) }

// do sends one command and returns the reply line.
func (d *driver) do(format string, args ...any) string {
	d.t.Helper()
	line := fmt.Sprintf(format, args...)
	if _, err := fmt.Fprintln(d.in, line); err != nil {
		d.t.Fatalf("%s driver: %q: %v", d.name, line, err)
	}
	type reply struct {
		s   string
		err error
	}
	ch := make(chan reply, 1)
	go func() {
		s, err := d.out.ReadString('\n')
		ch <- reply{strings.TrimSuffix(s, "\n"), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			d.t.Fatalf("%s driver: %q: no reply: %v", d.name, line, r.err)
		}
		return r.s
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		d.t.Fatalf("%s driver: %q: no reply in 30s", d.name, line)
	}
	return ""
}

// ok sends a command that must succeed and returns what follows "ok".
func (d *driver) ok(format string, args ...any) string {
	d.t.Helper()
	r := d.do(format, args...)
	if r != "ok" && !strings.HasPrefix(r, "ok ") {
		d.t.Fatalf("%s driver: %q: %s", d.name, fmt.Sprintf(format, args...), r)
	}
	return strings.TrimPrefix(strings.TrimPrefix(r, "ok"), " ")
}

// fails sends a command that must fail with errno want.
func (d *driver) fails(want string, format string, args ...any) {
	d.t.Helper()
	if r := d.do(format, args...); r != "err "+want {
		d.t.Errorf("%s driver: %q: got %q, want err %s", d.name, fmt.Sprintf(format, args...), r, want)
	}
}
