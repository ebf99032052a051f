//go:build linux || darwin

package sockfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/l2fabric/l2fabric/fabric"
)

func dgramSocket(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestBindPolicy: a stale socket is replaced, a live one is a
// SocketInUseError naming it, a plain file is refused, and the file has
// its mode and group once Bind returns.
func TestBindPolicy(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "s.sock")
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // a datagram socket's file stays: stale now
	f, err := Bind(dgramSocket(t), path, Perm{Mode: 0o640, UID: -1, GID: os.Getgid()})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != os.Getgid() {
		t.Errorf("group %d, want %d", st.Gid, os.Getgid())
	}

	_, err = Bind(dgramSocket(t), path, Perm{Mode: 0o660, UID: -1, GID: -1})
	var iu *fabric.SocketInUseError
	if !errors.As(err, &iu) || iu.Path != path {
		t.Errorf("binding a live socket's path: %v, want a SocketInUseError for %s", err, path)
	}
	if !Live(path) {
		t.Error("the live socket's file was taken away")
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	if _, err := Bind(dgramSocket(t), plain, Perm{Mode: 0o660, UID: -1, GID: -1}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("binding over a plain file: %v", err)
	}

	f.Remove()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Remove: %v", err)
	}
}

// TestBindNamesMissingDirectory: a path in a directory that does not
// exist says which directory and how to make it.
func TestBindNamesMissingDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), "nodir")
	_, err := Bind(dgramSocket(t), filepath.Join(dir, "vms.sock"), Perm{Mode: 0o660, UID: -1, GID: -1})
	if err == nil || !strings.Contains(err.Error(), "directory "+dir+" does not exist") || !strings.Contains(err.Error(), "mkdir -p "+dir) {
		t.Errorf("bind in a missing directory: %v", err)
	}
}

// TestRemoveLeavesAReplacement: Remove takes away only the file Bind
// made, not one another process has bound since.
func TestRemoveLeavesAReplacement(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	f, err := Bind(dgramSocket(t), path, Perm{Mode: 0o660, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	other, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f.Remove()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("Remove took away another socket's file: %v", err)
	}
}

func TestLookup(t *testing.T) {
	if id, err := LookupUser("0"); err != nil || id != 0 {
		t.Errorf("LookupUser(0) = %d, %v", id, err)
	}
	if id, err := LookupUser("root"); err != nil || id != 0 {
		t.Errorf("LookupUser(root) = %d, %v", id, err)
	}
	if _, err := LookupGroup("no-such-group-l2f"); err == nil || !strings.Contains(err.Error(), `no group "no-such-group-l2f"`) {
		t.Errorf("LookupGroup of a missing group: %v", err)
	}
}

// TestPermSetOption: the one parser of mode=, owner= and group=.
func TestPermSetOption(t *testing.T) {
	p := Perm{Mode: 0o660, UID: -1, GID: -1}
	for _, tc := range []struct{ key, value string }{{"mode", "0640"}, {"owner", "0"}, {"group", "0"}} {
		if ok, err := p.SetOption(tc.key, tc.value); !ok || err != nil {
			t.Errorf("SetOption(%s, %s) = %v, %v", tc.key, tc.value, ok, err)
		}
	}
	if p != (Perm{Mode: 0o640, UID: 0, GID: 0}) {
		t.Errorf("perm = %+v", p)
	}
	if ok, err := p.SetOption("peer", "x"); ok || err != nil {
		t.Errorf("SetOption(peer) = %v, %v, want false, nil", ok, err)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"mode", "0999", "octal permissions"},
		{"mode", "01777", "octal permissions"},
		{"owner", "no-such-user-l2f", "owner= takes a user name or UID"},
		{"group", "no-such-group-l2f", "group= takes a group name or GID"},
	} {
		if ok, err := p.SetOption(tc.key, tc.value); !ok || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetOption(%s, %s) = %v, %v, want an error saying %q", tc.key, tc.value, ok, err, tc.want)
		}
	}
}

func TestName(t *testing.T) {
	for path, want := range map[string]string{
		"/tmp/vms.sock":          "vms",
		"/run/l2fabric/x.socket": "x",
		"/var/run/socket_vmnet":  "socket_vmnet",
		"vm.1.sock":              "vm.1",
		"/":                      "dgram",
		"":                       "dgram",
	} {
		if got := Name(path, "dgram"); got != want {
			t.Errorf("Name(%q) = %q, want %q", path, got, want)
		}
	}
}
