package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// msgPySrc is the Python side of docs/msg.md: struct.pack("q", mtype)
// frames a message, os.read and os.write are msgrcv and msgsnd.
const msgPySrc = `
import hashlib, os, random, struct, sys

path, role, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

if role in ("ping", "pong"):
    # Each side reads only the type it expects, through a name option.
    rfd = os.open(path + (",msgtyp=2" if role == "ping" else ",msgtyp=1"), os.O_RDONLY)
    wfd = os.open(path, os.O_WRONLY)
    def send(mtype, text):
        os.write(wfd, struct.pack("q", mtype) + text)
    def recv():
        b = os.read(rfd, 8 + 8192)
        return struct.unpack("q", b[:8])[0], b[8:]
    for i in range(n):
        if role == "ping":
            send(1, b"%d" % i)
            t, text = recv()
            assert t == 2 and int(text) == i + 1, (t, text)
        else:
            t, text = recv()
            assert t == 1, t
            send(2, b"%d" % (int(text) + 1))
    print("done", n)
elif role == "send":
    # Random bytes of random lengths, every byte value, empty messages too.
    rnd = random.Random(int(sys.argv[4]))
    h = hashlib.sha256()
    with open(path, "wb", buffering=0) as f:
        for i in range(n):
            mtype = rnd.randrange(1, 1 << 62)
            text = rnd.randbytes(rnd.choice([0, 1, 7, 100, 8191, 8192, rnd.randrange(8193)]))
            f.write(struct.pack("q", mtype) + text)
            h.update(struct.pack("q", mtype) + text)
    print(h.hexdigest())
elif role == "recv":
    h = hashlib.sha256()
    with open(path + ",recv", "rb", buffering=0) as f:
        for i in range(n):
            b = f.read(8 + 8192)
            h.update(b)
    print(h.hexdigest())
`

// TestMsgExchangePython has two Python processes talk through a queue:
// a ping-pong selecting by type, and a stream of random binary messages
// that must arrive byte for byte.
func TestMsgExchangePython(t *testing.T) {
	mnt := mountShmfs(t)
	q := newMsgQueue(t, mnt, 0x200)
	prog := filepath.Join(t.TempDir(), "msgpeer.py")
	if err := os.WriteFile(prog, []byte(msgPySrc), 0o644); err != nil {
		t.Fatal(err)
	}
	pong := msgStart(t, pythonBin(), prog, q, "pong", "200")
	ping := msgStart(t, pythonBin(), prog, q, "ping", "200")
	if out := ping.wait(); len(out) != 1 || out[0] != "done 200" {
		t.Errorf("ping: %q", out)
	}
	if out := pong.wait(); len(out) != 1 || out[0] != "done 200" {
		t.Errorf("pong: %q", out)
	}

	recv := msgStart(t, pythonBin(), prog, q, "recv", "300")
	send := msgStart(t, pythonBin(), prog, q, "send", "300", "42")
	sent := send.wait()
	got := recv.wait()
	if len(sent) != 1 || len(got) != 1 || sent[0] != got[0] {
		t.Errorf("sent %q, received %q", sent, got)
	}
	if r := msgByKey(t, mnt, 0x200); r.QNum != 0 {
		t.Errorf("queue after: %q", strings.TrimSpace(r.line))
	}
}
