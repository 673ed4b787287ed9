package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// execEnv is the environment rlm_exec would give radmfa exec.
func execEnv(user, password string) []string {
	return []string{`USER_NAME="` + user + `"`, `USER_PASSWORD="` + password + `"`, `CALLING_STATION_ID="192.0.2.1"`}
}

// runExecs starts n radmfa exec processes at once and returns their exit
// codes and outputs.
func runExecs(t *testing.T, e *env, n int, environ []string) ([]int, []string) {
	t.Helper()
	codes, outs := make([]int, n), make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outs[i], codes[i] = e.run(t, "", environ, "exec")
		}()
	}
	close(start)
	wg.Wait()
	return codes, outs
}

type eventRow struct {
	Result, Message, User string
}

func readEvents(t *testing.T, e *env) []eventRow {
	t.Helper()
	var evs []eventRow
	out := e.radmfa(t, "", "report", "activity", "--json", "--limit", "1000")
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return evs
}

// TestExecRaceFirstRun starts 50 radmfa exec processes on a data directory
// that does not exist yet: they race to create the directory, database and
// key file, and every one of their events must be stored.
func TestExecRaceFirstRun(t *testing.T) {
	e := newEnv(t, "")
	codes, outs := runExecs(t, e, 50, execEnv("nobody", "123456"))
	for i, c := range codes {
		if c != 1 || !strings.Contains(outs[i], "Reply-Message := 'Authentication failed'") {
			t.Errorf("process %d: exit %d, output %q; want 1 and a Reply-Message", i, c, outs[i])
		}
	}
	evs := readEvents(t, e)
	if len(evs) != 50 {
		t.Fatalf("%d events, want 50", len(evs))
	}
	for _, ev := range evs {
		if ev.Result != "Failure" || ev.Message != "unknown user" {
			t.Fatalf("event %+v", ev)
		}
	}
	st, err := os.Stat(filepath.Join(e.dir, "data", "radmfa.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
}

// TestExecRaceSameCode sends the same valid code through 50 processes at
// once: replay protection must let exactly one in.
func TestExecRaceSameCode(t *testing.T) {
	// 49 replays are 49 failures: raise the lockout limit so that each
	// one is refused as a replay, not as a locked account.
	e := newEnv(t, "[lockout]\nfailures = 100\n")
	e.radmfa(t, secretAlice+"\n", "user", "add", "alice", "--secret", "-", "--json")
	code := totpNow(t, secretAlice, 6, "SHA1")
	codes, _ := runExecs(t, e, 50, execEnv("alice", code))
	accepted, rejected := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			accepted++
		case 1:
			rejected++
		default:
			t.Errorf("exit code %d", c)
		}
	}
	if accepted != 1 || rejected != 49 {
		t.Fatalf("%d accepted, %d rejected; want exactly 1 accepted", accepted, rejected)
	}
	evs := readEvents(t, e)
	used := 0
	for _, ev := range evs {
		if ev.Message == "OTP already used" {
			used++
		}
	}
	if len(evs) != 50 || used != 49 {
		t.Fatalf("%d events, %d replays; want 50 and 49", len(evs), used)
	}
}

// TestExecSIGTERM holds the database's write lock so radmfa exec has to
// wait, sends it SIGTERM as FreeRADIUS does at its exec timeout, and checks
// that it exits 2 promptly and still records the event.
func TestExecSIGTERM(t *testing.T) {
	e := newEnv(t, "")
	e.radmfa(t, secretAlice+"\n", "user", "add", "alice", "--secret", "-", "--json")
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(e.dir, "data", "radmfa.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(radmfaBin, "--config", e.config, "exec")
	cmd.Env = execEnv("alice", "123456")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	lock.Rollback() // let the event through
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2", err)
	}
	if d := time.Since(sent); d > 3*time.Second {
		t.Fatalf("exited %s after SIGTERM", d)
	}
	if !strings.HasPrefix(out.String(), "Reply-Message := ") {
		t.Fatalf("stdout %q", out.String())
	}
	evs := readEvents(t, e)
	if len(evs) != 1 || !strings.Contains(evs[0].Message, "terminated (SIGTERM") || evs[0].User != "alice" {
		t.Fatalf("events %+v, want one 'terminated' event for alice", evs)
	}
}
