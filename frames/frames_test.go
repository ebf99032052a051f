package frames

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd}
	tests := []struct {
		in   string
		want MAC
		ok   bool
	}{
		{"02:00:5e:10:ab:cd", want, true},
		{"02-00-5E-10-AB-CD", want, true},
		{"0200.5e10.abcd", want, true},
		{"02005e10abcd", want, true},
		{"2:0:5e:10:ab:cd", want, true},
		{"", MAC{}, false},
		{"02:00:5e:10:ab", MAC{}, false},
		{"02:00:5e:10:ab:cd:ef", MAC{}, false},
		{"02:00:5e:10:ab:cg", MAC{}, false},
		{"02:00-5e:10:ab:cd", MAC{}, false},
		{"020:0:5e:10:ab:cd", MAC{}, false},
		{"02::5e:10:ab:cd", MAC{}, false},
		{"02005e10abcz", MAC{}, false},
		{"0200.5e10.abcz", MAC{}, false},
	}
	for _, tt := range tests {
		got, err := ParseMAC(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseMAC(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMAC(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseMAC(%q) error %q does not quote the input", tt.in, err)
		}
	}
}

func TestMACStringAndJSON(t *testing.T) {
	m := MAC{0x02, 0, 0x5e, 0x10, 0xab, 0xcd}
	if got := m.String(); got != "02:00:5e:10:ab:cd" {
		t.Fatalf("String = %q", got)
	}
	b, err := json.Marshal(map[string]MAC{"mac": m})
	if err != nil || string(b) != `{"mac":"02:00:5e:10:ab:cd"}` {
		t.Fatalf("json = %s, %v", b, err)
	}
	var back map[string]MAC
	if err := json.Unmarshal(b, &back); err != nil || back["mac"] != m {
		t.Fatalf("round trip = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"mac":"nope"}`), &back); err == nil {
		t.Fatal("bad MAC accepted from JSON")
	}
}

func TestMACPredicates(t *testing.T) {
	tests := []struct {
		mac                                         string
		zero, bcast, mcast, ucast, local, linkLocal bool
	}{
		{"00:00:00:00:00:00", true, false, false, false, false, false},
		{"ff:ff:ff:ff:ff:ff", false, true, true, false, true, false},
		{"01:00:5e:00:00:fb", false, false, true, false, false, false},
		{"33:33:00:00:00:01", false, false, true, false, true, false},
		{"02:00:00:00:00:01", false, false, false, true, true, false},
		{"52:54:00:12:34:56", false, false, false, true, true, false},
		{"00:1b:21:3c:4d:5e", false, false, false, true, false, false},
		{"01:80:c2:00:00:00", false, false, true, false, false, true},
		{"01:80:c2:00:00:01", false, false, true, false, false, true},
		{"01:80:c2:00:00:0e", false, false, true, false, false, true},
		{"01:80:c2:00:00:0f", false, false, true, false, false, true},
		{"01:80:c2:00:00:10", false, false, true, false, false, false},
		{"01:80:c2:00:01:00", false, false, true, false, false, false},
	}
	for _, tt := range tests {
		m, err := ParseMAC(tt.mac)
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{m.IsZero(), m.IsBroadcast(), m.IsMulticast(), m.IsUnicast(), m.IsLocallyAdministered(), m.IsLinkLocal()}
		want := []bool{tt.zero, tt.bcast, tt.mcast, tt.ucast, tt.local, tt.linkLocal}
		for i, name := range []string{"IsZero", "IsBroadcast", "IsMulticast", "IsUnicast", "IsLocallyAdministered", "IsLinkLocal"} {
			if got[i] != want[i] {
				t.Errorf("%s.%s() = %v, want %v", tt.mac, name, got[i], want[i])
			}
		}
	}
}

// frame builds an untagged frame with the given addresses, EtherType and
// payload length.
func frame(dst, src string, etype uint16, payload int) Frame {
	d, _ := ParseMAC(dst)
	s, _ := ParseMAC(src)
	f := make(Frame, HeaderLen+payload)
	f.SetDestination(d)
	f.SetSource(s)
	f[12], f[13] = byte(etype>>8), byte(etype)
	for i := HeaderLen; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

func TestFrameAccessors(t *testing.T) {
	f := frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, 28)
	if !f.Valid() || f.Tagged() {
		t.Fatalf("Valid=%v Tagged=%v", f.Valid(), f.Tagged())
	}
	if f.Destination() != (MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) || f.Source() != (MAC{2, 0, 0, 0, 0, 1}) {
		t.Fatalf("addresses %v %v", f.Destination(), f.Source())
	}
	if f.EtherType() != 0x0806 {
		t.Fatalf("EtherType %#x", f.EtherType())
	}
	if Frame(make([]byte, 13)).Valid() {
		t.Fatal("13-byte frame is Valid")
	}
	// A frame whose EtherType says 802.1Q but is too short to hold the
	// tag is not Tagged, so tag accessors are never reached for it.
	short := Frame{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0x00}
	if short.Tagged() {
		t.Fatal("15-byte frame with TPID 0x8100 reported Tagged")
	}
}

func TestTagRoundTrip(t *testing.T) {
	for _, tci := range []uint16{1, 10, 4094, 0xa00a /* prio 5, vid 10 */} {
		f := frame("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, 46)
		orig := append(Frame(nil), f...)
		tagged := Frame(AppendTagged(nil, f, tci))
		if len(tagged) != len(f)+TagLen || !tagged.Tagged() {
			t.Fatalf("tci %#x: len %d tagged %v", tci, len(tagged), tagged.Tagged())
		}
		if tagged.TCI() != tci || tagged.VLAN() != tci&0xfff || tagged.Priority() != uint8(tci>>13) {
			t.Fatalf("tci %#x: TCI %#x VLAN %d prio %d", tci, tagged.TCI(), tagged.VLAN(), tagged.Priority())
		}
		if tagged.InnerEtherType() != 0x0800 || tagged.Destination() != f.Destination() || tagged.Source() != f.Source() {
			t.Fatalf("tci %#x: header not preserved", tci)
		}
		popped := tagged.PopTag()
		if !bytes.Equal(popped, orig) {
			t.Fatalf("tci %#x: pop(push(f)) != f\n got %x\nwant %x", tci, popped, orig)
		}
	}
}

func TestInsertTagMatchesAppendTagged(t *testing.T) {
	f := frame("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, 46)
	b := make([]byte, len(f)+TagLen)
	copy(b, f)
	n := InsertTag(b, len(f), EtherTypeVLAN, 0x2005)
	if want := AppendTagged(nil, f, 0x2005); !bytes.Equal(b[:n], want) {
		t.Fatalf("InsertTag = %x, want %x", b[:n], want)
	}
}

func TestAppendTaggedNoAlloc(t *testing.T) {
	f := frame("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, 1500-HeaderLen)
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { _ = AppendTagged(buf[:0], f, 10) }); n != 0 {
		t.Fatalf("AppendTagged allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		g := Frame(AppendTagged(buf[:0], f, 10))
		_ = g.PopTag()
	}); n != 0 {
		t.Fatalf("PopTag allocates %v times", n)
	}
}

func TestDescribe(t *testing.T) {
	f := frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, 46)
	if got, want := f.Describe(), "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP, 60 bytes"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	tagged := Frame(AppendTagged(nil, f, 0x2000|42))
	if got := tagged.Describe(); !strings.Contains(got, "vlan 42 prio 1") || !strings.Contains(got, "ARP") {
		t.Errorf("Describe tagged = %q", got)
	}
	if got := (Frame{1, 2, 3}).Describe(); got != "runt frame, 3 bytes" {
		t.Errorf("Describe runt = %q", got)
	}
}

// FuzzFrame checks that the accessors never panic on a frame that passed
// the checks the fabric makes, and that tag push and pop are inverses.
func FuzzFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0806, 28)))
	f.Add(AppendTagged(nil, frame("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800, 4), 10))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := Frame(b)
		_ = fr.Describe()
		if !fr.Valid() {
			return
		}
		_, _, _ = fr.Destination(), fr.Source(), fr.EtherType()
		if fr.Tagged() {
			_, _, _, _ = fr.TCI(), fr.VLAN(), fr.Priority(), fr.InnerEtherType()
			tci := fr.TCI()
			orig := append([]byte(nil), b...)
			untagged := append(Frame(nil), b...).PopTag()
			if !untagged.Valid() {
				t.Fatalf("popping a tagged frame left a runt: %x", untagged)
			}
			if again := AppendTagged(nil, untagged, tci); !bytes.Equal(again, orig) {
				t.Fatalf("push(pop(f)) != f\n got %x\nwant %x", again, orig)
			}
		}
	})
}

// FuzzParseMAC checks that ParseMAC never panics and that what it accepts
// formats back to something it parses to the same address.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"02:00:00:00:00:01", "0200.0000.0001", "020000000001", "2-0-0-0-0-1", "zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		back, err := ParseMAC(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMAC(%q) = %v, but its String does not parse back: %v %v", s, m, back, err)
		}
	})
}
