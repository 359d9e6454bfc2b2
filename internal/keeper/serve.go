package keeper

import (
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/shmfs/shmfs/backing"
	"github.com/shmfs/shmfs/fs"
	"github.com/shmfs/shmfs/nsmodel"
)

// Server is a server's tie to its keeper: the connection, the journal,
// and the model it rebuilt.
type Server struct {
	Conn  *Conn
	Log   *Log
	Model *nsmodel.Model
	// Restored says the model was rebuilt from a record (a restart);
	// Records how many records it replayed, Torn whether the record
	// ended in a torn frame.
	Restored bool
	Records  int
	Torn     bool
	lg       *slog.Logger
	live     []uint64
}

// keptPages is a segment's page store whose memfd the keeper holds too:
// made, it is handed to the keeper before the create that made it is
// answered; closed, the keeper lets it go.
type keptPages struct {
	nsmodel.Pages
	conn *Conn
	ino  uint64
}

// Regrow gives the segment new pages (nsmodel.Pages): the keeper takes
// the new memfd before the old one goes, so that it holds one of them
// whenever the server dies.
func (p *keptPages) Regrow(size int64) error {
	if err := p.Pages.Regrow(size); err != nil {
		return err
	}
	ino := nsmodel.PagesIno(p.Pages)
	if ino == p.ino {
		return nil
	}
	if err := p.conn.Keep(p.Fd(), ino); err != nil {
		return err
	}
	p.conn.Drop(p.ino)
	p.ino = ino
	return nil
}

func (p *keptPages) Close() error {
	p.conn.Drop(p.ino)
	return p.Pages.Close()
}

// factory makes the pages of a new segment and hands them to the keeper.
func (s *Server) factory(name string, hugetlb bool) (nsmodel.Pages, error) {
	p, err := backing.New(name, hugetlb)
	if err != nil {
		return nil, err
	}
	ino := nsmodel.PagesIno(p)
	if err := s.Conn.Keep(p.Fd(), ino); err != nil {
		p.Close()
		return nil, fmt.Errorf("keeper: %w", err)
	}
	return &keptPages{Pages: p, conn: s.Conn, ino: ino}, nil
}

// Start rebuilds the model from what the keeper held (nothing, for the
// first server of a mount) and starts recording its changes.
func Start(conn *Conn, lg *slog.Logger) (*Server, error) {
	s := &Server{Conn: conn, lg: lg}
	data, err := readAll(conn.LogFd())
	if err != nil {
		return nil, fmt.Errorf("reading the state record: %v", err)
	}
	recs, valid, torn := Frames(data)
	// What follows the last whole frame was never acknowledged.
	if err := unix.Ftruncate(conn.LogFd(), int64(valid)); err != nil {
		return nil, fmt.Errorf("state record: %v", err)
	}
	s.Records, s.Torn = len(recs), torn
	held := make(map[uint64]int)
	for _, fd := range conn.Held() {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			unix.Close(fd)
			continue
		}
		if _, dup := held[st.Ino]; dup {
			unix.Close(fd)
			continue
		}
		held[st.Ino] = fd
	}
	m := nsmodel.NewModel(s.factory)
	s.Model = m
	if len(recs) > 0 {
		s.Restored = true
		r := nsmodel.NewRestorer(m)
		for _, rec := range recs {
			if err := r.Apply(rec); err != nil {
				lg.Error("state record: a whole frame did not read; skipped", "err", err.Error())
			}
		}
		r.Finish(func(ino uint64, huge bool) (nsmodel.Pages, error) {
			fd, ok := held[ino]
			if !ok {
				return nil, fmt.Errorf("the keeper held no memfd of inode %d", ino)
			}
			delete(held, ino)
			p, err := backing.Adopt(fd, huge)
			if err != nil {
				return nil, err
			}
			return &keptPages{Pages: p, conn: conn, ino: ino}, nil
		})
		for _, p := range r.Problems {
			lg.Error("restore: " + p)
		}
	}
	// Memfds of segments destroyed just before the crash.
	for ino, fd := range held {
		conn.Drop(ino)
		unix.Close(fd)
	}
	s.Log = NewLog(conn, m, conn.LogFd(), int64(valid), func(err error) {
		lg.Error("state record: cannot write; changes from now on are lost in a crash", "err", err.Error())
	})
	m.SetJournal(s.Log)
	if s.Restored {
		// A fresh record of the rebuilt state: the undo records applied,
		// the replay done once.
		if err := s.Log.Compact(); err != nil {
			lg.Warn("state record: compaction failed", "err", err.Error())
		}
	}
	return s, nil
}

// Survivors counts the mappings that outlived the servers before this
// one as attaches, and destroys the segments removed while attached that
// none outlived: the model is then as the mount must show it, before it
// serves. The result goes into the mount's fs.Config.
func (s *Server) Survivors() *fs.Survivors {
	old := s.Model.OldMapDevices()
	sv := fs.FindSurvivors(s.Model, old)
	s.Model.ReapDestroyed()
	if s.Restored {
		s.lg.Info("mappings that outlived the old server count as attaches", "mappings", sv.N, "devices", fmt.Sprint(old))
	}
	s.live = sv.Live
	return sv
}

// Mounted finishes a start once mnt serves: the devices to look for
// mappings under at the next restart are recorded, and the keeper learns
// the mode.
func (s *Server) Mounted(mnt *fs.Mount) {
	s.Model.MapDevices(append(s.live, mnt.Dev()))
	mode := "cached"
	if mnt.Passthrough {
		mode = "passthrough"
	}
	s.Conn.Mode(mode)
}

// readAll reads the whole of fd from offset 0.
func readAll(fd int) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size)
	for off := 0; off < len(buf); {
		n, err := unix.Pread(fd, buf[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			buf = buf[:off]
			break
		}
		off += n
	}
	return buf, nil
}
