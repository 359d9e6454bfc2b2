package nsmodel

// Readiness of a set, for poll(2) on its files. A set file is always
// readable: a read shows the values and never waits. It is writable when
// the operations the poller means to apply (the last list written on its
// handle) would not block now: they would complete, or fail at once with
// an error other than EAGAIN (ERANGE, a semaphore past the set).
// IPC_NOWAIT is not looked at: an operation that would wait for it is
// not ready, as a non-blocking socket is not writable when full. A poller that waits
// keeps a SemWatch, woken whenever the values change so that its
// operations would no longer block, and at removal.

// SemWatch is a poller waiting on a set. Its fields are protected by the
// set's mu.
type SemWatch struct {
	s    *Sem
	wake func()
	ops  []Sembuf
}

// semWatches are the watches of a set; nil until the first.
type semWatches map[*SemWatch]struct{}

// NewSemWatch makes a watch on s that calls wake, with s's lock held,
// when the operations it was last armed with would no longer block;
// wake must only notify. It is armed by each Poll, until Unwatch.
func NewSemWatch(s *Sem, wake func()) *SemWatch {
	return &SemWatch{s: s, wake: wake}
}

// Unwatch ends the watch.
func (w *SemWatch) Unwatch() {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watches, w)
}

// Poll reports whether ops would not block on s now, and whether s has
// been removed (then nothing blocks). No ops is ready. With w, it arms
// w with ops, atomically with the answer.
func (s *Sem) Poll(ops []Sembuf, w *SemWatch) (ready, removed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Deleted {
		return true, true
	}
	if w != nil {
		w.ops = append(w.ops[:0], ops...)
		if s.watches == nil {
			s.watches = semWatches{}
		}
		s.watches[w] = struct{}{}
	}
	return !s.wouldBlock(ops), false
}

// wouldBlock reports whether semop of ops would sleep now, or fail with
// EAGAIN for IPC_NOWAIT: an operation cannot apply, with the earlier
// ones applied. It changes nothing. s.mu is held.
func (s *Sem) wouldBlock(ops []Sembuf) bool {
	var vals [8]struct {
		num uint16
		val int32
	}
	applied := vals[:0]
	val := func(num uint16) int32 {
		for i := len(applied) - 1; i >= 0; i-- {
			if applied[i].num == num {
				return applied[i].val
			}
		}
		return s.sems[num].val
	}
	for _, o := range ops {
		if int(o.Num) >= len(s.sems) {
			return false
		}
		cur := val(o.Num)
		v := cur + int32(o.Op)
		if (o.Op == 0 && cur != 0) || v < 0 {
			return true
		}
		if v > SemVMX {
			return false
		}
		applied = append(applied, struct {
			num uint16
			val int32
		}{o.Num, v})
	}
	return false
}

// pollChanged wakes the watches whose operations would no longer block,
// after the values changed. s.mu is held.
func (s *Sem) pollChanged() {
	for w := range s.watches {
		if !s.wouldBlock(w.ops) {
			w.wake()
		}
	}
}

// pollGone wakes every watch of a removed set and drops them. s.mu is
// held.
func (s *Sem) pollGone() {
	for w := range s.watches {
		w.wake()
	}
	s.watches = nil
}
