package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/mfa"
)

// TestRESTStatusMapping checks rlmrest's status table against the real
// rlm_rest module and the shipped policy: FreeRADIUS talks to an HTTP
// server that answers each User-Name with a canned rlmrest.Respond.
func TestRESTStatusMapping(t *testing.T) {
	need(t, "freeradius", "radclient")
	if _, err := os.Stat("/usr/lib/freeradius/rlm_rest.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rlm_rest is not installed: CI never skips, run scripts/deps.sh (freeradius-rest)")
		}
		t.Skip("rlm_rest is not installed (freeradius-rest)")
	}
	answers := map[string]rlmrest.Response{
		"accept":    rlmrest.Respond(mfa.Decision{Action: mfa.ActionAccept}),
		"reject":    rlmrest.Respond(mfa.Decision{Action: mfa.ActionReject, Message: "No %{User-Password} here"}),
		"challenge": rlmrest.Respond(mfa.Decision{Action: mfa.ActionChallenge, Message: "Code for %{User-Name}?", State: []byte{0xca, 0xfe}}),
		"fail":      rlmrest.Respond(mfa.Decision{Message: mfa.MsgUnavailable}),
		"backslash": rlmrest.Respond(mfa.Decision{Action: mfa.ActionReject, Message: `CORP\bob at C:\temp\101 \\ \n`}),
		"noreply":   rlmrest.NoReply(),
	}
	var gotQuery, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _, err := rlmrest.ParseRequest(body, r.URL.Query())
		if err != nil {
			t.Errorf("rlm_rest sent a body rlmrest cannot parse: %v\n%s", err, body)
		}
		gotQuery, gotBody = r.URL.RawQuery, string(body)
		resp := answers[req.UserName]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
	}))
	defer srv.Close()
	e := newEnv(t, "")
	fr := startFreeRADIUS(t, e, viaREST, srv.URL)

	tests := []struct {
		user, code, message, state string
	}{
		{"accept", "Access-Accept", "", ""},
		{"reject", "Access-Reject", "No %{User-Password} here", ""},
		{"challenge", "Access-Challenge", "Code for %{User-Name}?", "0xcafe"},
		{"fail", "Access-Reject", "", ""},
		{"backslash", "Access-Reject", `CORP\bob at C:\temp\101 \\ \n`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			r := fr.send(t, "User-Name = "+str(tt.user), "User-Password = "+str("x"))
			if r.Code != tt.code || r.get("Reply-Message") != tt.message || r.get("State") != tt.state {
				t.Fatalf("got %s %v, want %s %q %q", r.Code, r.Attrs, tt.code, tt.message, tt.state)
			}
		})
	}
	t.Run("query carries client, source and authenticator", func(t *testing.T) {
		for _, want := range []string{"client=localhost", "ip=127.0.0.1", "port=", "auth=0x"} {
			if !strings.Contains(gotQuery, want) {
				t.Fatalf("query %q lacks %q", gotQuery, want)
			}
		}
		if !strings.Contains(gotBody, `"User-Password"`) {
			t.Fatalf("body %s", gotBody)
		}
	})
	t.Run("noreply", func(t *testing.T) {
		cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "2", "127.0.0.1:"+strconv.Itoa(fr.port), "auth", fr.secret)
		cmd.Stdin = strings.NewReader(`User-Name = "noreply", User-Password = "x"` + "\n")
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "Received") || !strings.Contains(string(out), "No reply from server") {
			t.Fatalf("want no reply at all:\n%s", out)
		}
	})
}
