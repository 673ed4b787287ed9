package main

import (
	"strings"
	"testing"
)

func TestPluginCommand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		environ []string
		code    int
		stdout  []string
		stderr  string
	}{
		{"help lists the built-ins", []string{"plugin", "--help"}, nil, exitOK,
			[]string{"Usage:\n  radmfa plugin NAME", "command  run a program", "ntfy     publish", "smtp     send e-mail", "webhook  POST JSON signed"}, ""},
		{"no name", []string{"plugin"}, nil, exitUsage, nil, "radmfa plugin takes 1 argument(s): NAME (got 0)"},
		{"unknown built-in", []string{"plugin", "pager"}, nil, exitUsage, nil, `no built-in notifier "pager": want one of command, ntfy, smtp, webhook`},
		{"run by hand", []string{"plugin", "ntfy"}, nil, exitUsage, nil, `radmfa plugin ntfy is started by radmfa serve for a notifier with builtin = "ntfy", not by hand`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RADMFA_PLUGIN", "") // as when run by hand
			stdout, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
		})
	}
}
