package host

import (
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestConfigValidate(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		cfg  Config
		want string // "" valid
	}{
		{"builtin", Config{Builtin: "ntfy", Settings: map[string]any{"topic": "t"}}, ""},
		{"external", Config{Path: "/usr/lib/radmfa/sms", SHA256: sum, Args: []string{"-v"}, Env: []string{"GW=x=y"}}, ""},
		{"checksum with newline", Config{Path: "p", SHA256: sum + "\n"}, ""},
		{"sha256sum's whole line", Config{Path: "p", SHA256: sum + "  /usr/lib/radmfa/sms\n"}, ""},
		{"two checksums", Config{Path: "p", SHA256: "abc " + sum}, "want 64 hex digits"},
		{"timeouts", Config{Builtin: "command", Settings: map[string]any{"path": "/bin/true"},
			Timeout: mfa.Duration(time.Minute), StartTimeout: mfa.Duration(time.Second)}, ""},
		{"neither", Config{}, "want builtin (one of command, ntfy, smtp, webhook) or path"},
		{"both", Config{Builtin: "ntfy", Path: "/x"}, "cannot be used together"},
		{"unknown builtin", Config{Builtin: "sms"}, `no built-in notifier "sms"`},
		{"builtin settings", Config{Builtin: "webhook", Settings: map[string]any{"url": "http://example.com/"}}, "loopback"},
		{"builtin with checksum", Config{Builtin: "ntfy", SHA256: sum}, "args and sha256 are for external plugins"},
		{"no checksum", Config{Path: "/x"}, "sha256 is required"},
		{"short checksum", Config{Path: "/x", SHA256: "abc"}, "want 64 hex digits"},
		{"not hex", Config{Path: "/x", SHA256: strings.Repeat("zz", 32)}, "want 64 hex digits"},
		{"negative timeout", Config{Path: "/x", SHA256: sum, Timeout: mfa.Duration(-time.Second)}, "timeout = -1s"},
		{"huge start timeout", Config{Path: "/x", SHA256: sum, StartTimeout: mfa.Duration(time.Hour)}, "start_timeout = 1h0m0s"},
		{"env without value", Config{Path: "/x", SHA256: sum, Env: []string{"FOO"}}, `env entry "FOO"`},
		{"env cookie", Config{Path: "/x", SHA256: sum, Env: []string{"RADMFA_PLUGIN=x"}}, "set by radmfa"},
		{"env go-plugin", Config{Path: "/x", SHA256: sum, Env: []string{"PLUGIN_MIN_PORT=1"}}, "set by radmfa"},
		{"unencodable settings", Config{Path: "/x", SHA256: sum, Settings: map[string]any{"f": func() {}}}, "settings:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestProgram(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		opts     Options
		wantPath string
		wantArgs string
	}{
		{"builtin", Config{Builtin: "smtp"}, Options{Executable: "/usr/bin/radmfa"}, "/usr/bin/radmfa", "plugin smtp"},
		{"absolute", Config{Path: "/opt/p", Args: []string{"-x"}}, Options{Dir: "/etc/radmfa"}, "/opt/p", "-x"},
		{"relative to the config", Config{Path: "plugins/p"}, Options{Dir: "/etc/radmfa"}, "/etc/radmfa/plugins/p", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, args := tt.cfg.program(tt.opts)
			if path != tt.wantPath || strings.Join(args, " ") != tt.wantArgs {
				t.Fatalf("got %s %v, want %s %s", path, args, tt.wantPath, tt.wantArgs)
			}
		})
	}
}

func TestHostEnv(t *testing.T) {
	t.Setenv("RADMFA_DB", "/secret/place.db")
	t.Setenv("TZ", "Europe/London")
	env := strings.Join(hostEnv(), "\n")
	if strings.Contains(env, "RADMFA_DB") || !strings.Contains(env, "TZ=Europe/London") {
		t.Fatalf("plugin environment:\n%s", env)
	}
}

func TestConfigTOML(t *testing.T) {
	// The section shape radmfa.toml uses, decoded as radmfa decodes its
	// config: strictly.
	doc := `
[notifiers.phone]
builtin = "ntfy"
timeout = "5s"
[notifiers.phone.settings]
topic = "radmfa-k3x9q2"
priority = 5

[notifiers.sms]
path = "/usr/local/lib/radmfa/sms-plugin"
args = ["--region", "eu"]
sha256 = "` + strings.Repeat("ab", 32) + `"
start_timeout = "20s"
env = ["GATEWAY=https://sms.example.com"]
[notifiers.sms.settings]
sender = "radmfa"
retries = 2
routes = { uk = "+44", de = "+49" }
`
	var cfg struct {
		Notifiers map[string]Config `toml:"notifiers"`
	}
	dec := toml.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	phone, sms := cfg.Notifiers["phone"], cfg.Notifiers["sms"]
	if err := phone.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := sms.Validate(); err != nil {
		t.Fatal(err)
	}
	if phone.timeout() != 5*time.Second || sms.timeout() != DefaultTimeout || sms.startTimeout() != 20*time.Second {
		t.Fatalf("timeouts %v %v %v", phone.timeout(), sms.timeout(), sms.startTimeout())
	}
	got, err := sms.settingsJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"retries":2,"routes":{"de":"+49","uk":"+44"},"sender":"radmfa"}`; string(got) != want {
		t.Fatalf("settings JSON %s, want %s", got, want)
	}
	t.Run("unknown key", func(t *testing.T) {
		dec := toml.NewDecoder(strings.NewReader("[notifiers.x]\nbuiltin = \"ntfy\"\ntimout = \"5s\"\n"))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err == nil {
			t.Fatal("decoded a misspelt key")
		}
	})
}
