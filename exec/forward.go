package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/mfa"
)

// forward hands a request to radmfa serve over its RADIUS-side API, as
// rlm_rest would, and reads the answer back. daemon is "unix:PATH" or an
// http(s) URL. down reports that the daemon could not be reached at all
// (nothing was sent), so the caller may decide locally instead.
func forward(ctx context.Context, daemon string, req mfa.Request) (d mfa.Decision, noReply, down bool, err error) {
	body, query := rlmrest.EncodeRequest(req, rlmrest.Packet{Authenticator: req.Authenticator})
	base := strings.TrimSuffix(daemon, "/")
	transport := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	if path, ok := strings.CutPrefix(daemon, "unix:"); ok {
		base = "http://radmfa"
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	url := base + "/radius/authorize"
	if len(query) > 0 {
		url += "?" + query.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return mfa.Decision{}, false, false, fmt.Errorf("daemon %s: %w", daemon, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("X-FreeRADIUS-Section", "authorize")
	hreq.Header.Set(rlmrest.HeaderFrontDoor, mfa.FrontDoorExec.String())
	resp, err := (&http.Client{Transport: transport}).Do(hreq)
	if err != nil {
		return mfa.Decision{}, false, unreachable(err), fmt.Errorf("daemon %s: %w", daemon, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, rlmrest.MaxBody))
	if err != nil {
		return mfa.Decision{}, false, false, fmt.Errorf("daemon %s: reading the answer: %w", daemon, err)
	}
	d, noReply, err = rlmrest.DecodeResponse(resp.StatusCode, rb)
	if err != nil {
		return mfa.Decision{}, false, false, fmt.Errorf("daemon %s: %w", daemon, err)
	}
	return d, noReply, false, nil
}

// unreachable reports whether err means the request never got to the
// daemon: no socket, nothing listening, no route.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}
