package lwtask

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pipe returns the two ends of a new pipe as Files.
func (r *Runtime) Pipe() (rd, wr *File, err error) {
	var p [2]int
	if err := pipe(&p); err != nil {
		return nil, nil, os.NewSyscallError("pipe", err)
	}
	rd, err1 := r.NewFile(p[0], "pipe")
	wr, err2 := r.NewFile(p[1], "pipe")
	if err1 != nil || err2 != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, firstErr(err1, err2)
	}
	return rd, wr, nil
}

func pipe(p *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Process is a subprocess whose standard input and output are pipes that
// tasks write and read.
type Process struct {
	Cmd     *exec.Cmd
	Stdin   *Conn // the child's standard input: write to it, then Close it
	Stdout  *Conn // the child's standard output
	rt      *Runtime
	exited  Queue
	reaping bool // a goroutine waits for the exit
	done    bool
	err     error
}

// StartCommand starts cmd with pipes for its standard input and output
// (cmd.Stdin and cmd.Stdout must be nil; cmd.Stderr is the caller's).
func (r *Runtime) StartCommand(cmd *exec.Cmd) (*Process, error) {
	if cmd.Stdin != nil || cmd.Stdout != nil {
		return nil, fmt.Errorf("StartCommand %s: Stdin or Stdout already set", cmd.Path)
	}
	childIn, parentIn, err := childPipe(false)
	if err != nil {
		return nil, err
	}
	childOut, parentOut, err := childPipe(true)
	if err != nil {
		childIn.Close()
		unix.Close(parentIn)
		return nil, err
	}
	cmd.Stdin, cmd.Stdout = childIn, childOut
	err = cmd.Start()
	childIn.Close() // the child has its own copies now
	childOut.Close()
	if err != nil {
		unix.Close(parentIn)
		unix.Close(parentOut)
		return nil, err
	}
	p := &Process{Cmd: cmd, rt: r, exited: Queue{Label: "exit of " + cmd.Path}}
	p.Stdin = r.newPipeConn(parentIn, "stdin of "+cmd.Path)
	p.Stdout = r.newPipeConn(parentOut, "stdout of "+cmd.Path)
	return p, nil
}

// childPipe makes a pipe whose child end is a blocking *os.File, as a
// child expects, and whose parent end is a raw descriptor. childWrites
// says which end is the child's.
func childPipe(childWrites bool) (child *os.File, parent int, err error) {
	var p [2]int
	if err := pipe(&p); err != nil {
		return nil, -1, os.NewSyscallError("pipe", err)
	}
	if childWrites {
		return os.NewFile(uintptr(p[1]), "|1"), p[0], nil
	}
	return os.NewFile(uintptr(p[0]), "|0"), p[1], nil
}

func (r *Runtime) newPipeConn(fd int, name string) *Conn {
	unix.SetNonblock(fd, true)
	r.fds.Adopt(fd)
	return &Conn{f: &File{rt: r, fd: fd, name: name, stream: true}}
}

// Wait parks t until the process has exited and returns its exit error, as
// exec.Cmd.Wait does. Close Stdin first if the child reads to EOF. Several
// tasks may wait; the exit is waited for once, on a goroutine that ends
// with it.
func (p *Process) Wait(t *Task) error {
	if err := p.rt.enter(t, "Wait"); err != nil {
		return err
	}
	if p.done {
		return p.err
	}
	if !p.reaping {
		p.reaping = true
		go p.reap(p.rt.Hold())
	}
	if err := t.Wait(&p.exited); err != nil {
		return err
	}
	return p.err
}

// reap waits for the exit on its own goroutine, since there is no
// descriptor to watch for it everywhere, and posts the result back. The
// hold keeps Run waiting for that post instead of reporting a deadlock.
func (p *Process) reap(release func()) {
	err := p.Cmd.Wait()
	p.rt.Post(func() {
		release()
		p.done, p.err = true, err
		p.exited.WakeAll(nil)
	})
}
