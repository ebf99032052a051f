//go:build linux || darwin

package feth

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"unsafe"
)

// raw returns the bytes of *p, as the kernel would copy them in.
func raw[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

func need64(t *testing.T) {
	t.Helper()
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layouts are those of 64-bit macOS")
	}
}

func TestIoctlNumbers(t *testing.T) {
	need64(t)
	// The pinned request numbers (xnu's sys/sockio.h, and x/sys on darwin, checked
	// at compile time in ifstructs_darwin.go) are _IOC of the structures'
	// sizes: this ties each structure's Go size to the kernel's.
	for _, c := range []struct {
		name string
		got  uint32
		want uint32
	}{
		{"SIOCSIFFLAGS", ioc(iocIn, 'i', 16, unsafe.Sizeof(ifReq{})), siocSIFFLAGS},
		{"SIOCGIFFLAGS", ioc(iocInOut, 'i', 17, unsafe.Sizeof(ifReq{})), siocGIFFLAGS},
		{"SIOCGIFMTU", ioc(iocInOut, 'i', 51, unsafe.Sizeof(ifReq{})), siocGIFMTU},
		{"SIOCSIFMTU", ioc(iocIn, 'i', 52, unsafe.Sizeof(ifReq{})), siocSIFMTU},
		{"SIOCIFDESTROY", ioc(iocIn, 'i', 121, unsafe.Sizeof(ifReq{})), siocIFDESTROY},
		{"SIOCIFCREATE2", ioc(iocInOut, 'i', 122, unsafe.Sizeof(ifReq{})), siocIFCREATE2},
		{"SIOCSDRVSPEC", ioc(iocIn, 'i', 123, unsafe.Sizeof(ifDrv{})), siocSDRVSPEC},
		{"SIOCGDRVSPEC", ioc(iocInOut, 'i', 123, unsafe.Sizeof(ifDrv{})), siocGDRVSPEC},
	} {
		if c.got != c.want {
			t.Errorf("%s: computed %#x, pinned %#x", c.name, c.got, c.want)
		}
	}
	// xnu's values, literally.
	for got, want := range map[uint32]uint32{
		siocIFCREATE2: 0xc020697a, siocIFDESTROY: 0x80206979,
		siocSDRVSPEC: 0x8028697b, siocGDRVSPEC: 0xc028697b,
		siocSIFFLAGS: 0x80206910, siocGIFFLAGS: 0xc0206911,
	} {
		if got != want {
			t.Errorf("request %#x, want %#x", got, want)
		}
	}
}

func TestIfReq(t *testing.T) {
	need64(t)
	if s := unsafe.Sizeof(ifReq{}); s != 32 {
		t.Fatalf("ifreq is %d bytes, want 32", s)
	}
	r, err := newIfReq("feth12")
	if err != nil {
		t.Fatal(err)
	}
	r.setFlags(0x8843)
	b := raw(r)
	want := make([]byte, 32)
	copy(want, "feth12")
	binary.NativeEndian.PutUint16(want[16:], 0x8843)
	if !bytes.Equal(b, want) {
		t.Errorf("ifreq with flags:\n got % x\nwant % x", b, want)
	}
	if r.flags() != 0x8843 || cName(&r.Name) != "feth12" {
		t.Errorf("read back flags %#x name %q", r.flags(), cName(&r.Name))
	}
	r.setMTU(9000)
	want = make([]byte, 32)
	copy(want, "feth12")
	binary.NativeEndian.PutUint32(want[16:], 9000)
	if !bytes.Equal(b, want) {
		t.Errorf("ifreq with mtu:\n got % x\nwant % x", b, want)
	}
	if r.mtu() != 9000 {
		t.Errorf("mtu %d", r.mtu())
	}
	// SIOCIFCREATE2 returns the name the kernel chose in place.
	copy(r.Name[:], "feth3\x00\x00")
	if cName(&r.Name) != "feth3" {
		t.Errorf("name %q", cName(&r.Name))
	}
}

func TestIfDrv(t *testing.T) {
	need64(t)
	if s := unsafe.Sizeof(ifDrv{}); s != 40 {
		t.Fatalf("ifdrv is %d bytes, want 40", s)
	}
	for field, c := range map[string][2]uintptr{
		"ifd_cmd":  {unsafe.Offsetof(ifDrv{}.Cmd), 16},
		"ifd_len":  {unsafe.Offsetof(ifDrv{}.Len), 24},
		"ifd_data": {unsafe.Offsetof(ifDrv{}.Data), 32},
	} {
		if c[0] != c[1] {
			t.Errorf("%s at offset %d, want %d", field, c[0], c[1])
		}
	}
	req, _ := newIfbReq("feth0")
	d, err := newIfDrv("bridge0", brdgGIFFlags, unsafe.Pointer(req), unsafe.Sizeof(*req))
	if err != nil {
		t.Fatal(err)
	}
	b := raw(d)
	want := make([]byte, 40)
	copy(want, "bridge0")
	binary.NativeEndian.PutUint64(want[16:], brdgGIFFlags)
	binary.NativeEndian.PutUint64(want[24:], 80)
	binary.NativeEndian.PutUint64(want[32:], uint64(uintptr(unsafe.Pointer(req))))
	if !bytes.Equal(b, want) {
		t.Errorf("ifdrv:\n got % x\nwant % x", b, want)
	}
}

func TestIfFakeRequest(t *testing.T) {
	need64(t)
	if s := unsafe.Sizeof(ifFakeRequest{}); s != 160 {
		t.Fatalf("if_fake_request is %d bytes, want 160", s)
	}
	if o := unsafe.Offsetof(ifFakeRequest{}.PeerName); o != 32 {
		t.Errorf("peer name at offset %d, want 32", o)
	}
	r, err := newFakeRequest("feth1")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 160) // reserved words zero, as the kernel requires
	copy(want[32:], "feth1")
	if b := raw(r); !bytes.Equal(b, want) {
		t.Errorf("if_fake_request:\n got % x\nwant % x", b, want)
	}
	d, _ := newIfDrv("feth0", ifFakeSetPeer, unsafe.Pointer(r), unsafe.Sizeof(*r))
	if d.Len < 160 || d.Cmd != 1 {
		t.Errorf("ifdrv len %d cmd %d: the kernel wants len >= 160, IF_FAKE_S_CMD_SET_PEER = 1", d.Len, d.Cmd)
	}
}

func TestIfbReq(t *testing.T) {
	need64(t)
	if s := unsafe.Sizeof(ifbReq{}); s != 80 {
		t.Fatalf("ifbreq is %d bytes, want 80", s)
	}
	// xnu's if_bridgevar.h under #pragma pack(4).
	for field, c := range map[string][2]uintptr{
		"ifbr_ifsflags":     {unsafe.Offsetof(ifbReq{}.IfsFlags), 16},
		"ifbr_stpflags":     {unsafe.Offsetof(ifbReq{}.STPFlags), 20},
		"ifbr_path_cost":    {unsafe.Offsetof(ifbReq{}.PathCost), 24},
		"ifbr_portno":       {unsafe.Offsetof(ifbReq{}.PortNo), 28},
		"ifbr_state":        {unsafe.Offsetof(ifbReq{}.State), 32},
		"ifbr_addrcnt":      {unsafe.Offsetof(ifbReq{}.AddrCnt), 36},
		"ifbr_addrmax":      {unsafe.Offsetof(ifbReq{}.AddrMax), 40},
		"ifbr_addrexceeded": {unsafe.Offsetof(ifbReq{}.AddrExceeded), 44},
	} {
		if c[0] != c[1] {
			t.Errorf("%s at offset %d, want %d", field, c[0], c[1])
		}
	}
	r, err := newIfbReq("feth0")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 80)
	copy(want, "feth0")
	if b := raw(r); !bytes.Equal(b, want) {
		t.Errorf("ifbreq:\n got % x\nwant % x", b, want)
	}
	// What BRDGGIFFLGS writes back lands where the fields are read.
	b := raw(r)
	binary.NativeEndian.PutUint32(b[16:], 0x3)
	binary.NativeEndian.PutUint32(b[36:], 7)
	if r.IfsFlags != 3 || r.AddrCnt != 7 {
		t.Errorf("flags %#x addrcnt %d", r.IfsFlags, r.AddrCnt)
	}
}

func TestPutName(t *testing.T) {
	var b [ifNameSize]byte
	for _, bad := range []string{"", strings.Repeat("x", 16), "a\x00b"} {
		if err := putName(&b, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	copy(b[:], "bridge100-xxxxx")
	if err := putName(&b, "feth1"); err != nil || cName(&b) != "feth1" || b[5] != 0 || b[14] != 0 {
		t.Errorf("putName left % x (%v)", b, err)
	}
	if err := putName(&b, strings.Repeat("x", 15)); err != nil || cName(&b) != strings.Repeat("x", 15) {
		t.Errorf("15 bytes: %q %v", cName(&b), err)
	}
}
