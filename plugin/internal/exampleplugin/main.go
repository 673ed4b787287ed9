// Command exampleplugin is the notifier plugin shown in plugin/README.md:
// it appends each notification's text to a file. A test checks that the
// README shows exactly this program, and the host's tests run it.
package main

import (
	"context"
	"os"

	"github.com/radmfa/radmfa/plugin"
)

type fileNotifier struct{ path string }

func (n *fileNotifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	var s struct {
		Path string `json:"path"`
	}
	err := req.Decode(&s)
	n.path = s.Path
	return &plugin.ConfigureResponse{}, err
}

func (n *fileNotifier) Notify(_ context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	f, err := os.OpenFile(n.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return plugin.Failed("open: %v", err), nil
	}
	defer f.Close()
	if _, err := f.WriteString(req.RevealText() + "\n"); err != nil {
		return plugin.Failed("write: %v", err), nil
	}
	return plugin.Sent("", "written"), nil
}

func main() { plugin.Serve(&fileNotifier{}) }
