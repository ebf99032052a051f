//go:build linux || darwin

package stream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/internal/sockbuf"
)

// BenchmarkForwardStream measures known unicast between two stream ports
// of a running fabric (fd= ports on socketpairs), frames written and read
// by this process as a VM would: the backend's read, reassembly, gather
// and writev around the fabric's forwarding, in frames per second.
func BenchmarkForwardStream(b *testing.B) {
	for _, size := range []int{64, 1500} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) { benchForward(b, size) })
	}
}

func benchForward(b *testing.B, size int) {
	f, err := fabric.New(fabric.Config{Kinds: fabric.Kinds{Kind()}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var vms [2]*os.File
	for i := range vms {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, fd := range fds {
			sockbuf.Set(fd, sendBufferSize, recvBufferSize)
		}
		unix.SetNonblock(fds[1], true) // so that reads can time out
		vms[i] = os.NewFile(uintptr(fds[1]), "vm")
		defer vms[i].Close()
		if _, err := f.Open(fmt.Sprintf("stream:fd=%d,name=vm%d", fds[0], i)); err != nil {
			b.Fatal(err)
		}
	}
	a, z := vms[0], vms[1]
	// Each learns the other's MAC.
	a.Write(encode(ethFrame(mac(2), mac(1), 0, 60)))
	readFrames(b, z, 1)
	z.Write(encode(ethFrame(mac(1), mac(2), 0, 60)))
	readFrames(b, a, 1)

	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = ethFrame(mac(2), mac(1), uint32(i), size)
	}
	wire := encode(batch...)
	b.SetBytes(int64(size))
	cpu0 := cpuTime()
	b.ResetTimer()
	go func() {
		for sent := 0; sent < b.N; sent += len(batch) {
			if _, err := a.Write(wire); err != nil {
				return
			}
		}
	}()
	// Frames the fabric drops (a receiver descheduled for longer than
	// the fabric's stall limit on a loaded machine) are counted, not
	// waited for.
	got := readFrames(b, z, b.N)
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(max(b.N-got, 0))/float64(b.N), "lost/frame")
	// CPU per frame (the fabric's, and this process's writing and
	// reading, which is the same whatever the fabric does) is steadier
	// than the rate on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(got), "cpu-ns/frame")
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readFrames reads up to n frames from f, and returns how many it read
// before n, or before nothing came for a second.
func readFrames(b *testing.B, f *os.File, n int) int {
	r := NewReassembler(MaxFrameLen, readBufferSize)
	got := 0
	for got < n {
		f.SetReadDeadline(time.Now().Add(time.Second))
		k, err := f.Read(r.Space())
		if errors.Is(err, os.ErrDeadlineExceeded) && got > 0 {
			return got
		}
		if err != nil {
			b.Fatal(err)
		}
		r.Commit(k)
		for {
			fr, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if fr == nil {
				break
			}
			got++
		}
	}
	return got
}
