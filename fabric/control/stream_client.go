package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Stream is the client's end of a streaming command (capture, monitor):
// read the stream from it, and Stop it to have the daemon end it cleanly.
type Stream struct {
	c *Client
}

// Stream sends a streaming command and reads its reply; what follows on
// the connection is the command's stream.
func (c *Client) Stream(command string, args any) (*Stream, error) {
	req := Request{Command: command}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, err
		}
		req.Args = b
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("sending %s: %w", command, err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("reading reply to %s: %w", command, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("malformed reply to %s: %w", command, err)
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "failed"
		}
		return nil, errors.New(resp.Error)
	}
	c.c.SetDeadline(time.Time{})
	return &Stream{c: c}, nil
}

// Read reads the stream.
func (s *Stream) Read(p []byte) (int, error) { return s.c.r.Read(p) }

// Buffered returns how many bytes of the stream have been received but
// not yet read.
func (s *Stream) Buffered() int { return s.c.r.Buffered() }

// Stop asks the daemon to end the stream: it sends what it holds and its
// closing record, then closes. Reads fail after timeout if it does not.
func (s *Stream) Stop(timeout time.Duration) error {
	s.c.c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.WriteString(s.c.c, "\n")
	return err
}

// Close closes the connection.
func (s *Stream) Close() error { return s.c.Close() }
