package fabric

import (
	"reflect"
	"strings"
	"testing"
)

// TestDropCountsNameEveryDropCounter: DropCounts lists every drop_ field
// of Counters under its JSON name, and sums to Drops.
func TestDropCountsNameEveryDropCounter(t *testing.T) {
	var c Counters
	v := reflect.ValueOf(&c).Elem()
	want := map[string]uint64{}
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Kind() != reflect.Uint64 {
			continue // NAT: a translating port's own counters, no drops
		}
		tag := v.Type().Field(i).Tag.Get("json")
		v.Field(i).SetUint(uint64(i + 1))
		if reason, ok := strings.CutPrefix(tag, "drop_"); ok {
			want[reason] = uint64(i + 1)
		}
	}
	var sum uint64
	got := map[string]uint64{}
	for _, d := range c.DropCounts() {
		got[d.Reason] = d.Count
		sum += d.Count
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DropCounts = %v, want %v", got, want)
	}
	if sum != c.Drops() {
		t.Errorf("DropCounts sum to %d, Drops = %d", sum, c.Drops())
	}
}

func TestDescribeVLANs(t *testing.T) {
	for _, tt := range []struct {
		vlan  uint16
		trunk string
		want  string
	}{
		{1, "", "access 1"}, {0, "10+20", "trunk 10+20"}, {5, "10-12", "trunk 10-12 native 5"},
	} {
		if got := DescribeVLANs(tt.vlan, tt.trunk); got != tt.want {
			t.Errorf("DescribeVLANs(%d, %q) = %q, want %q", tt.vlan, tt.trunk, got, tt.want)
		}
	}
}
