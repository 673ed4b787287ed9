package plugin

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
)

// recorder is a Notifier that keeps what it got and answers as told.
type recorder struct {
	configured *ConfigureRequest
	got        *NotifyRequest
	resp       *NotifyResponse
	err        error
}

func (r *recorder) Configure(_ context.Context, req *ConfigureRequest) (*ConfigureResponse, error) {
	r.configured = req
	return &ConfigureResponse{}, r.err
}

func (r *recorder) Notify(_ context.Context, req *NotifyRequest) (*NotifyResponse, error) {
	r.got = req
	return r.resp, r.err
}

// dial serves impl over an in-memory gRPC connection and returns the
// host's side.
func dial(t *testing.T, impl Notifier) Notifier {
	t.Helper()
	client, _ := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{PluginName: &GRPCPlugin{Impl: impl}})
	// Closing the client stops the server too (go-plugin's Shutdown RPC).
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Notifier)
}

func TestGRPCRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  *NotifyRequest
		resp *NotifyResponse
	}{
		{"push", pushRequest(), Sent("id-1", "ok")},
		{"code", codeRequest(), &NotifyResponse{Status: StatusQueued, Detail: "later"}},
		{"alert", &NotifyRequest{Kind: KindAlert, User: "carol", Subject: "Fraud", Text: "it wasn't me"}, Failed("no route to %s", "host")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{resp: tt.resp}
			n := dial(t, rec)
			if _, err := n.Configure(context.Background(), &ConfigureRequest{Name: "n1", Settings: []byte(`{"a":1}`)}); err != nil {
				t.Fatal(err)
			}
			if rec.configured.Name != "n1" || string(rec.configured.Settings) != `{"a":1}` {
				t.Fatalf("plugin configured with %+v", rec.configured)
			}
			resp, err := n.Notify(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resp, tt.resp) {
				t.Fatalf("response %+v, want %+v", resp, tt.resp)
			}
			if !reflect.DeepEqual(rec.got, tt.req) {
				t.Fatalf("plugin got %v, want %v", rec.got, tt.req)
			}
			// Secrets cross the wire intact.
			if rec.got.Code.Reveal() != tt.req.Code.Reveal() {
				t.Fatal("code changed on the way")
			}
			if tt.req.Push != nil && rec.got.Push.ApprovalURL.Reveal() != testURL {
				t.Fatal("approval URL changed on the way")
			}
		})
	}
}

func TestGRPCErrors(t *testing.T) {
	tests := []struct {
		name string
		rec  *recorder
		req  *NotifyRequest
		want string
		code codes.Code // of the RemoteError; 0: not a RemoteError
	}{
		{"plugin error", &recorder{err: errors.New("gateway down")}, codeRequest(), "gateway down", codes.Unknown},
		{"no response", &recorder{}, codeRequest(), "no response and no error", codes.Unknown},
		{"invalid status", &recorder{resp: &NotifyResponse{}}, codeRequest(), "returned status invalid", codes.Unknown},
		{"invalid request", &recorder{resp: Sent("", "")}, &NotifyRequest{Kind: KindCode}, "without a code", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := dial(t, tt.rec)
			_, err := n.Notify(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			var remote *RemoteError
			if isRemote := errors.As(err, &remote); isRemote != (tt.code != 0) || isRemote && remote.Code != tt.code {
				t.Fatalf("error %#v, want RemoteError with code %v: %v", err, tt.code, isRemote)
			}
		})
	}
	t.Run("configure error", func(t *testing.T) {
		n := dial(t, &recorder{err: errors.New("settings: unknown field \"x\"")})
		_, err := n.Configure(context.Background(), &ConfigureRequest{})
		var remote *RemoteError
		if !errors.As(err, &remote) || remote.Message != `settings: unknown field "x"` {
			t.Fatalf("got %v, want the plugin's message", err)
		}
	})
	t.Run("server validates", func(t *testing.T) {
		// A host that skips validation still cannot hand the plugin an
		// incomplete request.
		rec := &recorder{resp: Sent("", "")}
		s := &grpcServer{impl: rec}
		_, err := s.Notify(context.Background(), notifyRequestToPB(&NotifyRequest{Kind: KindPush}))
		if err == nil || rec.got != nil {
			t.Fatalf("got %v, plugin saw %v; want a refusal before the plugin", err, rec.got)
		}
	})
}
