package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// frDir writes a FreeRADIUS directory with the shipped snippets, after
// applying the replacements to the exec module.
func frDir(t *testing.T, replace ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"mods-enabled", "policy.d", "sites-enabled"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	copyIn := func(src, dst string, repl ...string) {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "freeradius", src))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for i := 0; i+1 < len(repl); i += 2 {
			s = strings.ReplaceAll(s, repl[i], repl[i+1])
		}
		os.WriteFile(filepath.Join(dir, dst), []byte(s), 0o644)
	}
	copyIn("radiusd-minimal.conf", "radiusd.conf", "{{DIR}}", dir)
	copyIn("mods-available/radmfa", "mods-enabled/radmfa", replace...)
	copyIn("mods-available/radmfa_rest", "mods-enabled/radmfa_rest")
	return dir
}

func TestDoctor(t *testing.T) {
	me, _ := user.Current()
	bin, _ := os.Executable()
	tests := []struct {
		name    string
		replace []string
		want    []string
		code    int
	}{
		{"shipped snippets", []string{"/usr/local/bin/radmfa", bin}, []string{
			"ok    mods-enabled/radmfa: exec radmfa timeout 30 s > radmfa's 9 s, <= max_request_time 60 s",
			"ok    mods-enabled/radmfa_rest: rest rest_radmfa timeout 60 s > radmfa's 10 s, <= max_request_time 60 s",
			"ok    database",
		}, 0},
		{"exec timeout too short", []string{"/usr/local/bin/radmfa", bin, "timeout = 30", "timeout = 5"}, []string{
			"warn  mods-enabled/radmfa: exec radmfa timeout = 5 s is not above radmfa's [exec] timeout (9 s)",
		}, 0},
		{"missing program", nil, []string{"FAIL  mods-enabled/radmfa: exec radmfa runs /usr/local/bin/radmfa, which is missing or not executable"}, 1},
		{"no wait", []string{"/usr/local/bin/radmfa", bin, "wait = yes", "wait = no"}, []string{"FAIL  mods-enabled/radmfa: exec radmfa needs wait = yes"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			radmfa(t, data, "", "user", "add", "x", "--json")
			out, stderr, code := radmfa(t, data, "", "doctor", "--freeradius-dir", frDir(t, tt.replace...), "--freeradius-user", me.Username)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDoctorWrongOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make files owned by someone else")
	}
	data := t.TempDir()
	radmfa(t, data, "", "user", "add", "x", "--json")
	os.Chown(filepath.Join(data, "radmfa.key"), 65534, 65534)
	out, _, code := radmfa(t, data, "", "doctor", "--freeradius-dir", t.TempDir(), "--freeradius-user", "root")
	if code != 1 || !strings.Contains(out, "key file "+filepath.Join(data, "radmfa.key")+" belongs to nobody, not root") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
