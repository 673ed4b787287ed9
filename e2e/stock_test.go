package e2e

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// stockConfDir is where Debian's freeradius package keeps its config.
const stockConfDir = "/etc/freeradius/3.0"

// TestSnippetsInDebianStockConfig follows the README: it copies Debian's
// stock FreeRADIUS configuration, adds the shipped module and policy, adds
// the one line "radmfa_exec" after "preprocess" in the default site, and
// runs it as FreeRADIUS is packaged (dropping to the freerad user).
func TestSnippetsInDebianStockConfig(t *testing.T) {
	need(t, "freeradius", "radclient")
	if _, err := os.Stat(stockConfDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: CI never skips, install freeradius (scripts/deps.sh)", stockConfDir)
		}
		t.Skipf("%s missing", stockConfDir)
	}
	freerad, err := user.Lookup("freerad")
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs root and the freerad user to run the stock config: euid %d, %v", os.Geteuid(), err)
		}
		t.Skip("needs root and the freerad user to run the stock config")
	}
	uid, _ := strconv.Atoi(freerad.Uid)
	gid, _ := strconv.Atoi(freerad.Gid)

	// A directory freerad can traverse (t.TempDir is private to root).
	top, err := os.MkdirTemp("", "radmfa-stock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	os.Chmod(top, 0o755)
	bin := filepath.Join(top, "radmfa")
	copyFile(t, radmfaBin, bin, 0o755)
	data := filepath.Join(top, "data")
	os.Mkdir(data, 0o750)
	os.Chown(data, uid, gid)
	e := &env{dir: top, config: filepath.Join(top, "radmfa.toml")}
	os.WriteFile(e.config, []byte("data_dir = \"data\"\n"), 0o644)
	// Run as root, as an admin would: the files must end up freerad's.
	e.radmfa(t, secretAlice+"\n", "user", "add", "alice", "--secret", "-", "--json")

	raddb := filepath.Join(top, "raddb")
	if out, err := exec.Command("cp", "-a", stockConfDir, raddb).CombinedOutput(); err != nil {
		t.Fatalf("copy stock config: %v\n%s", err, out)
	}
	edit(t, filepath.Join(raddb, "radiusd.conf"), func(s string) string {
		return regexp.MustCompile(`(?m)^raddbdir = .*$`).ReplaceAllString(s, "raddbdir = "+raddb)
	})
	port := freePort(t)
	edit(t, filepath.Join(raddb, "sites-available", "default"), func(s string) string {
		n := 0
		s = regexp.MustCompile(`(?m)^\tport = 0$`).ReplaceAllStringFunc(s, func(string) string {
			n++
			if n == 1 {
				return "\tport = " + strconv.Itoa(port) // the auth listener
			}
			return "\tport = " + strconv.Itoa(freePort(t))
		})
		// The README's one line: radmfa_exec after preprocess in authorize.
		i := strings.Index(s, "\nauthorize {")
		j := strings.Index(s[i:], "\n\tpreprocess\n")
		if i < 0 || j < 0 {
			t.Fatal("stock default site has no preprocess in authorize")
		}
		at := i + j + len("\n\tpreprocess\n")
		return s[:at] + "\tradmfa_exec\n" + s[at:]
	})
	edit(t, filepath.Join(raddb, "sites-available", "inner-tunnel"), func(s string) string {
		return strings.Replace(s, "port = 18120", "port = "+strconv.Itoa(freePort(t)), 1)
	})
	snippet(t, raddb, "mods-available/radmfa", "/usr/local/bin/radmfa", bin, "/etc/radmfa/radmfa.toml", e.config)
	snippet(t, raddb, "policy.d/radmfa")
	if err := os.Symlink("../mods-available/radmfa", filepath.Join(raddb, "mods-enabled", "radmfa")); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("freeradius", "-XC", "-d", raddb).CombinedOutput(); err != nil {
		t.Fatalf("freeradius -XC: %v\n%s", err, tail(string(out), 30))
	}

	fr := &freeRADIUS{dir: raddb, port: port, secret: "testing123", out: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "freeradius", "-f", "-l", "stdout", "-d", raddb)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = fr.out, fr.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("FreeRADIUS output:\n%s", tail(fr.out.String(), 60))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(fr.out.String(), "Ready to process requests") {
		if time.Now().After(deadline) {
			t.Fatalf("stock freeradius not ready:\n%s", tail(fr.out.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}

	if r := fr.send(t, "User-Name = "+str("alice"), "User-Password = "+str(totpNow(t, secretAlice, 6, "SHA1"))); r.Code != "Access-Accept" {
		t.Fatalf("fresh code: %s %v", r.Code, r.Attrs)
	}
	ch := fr.send(t, "User-Name = "+str("alice"))
	if ch.Code != "Access-Challenge" || ch.get("Reply-Message") != mfa.MsgEnterAppCode {
		t.Fatalf("empty password: %s %v", ch.Code, ch.Attrs)
	}
	for _, f := range []string{"radmfa.db", "radmfa.db-wal", "radmfa.key"} {
		st, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			continue // the WAL may have been trimmed away
		}
		if u := fileUID(st); u != uint32(uid) {
			t.Errorf("%s owned by uid %d, want freerad (%d)", f, u, uid)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, path string, fn func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Write a regular file in place of a symlink into the copy.
	os.Remove(path)
	if err := os.WriteFile(path, []byte(fn(string(b))), 0o640); err != nil {
		t.Fatal(err)
	}
}

func fileUID(st os.FileInfo) uint32 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Uid
	}
	return ^uint32(0)
}
