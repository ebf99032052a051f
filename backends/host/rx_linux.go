//go:build linux

package host

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
	"github.com/l2fabric/l2fabric/internal/mmsg"
)

// rxState is the reader's recvmmsg scratch.
type rxState struct {
	hdrs     []mmsg.Hdr
	iovs     []unix.Iovec
	vnet     [][offload.HeaderLen]byte
	overflow [][]byte // where a frame longer than the caller's buffer spills
	control  [][]byte // PACKET_AUXDATA
}

var auxLen = unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))

func (r *rxState) init(n int) {
	r.hdrs = make([]mmsg.Hdr, n)
	r.iovs = make([]unix.Iovec, 3*n)
	r.vnet = make([][offload.HeaderLen]byte, n)
	r.overflow = make([][]byte, n)
	r.control = make([][]byte, n)
	for i := range r.overflow {
		r.overflow[i] = make([]byte, maxFrame)
		r.control[i] = make([]byte, auxLen)
	}
}

// recv reads up to len(bufs) frames. Each lands in bufs[i] (keeping
// TagLen bytes free to put back a VLAN tag the kernel took off), spilling
// into an overflow buffer only when longer.
func (r *rxState) recv(fd int, bufs [][]byte) (int, error) {
	n := min(len(bufs), len(r.hdrs))
	for i := 0; i < n; i++ {
		iov := r.iovs[3*i : 3*i+3]
		iov[0].Base = &r.vnet[i][0]
		iov[0].SetLen(offload.HeaderLen)
		room := len(bufs[i]) - frames.TagLen
		iov[1].Base = unsafe.SliceData(bufs[i])
		iov[1].SetLen(room)
		iov[2].Base = &r.overflow[i][0]
		iov[2].SetLen(len(r.overflow[i]))
		r.hdrs[i].Msg = unix.Msghdr{Iov: &iov[0], Iovlen: 3, Control: &r.control[i][0]}
		r.hdrs[i].Msg.SetControllen(len(r.control[i]))
	}
	return mmsg.Recv(fd, r.hdrs[:n], unix.MSG_DONTWAIT)
}

// message returns message i's frame length, the room its buffer buf has
// before the overflow, and its virtio-net header; ok is false (and the
// drop counted) for a message that carries no usable frame.
func (r *rxState) message(i int, buf []byte, dropped *atomic.Uint64) (total, room int, vh offload.Header, ok bool) {
	h := &r.hdrs[i]
	total = int(h.Len) - offload.HeaderLen
	room = len(buf) - frames.TagLen
	if total < 0 {
		return 0, 0, vh, false
	}
	vh, err := offload.ParseHeader(r.vnet[i][:])
	if err != nil || h.Msg.Flags&unix.MSG_TRUNC != 0 {
		dropped.Add(1)
		return 0, 0, vh, false
	}
	return total, room, vh, true
}

// processGSO turns the n messages received into frames in bufs, moved
// down by exchanging buffers past those that carried no usable frame:
// super-frames and partial checksums stay as the kernel described them,
// with their virtio-net headers in hdrs, and VLAN tags the kernel took
// off are put back (shifting the headers' offsets). It returns how many
// frames bufs holds.
func (r *rxState) processGSO(bufs [][]byte, sizes []int, hdrs []offload.Header, n int, dropped *atomic.Uint64) int {
	k := 0
	for i := 0; i < n; i++ {
		total, room, vh, ok := r.message(i, bufs[i], dropped)
		if !ok {
			continue
		}
		if total > room {
			sizes[k] = len(bufs[i]) + 1 // oversize
		} else {
			sizes[k] = total
			if tci, tpid, tagged := auxVLAN(r.control[i][:r.hdrs[i].Msg.Controllen]); tagged {
				sizes[k] = frames.InsertTag(bufs[i], total, tpid, tci)
				vh = vh.Shift(frames.TagLen)
			}
		}
		hdrs[k] = vh
		bufs[k], bufs[i] = bufs[i], bufs[k]
		k++
	}
	return k
}

// auxVLAN extracts the VLAN tag the kernel took off a received frame from
// its PACKET_AUXDATA control message.
func auxVLAN(control []byte) (tci, tpid uint16, ok bool) {
	for len(control) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&control[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(control) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))) {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&control[unix.CmsgLen(0)]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, 0, false
			}
			tpid := uint16(frames.EtherTypeVLAN)
			if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
				tpid = aux.Vlan_tpid
			}
			return aux.Vlan_tci, tpid, true
		}
		control = control[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(control)):]
	}
	return 0, 0, false
}
