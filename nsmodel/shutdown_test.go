package nsmodel

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShutdownWakesEveryWaiter: Shutdown wakes each blocked msgrcv,
// msgsnd and semop with its error, applies none of them, and makes later
// calls that would block fail at once; calls that need not wait go on.
func TestShutdownWakesEveryWaiter(t *testing.T) {
	for _, want := range []unix.Errno{unix.EIDRM, unix.EINTR} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			ns := msgNS(t)
			other, err := ns.model.Create("other")
			if err != nil {
				t.Fatal(err)
			}
			q := newQueue(t, ns, 0x1, 0o600)
			full := newQueue(t, other, 0x2, 0o600)
			zero := uint64(0)
			if err := other.Msg.Set(RootCred(), full, SetAttr{QBytes: &zero}); err != nil {
				t.Fatal(err)
			}
			out := make(chan recvResult, 4)
			blockReceiver(t, context.Background(), q, 1, MsgRecv{BufSize: 100}, out)
			blockReceiver(t, context.Background(), q, 2, MsgRecv{Type: 5, BufSize: 100}, out)
			blockSender(t, context.Background(), full, 3, msgbuf(1, "lost?"), out)

			s := newSet(t, ns, 0x3, 2, 0o600)
			if err := op(t, s, nil, Sembuf{Num: 1, Op: 4}); err != nil {
				t.Fatal(err)
			}
			// Takes 1 from semaphore 1, then waits on semaphore 0: the
			// 1 is given back while it sleeps, and must stay given back.
			p := sleepOps(t, s, Sembuf{Num: 1, Op: -1}, Sembuf{Num: 0, Op: -1})
			z := sleepOps(t, s, Sembuf{Num: 1, Op: 0})

			ns.model.Shutdown(want)
			for range 3 {
				r := <-out
				wantErr(t, fmt.Sprintf("blocked queue caller %d", r.who), r.err, want)
			}
			wantErr(t, "blocked semop", p.result(t), want)
			wantErr(t, "blocked wait for zero", z.result(t), want)
			if st := other.Msg.Stat(full); st.QNum != 0 || st.CBytes != 0 {
				t.Errorf("the woken send queued its message: %+v", st)
			}
			if vals, _ := s.GetAll(RootCred()); !slices.Equal(vals, []int{0, 4}) {
				t.Errorf("values after the woken semop: %v, want [0 4]", vals)
			}

			// Later calls that would block fail at once; the others work.
			_, err = q.Receive(context.Background(), 5, MsgRecv{BufSize: 100})
			wantErr(t, "a receive that would block", err, want)
			wantErr(t, "a send that would block", full.Send(context.Background(), 5, msgbuf(1, "x"), 0), want)
			wantErr(t, "a semop that would block", s.Op(context.Background(), RootCred(), 5, nil, SemOp{Ops: []Sembuf{{Num: 0, Op: -1}}}), want)
			send(t, q, 7, "kept")
			if b, err := q.Receive(context.Background(), 5, MsgRecv{BufSize: 100}); err != nil || string(b[MsgHdrSize:]) != "kept" {
				t.Errorf("a receive with a message waiting: %q, %v", b, err)
			}
			if err := op(t, s, nil, Sembuf{Num: 1, Op: -1}); err != nil {
				t.Errorf("a semop that need not wait: %v", err)
			}
			// A queue made afterwards blocks no one either.
			late := newQueue(t, ns, 0x9, 0o600)
			_, err = late.Receive(context.Background(), 5, MsgRecv{BufSize: 100})
			wantErr(t, "a receive on a queue made after Shutdown", err, want)
			ns.model.Shutdown(unix.EINTR + unix.EIDRM - want) // the first error stays
			_, err = late.Receive(context.Background(), 5, MsgRecv{BufSize: 100})
			wantErr(t, "after a second Shutdown", err, want)
		})
	}
}
