package fabric

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/l2fabric/l2fabric/frames"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "dgram:/tmp/a.sock", want: Spec{Kind: "dgram", Arg: "/tmp/a.sock"}},
		{in: "dgram:/tmp/a.sock,vlan=10,name=x", want: Spec{Kind: "dgram", Arg: "/tmp/a.sock",
			Options: []Option{{"vlan", "10"}, {"name", "x"}}}},
		{in: "dgram:fd=3", want: Spec{Kind: "dgram", Options: []Option{{"fd", "3"}}}},
		{in: "dgram:connect=/run/x.sock,vlan=2", want: Spec{Kind: "dgram", Options: []Option{{"connect", "/run/x.sock"}, {"vlan", "2"}}}},
		{in: "vm:router", want: Spec{Kind: "vm", Arg: "router"}},
		{in: "host:", want: Spec{Kind: "host"}},
		// A path with '=' in it is still a path when its "key" is not a word.
		{in: "dgram:/tmp/a=b.sock", want: Spec{Kind: "dgram", Arg: "/tmp/a=b.sock"}},
		{in: "dgram", err: "no port kind"},
		{in: "Dgram:/x", err: "port kind must be"},
		{in: ":/x", err: "port kind must be"},
		{in: "dgram:/x,,vlan=1", err: "empty option"},
		{in: "dgram:/x,vlan", err: "not KEY=VALUE"},
		{in: "dgram:/x,VLAN=1", err: "option key must be"},
		{in: "dgram:/x,vlan=1,vlan=2", err: "given twice"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSpec(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			var se *SpecError
			if err != nil && (!errors.As(err, &se) || !strings.Contains(err.Error(), tt.in)) {
				t.Errorf("ParseSpec(%q) error %q is not a SpecError quoting the spec", tt.in, err)
			}
			continue
		}
		tt.want.Text = tt.in
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePortConfig(t *testing.T) {
	tests := []struct {
		in   string
		want PortConfig
		err  string
	}{
		{in: "dgram:/x", want: PortConfig{Kind: "dgram"}},
		{in: "dgram:/x,name=r,vlan=10,mtu=9000,learning=off,flood=off,mac=52:54:00:00:00:01,txqueue=64",
			want: PortConfig{Kind: "dgram", Name: "r", VLAN: 10, MTU: 9000, NoLearning: true, NoFlood: true,
				MAC: frames.MAC{0x52, 0x54, 0, 0, 0, 1}, TxQueueLen: 64}},
		{in: "dgram:/x,trunk=10+20+30-32", want: PortConfig{Kind: "dgram", Trunk: []uint16{10, 20, 30, 31, 32}}},
		{in: "dgram:/x,peer=/y", want: PortConfig{Kind: "dgram"}},
		{in: "dgram:/x,vlan=0", err: "from 1 to 4094"},
		{in: "dgram:/x,vlan=4095", err: "from 1 to 4094"},
		{in: "dgram:/x,vlan=ten", err: "from 1 to 4094"},
		{in: "dgram:/x,trunk=10,20", err: "not KEY=VALUE"},
		{in: "dgram:/x,trunk=20-10", err: "backwards"},
		{in: "dgram:/x,trunk=", err: "empty VLAN list"},
		{in: "dgram:/x,mtu=67", err: "mtu must be"},
		{in: "dgram:/x,mtu=65536", err: "mtu must be"},
		{in: "dgram:/x,learning=maybe", err: "not on or off"},
		{in: "dgram:/x,mac=ff:ff:ff:ff:ff:ff", err: "not a unicast"},
		{in: "dgram:/x,mac=nope", err: "bad MAC"},
		{in: "dgram:/x,name=a/b", err: "without spaces or '/'"},
		{in: "dgram:/x,txqueue=0", err: "txqueue must be"},
		{in: "dgram:/x,colour=blue", err: "unknown option for kind dgram"},
		{in: "dgram:/x,loop=off,storm=1000", want: PortConfig{Kind: "dgram", NoLoopDetect: true, Storm: 1000}},
		{in: "dgram:/x,loop=200,storm=off", want: PortConfig{Kind: "dgram", LoopPriority: 200, Storm: StormOff}},
		{in: "dgram:/x,loop=on", want: PortConfig{Kind: "dgram"}},
		{in: "dgram:/x,loop=0", err: "loop must be on, off or a priority from 1 to 255"},
		{in: "dgram:/x,loop=maybe", err: "loop must be on, off or a priority"},
		{in: "dgram:/x,storm=0", err: "storm must be off or a number"},
		{in: "dgram:/x,storm=lots", err: "storm must be off or a number"},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.in)
		if err != nil {
			if tt.err == "" || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSpec(%q): %v", tt.in, err)
			}
			continue
		}
		got, err := ParsePortConfig(s, []string{"peer"}, "dgram:PATH")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePortConfig(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePortConfig(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestUnknownOptionListsAcceptedKeys(t *testing.T) {
	s, _ := ParseSpec("dgram:/x,colour=blue")
	_, err := ParsePortConfig(s, []string{"peer", "mode"}, "dgram:PATH | dgram:fd=N")
	for _, want := range []string{`"colour=blue"`, "vlan", "trunk", "peer", "mode", "dgram:fd=N"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestUnknownKindListsKinds(t *testing.T) {
	ks := Kinds{{Name: "dgram"}, {Name: "host"}}
	_, _, _, err := ks.Parse("tap:foo")
	if err == nil || !strings.Contains(err.Error(), "unknown port kind") || !strings.Contains(err.Error(), "dgram, host") {
		t.Errorf("error = %v", err)
	}
}

func TestVLANListRoundTrip(t *testing.T) {
	for _, s := range []string{"1", "10+20", "1-4094", "5+7-9+100"} {
		l, err := ParseVLANList(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatVLANList(l); got != s {
			t.Errorf("FormatVLANList(ParseVLANList(%q)) = %q", s, got)
		}
	}
	if l, err := ParseVLANList("all"); err != nil || len(l) != 4094 {
		t.Errorf("all = %d VLANs, %v", len(l), err)
	}
	if l, _ := ParseVLANList("10+10+9-11"); !reflect.DeepEqual(l, []uint16{9, 10, 11}) {
		t.Errorf("duplicates not merged: %v", l)
	}
}

// FuzzParseSpec checks that no spec makes the parsers panic, and that an
// accepted spec yields a configuration the fabric accepts.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"dgram:/tmp/a.sock", "dgram:/x,vlan=10,trunk=1+2-4", "dgram:fd=3,mac=02:00:00:00:00:01",
		"host:en0,mtu=9000,learning=off", "x:", "dgram:/x,,", "dgram:/x,trunk=all,vlan=7,txqueue=9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSpec(s)
		if err != nil {
			return
		}
		cfg, err := ParsePortConfig(spec, []string{"peer", "fd"}, "")
		if err != nil {
			return
		}
		cfg.Name = "fuzz"
		if err := cfg.withDefaults().validate(); err != nil {
			t.Fatalf("spec %q parsed to a config the fabric rejects: %v (%+v)", s, err, cfg)
		}
	})
}

// TestSpecHints: mistakes a newcomer makes get the fix in the error.
func TestSpecHints(t *testing.T) {
	for text, want := range map[string]string{
		"dgram:/x,trunk=10,20":                  "trunk=10+20",
		"dgram:/x,trunk=10,20,100-199,mtu=9000": "trunk=10+20+100-199",
	} {
		_, err := ParseSpec(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q): %v, want a hint with %q", text, err, want)
		}
	}
	for _, v := range []string{"yes", "no", "true", "1", "ON"} {
		if _, err := ParseBool(v); err == nil {
			t.Errorf("ParseBool(%q) accepted an undocumented form", v)
		}
	}
	for v, want := range map[string]bool{"on": true, "off": false} {
		if got, err := ParseBool(v); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", v, got, err)
		}
	}
}
