package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pushConfig parses, resolves and validates a config for the push checks.
func pushConfig(t *testing.T, data string) *config {
	t.Helper()
	c, err := parseConfig([]byte(data), filepath.Join(t.TempDir(), "radmfa.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

const pushOn = "[push]\napproval_url = \"https://mfa.example.com\"\n"

func TestPushWaits(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		want    []string // name timeout flow nas
		longest time.Duration
	}{
		{"push off", "", nil, 0},
		{"defaults", pushOn, []string{"[push] 25s inline 0s"}, 25 * time.Second},
		{"profiles", pushOn + "timeout = \"30s\"\nflow = \"challenge\"\n" + `
[[profile]]
name = "vpn"
clients = ["vpn-gw"]
nas_timeout = "30s"
nas_retries = 2
[profile.push]
timeout = "55s"
flow = "inline"

[[profile]]
name = "wifi"
clients = ["10.0.0.0/8"]
[profile.push]
disabled = true

[[profile]]
name = "citrix"
clients = ["citrix"]
nas_timeout = "90s"
`, []string{"[push] 30s challenge 0s", `profile "vpn" 55s inline 1m30s`, `profile "citrix" 30s challenge 1m30s`}, 55 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pushConfig(t, tt.config)
			var got []string
			for _, w := range pushWaits(c) {
				got = append(got, strings.Join([]string{w.name, w.timeout.String(), string(w.flow), w.nas.String()}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			w, ok := longestPushWait(c)
			if ok != (tt.longest != 0) || w.timeout != tt.longest {
				t.Fatalf("longest %v %v, want %v", w.timeout, ok, tt.longest)
			}
		})
	}
}

func TestNASFindings(t *testing.T) {
	tests := []struct {
		name, profile string
		want          string // "" = no finding
	}{
		{"unknown", "", ""},
		{"too short", "nas_timeout = \"25s\"\n", `warn: profile "p": the NAS waits nas_timeout × (1 + nas_retries) = 25s, not longer than the push timeout 25s + 2s`},
		{"retries count", "nas_timeout = \"15s\"\nnas_retries = 1\n", `ok: profile "p": the NAS waits 30s, longer than the push timeout 25s`},
		{"just the margin", "nas_timeout = \"27s\"\n", "warn: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pushConfig(t, pushOn+"[[profile]]\nname = \"p\"\nclients = [\"nas\"]\n"+tt.profile)
			var got string
			for _, f := range nasFindings(c) {
				got += f.level + ": " + f.msg
			}
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNASConfigRefused(t *testing.T) {
	for _, bad := range []string{"nas_timeout = \"11m\"\n", "nas_retries = -1\n", "nas_retries = 11\n"} {
		c, err := parseConfig([]byte("[[profile]]\nname = \"p\"\nclients = [\"nas\"]\n"+bad), "radmfa.toml")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "nas_timeout") {
			t.Errorf("%q: validate %v, want a nas_timeout/nas_retries error", bad, err)
		}
	}
}

func TestPushFRFindings(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		replace []string // in the shipped rest module
		radiusd []string // in radiusd-minimal.conf
		want    []string
		notWant []string
	}{
		{"push off", "", nil, nil, nil, []string{"push"}},
		{"shipped snippets fit the default", pushOn, nil, nil, []string{
			"ok: mods-enabled/radmfa_rest: rest rest_radmfa: timeout 60 s fits the longest push ([push], 25s)",
			"ok: max_request_time 60 s fits the longest push ([push], 25s)",
			"ok: thread pool max_servers = 32: each login waiting for a push holds one FreeRADIUS thread",
		}, []string{"warn"}},
		{"shipped snippets fit 55 s", pushOn + "timeout = \"55s\"\n", nil, nil, nil, []string{"warn"}},
		{"stock max_request_time fits the default", pushOn, nil, []string{"max_request_time = 60", "max_request_time = 30"}, []string{
			"ok: max_request_time 30 s fits the longest push ([push], 25s)",
		}, []string{"warn"}},
		{"stock max_request_time and 55 s", pushOn + "timeout = \"55s\"\n", nil, []string{"max_request_time = 60", "max_request_time = 30"}, []string{
			"warn: max_request_time = 30 s is shorter than the push timeout of [push] (55s) + 2s: FreeRADIUS abandons a login",
		}, nil},
		{"old rest timeout", pushOn, []string{"timeout = 60", "timeout = 12"}, nil, []string{
			"warn: mods-enabled/radmfa_rest: rest rest_radmfa: authorize timeout = 12 s is shorter than the push timeout of [push] (25s) + 2s",
		}, nil},
		{"a profile's longer push", pushOn + "[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\n[profile.push]\ntimeout = \"59s\"\n", nil, nil, []string{
			`warn: mods-enabled/radmfa_rest: rest rest_radmfa: authorize timeout = 60 s is shorter than the push timeout of profile "vpn" (59s) + 2s`,
			`warn: max_request_time = 60 s is shorter than the push timeout of profile "vpn" (59s)`,
		}, nil},
		{"small connection pool", pushOn, []string{"max = ${thread[pool].max_servers}", "max = 8"}, nil, []string{
			"warn: mods-enabled/radmfa_rest: rest rest_radmfa: pool max = 8 is below thread pool max_servers (32)",
		}, nil},
		{"more threads", pushOn, nil, []string{"max_servers = 32", "max_servers = 256"}, []string{
			"ok: thread pool max_servers = 256:", "about 25.6 push logins a second",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := frDir(t)
			edit := func(name string, repl []string) {
				p := filepath.Join(dir, name)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				s := string(b)
				for i := 0; i+1 < len(repl); i += 2 {
					if !strings.Contains(s, repl[i]) {
						t.Fatalf("%s has no %q", name, repl[i])
					}
					s = strings.ReplaceAll(s, repl[i], repl[i+1])
				}
				os.WriteFile(p, []byte(s), 0o644)
			}
			edit("mods-enabled/radmfa_rest", tt.replace)
			edit("radiusd.conf", tt.radiusd)
			os.Remove(filepath.Join(dir, "mods-enabled", "radmfa")) // rest only
			files, err := frFiles(dir, func(p string, err error) { t.Fatalf("%s: %v", p, err) })
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range pushFRFindings(pushConfig(t, tt.config), frLimitsOf(dir, files)) {
				got = append(got, f.level+": "+f.msg)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("findings lack %q:\n%s", w, all)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("findings have %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestPushFRFindingsExec(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"no daemon", pushOn, "mods-enabled/radmfa: exec radmfa: push approvals are configured, but radmfa exec decides locally ([exec] daemon is empty) and cannot wait for a push"},
		{"exec timeout", pushOn + "[exec]\ndaemon = \"unix:/run/radmfa.sock\"\n", "[exec] timeout = 9s is shorter than the push timeout of [push] (25s) + 2s"},
		{"module timeout", pushOn + "timeout = \"30s\"\n[exec]\ndaemon = \"unix:/run/radmfa.sock\"\ntimeout = \"33s\"\n", "mods-enabled/radmfa: exec radmfa: timeout = 30 s is shorter than the push timeout of [push] (30s) + 2s: FreeRADIUS kills radmfa exec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := frDir(t)
			files, _ := frFiles(dir, func(string, error) {})
			var all string
			for _, f := range pushFRFindings(pushConfig(t, tt.config), frLimitsOf(dir, files)) {
				all += f.level + ": " + f.msg + "\n"
			}
			if !strings.Contains(all, "warn: "+tt.want) {
				t.Fatalf("findings lack %q:\n%s", tt.want, all)
			}
		})
	}
}

// TestCheckConfigPush: check-config refuses a number variant with the
// inline flow, warns about a NAS that gives up first, and with
// --freeradius-dir about FreeRADIUS limits; doctor says the same.
func TestCheckConfigPush(t *testing.T) {
	data := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "radmfa.toml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, v := range []string{"choose", "enter"} {
		_, stderr, code := radmfa(t, data, "", "--config", write(pushOn+"variant = \""+v+"\"\n"), "check-config")
		if code == 0 || !strings.Contains(stderr, "variant "+v+" needs flow = \"challenge\"") {
			t.Errorf("global %s with inline: exit %d, %s", v, code, stderr)
		}
		prof := pushOn + "flow = \"challenge\"\n[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\n[profile.push]\nflow = \"inline\"\nvariant = \"" + v + "\"\n"
		_, stderr, code = radmfa(t, data, "", "--config", write(prof), "check-config")
		if code == 0 || !strings.Contains(stderr, `profile "vpn": push: variant `+v+` needs flow = "challenge"`) {
			t.Errorf("profile %s with inline: exit %d, %s", v, code, stderr)
		}
	}

	cfg := write(pushOn + "timeout = \"55s\"\n[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\nnas_timeout = \"30s\"\n")
	fr := frDir(t)
	b, _ := os.ReadFile(filepath.Join(fr, "radiusd.conf"))
	os.WriteFile(filepath.Join(fr, "radiusd.conf"), []byte(strings.Replace(string(b), "max_request_time = 60", "max_request_time = 30", 1)), 0o644)
	out, stderr, code := radmfa(t, data, "", "--config", cfg, "check-config", "--freeradius-dir", fr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`Warning:           profile "vpn": the NAS waits nas_timeout × (1 + nas_retries) = 30s, not longer than the push timeout 55s + 2s`,
		"Warning:           max_request_time = 30 s is shorter than the push timeout of [push] (55s) + 2s",
		"FreeRADIUS:        " + fr + ": max_request_time 30 s, max_servers 32, 1 radmfa rest and 1 exec module(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	if _, stderr, code := radmfa(t, data, "", "--config", cfg, "check-config", "--freeradius-dir", filepath.Join(fr, "missing")); code == 0 || !strings.Contains(stderr, "--freeradius-dir") {
		t.Errorf("missing FreeRADIUS dir: exit %d, %s", code, stderr)
	}
	out, _, _ = radmfa(t, data, "", "--config", cfg, "doctor", "--freeradius-dir", fr, "--freeradius-user", "root")
	for _, want := range []string{
		`warn  profile "vpn": the NAS waits`,
		"warn  max_request_time = 30 s is shorter than the push timeout",
		"ok    thread pool max_servers = 32",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}
