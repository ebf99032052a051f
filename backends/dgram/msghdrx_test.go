//go:build linux || darwin

package dgram

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestMsghdrXLayout pins struct msghdr_x as xnu lays it out on 64-bit
// darwin: struct msghdr (48 bytes) then size_t msg_datalen.
func TestMsghdrXLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("msghdr_x is mirrored for 64-bit platforms only (darwin has no other)")
	}
	var h msghdrX
	for _, c := range []struct {
		field     string
		got, want uintptr
	}{
		{"msg_name", unsafe.Offsetof(h.Name), 0},
		{"msg_namelen", unsafe.Offsetof(h.Namelen), 8},
		{"msg_iov", unsafe.Offsetof(h.Iov), 16},
		{"msg_iovlen", unsafe.Offsetof(h.Iovlen), 24},
		{"msg_control", unsafe.Offsetof(h.Control), 32},
		{"msg_controllen", unsafe.Offsetof(h.Controllen), 40},
		{"msg_flags", unsafe.Offsetof(h.Flags), 44},
		{"msg_datalen", unsafe.Offsetof(h.Datalen), 48},
		{"sizeof(struct msghdr_x)", unsafe.Sizeof(h), 56},
		{"sizeof(msg_namelen)", unsafe.Sizeof(h.Namelen), 4},
		{"sizeof(msg_iovlen)", unsafe.Sizeof(h.Iovlen), 4},
		{"sizeof(msg_controllen)", unsafe.Sizeof(h.Controllen), 4},
		{"sizeof(msg_flags)", unsafe.Sizeof(h.Flags), 4},
		{"sizeof(msg_datalen)", unsafe.Sizeof(h.Datalen), 8},
		{"sizeof(struct iovec)", unsafe.Sizeof(unix.Iovec{}), 16},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.field, c.got, c.want)
		}
	}
}

// datagram is one message in the fake kernel's queue.
type datagram struct {
	data []byte
	from string // sender's path, "" for none
}

// fakeKernel implements msgxCalls over in-memory queues, the way xnu
// 10002 and later behave: recvmsg_x fills msg_datalen with the bytes it
// copied and leaves MSG_TRUNC out of msg_flags; sendmsg_x stops at a full
// socket and reports how many it sent.
type fakeKernel struct {
	rxq []datagram // to be received
	txq []datagram // sent, with the destination in from

	perCall  int   // most messages per batched call, 0 for no limit
	room     int   // datagrams the send side accepts, -1 for no limit
	batchErr error // recvmsg_x/sendmsg_x fail with this when set
	plainErr error // recvmsg/sendmsg fail with this when set
	trunc    bool  // set MSG_TRUNC per message (older kernels)

	recvX, sendX, recv1, send1 int // calls made
	lastN                      int // messages passed to the last batched call
}

func (k *fakeKernel) recvmsgX(_ int, hdrs []msghdrX, flags int) (int, error) {
	k.recvX++
	k.lastN = len(hdrs)
	if k.batchErr != nil {
		return 0, k.batchErr
	}
	if flags != unix.MSG_DONTWAIT {
		return 0, unix.EINVAL
	}
	n := 0
	for n < len(hdrs) && len(k.rxq) > 0 && (k.perCall == 0 || n < k.perCall) {
		if hdrs[n].Flags != 0 {
			return 0, unix.EINVAL
		}
		hdrs[n].Datalen = uint64(k.deliver(&hdrs[n]))
		n++
	}
	if n == 0 {
		return 0, unix.EAGAIN
	}
	return n, nil
}

func (k *fakeKernel) recvmsg(_ int, h *msghdrX, _ int) (int, error) {
	k.recv1++
	if k.plainErr != nil {
		return 0, k.plainErr
	}
	if len(k.rxq) == 0 {
		return 0, unix.EAGAIN
	}
	return k.deliver(h), nil
}

// deliver pops a datagram into h's iovecs and address, returning the bytes
// copied.
func (k *fakeKernel) deliver(h *msghdrX) int {
	d := k.rxq[0]
	k.rxq = k.rxq[1:]
	rest, copied := d.data, 0
	for _, iov := range unsafe.Slice(h.Iov, h.Iovlen) {
		c := copy(unsafe.Slice(iov.Base, iov.Len), rest)
		rest, copied = rest[c:], copied+c
	}
	if len(rest) > 0 && k.trunc {
		h.Flags |= unix.MSG_TRUNC
	}
	if h.Name != nil {
		var a addr
		if d.from != "" {
			a, _ = makeAddr(d.from)
		}
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&a.raw)), a.len)
		copy(unsafe.Slice(h.Name, h.Namelen), raw)
		h.Namelen = a.len
	}
	return copied
}

func (k *fakeKernel) sendmsgX(_ int, hdrs []msghdrX, flags int) (int, error) {
	k.sendX++
	k.lastN = len(hdrs)
	if k.batchErr != nil {
		return 0, k.batchErr
	}
	if flags != unix.MSG_DONTWAIT {
		return 0, unix.EINVAL
	}
	for i := range hdrs {
		if hdrs[i].Flags != 0 || hdrs[i].Datalen != 0 || hdrs[i].Control != nil || hdrs[i].Controllen != 0 {
			return 0, unix.EINVAL
		}
		if k.room == 0 {
			if i == 0 {
				return 0, unix.ENOBUFS
			}
			return i, nil
		}
		if k.perCall != 0 && i == k.perCall {
			return i, nil
		}
		k.take(&hdrs[i])
	}
	return len(hdrs), nil
}

func (k *fakeKernel) sendmsg(_ int, h *msghdrX, _ int) (int, error) {
	k.send1++
	if k.plainErr != nil {
		return 0, k.plainErr
	}
	if k.room == 0 {
		return 0, unix.ENOBUFS
	}
	return k.take(h), nil
}

func (k *fakeKernel) take(h *msghdrX) int {
	var d datagram
	for _, iov := range unsafe.Slice(h.Iov, h.Iovlen) {
		d.data = append(d.data, unsafe.Slice(iov.Base, iov.Len)...)
	}
	if h.Name != nil {
		a := addr{len: h.Namelen}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&a.raw)), unsafe.Sizeof(a.raw)), unsafe.Slice(h.Name, h.Namelen))
		d.from = a.String()
	}
	k.txq = append(k.txq, d)
	if k.room > 0 {
		k.room--
	}
	return len(d.data)
}

func newRecvBufs(n, size int) ([][]byte, []int, []addr) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n), make([]addr, n)
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// TestMsgxRecvBatch: one recvmsg_x call returns every queued datagram with
// its size and sender; a datagram that exactly fills its buffer is
// reported as is, one longer than the buffer as len+1, though the kernel
// does not flag it.
func TestMsgxRecvBatch(t *testing.T) {
	const size = 100
	k := &fakeKernel{rxq: []datagram{
		{fill(60, 1), "/run/a.sock"},
		{fill(size, 2), "/run/b.sock"},
		{fill(size+1, 3), "/run/c.sock"},
		{fill(size+500, 4), "/run/d.sock"},
		{nil, "/run/e.sock"},
	}}
	var s msgxScratch
	s.initRecv(8)
	bufs, sizes, from := newRecvBufs(8, size)
	n, err := s.recv(k, 3, bufs, sizes, from)
	if err != nil || n != 5 {
		t.Fatalf("recv = %d, %v; want 5, nil", n, err)
	}
	if k.recvX != 1 || k.recv1 != 0 || k.lastN != 8 {
		t.Fatalf("calls: recvmsg_x %d (of %d messages), recvmsg %d; want 1 of 8, 0", k.recvX, k.lastN, k.recv1)
	}
	wantSizes := []int{60, size, size + 1, size + 1, 0}
	for i, w := range wantSizes {
		if sizes[i] != w {
			t.Errorf("sizes[%d] = %d, want %d", i, sizes[i], w)
		}
		if got, want := from[i].String(), fmt.Sprintf("/run/%c.sock", 'a'+i); got != want {
			t.Errorf("from[%d] = %q, want %q", i, got, want)
		}
	}
	if !bytes.Equal(bufs[0][:60], fill(60, 1)) || !bytes.Equal(bufs[1], fill(size, 2)) {
		t.Error("datagram contents not delivered into the caller's buffers")
	}

	// The same with a kernel that flags truncation (xnu before 10002).
	k = &fakeKernel{trunc: true, rxq: []datagram{{fill(size+9, 5), ""}, {fill(size, 6), ""}}}
	n, err = s.recv(k, 3, bufs, sizes, nil)
	if err != nil || n != 2 || sizes[0] != size+1 || sizes[1] != size {
		t.Fatalf("recv = %d, %v, sizes %v; want 2, nil, [%d %d]", n, err, sizes[:2], size+1, size)
	}
}

// TestMsgxRecvLimits: an empty socket is EAGAIN; a kernel that returns
// fewer than asked (kern.ipc.maxrecvmsgx) is fine; no call asks for more
// than maxMsgX or for more than the caller's buffers.
func TestMsgxRecvLimits(t *testing.T) {
	var s msgxScratch
	s.initRecv(maxMsgX + 50)
	bufs, sizes, from := newRecvBufs(maxMsgX+50, 64)

	k := &fakeKernel{}
	if n, err := s.recv(k, 3, bufs, sizes, from); n != 0 || !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("empty socket: recv = %d, %v; want 0, EAGAIN", n, err)
	}
	if k.lastN != maxMsgX {
		t.Errorf("recvmsg_x was passed %d messages, want the cap %d", k.lastN, maxMsgX)
	}

	k = &fakeKernel{perCall: 2, rxq: []datagram{{fill(1, 1), "/a"}, {fill(2, 2), "/a"}, {fill(3, 3), "/a"}}}
	if n, err := s.recv(k, 3, bufs[:3], sizes, from); n != 2 || err != nil || sizes[1] != 2 {
		t.Fatalf("short batch: recv = %d, %v; want 2, nil", n, err)
	}
	if k.lastN != 3 {
		t.Errorf("recvmsg_x was passed %d messages for 3 buffers", k.lastN)
	}
	if n, err := s.recv(k, 3, bufs[:3], sizes, from); n != 1 || err != nil || sizes[0] != 3 {
		t.Fatalf("rest: recv = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.recv(k, 3, nil, nil, nil); n != 0 || err != nil {
		t.Fatalf("no buffers: recv = %d, %v; want 0, nil", n, err)
	}
}

// TestMsgxRecvFallback: when recvmsg_x is unsupported the scratch moves
// one datagram per recvmsg, and remembers it.
func TestMsgxRecvFallback(t *testing.T) {
	for _, e := range []error{unix.ENOSYS, unix.EINVAL, unix.ENOTSUP, unix.EOPNOTSUPP} {
		t.Run(e.Error(), func(t *testing.T) {
			k := &fakeKernel{batchErr: e, rxq: []datagram{{fill(10, 1), "/a"}, {fill(300, 2), "/b"}}}
			var s msgxScratch
			s.initRecv(4)
			bufs, sizes, from := newRecvBufs(4, 200)
			n, err := s.recv(k, 3, bufs, sizes, from)
			if err != nil || n != 2 || sizes[0] != 10 || sizes[1] != 201 || from[1].String() != "/b" {
				t.Fatalf("recv = %d, %v, sizes %v; want 2, nil, [10 201]", n, err, sizes[:2])
			}
			if !s.single {
				t.Fatal("fallback not remembered")
			}
			k.rxq = []datagram{{fill(7, 3), "/c"}}
			if n, err := s.recv(k, 3, bufs, sizes, from); n != 1 || err != nil || sizes[0] != 7 {
				t.Fatalf("second recv = %d, %v", n, err)
			}
			if k.recvX != 1 {
				t.Errorf("recvmsg_x called %d times, want once", k.recvX)
			}
			// An empty socket in one-datagram mode is EAGAIN too.
			if n, err := s.recv(k, 3, bufs, sizes, from); n != 0 || !errors.Is(err, unix.EAGAIN) {
				t.Fatalf("empty: recv = %d, %v; want 0, EAGAIN", n, err)
			}
		})
	}

	// Nothing queued when recvmsg_x fails: recvmsg's EAGAIN still shows
	// that the plain call works, so the fallback is remembered.
	k := &fakeKernel{batchErr: unix.EINVAL}
	var s msgxScratch
	s.initRecv(4)
	bufs, sizes, from := newRecvBufs(4, 64)
	if n, err := s.recv(k, 3, bufs, sizes, from); n != 0 || !errors.Is(err, unix.EAGAIN) || !s.single {
		t.Fatalf("recv = %d, %v, single %v; want 0, EAGAIN, true", n, err, s.single)
	}
}

// TestMsgxRecvErrors: a socket error is returned as is and does not turn
// batching off, nor does an "unsupported" error the plain call shares.
func TestMsgxRecvErrors(t *testing.T) {
	var s msgxScratch
	s.initRecv(4)
	bufs, sizes, from := newRecvBufs(4, 64)

	k := &fakeKernel{batchErr: unix.EBADF}
	if n, err := s.recv(k, 3, bufs, sizes, from); n != 0 || !errors.Is(err, unix.EBADF) || s.single || k.recv1 != 0 {
		t.Fatalf("recv = %d, %v, single %v, recvmsg calls %d; want 0, EBADF, false, 0", n, err, s.single, k.recv1)
	}
	k = &fakeKernel{batchErr: unix.EINVAL, plainErr: unix.EINVAL}
	if n, err := s.recv(k, 3, bufs, sizes, from); n != 0 || !errors.Is(err, unix.EINVAL) || s.single {
		t.Fatalf("recv = %d, %v, single %v; want 0, EINVAL, false", n, err, s.single)
	}
}

// TestMsgxSendBatch: one sendmsg_x call sends the batch to the address
// given, with msg_flags, msg_datalen and the control fields zero.
func TestMsgxSendBatch(t *testing.T) {
	to, err := makeAddr("/run/vm.sock")
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKernel{room: -1}
	var s msgxScratch
	s.initSend(8)
	bufs := [][]byte{fill(60, 1), fill(1500, 2), fill(9000, 3)}
	n, err := s.send(k, 3, bufs, &to)
	if err != nil || n != 3 || k.sendX != 1 || k.send1 != 0 || k.lastN != 3 {
		t.Fatalf("send = %d, %v (sendmsg_x %d of %d, sendmsg %d); want 3, nil, one call of 3", n, err, k.sendX, k.lastN, k.send1)
	}
	for i, d := range k.txq {
		if !bytes.Equal(d.data, bufs[i]) || d.from != "/run/vm.sock" {
			t.Errorf("datagram %d: %d bytes to %q", i, len(d.data), d.from)
		}
	}

	// Connected: no address.
	k = &fakeKernel{room: -1}
	if n, err := s.send(k, 3, bufs[:1], nil); n != 1 || err != nil || k.txq[0].from != "" {
		t.Fatalf("connected send = %d, %v, to %q", n, err, k.txq[0].from)
	}
}

// TestMsgxSendFull: a socket that fills part way reports a short count,
// then ENOBUFS; the call never passes more than maxMsgX.
func TestMsgxSendFull(t *testing.T) {
	var s msgxScratch
	s.initSend(maxMsgX + 10)
	bufs := make([][]byte, maxMsgX+10)
	for i := range bufs {
		bufs[i] = fill(10, byte(i))
	}
	k := &fakeKernel{room: 5}
	if n, err := s.send(k, 3, bufs, nil); n != 5 || err != nil {
		t.Fatalf("send = %d, %v; want 5, nil", n, err)
	}
	if k.lastN != maxMsgX {
		t.Errorf("sendmsg_x was passed %d messages, want the cap %d", k.lastN, maxMsgX)
	}
	if n, err := s.send(k, 3, bufs[5:], nil); n != 0 || !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("full: send = %d, %v; want 0, ENOBUFS", n, err)
	}
	if s.single {
		t.Error("ENOBUFS turned batching off")
	}
}

// zeroSender is a kernel whose sendmsg_x claims success for no datagrams.
type zeroSender struct{ fakeKernel }

func (*zeroSender) sendmsgX(int, []msghdrX, int) (int, error) { return 0, nil }

// TestMsgxSendZero: a zero count without an error is reported as a full
// socket, so the caller backs off rather than looping.
func TestMsgxSendZero(t *testing.T) {
	var s msgxScratch
	s.initSend(4)
	if n, err := s.send(&zeroSender{}, 3, [][]byte{fill(10, 1)}, nil); n != 0 || !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("send = %d, %v; want 0, ENOBUFS", n, err)
	}
}

// TestMsgxSendFallback: when sendmsg_x is unsupported the scratch sends
// one datagram per sendmsg, and remembers it; a socket error does not
// turn batching off.
func TestMsgxSendFallback(t *testing.T) {
	to, _ := makeAddr("/p")
	for _, e := range []error{unix.ENOSYS, unix.EINVAL, unix.ENOTSUP, unix.EOPNOTSUPP} {
		t.Run(e.Error(), func(t *testing.T) {
			k := &fakeKernel{room: 2, batchErr: e}
			var s msgxScratch
			s.initSend(4)
			bufs := [][]byte{fill(1, 1), fill(2, 2), fill(3, 3)}
			n, err := s.send(k, 3, bufs, &to)
			if n != 2 || !errors.Is(err, unix.ENOBUFS) || !s.single {
				t.Fatalf("send = %d, %v, single %v; want 2, ENOBUFS, true", n, err, s.single)
			}
			if len(k.txq) != 2 || k.txq[1].from != "/p" || len(k.txq[1].data) != 2 {
				t.Fatalf("sent %v", k.txq)
			}
			k.room = -1
			if n, err := s.send(k, 3, bufs[2:], &to); n != 1 || err != nil || k.sendX != 1 {
				t.Fatalf("second send = %d, %v, sendmsg_x calls %d; want 1, nil, 1", n, err, k.sendX)
			}
		})
	}

	k := &fakeKernel{room: -1, batchErr: unix.ECONNREFUSED}
	var s msgxScratch
	s.initSend(4)
	if n, err := s.send(k, 3, [][]byte{fill(1, 1)}, &to); n != 0 || !errors.Is(err, unix.ECONNREFUSED) || s.single || k.send1 != 0 {
		t.Fatalf("send = %d, %v, single %v; want 0, ECONNREFUSED, false", n, err, s.single)
	}
	k = &fakeKernel{room: -1, batchErr: unix.EINVAL, plainErr: unix.EINVAL}
	if n, err := s.send(k, 3, [][]byte{fill(1, 1)}, &to); n != 0 || !errors.Is(err, unix.EINVAL) || s.single {
		t.Fatalf("send = %d, %v, single %v; want 0, EINVAL, false", n, err, s.single)
	}
}
