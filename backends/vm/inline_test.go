package vm

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitInline(t *testing.T) {
	tests := []struct {
		in   string
		want [][2]string
	}{
		{"kernel=/k", [][2]string{{"kernel", "/k"}}},
		{"kernel=/k,cpus=2", [][2]string{{"kernel", "/k"}, {"cpus", "2"}}},
		{`cmdline="console=hvc0 root=/dev/vda,rw",cpus=2`, [][2]string{{"cmdline", "console=hvc0 root=/dev/vda,rw"}, {"cpus", "2"}}},
		{`cmdline="a \"quoted\" word, and a \\ backslash"`, [][2]string{{"cmdline", `a "quoted" word, and a \ backslash`}}},
		{`cmdline=""`, [][2]string{{"cmdline", ""}}},
		{`initrd=,kernel=/k`, [][2]string{{"initrd", ""}, {"kernel", "/k"}}},
		{`kernel=C:\k`, [][2]string{{"kernel", `C:\k`}}},
		{`nic="mac=02:00:00:00:00:01,mtu=9000",nic=mtu=1600`, [][2]string{{"nic", "mac=02:00:00:00:00:01,mtu=9000"}, {"nic", "mtu=1600"}}},
		{`cmdline=a=b=c`, [][2]string{{"cmdline", "a=b=c"}}},
		{`cmdline=spaces are fine unquoted`, [][2]string{{"cmdline", "spaces are fine unquoted"}}},
	}
	for _, tt := range tests {
		got, err := splitInline(tt.in)
		if err != nil {
			t.Errorf("splitInline(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitInline(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := splitInline(joinInline(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("join/split of %q gave %q, %v", tt.in, back, err)
		}
	}
}

func TestSplitInlineErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "no options"},
		{"kernel", `"kernel" is not KEY=VALUE`},
		{"kernel=/k,", "empty option after the last ','"},
		{"kernel=/k,,cpus=2", "empty option (an extra ',')"},
		{",kernel=/k", "empty option"},
		{"kernel=/k,cpus", `"cpus" is not KEY=VALUE`},
		{"Kernel=/k", `option key "Kernel"`},
		{"=x", `option key ""`},
		{`cmdline="abc`, "unterminated quoted value"},
		{`cmdline="abc"def`, `text "def" after the closing quote`},
		{`cmdline=ab"c"`, `a '"' inside a value`},
		{`cmdline="a\qb"`, `a '\' in a quoted value`},
	}
	for _, tt := range tests {
		_, err := splitInline(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("splitInline(%q): got %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseInline(t *testing.T) {
	got, err := parseInline(`router:kernel=Image,initrd=/boot/initrd,cmdline="console=hvc0 root=/dev/vda rw, quiet",cpus=4,memory=2G,disk=root.img,disk-ro=seed.iso,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02,restart=on-failure`,
		"/home/u", "/state/router")
	if err != nil {
		t.Fatal(err)
	}
	want := &Definition{
		Name: "router", Source: "--vm router",
		Kernel: "/home/u/Image", Initrd: "/boot/initrd", Cmdline: "console=hvc0 root=/dev/vda rw, quiet",
		CPUs: 4, Memory: 2 << 30,
		Disks:   []Disk{{Path: "/home/u/root.img"}, {Path: "/home/u/seed.iso", ReadOnly: true}},
		Console: "/state/router/console.log",
		NICs:    []NIC{{MAC: mustMAC(t, "52:54:00:00:00:01"), MTU: 1500}, {MAC: mustMAC(t, "52:54:00:00:00:02"), MTU: 1500}},
		Restart: RestartOnFailure,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	for _, tt := range []struct{ in, want string }{
		{"router", "no ':' after the VM name"},
		{"bad name:kernel=/k", "may contain only"},
		{":kernel=/k", "empty VM name"},
		{"router:", "--vm router: no options"},
		{"router:cpus=2", "no kernel="},
		{"router:kernel=/k,memory=1.5X", `size "1.5X" has an unknown unit`},
		{"router:kernel=/k,cpus=0", "cpus must be 1 to 256"},
		{"router:kernel=/k,mac=02:00:00:00:00:01,mac=02:00:00:00:00:01", "same MAC"},
		{"router:kernel=/k,mtu=100", "from 1500 to 65535"},
		{"router:kernel=/k,vlan=3", `unknown key "vlan"`},
		{"router:kernel=/k,kernel=/j", "kernel given twice"},
	} {
		_, err := parseInline(tt.in, "/", "/state")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseInline(%q): got %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

func FuzzSplitInline(f *testing.F) {
	for _, s := range []string{
		"kernel=/k", `cmdline="a, b",cpus=2`, `nic="mac=02:00:00:00:00:01,mtu=9000"`, `cmdline="\"\\"`,
		"kernel=/k,,", `x="`, `a=b"c`, "memory=1.5G,nics=3,mtu=9000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := splitInline(s)
		if err != nil {
			return
		}
		for _, p := range pairs {
			if !isKey(p[0]) {
				t.Fatalf("splitInline(%q) returned the key %q", s, p[0])
			}
		}
		joined := joinInline(pairs)
		back, err := splitInline(joined)
		if err != nil {
			t.Fatalf("splitInline(%q) = %q, but its join %q does not split: %v", s, pairs, joined, err)
		}
		if !reflect.DeepEqual(back, pairs) {
			t.Fatalf("splitInline(%q) = %q; join %q splits to %q", s, pairs, joined, back)
		}
		// The whole parser must not panic either.
		_, _ = parseInline("fuzz:"+s, "/cwd", "/state")
	})
}
