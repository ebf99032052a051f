//go:build linux

package host

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
	"github.com/l2fabric/l2fabric/frames/offload"
)

// auxCmsg builds the PACKET_AUXDATA control message the kernel attaches
// to a frame whose VLAN tag it took off.
func auxCmsg(status uint32, tci, tpid uint16) []byte {
	b := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	aux.Status, aux.Vlan_tci, aux.Vlan_tpid = status, tci, tpid
	return b
}

func TestAuxVLAN(t *testing.T) {
	for _, tc := range []struct {
		name    string
		control []byte
		tci     uint16
		tpid    uint16
		wantOK  bool
	}{
		{"no control message", nil, 0, 0, false},
		{"no tag", auxCmsg(0, 0, 0), 0, 0, false},
		{"802.1Q tag", auxCmsg(unix.TP_STATUS_VLAN_VALID, 0x2014, 0), 0x2014, frames.EtherTypeVLAN, true},
		{"802.1ad tag", auxCmsg(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 30, 0x88a8), 30, 0x88a8, true},
		{"truncated", auxCmsg(unix.TP_STATUS_VLAN_VALID, 5, 0)[:unix.SizeofCmsghdr+2], 0, 0, false},
	} {
		tci, tpid, ok := auxVLAN(tc.control)
		if ok != tc.wantOK || tci != tc.tci || tpid != tc.tpid {
			t.Errorf("%s: auxVLAN = %#x %#x %v, want %#x %#x %v", tc.name, tci, tpid, ok, tc.tci, tc.tpid, tc.wantOK)
		}
	}
}

// TestProcessGSOPutsTagBackAndShiftsOffsets feeds processGSO a received
// super-frame whose tag the kernel took off: the tag must come back, and
// the checksum offsets must move with it.
func TestProcessGSOPutsTagBackAndShiftsOffsets(t *testing.T) {
	var r rxState
	r.init(2)
	bufs := [][]byte{make([]byte, fabric.MaxGSOFrame), make([]byte, fabric.MaxGSOFrame)}
	frame := bytes.Repeat([]byte{0x5a}, 3000)
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	copy(bufs[0], frame)
	h := offload.Header{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, GSOSize: 1448, HdrLen: 54, CsumStart: 34, CsumOffset: 16}
	h.Put(r.vnet[0][:])
	r.hdrs[0].Len = uint32(offload.HeaderLen + len(frame))
	copy(r.control[0], auxCmsg(unix.TP_STATUS_VLAN_VALID, 7, 0))
	r.hdrs[0].Msg.SetControllen(len(r.control[0]))
	// A second, ordinary frame without a tag.
	copy(bufs[1], frame[:100])
	offload.Header{}.Put(r.vnet[1][:])
	r.hdrs[1].Len = uint32(offload.HeaderLen + 100)
	sizes := make([]int, 2)
	hdrs := make([]offload.Header, 2)
	var dropped atomic.Uint64
	if n := r.processGSO(bufs, sizes, hdrs, 2, &dropped); n != 2 {
		t.Fatalf("processGSO = %d frames, want 2", n)
	}
	if want := frames.AppendTagged(nil, frame, 7); !bytes.Equal(bufs[0][:sizes[0]], want) {
		t.Errorf("tag not put back: got %d bytes", sizes[0])
	}
	if hdrs[0].CsumStart != 38 || hdrs[0].HdrLen != 58 || hdrs[0].GSOSize != 1448 {
		t.Errorf("header %+v: offsets not shifted by the tag", hdrs[0])
	}
	if sizes[1] != 100 || hdrs[1] != (offload.Header{}) {
		t.Errorf("second frame: size %d header %+v", sizes[1], hdrs[1])
	}
}

func TestSpecErrors(t *testing.T) {
	ks := fabric.Kinds{Kind()}
	for spec, want := range map[string]string{
		"host:":                      "missing interface name",
		"host:averyveryverylongname": "not an interface name",
		"host:a/b":                   "not an interface name",
		"host:eth0,promisc=maybe":    "not on or off",
		"host:eth0,colour=1":         "unknown option",
	} {
		if _, _, _, err := ks.Parse(spec); err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
}
