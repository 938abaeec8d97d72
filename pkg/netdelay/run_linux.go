//go:build linux

package netdelay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// rcvBuf is the netlink socket's receive buffer: a queued-packet
	// message with COPY_META is about 100 bytes of payload in a ~1 KiB
	// skb truesize, so 8 MiB absorbs a burst of several thousand packets
	// while the delayer is busy releasing.
	rcvBuf = 8 << 20
	// maxBatch bounds one sendto of verdicts (2048 verdicts), below the
	// socket's default send buffer.
	maxBatch = 64 << 10
	// ackTimeout bounds the wait for the kernel's answer to a config
	// request; it answers at once, so a timeout means a broken socket.
	ackTimeout = 5 * time.Second
)

// Run binds c.Queue in the calling thread's network namespace and delays,
// drops and accepts its packets until ctx is done. Then it accepts every
// packet it still holds, hands the queue back to the kernel and returns
// what it did. It returns an error, with the stats so far, if it cannot
// bind the queue or loses its socket; it needs CAP_NET_ADMIN.
func Run(ctx context.Context, c Config) (Stats, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, fmt.Errorf("netdelay: %w", err)
	}
	s, err := openSocket()
	if err != nil {
		return Stats{}, err
	}
	defer s.close()
	d := newDelayer(c)
	q := &queue{sock: s, num: c.Queue, d: d}

	// Wake the poll when ctx is done: an eventfd the poll watches beside
	// the socket, so shutdown does not wait for a packet or a timer.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_, _ = unix.Write(s.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-done:
		}
	}()

	bind := func(seq uint32) []byte { return bindMessage(seq, c.Queue, c.MaxLen) }
	if err := q.request(bind); err != nil {
		return d.snapshot(), fmt.Errorf("netdelay: binding queue %d: %w", c.Queue, explain(err))
	}
	runErr := q.serve(ctx)

	// Stop taking packets before letting go of those held: with a length
	// limit of 0 and fail-open, the kernel accepts new packets itself.
	// Then accept what is held and what came before the limit, and only
	// then close the socket (closing drops whatever is still queued).
	d.stop()
	stopQueue := func(seq uint32) []byte { return maxLenMessage(seq, c.Queue, 0) }
	if err := q.request(stopQueue); err != nil && runErr == nil {
		runErr = fmt.Errorf("netdelay: releasing queue %d: %w", c.Queue, err)
	}
	// A packet the kernel was queueing to us while it took the new limit
	// can come just after the ack.
	if _, err := q.receive(0); err != nil && runErr == nil {
		runErr = err
	}
	if err := q.releaseDue(time.Now()); err != nil && runErr == nil {
		runErr = err
	}
	return d.snapshot(), runErr
}

// socket is the netlink socket and the eventfd that wakes its poll.
type socket struct{ fd, wake int }

func openSocket() (*socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netdelay: netlink socket: %w", err)
	}
	s := &socket{fd: fd, wake: -1}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		s.close()
		return nil, fmt.Errorf("netdelay: binding netlink socket: %w", err)
	}
	// SO_RCVBUFFORCE passes net.core.rmem_max (root only); else take what
	// SO_RCVBUF gives.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	// Without this a full receive buffer makes the next recv fail with
	// ENOBUFS. The kernel has already dealt with the packet it could not
	// tell us about (fail-open accepts it), so there is nothing to do.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("netdelay: eventfd: %w", err)
	}
	return s, nil
}

func (s *socket) close() {
	_ = unix.Close(s.fd)
	if s.wake >= 0 {
		_ = unix.Close(s.wake)
	}
}

func (s *socket) send(b []byte) error {
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return err
		}
	}
}

// poll waits until the socket is readable, the wake fd is, or timeout
// passes (never, if negative). ppoll takes a timespec, so a packet is not
// released up to a millisecond late as poll's millisecond timeout would.
func (s *socket) poll(timeout time.Duration) (readable, woken bool, err error) {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	if _, err := unix.Ppoll(fds, ts, nil); err != nil && err != unix.EINTR {
		return false, false, fmt.Errorf("netdelay: ppoll: %w", err)
	}
	return fds[0].Revents != 0, fds[1].Revents != 0, nil
}

// queue serves one bound queue.
type queue struct {
	sock *socket
	num  uint16
	d    *delayer
	seq  uint32
	buf  []byte // receive buffer
	out  []byte // verdict batch
}

func (q *queue) nextSeq() uint32 { q.seq++; return q.seq }

// serve receives and releases packets until ctx is done.
func (q *queue) serve(ctx context.Context) error {
	for ctx.Err() == nil {
		timeout := time.Duration(-1)
		if due, ok := q.d.nextDue(); ok {
			timeout = max(time.Until(due), 0)
		}
		readable, woken, err := q.sock.poll(timeout)
		if err != nil {
			return err
		}
		if woken {
			return nil
		}
		if readable {
			if _, err := q.receive(0); err != nil {
				return err
			}
		}
		if err := q.releaseDue(time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// receive reads every datagram waiting on the socket and admits the
// packets in them. Packets can come before the answer to a config request
// (the iptables rule may already be sending them), so this is also where
// that answer is looked for: acked says whether the message numbered
// ackSeq was acked; an error answer to it is returned.
func (q *queue) receive(ackSeq uint32) (acked bool, err error) {
	if q.buf == nil {
		q.buf = make([]byte, 1<<16)
	}
	for {
		n, _, err := unix.Recvfrom(q.sock.fd, q.buf, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return acked, nil
		case err == unix.ENOBUFS:
			continue // see NETLINK_NO_ENOBUFS in openSocket
		case err != nil:
			return acked, fmt.Errorf("netdelay: receiving from queue %d: %w", q.num, err)
		}
		now := time.Now()
		var answer error
		err = parseMessages(q.buf[:n], func(m message) {
			switch {
			case m.kind == kindPacket:
				q.d.admit(m.packetID, now)
			case ackSeq != 0 && m.seq == ackSeq && m.kind == kindAck:
				acked = true
			case ackSeq != 0 && m.seq == ackSeq && m.kind == kindError:
				answer = m.errno
			case m.kind == kindError:
				// Only a verdict goes unacked, so this is one the
				// kernel refused; its packet is gone already.
				q.d.stats.VerdictErrors++
			}
		})
		if err != nil {
			return acked, fmt.Errorf("netdelay: message from queue %d: %w", q.num, err)
		}
		if answer != nil {
			return acked, answer
		}
	}
}

// request sends the config message build makes with the next sequence
// number and waits for its ack, admitting the packets that come meanwhile.
func (q *queue) request(build func(seq uint32) []byte) error {
	seq := q.nextSeq()
	if err := q.sock.send(build(seq)); err != nil {
		return err
	}
	deadline := time.Now().Add(ackTimeout)
	for {
		acked, err := q.receive(seq)
		if err != nil || acked {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("no answer from the kernel in %v", ackTimeout)
		}
		if _, _, err := q.sock.poll(left); err != nil {
			return err
		}
	}
}

// releaseDue sends the verdicts of every packet due at now, in batches.
func (q *queue) releaseDue(now time.Time) error {
	for {
		q.out = q.out[:0]
		n := q.d.release(now, maxBatch/verdictMsgLen, func(id, verdict uint32) {
			q.out = appendVerdict(q.out, q.nextSeq(), q.num, id, verdict)
		})
		if n == 0 {
			return nil
		}
		if err := q.sock.send(q.out); err != nil {
			// The kernel still holds these packets and drops them when
			// the socket closes; a delayer that cannot give verdicts
			// must stop rather than let the queue fill.
			return fmt.Errorf("netdelay: sending %d verdicts to queue %d: %w", n, q.num, err)
		}
	}
}

// explain adds what the user can do to the errors a bind commonly gets.
func explain(err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		// The kernel answers EPERM both to a caller without the
		// capability and for a queue another socket has bound.
		return fmt.Errorf("%w (binding an NFQUEUE needs CAP_NET_ADMIN in this network namespace, and a queue no other process has bound)", err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w (is the kernel's nfnetlink_queue module loaded?)", err)
	}
	return err
}
