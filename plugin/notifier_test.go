package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	testCode = "493817"
	testURL  = "https://mfa.example.com/approve/c2VjcmV0LXRva2VuLTEyMzQ"
)

func pushRequest() *NotifyRequest {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return &NotifyRequest{Kind: KindPush, User: "alice", Subject: "Sign in?", Text: "Approve {url}",
		Push: &Push{ApprovalURL: testURL, Resource: "VPN", Organisation: "Example", ClientIP: "192.0.2.7",
			RequestTime: t0, Expires: t0.Add(25 * time.Second), Variant: "ack", RequestCode: "42"}}
}

func codeRequest() *NotifyRequest {
	return &NotifyRequest{Kind: KindCode, User: "bob", To: "+441234567889", Text: "Your code is {code}", Code: testCode}
}

func TestSecretsNeverPrint(t *testing.T) {
	values := map[string]any{
		"secret":        Secret(testCode),
		"push request":  pushRequest(),
		"code request":  codeRequest(),
		"push":          pushRequest().Push,
		"push by value": *pushRequest().Push,
		"request value": *codeRequest(),
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var outs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T %v"} {
				outs = append(outs, fmt.Sprintf(verb, v))
			}
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "v", v)
			slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v)
			outs = append(outs, string(j), logged.String())
			for _, out := range outs {
				if strings.Contains(out, testCode) || strings.Contains(out, testURL) || strings.Contains(out, "c2VjcmV0") {
					t.Errorf("secret printed: %s", out)
				}
			}
		})
	}
}

func TestNotifyRequestString(t *testing.T) {
	got := pushRequest().String()
	want := `push notification for "alice" subject "Sign in?" push{url [redacted] resource "VPN" organisation "Example" client "192.0.2.7" variant "ack" requested 2026-03-04T05:06:07Z expires 2026-03-04T05:06:32Z}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got, want := codeRequest().String(), `code notification for "bob" to "+441234567889" code [redacted]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestRevealText(t *testing.T) {
	tests := []struct {
		name string
		req  *NotifyRequest
		want string
	}{
		{"code placeholder", codeRequest(), "Your code is " + testCode},
		{"code appended", &NotifyRequest{Kind: KindCode, Text: "Sign-in code", Code: testCode}, "Sign-in code\nCode: " + testCode},
		{"code alone", &NotifyRequest{Kind: KindCode, Code: testCode}, "Code: " + testCode},
		{"push placeholder", pushRequest(), "Approve " + testURL},
		{"push appended", &NotifyRequest{Kind: KindPush, Text: "Sign in to VPN?", Push: &Push{ApprovalURL: testURL}},
			"Sign in to VPN?\nApprove or deny: " + testURL},
		{"alert", &NotifyRequest{Kind: KindAlert, Text: "Push denied by alice"}, "Push denied by alice"},
		{"alert drops placeholders", &NotifyRequest{Kind: KindAlert, Text: "user {code}"}, "user "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.RevealText(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  *NotifyRequest
		want string // "" valid
	}{
		{"push", pushRequest(), ""},
		{"code", codeRequest(), ""},
		{"alert", &NotifyRequest{Kind: KindAlert, Text: "x"}, ""},
		{"nil", nil, "nil notify request"},
		{"invalid kind", &NotifyRequest{Text: "x"}, "notification of invalid"},
		{"unknown kind", &NotifyRequest{Kind: 9, Text: "x"}, "Kind(9)"},
		{"push without push", &NotifyRequest{Kind: KindPush}, "without an approval URL"},
		{"push without url", &NotifyRequest{Kind: KindPush, Push: &Push{Resource: "VPN"}}, "without an approval URL"},
		{"code without code", &NotifyRequest{Kind: KindCode, To: "+44"}, "without a code"},
		{"empty alert", &NotifyRequest{Kind: KindAlert}, "alert without text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEnumText(t *testing.T) {
	for _, k := range []Kind{KindPush, KindCode, KindAlert} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Fatalf("kind %v: round trip gave %v, %v", k, back, err)
		}
	}
	for _, s := range []Status{StatusSent, StatusQueued, StatusFailed} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Status
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("status %v: round trip gave %v, %v", s, back, err)
		}
	}
	tests := []struct {
		name string
		err  error
	}{
		{"marshal invalid kind", func() error { _, err := KindInvalid.MarshalText(); return err }()},
		{"marshal invalid status", func() error { _, err := Status(7).MarshalText(); return err }()},
		{"unmarshal kind", new(Kind).UnmarshalText([]byte("invalid"))},
		{"unmarshal status", new(Status).UnmarshalText([]byte("delivered"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
		})
	}
	if got := Kind(7).String(); got != "Kind(7)" {
		t.Fatalf("Kind(7).String() = %q", got)
	}
}

func TestDecodeSettings(t *testing.T) {
	type cfg struct {
		Topic   string   `json:"topic"`
		Timeout Duration `json:"timeout"`
		Args    []string `json:"args"`
	}
	tests := []struct {
		name string
		in   string
		want cfg
		err  string
	}{
		{"empty", "", cfg{}, ""},
		{"spaces", "  \n", cfg{}, ""},
		{"empty object", "{}", cfg{}, ""},
		{"fields", `{"topic":"t","timeout":"1m30s","args":["-v"]}`, cfg{"t", Duration(90 * time.Second), []string{"-v"}}, ""},
		{"seconds", `{"timeout":2.5}`, cfg{Timeout: Duration(2500 * time.Millisecond)}, ""},
		{"unknown field", `{"topc":"t"}`, cfg{}, `unknown field "topc"`},
		{"wrong type", `{"topic":5}`, cfg{}, "settings: topic: want string, got JSON number"},
		{"bad duration", `{"timeout":"soon"}`, cfg{}, `duration "soon"`},
		{"trailing data", `{} {}`, cfg{}, "trailing data"},
		{"not an object", `[1]`, cfg{}, "settings:"},
		{"broken", `{"topic":`, cfg{}, "settings:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cfg
			err := DecodeSettings([]byte(tt.in), &got)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"10s"`, 10 * time.Second, false},
		{`"250ms"`, 250 * time.Millisecond, false},
		{`3`, 3 * time.Second, false},
		{`0`, 0, false},
		{`"3"`, 0, true},
		{`"ten"`, 0, true},
		{`1e300`, 0, true},
		{`true`, 0, true},
		{`"\x"`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalJSON([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error %v", err, tt.err)
			}
			if !tt.err && d.Std() != tt.want {
				t.Fatalf("got %v, want %v", d.Std(), tt.want)
			}
		})
	}
	if got := Duration(0).Or(time.Minute); got != time.Minute {
		t.Fatalf("Or on zero: %v", got)
	}
	if b, _ := Duration(90 * time.Second).MarshalJSON(); string(b) != `"1m30s"` {
		t.Fatalf("MarshalJSON: %s", b)
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{`"10s"`, `3`, `-1.5`, `"1h2m"`, `1e18`, `""`, `"-5m"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Duration
		if err := d.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := back.UnmarshalJSON(b); err != nil || back != d {
			t.Fatalf("%s: round trip through %s gave %v, %v", s, b, back, err)
		}
	})
}

func FuzzDecodeSettings(f *testing.F) {
	for _, s := range []string{`{}`, `{"topic":"x","timeout":"1s"}`, `{"timeout":1e9}`, `[`, `{"args":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v struct {
			Topic   string   `json:"topic"`
			Timeout Duration `json:"timeout"`
			Args    []string `json:"args"`
		}
		_ = DecodeSettings(data, &v)
	})
}

func TestLoggerFormat(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, slog.LevelDebug)
	log.Warn("gateway slow", "seconds", 2.5, "code", Secret(testCode), "@module", "x")
	log.Debug("detail")
	log.Log(t.Context(), slog.LevelError+4, "fatal")
	log.Log(t.Context(), slog.LevelDebug-4, "trace")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3 (trace is below debug):\n%s", len(lines), b.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["@level"] != "warn" || rec["@message"] != "gateway slow" || rec["seconds"] != 2.5 || rec["code"] != "[redacted]" || rec["_module"] != "x" {
		t.Fatalf("record %v", rec)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", rec["@timestamp"].(string)); err != nil {
		t.Fatalf("@timestamp not in hclog's format: %v", err)
	}
	for i, want := range []string{"debug", "error"} {
		if !strings.Contains(lines[i+1], `"@level":"`+want+`"`) {
			t.Errorf("line %d: %s, want level %s", i+1, lines[i+1], want)
		}
	}
}
