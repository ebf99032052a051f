package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
	"github.com/l2fabric/l2fabric/frames"
)

// ServerConfig configures a Server. Zero values are defaults.
type ServerConfig struct {
	// Path is the socket path. Required.
	Path string
	// Group, when not empty, is the group (name or numeric ID) given
	// access to the socket: its mode becomes 0660 instead of 0600.
	Group string
	// Version is reported by the version command.
	Version string
	// Logger receives the server's logs; nil discards them.
	Logger hclog.Logger
}

// Server serves the control protocol for a fabric.
type Server struct {
	cfg ServerConfig
	f   *fabric.Fabric
	ln  *net.UnixListener
	log hclog.Logger
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen creates the control socket. A stale socket from a dead daemon is
// replaced; one a live daemon answers on is an error.
func Listen(cfg ServerConfig, f *fabric.Fabric) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if fi, err := os.Lstat(cfg.Path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s exists and is not a socket: refusing to replace it", cfg.Path)
		}
		if c, err := net.Dial("unix", cfg.Path); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use: another l2fabric is running (use --control to pick another path)", cfg.Path)
		}
		if err := os.Remove(cfg.Path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	gid := -1
	if cfg.Group != "" {
		var err error
		if gid, err = lookupGroup(cfg.Group); err != nil {
			return nil, err
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Chown(cfg.Path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("giving control socket to group %s: %w", cfg.Group, err)
		}
	}
	if err := os.Chmod(cfg.Path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket mode: %w", err)
	}
	return &Server{cfg: cfg, f: f, ln: ln, log: log, conns: map[net.Conn]struct{}{}}, nil
}

// Serve answers clients until ctx is done, then closes the socket (removing
// its file) and every open connection.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.log.Warn("control accept", "error", err)
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	enc := json.NewEncoder(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errTooLong) {
				enc.Encode(Response{Error: fmt.Sprintf("request longer than %d bytes", MaxRequest)})
			}
			return
		}
		if strings.TrimSpace(string(line)) == "" {
			continue
		}
		if s.serveStream(c, r, line) { // capture and monitor: stream.go
			return
		}
		if err := enc.Encode(s.Handle(line)); err != nil {
			return
		}
	}
}

var errTooLong = errors.New("line too long")

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > MaxRequest {
			return nil, errTooLong
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// commands lists the commands Handle knows, for error messages.
var commands = []string{"version", "ports", "stats", "fdb.show", "fdb.add", "fdb.del", "fdb.flush", "attach", "detach"}

// Handle answers one request line. It never panics on input.
func (s *Server) Handle(line []byte) Response {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Response{Error: "malformed request: " + err.Error() + ` (want {"command":"...","args":{...}})`}
	}
	result, err := s.dispatch(req)
	if err != nil {
		return Response{Error: err.Error()}
	}
	b, err := json.Marshal(result)
	if err != nil {
		return Response{Error: "encoding result: " + err.Error()}
	}
	return Response{OK: true, Result: b}
}

func decodeArgs(req Request, v any) error {
	if len(req.Args) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(req.Args)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: malformed args: %v", req.Command, err)
	}
	return nil
}

func (s *Server) dispatch(req Request) (any, error) {
	switch req.Command {
	case "version":
		return VersionResult{Version: s.cfg.Version}, nil
	case "ports":
		return s.f.Ports(), nil
	case "stats":
		return s.f.Stats(), nil
	case "fdb.show":
		var a FDBShowArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		out := []fabric.Entry{}
		for _, e := range s.f.Entries() {
			if (a.Port == "" || e.Port == a.Port) && (a.VLAN == 0 || e.VLAN == a.VLAN) {
				out = append(out, e)
			}
		}
		return out, nil
	case "fdb.add":
		var a FDBAddArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		mac, err := frames.ParseMAC(a.MAC)
		if err != nil {
			return nil, err
		}
		if a.Port == "" {
			return nil, errors.New("fdb.add: port is required")
		}
		return struct{}{}, s.f.AddStatic(fabric.Static{VLAN: a.VLAN, MAC: mac, Port: a.Port}, false)
	case "fdb.del":
		var a FDBDelArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		mac, err := frames.ParseMAC(a.MAC)
		if err != nil {
			return nil, err
		}
		return struct{}{}, s.f.DeleteEntry(a.VLAN, mac)
	case "fdb.flush":
		var a FDBFlushArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		n, err := s.f.Flush(a.Port)
		return FlushResult{Flushed: n}, err
	case "attach":
		var a AttachArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		if a.Spec == "" {
			return nil, errors.New("attach: spec is required")
		}
		name, err := s.f.Open(a.Spec)
		return AttachResult{Name: name}, err
	case "detach":
		var a DetachArgs
		if err := decodeArgs(req, &a); err != nil {
			return nil, err
		}
		return struct{}{}, s.f.Detach(a.Name)
	}
	cmds := append([]string(nil), commands...)
	sort.Strings(cmds)
	return nil, fmt.Errorf("unknown command %q; commands: %s", req.Command, strings.Join(cmds, ", "))
}
