package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pollPySrc exercises poll, select and asyncio on queue files. Messages
// come from other processes (sh and printf), started by the script once
// it has seen the file not ready.
const pollPySrc = `
import asyncio, errno, os, select, struct, subprocess, sys

path, case = sys.argv[1], sys.argv[2]
rpath = path + ",recv"  # a receiving name: the queue's own name only copies (docs/msg.md)

def send_from_other_process(text, mtype=1):
    esc = "".join("\\%03o" % b for b in struct.pack("q", mtype) + text)
    subprocess.run(["sh", "-c", "printf '%s' > %s" % (esc, path)], check=True)

if case == "poll":
    fd = os.open(rpath, os.O_RDWR | os.O_CREAT)
    p = select.poll()
    p.register(fd, select.POLLIN)
    # An empty queue: nothing to read, poll times out.
    assert p.poll(300) == [], "empty queue polled readable"
    # A sender in another process, after poll has started waiting.
    sender = subprocess.Popen(["sh", "-c", "sleep 0.2; printf '\\001\\000\\000\\000\\000\\000\\000\\000hi' > " + path])
    ev = p.poll(10000)
    sender.wait()
    assert ev == [(fd, select.POLLIN)], ev
    b = os.read(fd, 100)
    assert b[8:] == b"hi", b
    # Read empty again: not readable.
    assert p.poll(100) == [], "drained queue polled readable"
    print("ok")

elif case == "select-write":
    fd = os.open(rpath, os.O_RDWR | os.O_CREAT)
    # Room: writable at once (a zero timeout does not wait).
    r, w, x = select.select([], [fd], [], 0)
    assert w == [fd], "queue with room not writable"
    # Fill it to the byte: non-blocking writes until EAGAIN, of ever
    # smaller messages.
    os.set_blocking(fd, False)
    n = 0
    for size in (1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1):
        while True:
            try:
                os.write(fd, struct.pack("q", 1) + b"x" * size)
                n += 1
            except BlockingIOError:
                break
    os.set_blocking(fd, True)
    assert n > 0
    r, w, x = select.select([], [fd], [], 0.3)
    assert w == [], "full queue writable"
    # A receive in another process makes room.
    rcv = subprocess.Popen(["sh", "-c", "sleep 0.2; dd if=%s bs=2000 count=1 of=/dev/null status=none" % rpath])
    r, w, x = select.select([], [fd], [], 10)
    rcv.wait()
    assert w == [fd], "no wake-up for room"
    print("ok", n)

elif case == "asyncio":
    n = int(sys.argv[3])
    fd = os.open(rpath, os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK)
    st = {"wakeups": 0, "spurious": 0}
    got = []
    async def main():
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()
        def readable():
            st["wakeups"] += 1
            try:
                b = os.read(fd, 100)
            except OSError as e:
                if e.errno != errno.ENOMSG:
                    raise
                st["spurious"] += 1
                return
            got.append(b[8:])
            arrived.set()
        loop.add_reader(fd, readable)
        await asyncio.sleep(0.3)
        for i in range(n):
            arrived.clear()
            await loop.run_in_executor(None, send_from_other_process, b"m%d" % i)
            await asyncio.wait_for(arrived.wait(), 10)
        # Time for any wake-up that should not come.
        await asyncio.sleep(0.3)
        loop.remove_reader(fd)
    asyncio.run(main())
    print("wakeups", st["wakeups"], "spurious", st["spurious"], "got", b",".join(got).decode())
`

// runPollPy runs one case of pollPySrc on a fresh queue of a fresh mount.
func runPollPy(t *testing.T, name string, args ...string) string {
	t.Helper()
	mnt := mountShmfs(t)
	script := filepath.Join(t.TempDir(), "poll.py")
	if err := os.WriteFile(script, []byte(pollPySrc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, nil, "python3", append([]string{script, filepath.Join(mnt, "default", "msg", name)}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestPollMsgWakesOnSend: poll on an empty queue times out, and returns
// POLLIN once another process sends.
func TestPollMsgWakesOnSend(t *testing.T) {
	if out := runPollPy(t, "0x00001301", "poll"); out != "ok" {
		t.Errorf("got %q", out)
	}
}

// TestPollMsgSelectWrite: select for writing returns at once on a queue
// with room, and on a full one waits until a receive makes room.
func TestPollMsgSelectWrite(t *testing.T) {
	if out := runPollPy(t, "0x00001302", "select-write"); !strings.HasPrefix(out, "ok ") {
		t.Errorf("got %q", out)
	}
}

// TestPollMsgAsyncio: an asyncio reader is woken exactly once per
// message, and reads it.
func TestPollMsgAsyncio(t *testing.T) {
	out := runPollPy(t, "0x00001303", "asyncio", "5")
	if want := "wakeups 5 spurious 0 got m0,m1,m2,m3,m4"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
