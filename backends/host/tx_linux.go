//go:build linux

package host

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/frames/offload"
	"github.com/l2fabric/l2fabric/internal/mmsg"
)

// txState is the writer's sendmmsg scratch: each frame goes out behind its
// virtio-net header (all zero for an ordinary frame).
type txState struct {
	hdrs []mmsg.Hdr
	iovs []unix.Iovec
	vnet [][offload.HeaderLen]byte
}

func (t *txState) init(n int) {
	t.hdrs = make([]mmsg.Hdr, n)
	t.iovs = make([]unix.Iovec, 2*n)
	t.vnet = make([][offload.HeaderLen]byte, n)
}

func (t *txState) send(fd int, bufs [][]byte, vh []offload.Header) (int, error) {
	n := min(len(bufs), len(t.hdrs))
	for i := 0; i < n; i++ {
		var h offload.Header
		if vh != nil {
			h = vh[i]
		}
		h.Put(t.vnet[i][:])
		iov := t.iovs[2*i : 2*i+2]
		iov[0].Base = &t.vnet[i][0]
		iov[0].SetLen(offload.HeaderLen)
		iov[1].Base = unsafe.SliceData(bufs[i])
		iov[1].SetLen(len(bufs[i]))
		t.hdrs[i].Msg = unix.Msghdr{Iov: &iov[0], Iovlen: 2}
	}
	return mmsg.Send(fd, t.hdrs[:n], unix.MSG_DONTWAIT)
}
