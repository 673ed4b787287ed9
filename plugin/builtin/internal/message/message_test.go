package message

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

func TestPushLines(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		push plugin.Push
		user string
		want string
	}{
		{"full ack", plugin.Push{Resource: "VPN", Organisation: "Example", ClientIP: "192.0.2.7", RequestTime: t0,
			Expires: t0.Add(25 * time.Second), Variant: "ack", RequestCode: "42"}, "alice",
			"alice is signing in to VPN (Example).|From: 192.0.2.7|Time: 2026-03-04 05:06:07 UTC|Request code: 42|Expires: 05:06:32 UTC"},
		{"enter never shows the number", plugin.Push{Resource: "VPN", Variant: "enter", RequestCode: "42"}, "bob", "bob is signing in to VPN."},
		{"choose never shows the number", plugin.Push{Variant: "choose", RequestCode: "17"}, "bob", "bob is signing in."},
		{"organisation only", plugin.Push{Organisation: "Example"}, "", "Someone is signing in at Example."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.push
			p.ApprovalURL = "https://x/approve/secret"
			got := strings.Join(PushLines(&plugin.NotifyRequest{Kind: plugin.KindPush, User: tt.user, Push: &p}, time.UTC), "|")
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Fatal("the approval URL is in the lines")
			}
		})
	}
	if PushLines(&plugin.NotifyRequest{Kind: plugin.KindCode}, time.UTC) != nil {
		t.Fatal("lines for a request without a push")
	}
}

func TestTitle(t *testing.T) {
	tests := []struct {
		name string
		req  plugin.NotifyRequest
		want string
	}{
		{"subject wins", plugin.NotifyRequest{Kind: plugin.KindPush, Subject: "Approve?", Push: &plugin.Push{Resource: "VPN"}}, "Approve?"},
		{"push", plugin.NotifyRequest{Kind: plugin.KindPush, Push: &plugin.Push{Resource: "VPN"}}, "Sign-in request: VPN"},
		{"push without resource", plugin.NotifyRequest{Kind: plugin.KindPush, Push: &plugin.Push{}}, "Sign-in request"},
		{"code", plugin.NotifyRequest{Kind: plugin.KindCode}, "Your sign-in code"},
		{"alert", plugin.NotifyRequest{Kind: plugin.KindAlert}, "Sign-in alert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Title(&tt.req); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		secrets []string
		want    string
	}{
		{"short", "error: refused", 100, nil, "error: refused"},
		{"trimmed and one line", "  line one\nline\ttwo\n", 100, nil, "line one line two"},
		{"control characters", "bell\x07 esc\x1b[31m", 100, nil, "bell? esc?[31m"},
		{"keeps the end", "0123456789abcdef", 6, nil, "…abcdef"},
		{"utf-8 cut on a rune boundary", "ééééé", 5, nil, "…éé"},
		{"invalid utf-8", "a\xffb", 10, nil, "a?b"},
		{"secrets", "code 493817 for https://x/approve/abc", 100, []string{"493817", "https://x/approve/abc", ""}, "code [redacted] for [redacted]"},
		{"secret split by the cut is gone first", "xx493817", 4, []string{"493817"}, "…ted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Excerpt(tt.in, tt.max, tt.secrets...); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzExcerpt(f *testing.F) {
	f.Add("code 493817 here", 8, "493817")
	f.Add("ééé\xff", 3, "")
	f.Fuzz(func(t *testing.T, text string, max int, secret string) {
		if max < 0 || max > 1000 {
			return
		}
		got := Excerpt(text, max, secret)
		if len(got) > max+len("…")+3 {
			t.Fatalf("excerpt of %d bytes for max %d", len(got), max)
		}
		if strings.ContainsAny(got, "\n\r\x00") {
			t.Fatalf("control characters in %q", got)
		}
		if len(secret) >= 4 && !strings.Contains(secret, "[redacted]") && strings.Contains(got, secret) {
			t.Fatalf("secret %q in %q", secret, got)
		}
	})
}

func TestPayload(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	p := NewPayload(&plugin.NotifyRequest{Kind: plugin.KindPush, User: "alice",
		Push: &plugin.Push{ApprovalURL: "https://x/approve/s3cr3t", RequestTime: t0, Variant: "plain"}})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"push","user":"alice","message":"Approve or deny: https://x/approve/s3cr3t","push":{"approval_url":"https://x/approve/s3cr3t","request_time":"2026-03-04T04:06:07Z","variant":"plain"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
