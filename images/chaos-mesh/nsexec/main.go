// Command nsexec stands in for Chaos Mesh's /usr/local/bin/nsexec, which
// upstream's chaos-daemon image downloads as a prebuilt Rust binary
// (github.com/chaos-mesh/nsexec) and which cannot be had offline.
//
// The argv contract is the one chaos-daemon uses (pkg/bpm/build_linux.go,
// namespace letters from pkg/bpm/bpm.go):
//
//	nsexec [-l] [-m PATH] [-i PATH] [-n PATH] [-p PATH] [-u PATH] -- CMD [ARG...]
//
// PATH is /proc/PID/ns/{mnt,ipc,net,pid,uts}. CMD runs in those namespaces
// with nsexec's stdio and environment, and nsexec's exit status is CMD's.
//
// How: util-linux's nsenter does the entering, and this program only does
// what nsenter cannot do the way chaos-daemon needs it.
//   - Entering a mount namespace needs a single-threaded process (setns
//     with CLONE_NEWNS fails while other threads share the filesystem
//     context), which a Go program never is; nsenter, a C program, is.
//     So mnt, ipc, net and uts go to nsenter, which setns()es and then
//     execve()s CMD in the same process: the PID chaos-daemon tracks and
//     signals (SIGTERM to stop a chaos) is CMD itself, as with upstream.
//   - A PID namespace only applies to children, so entering one means a
//     fork. nsenter --pid forks too, but its waiting parent neither forwards
//     signals nor takes the child down when it dies: chaos-daemon's SIGTERM
//     would leave stress-ng running. So this program enters the PID
//     namespace itself (setns on a locked OS thread, allowed for PID
//     namespaces in a threaded process), starts nsenter/CMD as its child
//     from that thread, forwards signals to it, and exits the way the child
//     did. The child gets SIGKILL if nsexec dies (parent-death signal), set
//     by util-linux setpriv: Go's own SysProcAttr.Pdeathsig cannot be used
//     here, as its child kills itself when getppid() differs from the
//     parent's PID, and in another PID namespace getppid() is 0.
//   - -l ("keep the local mount namespace while loading CMD": upstream
//     preloads libnsenter.so, which switches mount namespace after the
//     binary is loaded) is not implemented. Only helpers this image does not
//     ship use it (toda for IOChaos, tproxy for HTTPChaos, Byteman for
//     JVMChaos, cdh for BlockChaos), so nsexec refuses it with an error
//     rather than silently running CMD in the wrong filesystem.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// util-linux's nsenter and setpriv in the Debian root filesystem; absolute
// paths because chaos-daemon may give CMD an environment without PATH.
const (
	nsenterPath = "/usr/bin/nsenter"
	setprivPath = "/usr/bin/setpriv"
)

type request struct {
	localMnt bool
	pidNS    string
	// nsenter's options for the other namespaces, in argv order.
	nsenterOpts []string
	cmd         []string
}

func parse(args []string) (request, error) {
	var r request
	long := map[string]string{"-m": "--mount=", "-i": "--ipc=", "-n": "--net=", "-u": "--uts="}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			r.cmd = args[i+1:]
			if len(r.cmd) == 0 {
				return r, errors.New("no command after --")
			}
			return r, nil
		case a == "-l":
			r.localMnt = true
		case a == "-p" || long[a] != "":
			if seen[a] {
				return r, fmt.Errorf("%s given twice", a)
			}
			seen[a] = true
			if i+1 >= len(args) || args[i+1] == "" || args[i+1] == "--" {
				return r, fmt.Errorf("%s needs a namespace path", a)
			}
			i++
			if a == "-p" {
				r.pidNS = args[i]
			} else {
				r.nsenterOpts = append(r.nsenterOpts, long[a]+args[i])
			}
		default:
			return r, fmt.Errorf("unknown argument %q", a)
		}
	}
	return r, errors.New("missing -- CMD")
}

func main() {
	r, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %v\nusage: nsexec [-m|-i|-n|-p|-u PATH]... -- CMD [ARG...]\n", err)
		os.Exit(2)
	}
	if r.localMnt {
		fmt.Fprintln(os.Stderr, "nsexec: -l (load CMD from the local mount namespace) is not supported by this nsexec; see images/chaos-mesh/nsexec")
		os.Exit(2)
	}
	argv := r.cmd
	if len(r.nsenterOpts) > 0 {
		argv = append(append([]string{nsenterPath}, r.nsenterOpts...), append([]string{"--"}, r.cmd...)...)
	}
	if r.pidNS == "" {
		execve(argv)
	}
	os.Exit(runInPIDNamespace(r.pidNS, argv))
}

// execve replaces this process with argv (nsenter or CMD).
func execve(argv []string) {
	path, err := exec.LookPath(argv[0])
	if err == nil {
		err = syscall.Exec(path, argv, os.Environ())
	}
	fmt.Fprintf(os.Stderr, "nsexec: %s: %v\n", argv[0], err)
	os.Exit(127)
}

// runInPIDNamespace starts argv as a child in the PID namespace at nsPath
// and returns the exit status to leave with.
func runInPIDNamespace(nsPath string, argv []string) int {
	// setns(CLONE_NEWPID) changes the namespace of this thread's future
	// children only: keep this goroutine on this thread, and never give the
	// thread back (the child's parent-death signal is tied to it too).
	runtime.LockOSThread()
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %s: %v\n", nsPath, err)
		return 1
	}
	if err := unix.Setns(fd, unix.CLONE_NEWPID); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: setns %s: %v\n", nsPath, err)
		return 1
	}
	unix.Close(fd)

	// Catch the signals to forward before the child exists, so none is lost.
	sigs := make(chan os.Signal, 8)
	forwarded := []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}
	signal.Notify(sigs, forwarded...)

	// setpriv runs first, from this mount namespace, so it need not exist
	// in the target's filesystem.
	cmd := exec.Command(setprivPath, append([]string{"--pdeathsig", "KILL", "--"}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %s: %v\n", argv[0], err)
		return 127
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintf(os.Stderr, "nsexec: %s: %v\n", argv[0], err)
		return 1
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		// Die of the same signal, so that chaos-daemon sees "killed by
		// SIGTERM" (which it treats as a normal stop) rather than a status.
		sig := ws.Signal()
		signal.Reset(sig)
		_ = unix.Kill(os.Getpid(), sig)
		return 128 + int(sig)
	}
	return cmd.ProcessState.ExitCode()
}
