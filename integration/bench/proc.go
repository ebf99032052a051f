//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a switch under test running as a child process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // vde_switch's console: closing it stops the switch
	out   *tailBuffer
	done  chan struct{}
	err   error // set when done is closed
}

// tailBuffer keeps the last 16 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.buf.Len() > 16<<10 {
		b := t.buf.Bytes()
		keep := append([]byte(nil), b[len(b)-16<<10:]...)
		t.buf.Reset()
		t.buf.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.buf.String())
}

// startProc starts name with args; with console, its stdin is a pipe kept
// open until stop. files become the child's descriptors 3, 4, ...
func startProc(name string, console bool, env []string, files []*os.File, args ...string) (*proc, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = files
	p := &proc{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a Ctrl-C on the terminal reaches
	// only us and we stop it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if console {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// alive returns an error if the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); its output:\n%s", p.name, p.err, p.out)
	default:
		return nil
	}
}

// stop ends the process: closing the console or SIGTERM, then SIGKILL
// after two seconds.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.stdin != nil {
		p.stdin.Close()
	} else {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cpuSeconds returns the user+system CPU time of process pid (0 for this
// process), from /proc/PID/stat, in seconds.
func cpuSeconds(pid int) float64 {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	// Fields 14 and 15 of stat (utime, stime) are at 11 and 12 here.
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

// clockTicks is sysconf(_SC_CLK_TCK), 100 on every Linux architecture Go
// supports.
const clockTicks = 100
