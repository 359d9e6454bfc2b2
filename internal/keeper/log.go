package keeper

import (
	"encoding/binary"
	"hash/crc32"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/nsmodel"
)

// The state record is a memfd of framed records: a little-endian uint32
// length, the CRC-32C of the payload, then the payload (an nsmodel
// record). A crash in the middle of an append leaves a frame that is
// short or fails its checksum; reading stops there, and what it held was
// never acknowledged.
const frameHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame frames rec onto dst.
func appendFrame(dst, rec []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(rec, castagnoli))
	return append(dst, rec...)
}

// Frames splits data into its records, up to the first frame that is
// torn; torn says whether there was one, and valid is how many bytes
// the whole frames take.
func Frames(data []byte) (recs [][]byte, valid int, torn bool) {
	for off := 0; off < len(data); {
		if len(data)-off < frameHeader {
			return recs, off, true
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		end := off + frameHeader + n
		if n < 0 || end > len(data) || end < off || crc32.Checksum(data[off+frameHeader:end], castagnoli) != sum {
			return recs, off, true
		}
		recs = append(recs, data[off+frameHeader:end])
		off = end
	}
	return recs, len(data), false
}

// logFile is one memfd of the record and where the next frame goes.
type logFile struct {
	fd  int
	off int64
}

func newLogFile() (*logFile, error) {
	fd, err := unix.MemfdCreate("shmfs-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &logFile{fd: fd}, nil
}

// write appends one frame whole: a short write is retried until it is
// all there, so a frame is torn only by the death of the process.
func (f *logFile) write(frame []byte) error {
	for len(frame) > 0 {
		n, err := unix.Pwrite(f.fd, frame, f.off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		f.off += int64(n)
		frame = frame[n:]
	}
	return nil
}

// Log is the server's side of the state record: the nsmodel.Journal
// that appends each record to the memfd the keeper holds, so that a
// record written is kept whatever happens to the server next. From time
// to time it compacts: the model's snapshot goes into a fresh memfd,
// with the records that come meanwhile, and the keeper swaps it in.
type Log struct {
	conn  *Conn
	model *nsmodel.Model

	// mu protects everything below; it is taken under the model's locks
	// (a record is appended with its object's lock held) and never
	// before one.
	mu  sync.Mutex
	cur *logFile
	// next is the fresh record being filled during a compaction: every
	// record goes to both until it is swapped in.
	next *logFile
	buf  []byte
	// compactAt is the size of the record that starts a compaction.
	compactAt  int64
	compacting bool
	// err is the first write error, after which the log records nothing
	// more (and says so once).
	err    error
	onFail func(error)
}

// minCompact is the least size of record that is compacted: below it a
// compaction would cost more than replaying the record does.
const minCompact = 4 << 20

// NewLog makes the journal of model, appending to the record in fd,
// which already holds off bytes.
func NewLog(conn *Conn, model *nsmodel.Model, fd int, off int64, onFail func(error)) *Log {
	return &Log{conn: conn, model: model, cur: &logFile{fd: fd, off: off}, compactAt: max(2*off, minCompact), onFail: onFail}
}

// Append implements nsmodel.Journal.
func (l *Log) Append(rec []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendLocked(rec)
	if l.cur.off >= l.compactAt && !l.compacting && l.err == nil {
		l.compacting = true
		go l.Compact()
	}
}

func (l *Log) appendLocked(rec []byte) {
	if l.err != nil {
		return
	}
	l.buf = appendFrame(l.buf[:0], rec)
	if err := l.cur.write(l.buf); err != nil {
		l.fail(err)
		return
	}
	if l.next != nil {
		if err := l.next.write(l.buf); err != nil {
			l.fail(err)
		}
	}
	if cap(l.buf) > 1<<20 {
		l.buf = nil
	}
}

// fail stops recording. l.mu is held.
func (l *Log) fail(err error) {
	l.err = err
	if l.onFail != nil {
		go l.onFail(err)
	}
}

// Compact writes the model's state into a fresh record and hands it to
// the keeper, which drops the old one. Changes go on meanwhile: their
// records go to both.
func (l *Log) Compact() error {
	defer func() {
		l.mu.Lock()
		l.compacting = false
		l.mu.Unlock()
	}()
	f, err := newLogFile()
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.next = f
	l.mu.Unlock()
	l.model.Snapshot(func(rec []byte) {
		l.mu.Lock()
		if l.err == nil {
			l.buf = appendFrame(l.buf[:0], rec)
			if err := f.write(l.buf); err != nil {
				l.fail(err)
			}
		}
		l.mu.Unlock()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = nil
	if l.err != nil {
		unix.Close(f.fd)
		return l.err
	}
	// The keeper has the new record once this returns; records after it
	// go there only.
	if err := l.conn.SendLog(f.fd); err != nil {
		unix.Close(f.fd)
		return err
	}
	unix.Close(l.cur.fd)
	l.cur = f
	l.compactAt = max(2*f.off, minCompact)
	return nil
}

// Size is how many bytes the current record holds.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur.off
}
