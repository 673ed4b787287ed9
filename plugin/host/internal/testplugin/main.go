// Command testplugin is a notifier plugin for the host's tests. It records
// what it receives and misbehaves on request: the notification's user
// chooses the behaviour ("crash", "hang", "exit-after", "error", "leak";
// anything else delivers normally).
//
// Environment: TESTPLUGIN_PIDS names a file that gets one line with the
// process id per start. Settings: out_file receives one JSON line per
// notification, secrets revealed; fail_configure makes Configure fail with
// that message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

type settings struct {
	OutFile       string `json:"out_file"`
	FailConfigure string `json:"fail_configure"`
}

type notifier struct {
	log *slog.Logger

	mu         sync.Mutex
	cfg        settings
	configured int
	sent       int
}

func (n *notifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	var s settings
	if err := req.Decode(&s); err != nil {
		return nil, err
	}
	if s.FailConfigure != "" {
		return nil, errors.New(s.FailConfigure)
	}
	n.mu.Lock()
	n.cfg = s
	n.configured++
	count := n.configured
	n.mu.Unlock()
	n.log.Info("testplugin configured", "name", req.Name, "count", count)
	return &plugin.ConfigureResponse{}, nil
}

type record struct {
	Kind        string    `json:"kind"`
	User        string    `json:"user"`
	To          string    `json:"to"`
	Subject     string    `json:"subject"`
	Text        string    `json:"text"`
	Code        string    `json:"code"`
	ApprovalURL string    `json:"approval_url"`
	Resource    string    `json:"resource"`
	ClientIP    string    `json:"client_ip"`
	RequestTime time.Time `json:"request_time"`
	Expires     time.Time `json:"expires"`
	Variant     string    `json:"variant"`
	RequestCode string    `json:"request_code"`
	PID         int       `json:"pid"`
}

func (n *notifier) Notify(ctx context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	n.log.Info("testplugin notify", "request", req)
	switch req.User {
	case "crash":
		os.Exit(3)
	case "hang":
		time.Sleep(time.Hour)
	case "exit-after":
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(0)
		}()
		return plugin.Sent("bye", "exiting"), nil
	case "error":
		return nil, fmt.Errorf("gateway refused code %s", req.Code.Reveal())
	case "leak":
		n.log.Warn("careless plugin", "code", req.Code.Reveal(), "secret", req.Code)
		fmt.Fprintf(os.Stderr, "raw stderr line with code %s\n", req.Code.Reveal())
		return plugin.Failed("could not send %s", req.Code.Reveal()), nil
	}
	r := record{Kind: req.Kind.String(), User: req.User, To: req.To, Subject: req.Subject, Text: req.Text,
		Code: req.Code.Reveal(), PID: os.Getpid()}
	if p := req.Push; p != nil {
		r.ApprovalURL, r.Resource, r.ClientIP = p.ApprovalURL.Reveal(), p.Resource, p.ClientIP
		r.RequestTime, r.Expires, r.Variant, r.RequestCode = p.RequestTime, p.Expires, p.Variant, p.RequestCode
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent++
	if n.cfg.OutFile != "" {
		f, err := os.OpenFile(n.cfg.OutFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := json.NewEncoder(f).Encode(r); err != nil {
			return nil, err
		}
	}
	return plugin.Sent("n-"+strconv.Itoa(n.sent), "recorded"), nil
}

func main() {
	if path := os.Getenv("TESTPLUGIN_PIDS"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	plugin.Serve(&notifier{log: plugin.Logger()})
}
