package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	data := `
data_dir = "/var/lib/radmfa"
node = "radius1"

[store]
busy_timeout = "3s"

[otp]
window = 2

[challenge]
timeout = "2m"

[users]
strip_realm = true

[enroll]
issuer = "Example Corp"
digits = 8

[exec]
timeout = "8s"

[log]
level = "warn"
file = "/var/log/radmfa/radmfa.log"
`
	c, err := parseConfig([]byte(data), "radmfa.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/radmfa" || c.Store.Path != "/var/lib/radmfa/radmfa.db" || c.Store.KeyPath() != "/var/lib/radmfa/radmfa.key" {
		t.Fatalf("paths: %q %q %q", c.DataDir, c.Store.Path, c.Store.KeyPath())
	}
	if *c.OTP.Window != 2 || time.Duration(c.Challenge.Timeout) != 2*time.Minute || !c.Users.StripRealm ||
		c.Enroll.Issuer != "Example Corp" || c.Exec.timeout() != 8*time.Second || c.Log.Level != "warn" || c.Node != "radius1" {
		t.Fatalf("decoded %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"unknown key", "[otp]\nwindw = 1\n", `radmfa.toml:2:1: unknown key "otp.windw"`},
		{"unknown section", "[nope]\nx = 1\n", `radmfa.toml:1:2: unknown key "nope"`},
		{"two unknown keys", "a = 1\n[otp]\nb = 2\n", "radmfa.toml:1:1: unknown key \"a\"\nradmfa.toml:3:1: unknown key \"otp.b\""},
		{"wrong type", "[otp]\nwindow = \"one\"\n", "radmfa.toml:2:"},
		{"bad duration", "[challenge]\ntimeout = \"5 minutes\"\n", `radmfa.toml:2:11: challenge.timeout: invalid duration "5 minutes"`},
		{"syntax", "[otp\nwindow = 1\n", "radmfa.toml:1:"},
		{"duplicate key", "node = \"a\"\nnode = \"b\"\n", "radmfa.toml:2:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tt.data), "radmfa.toml")
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateConfig(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"window too wide", "[otp]\nwindow = 11\n", "otp.window = 11"},
		{"negative window", "[otp]\nwindow = -1\n", "otp.window = -1"},
		{"challenge too short", "[challenge]\ntimeout = \"1s\"\n", "challenge.timeout = 1s"},
		{"log level", "[log]\nlevel = \"loud\"\n", `log.level = "loud"`},
		{"log format", "[log]\nformat = \"xml\"\n", `log.format = "xml"`},
		{"exec timeout", "[exec]\ntimeout = \"100ms\"\n", "exec.timeout = 100ms"},
		{"enroll digits", "[enroll]\ndigits = 7\n", "enroll.digits = 7"},
		{"enroll algorithm", "[enroll]\nalgorithm = \"MD5\"\n", `enroll.algorithm = "MD5"`},
		{"busy timeout", "[store]\nbusy_timeout = \"2h\"\n", "store.busy_timeout = 2h0m0s"},
		{"key equals db", "[store]\npath = \"/x/db\"\nkey_file = \"/x/db\"\n", "store.key_file must differ"},
		{"admin on a public address without TLS", "[admin]\ncredential_file = \"/x/pw\"\nlisten = \"0.0.0.0:8080\"\n", "is not a loopback address"},
		{"admin tls half", "[admin]\ncredential_file = \"/x/pw\"\ntls_cert = \"/x/c\"\n", "admin.tls_cert and admin.tls_key go together"},
		{"admin session", "[admin]\ncredential_file = \"/x/pw\"\nsession_lifetime = \"1m\"\n", "admin.session_lifetime"},
		{"notifier without builtin or path", "[notifiers.x]\ntimeout = \"5s\"\n", "notifiers.x: want builtin"},
		{"notifier unknown builtin", "[notifiers.x]\nbuiltin = \"pager\"\n", "notifiers.x"},
		{"codes length", "[codes]\nlength = 4\n", "codes.length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig([]byte(tt.data), "radmfa.toml")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.resolve(); err != nil {
				t.Fatal(err)
			}
			err = c.validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "radmfa.toml")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("data_dir = \"../data\"\n[log]\nfile = \"radmfa.log\"\n"), 0o600)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "data") || c.Store.Path != filepath.Join(dir, "data", "radmfa.db") || c.Log.File != filepath.Join(dir, "etc", "radmfa.log") {
		t.Fatalf("paths %q %q %q: want them relative to the config file", c.DataDir, c.Store.Path, c.Log.File)
	}
	if err := c.setDB("other.db"); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.Store.Path != filepath.Join(wd, "other.db") || c.Store.KeyPath() != filepath.Join(wd, "other.key") {
		t.Fatalf("--db: %q key %q", c.Store.Path, c.Store.KeyPath())
	}
}

func TestEmbeddedDefault(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.Store.Path != filepath.Join(wd, "radmfa-data", "radmfa.db") {
		t.Fatalf("default database %q", c.Store.Path)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("[otp]\nwindow = 1\n")
	f.Add("data_dir = \"x\"\n[store]\nbusy_timeout = \"1s\"\n")
	f.Add("[challenge]\ntimeout = \"3d\"\n")
	f.Add("[[otp]]\n")
	f.Fuzz(func(t *testing.T, data string) {
		c, err := parseConfig([]byte(data), "f.toml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.toml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if err := c.resolve(); err != nil {
			return
		}
		_ = c.validate()
	})
}

func TestValidDeviceName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"totp1", true}, {"Phone.2", true}, {"yubi_key-5", true}, {"a", true},
		{"", false}, {".hidden", false}, {"-x", false}, {"a/b", false}, {"a b", false}, {"é", false},
		{strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := validDeviceName(tt.in); got != tt.ok {
				t.Fatalf("validDeviceName(%q) = %v, want %v", tt.in, got, tt.ok)
			}
		})
	}
}
