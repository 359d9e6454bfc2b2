package nsmodel

// Readiness of a queue, for poll(2) on its files: a receive is ready
// when it would not block, a send when one of the smallest message that
// carries data (one byte of mtext) would not: a message with no mtext
// fits until the queue holds qbytes messages, which would leave a queue
// full of bytes writable. A poller that waits keeps a MsgWatch on the queue,
// which is woken at each change that can make it ready: a message its
// selection takes arrives (each one, as a pipe wakes its readers on
// every write, so that an edge-triggered epoll sees every message), room
// is made, or the queue is removed.

// MsgWatch is a poller waiting on a queue. Its fields are protected by
// the queue's mu.
type MsgWatch struct {
	q    *Msg
	wake func()
	// What the poller waits for, and the selection of its receives.
	in, out bool
	typ     int64
	mode    search
}

// msgWatches are the watches of a queue; nil until the first.
type msgWatches map[*MsgWatch]struct{}

// NewMsgWatch makes a watch on q that calls wake, with q's lock held, at
// each change that can make a poller ready; wake must only notify. It
// is armed by each Poll, until Unwatch.
func NewMsgWatch(q *Msg, wake func()) *MsgWatch {
	return &MsgWatch{q: q, wake: wake}
}

// Unwatch ends the watch.
func (w *MsgWatch) Unwatch() {
	q := w.q
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.watches, w)
}

// MsgReady is a queue's readiness for one poller.
type MsgReady struct {
	// Recv: a receive with the poller's selection would not block: a
	// message it takes is queued, or the receive copies (MSG_COPY
	// never waits).
	Recv bool
	// Send: a message of one byte of mtext would fit.
	Send bool
	// Removed: the queue is gone; every receive and send fails at once.
	Removed bool
}

// Poll is the readiness of q for a receive of req's selection (its Type
// and its MsgExcept and MsgCopy flags; IPCNoWait is not looked at: a
// non-blocking file is ready when it has a message, as a socket is) and
// for a send. With w, it arms w, atomically with the answer, for the
// events asked: recv wakes w at each message that the selection takes,
// send whenever room is made; both at removal.
func (q *Msg) Poll(req MsgRecv, recv, send bool, w *MsgWatch) MsgReady {
	typ, mode := convertMode(req.Type, req.Flags)
	q.mu.Lock()
	defer q.mu.Unlock()
	if w != nil && !q.removed {
		w.in, w.out, w.typ, w.mode = recv, send, typ, mode
		if q.watches == nil {
			q.watches = msgWatches{}
		}
		q.watches[w] = struct{}{}
	}
	if q.removed {
		return MsgReady{Recv: true, Send: true, Removed: true}
	}
	return MsgReady{
		Recv: mode == searchNumber || q.find(typ, mode) >= 0,
		Send: q.fits(1),
	}
}

// pollSent wakes the watches whose selection takes m, just queued. q.mu
// is held.
func (q *Msg) pollSent(m *message) {
	for w := range q.watches {
		if w.in && w.mode != searchNumber && m.test(w.typ, w.mode) {
			w.wake()
		}
	}
}

// pollRoom wakes the watches that wait to send, once a message fits.
// q.mu is held.
func (q *Msg) pollRoom() {
	if len(q.watches) == 0 || !q.fits(1) {
		return
	}
	for w := range q.watches {
		if w.out {
			w.wake()
		}
	}
}

// pollGone wakes every watch of a removed queue and drops them. q.mu is
// held.
func (q *Msg) pollGone() {
	for w := range q.watches {
		w.wake()
	}
	q.watches = nil
}
