package smtp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

const (
	testCode = "493817"
	testURL  = "https://mfa.example.com/approve/dG9rZW4tMTIzNDU2Nzg5MA"
)

// testCert returns a self-signed certificate for 127.0.0.1 and the path
// of its PEM file.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, p
}

// smtpServer is a minimal SMTP receiver for the tests: EHLO, STARTTLS,
// AUTH PLAIN, MAIL, RCPT, DATA, QUIT.
type smtpServer struct {
	t         *testing.T
	ln        net.Listener
	cert      tls.Certificate
	implicit  bool   // TLS from the first byte
	starttls  bool   // offers STARTTLS
	user      string // AUTH PLAIN credentials; "" offers no AUTH
	password  string
	silent    bool // accepts and never answers
	wg        sync.WaitGroup
	mu        sync.Mutex
	messages  []received
	authUsers []string
}

type received struct {
	from, to string
	data     string
	tls      bool
}

func startSMTP(t *testing.T, s *smtpServer) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.implicit {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.cert}})
	}
	s.t, s.ln = t, ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *smtpServer) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if s.silent {
		io.Copy(io.Discard, c)
		return
	}
	_, isTLS := c.(*tls.Conn)
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	say("220 test ESMTP")
	var msg received
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			ext := []string{"250-test"}
			if s.starttls && !isTLS {
				ext = append(ext, "250-STARTTLS")
			}
			if s.user != "" && isTLS {
				ext = append(ext, "250-AUTH PLAIN")
			}
			say(append(ext, "250 8BITMIME")...)
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if tc.Handshake() != nil {
				return
			}
			c, isTLS = tc, true
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
		case "AUTH":
			f := strings.Fields(line)
			b, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
			parts := strings.Split(string(b), "\x00")
			if len(parts) == 3 && parts[1] == s.user && parts[2] == s.password {
				s.mu.Lock()
				s.authUsers = append(s.authUsers, parts[1])
				s.mu.Unlock()
				say("235 ok")
			} else {
				say("535 5.7.8 authentication failed")
			}
		case "MAIL":
			from, _, _ := strings.Cut(strings.TrimPrefix(line, "MAIL FROM:"), " ") // drop BODY=8BITMIME
			msg = received{from: from, tls: isTLS}
			say("250 ok")
		case "RCPT":
			msg.to = strings.TrimPrefix(line, "RCPT TO:")
			say("250 ok")
		case "DATA":
			say("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			msg.data = data.String()
			s.mu.Lock()
			s.messages = append(s.messages, msg)
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

func configured(t *testing.T, settings map[string]any) *Notifier {
	t.Helper()
	b, _ := json.Marshal(settings)
	n := New(slog.New(slog.DiscardHandler))
	n.loc = time.UTC
	n.now = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }
	if _, err := n.Configure(context.Background(), &plugin.ConfigureRequest{Settings: b}); err != nil {
		t.Fatal(err)
	}
	return n
}

// body parses a received message and decodes its body.
func body(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return m, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSend(t *testing.T) {
	cert, caFile := testCert(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	push := &plugin.NotifyRequest{Kind: plugin.KindPush, User: "alice", To: "alice@example.com",
		Push: &plugin.Push{ApprovalURL: testURL, Resource: "VPN", ClientIP: "192.0.2.7", RequestTime: t0, Variant: "plain"}}
	code := &plugin.NotifyRequest{Kind: plugin.KindCode, User: "bob", To: "Bob Ütz <bob@example.com>", Text: "Your code is {code}.", Code: testCode}
	alert := &plugin.NotifyRequest{Kind: plugin.KindAlert, User: "carol", Subject: "Fraud report: carol", Text: "carol denied a push: it wasn't me"}
	tests := []struct {
		name     string
		server   *smtpServer
		settings map[string]any
		req      *plugin.NotifyRequest
		rcpt     string
		subject  string
		body     []string
	}{
		{"starttls and auth", &smtpServer{cert: cert, starttls: true, user: "radmfa", password: "s3cret-pw"},
			map[string]any{"username": "radmfa", "password_file": pwFile, "ca_file": caFile},
			code, "<bob@example.com>", "Your sign-in code", []string{"Your code is " + testCode + "."}},
		{"implicit tls", &smtpServer{cert: cert, implicit: true},
			map[string]any{"tls": "tls", "ca_file": caFile},
			push, "<alice@example.com>", "Sign-in request: VPN",
			[]string{"alice is signing in to VPN.", "From: 192.0.2.7", "Time: 2026-03-04 05:06:07 UTC", "Approve or deny: " + testURL}},
		{"loopback relay without tls", &smtpServer{},
			map[string]any{"tls": "none", "to": "ops@example.com"},
			alert, "<ops@example.com>", "Fraud report: carol", []string{"carol denied a push: it wasn't me"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := startSMTP(t, tt.server)
			settings := map[string]any{"host": "127.0.0.1", "port": port, "from": "radmfa <mfa@example.com>", "timeout": "5s"}
			for k, v := range tt.settings {
				settings[k] = v
			}
			resp, err := configured(t, settings).Notify(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != plugin.StatusSent || !strings.HasSuffix(resp.ID, "@example.com>") {
				t.Fatalf("response %+v, want sent with a Message-ID", resp)
			}
			msgs := tt.server.received()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages", len(msgs))
			}
			got := msgs[0]
			if got.from != "<mfa@example.com>" || got.to != tt.rcpt {
				t.Fatalf("envelope %s -> %s, want <mfa@example.com> -> %s", got.from, got.to, tt.rcpt)
			}
			if wantTLS := tt.settings["tls"] != "none"; got.tls != wantTLS {
				t.Fatalf("sent over TLS: %v, want %v", got.tls, wantTLS)
			}
			m, text := body(t, got.data)
			dec := new(mimeDecoder)
			if subj := dec.header(m.Header.Get("Subject")); subj != tt.subject {
				t.Errorf("Subject %q, want %q", subj, tt.subject)
			}
			if m.Header.Get("Message-ID") != resp.ID || m.Header.Get("Date") != "Wed, 04 Mar 2026 05:06:07 +0000" {
				t.Errorf("headers %v", m.Header)
			}
			for _, line := range tt.body {
				if !strings.Contains(text, line) {
					t.Errorf("body lacks %q:\n%s", line, text)
				}
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	cert, caFile := testCert(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("wrong-pw\n"), 0o600)
	code := &plugin.NotifyRequest{Kind: plugin.KindCode, User: "bob", To: "bob@example.com", Code: testCode}
	tests := []struct {
		name     string
		server   *smtpServer
		settings map[string]any
		want     string
		within   time.Duration
	}{
		{"no starttls offered", &smtpServer{cert: cert}, map[string]any{"ca_file": caFile}, "does not offer STARTTLS", 5 * time.Second},
		{"untrusted certificate", &smtpServer{cert: cert, starttls: true}, map[string]any{}, "certificate", 5 * time.Second},
		{"wrong password", &smtpServer{cert: cert, starttls: true, user: "radmfa", password: "right"},
			map[string]any{"ca_file": caFile, "username": "radmfa", "password_file": pwFile}, "AUTH: 535", 5 * time.Second},
		{"silent server", &smtpServer{silent: true}, map[string]any{"tls": "none", "timeout": "300ms"}, "timeout", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := startSMTP(t, tt.server)
			settings := map[string]any{"host": "127.0.0.1", "port": port, "from": "mfa@example.com"}
			for k, v := range tt.settings {
				settings[k] = v
			}
			start := time.Now()
			resp, err := configured(t, settings).Notify(context.Background(), code)
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > tt.within {
				t.Fatalf("took %v", el)
			}
			if resp.Status != plugin.StatusFailed || !strings.Contains(resp.Detail, tt.want) {
				t.Fatalf("response %+v, want failed containing %q", resp, tt.want)
			}
			if strings.Contains(resp.Detail, "wrong-pw") || strings.Contains(resp.Detail, testCode) {
				t.Fatalf("detail holds a secret: %s", resp.Detail)
			}
			if len(tt.server.received()) != 0 {
				t.Fatal("a message was delivered")
			}
		})
	}
	t.Run("header injection", func(t *testing.T) {
		n := configured(t, map[string]any{"host": "127.0.0.1", "port": 1, "tls": "none", "from": "mfa@example.com"})
		_, err := n.Notify(context.Background(), &plugin.NotifyRequest{Kind: plugin.KindCode, To: "a@example.com\r\nBcc: x@evil.example", Code: testCode})
		if err == nil || !strings.Contains(err.Error(), "line break") {
			t.Fatalf("got %v, want a refusal", err)
		}
	})
	t.Run("no recipient", func(t *testing.T) {
		n := configured(t, map[string]any{"host": "127.0.0.1", "tls": "none", "from": "mfa@example.com"})
		_, err := n.Notify(context.Background(), &plugin.NotifyRequest{Kind: plugin.KindAlert, Text: "x"})
		if err == nil || !strings.Contains(err.Error(), "no recipient") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" valid
	}{
		{"minimal", `{"host":"smtp.example.com","from":"mfa@example.com"}`, ""},
		{"full", `{"host":"smtp.example.com","port":465,"tls":"tls","from":"radmfa <mfa@example.com>","to":"ops@example.com","username":"u","password_file":"/p","ca_file":"/c","helo":"r1.example.com","timeout":"20s"}`, ""},
		{"no host", `{"from":"mfa@example.com"}`, "host"},
		{"no from", `{"host":"h"}`, "from: an address is required"},
		{"bad from", `{"host":"h","from":"not an address"}`, "from:"},
		{"bad to", `{"host":"h","from":"a@b.c","to":"x"}`, "to:"},
		{"tls mode", `{"host":"h","from":"a@b.c","tls":"ssl"}`, `tls = "ssl"`},
		{"clear text to remote", `{"host":"smtp.example.com","from":"a@b.c","tls":"none"}`, "only to a loopback relay"},
		{"password in clear", `{"host":"localhost","from":"a@b.c","tls":"none","username":"u","password_file":"/p"}`, "clear text"},
		{"username alone", `{"host":"h","from":"a@b.c","username":"u"}`, "go together"},
		{"port", `{"host":"h","from":"a@b.c","port":70000}`, "port = 70000"},
		{"helo", `{"host":"h","from":"a@b.c","helo":"a b"}`, "helo"},
		{"unknown", `{"host":"h","from":"a@b.c","password":"x"}`, `unknown field "password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Host: "h"}, "h:587"},
		{Config{Host: "h", TLS: "tls"}, "h:465"},
		{Config{Host: "::1", Port: 2525}, "[::1]:" + strconv.Itoa(2525)},
	} {
		if got := tt.cfg.addr(); got != tt.want {
			t.Errorf("addr of %+v = %s, want %s", tt.cfg, got, tt.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{"host":"h","from":"a@b.c"}`, `{"host":"127.0.0.1","from":"a@b.c","tls":"none"}`, `{"host":"h","from":"<a@b>"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if strings.ContainsAny(c.From+c.To+c.Host+c.HELO, "\r\n") {
			t.Fatalf("accepted a line break: %+v", c)
		}
		if c.tlsMode() == TLSNone && c.Username != "" {
			t.Fatal("accepted a password without TLS")
		}
	})
}
