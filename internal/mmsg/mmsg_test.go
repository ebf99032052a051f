//go:build linux

package mmsg

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLayout pins struct mmsghdr's size: a msghdr and a 4-byte length,
// padded to 8 on 64-bit platforms.
func TestLayout(t *testing.T) {
	if got, want := unsafe.Sizeof(Hdr{}), unsafe.Sizeof(unix.Msghdr{})+8; got != want {
		t.Fatalf("sizeof(mmsghdr) = %d, want %d", got, want)
	}
}

func TestSendRecvBatch(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	msgs := [][]byte{[]byte("one"), []byte("two!"), []byte("three")}
	hdrs := make([]Hdr, len(msgs))
	iovs := make([]unix.Iovec, len(msgs))
	for i, m := range msgs {
		iovs[i].Base = &m[0]
		iovs[i].SetLen(len(m))
		hdrs[i].Msg.Iov, hdrs[i].Msg.Iovlen = &iovs[i], 1
	}
	if n, err := Send(fds[0], hdrs, 0); n != 3 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, 16)
	}
	rh := make([]Hdr, 4)
	riov := make([]unix.Iovec, 4)
	for i := range rh {
		riov[i].Base = &bufs[i][0]
		riov[i].SetLen(16)
		rh[i].Msg.Iov, rh[i].Msg.Iovlen = &riov[i], 1
	}
	n, err := Recv(fds[1], rh, unix.MSG_DONTWAIT)
	if n != 3 || err != nil {
		t.Fatalf("Recv = %d, %v", n, err)
	}
	for i, m := range msgs {
		if got := string(bufs[i][:rh[i].Len]); got != string(m) {
			t.Errorf("message %d = %q, want %q", i, got, m)
		}
	}
	if _, err := Recv(fds[1], rh, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Errorf("Recv on an empty socket = %v, want EAGAIN", err)
	}
}
