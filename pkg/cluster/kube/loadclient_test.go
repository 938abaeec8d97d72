package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// blackHole is a loopback address that takes no more connections and
// answers no SYN: a listening socket with a backlog of 0 that never
// accepts, its one queued connection already made. As a pod on a lost
// node, a connection attempt to it gets no answer at all.
func blackHole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (one connection with backlog 0); later SYNs
	// are dropped.
	for range 2 {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// TestLoadClientDialGivesUp: the load generator's connection attempts end
// with the request's timeout. Vegeta's own dialer has none: its attempt
// to a silent address outlives the request by about two minutes of SYN
// retries and holds one of the transport's connections meanwhile, which
// on kind failed every request of zone-outage for two minutes.
func TestLoadClientDialGivesUp(t *testing.T) {
	addr := blackHole(t)
	for _, keepAlive := range []bool{false, true} {
		client := loadClient(200*time.Millisecond, 4, keepAlive)
		done := make(chan error, 1)
		go func() {
			// No deadline of its own: only the dialer's timeout ends it,
			// as when the request that asked for it is gone.
			c, err := client.Transport.(*http.Transport).DialContext(context.Background(), "tcp", addr)
			if err == nil {
				c.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("keepAlive %v: dial to a silent address: %v, want a timeout", keepAlive, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("keepAlive %v: the dial to a silent address is still going after 30s (the timeout is 200ms)", keepAlive)
		}
	}
}

// TestSourcePortsTakenInTurn: the load generator's connections take their
// source ports in turn over its range, skipping one the host is using, so
// that a port comes back only after the whole range (a stale conntrack
// entry of a SYN to a lost pod lives 120s; the kernel's own choice came
// back within about 94s at 150 connections a second).
func TestSourcePortsTakenInTurn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A range of 20 free ports below the kernel's ephemeral range (from
	// 32768 by default), where neither the kernel's own choices nor a
	// load generator running beside this test (it takes its ports in turn
	// over the ephemeral range) take them; the third is held by a
	// listener of the host's.
	lo := uint32(20000 + os.Getpid()%10000)
	for p := lo; p < lo+20; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			t.Skipf("port %d of the test's range is in use: %v", p, err)
		}
		l.Close()
	}
	held, err := net.Listen("tcp", fmt.Sprintf(":%d", lo+3))
	if err != nil {
		t.Skipf("port %d: %v", lo+3, err)
	}
	defer held.Close()
	s := newSourcePorts(time.Second, -1)
	s.lo, s.n = lo, 20
	var ports []int
	for range 6 {
		c, err := s.dial(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, c.LocalAddr().(*net.TCPAddr).Port)
		c.Close()
	}
	for i, p := range ports {
		if p < int(lo) || p >= int(lo)+20 || p == int(lo)+3 || (i > 0 && p <= ports[i-1]) {
			t.Fatalf("source ports %v: want them in turn in [%d, %d), rising, without %d (in use)", ports, lo, lo+20, lo+3)
		}
	}
}
