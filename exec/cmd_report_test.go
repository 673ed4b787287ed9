package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// reportT0 is when the fixed event set starts.
var reportT0 = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

// xssUser is a hostile user name: HTML, and a spreadsheet formula.
const xssUser = `<img src=x onerror=alert(1)>`

// reportFixture writes a fixed event set, its pushes and some admin
// actions into the database in dir: two NAS (one known only by its
// NAS-Identifier), every result, a lockout, each push outcome, hostile user
// names.
func reportFixture(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "radmfa.db")
	clock := reportT0.Add(-time.Hour)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, sqlite.Options{Create: true, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	dev := mfa.Device{Name: "totp1", Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret("12345678901234567890")}
	for _, u := range []string{"alice", "bob"} {
		clock = clock.Add(time.Minute)
		if err := s.CreateUser(ctx, "root", u, dev); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(time.Minute)
	if err := s.SetUserDisabled(ctx, "admin (sudo: eve)", "bob", true); err != nil {
		t.Fatal(err)
	}
	ev := func(d time.Duration, tx, user string, r mfa.Result, m mfa.Method, tr mfa.Trigger, msg, client, nasID, ip string) mfa.Event {
		return mfa.Event{Time: reportT0.Add(d), TxID: tx, User: user, Result: r, Method: m, Trigger: tr, Message: msg,
			FrontDoor: mfa.FrontDoorREST, Node: "r1", Client: client, NASIdentifier: nasID, NASIPAddress: "192.0.2.10",
			CallingStationID: ip, Resource: "VPN"}
	}
	events := []mfa.Event{
		ev(0, "00000000000000a1", "alice", mfa.ResultChallenge, mfa.MethodPush, mfa.TriggerEmpty, "push sent", "vpn", "gw1", "203.0.113.5"),
		ev(4200*time.Millisecond, "00000000000000a1", "alice", mfa.ResultSuccess, mfa.MethodPush, mfa.TriggerEmpty, "push approved", "vpn", "gw1", "203.0.113.5"),
		ev(time.Minute, "00000000000000b2", "bob", mfa.ResultFailure, mfa.MethodTOTP, mfa.TriggerCode, "wrong code", "vpn", "gw1", "198.51.100.7"),
		ev(2*time.Minute, "00000000000000c3", "bob", mfa.ResultFailure, mfa.MethodTOTP, mfa.TriggerCode, "account locked", "vpn", "gw1", "198.51.100.7"),
		ev(3*time.Minute, "00000000000000d4", "carol", mfa.ResultOuterWindow, mfa.MethodTOTP, mfa.TriggerCode, "code in the outer window: enter the next code", "", "wifi-ap", "192.0.2.9"),
		ev(4*time.Minute, "00000000000000e5", "carol", mfa.ResultChallenge, mfa.MethodPush, mfa.TriggerOneChar, "push sent, number 42", "", "wifi-ap", "192.0.2.9"),
		ev(5*time.Minute, "00000000000000f6", xssUser, mfa.ResultFailure, mfa.MethodNone, mfa.TriggerOther, "unknown user", "vpn", "gw1", "=cmd|' /C calc'!A0"),
		ev(6*time.Minute, "0000000000000107", "alice", mfa.ResultChallenge, mfa.MethodPush, mfa.TriggerEmpty, "push sent", "vpn", "gw1", "203.0.113.5"),
		ev(6*time.Minute+9*time.Second, "0000000000000107", "alice", mfa.ResultFailure, mfa.MethodPush, mfa.TriggerEmpty, "push rejected by user: it wasn't me", "vpn", "gw1", "203.0.113.5"),
		ev(26*time.Hour, "0000000000000118", "alice", mfa.ResultSuccess, mfa.MethodTOTP, mfa.TriggerCode, "OTP accepted", "vpn", "gw1", "203.0.113.6"),
	}
	err = s.Update(ctx, func(tx mfa.Tx) error {
		for _, e := range events {
			if err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	insertPushes(t, path,
		testPush{reportT0, "00000000000000a1", "alice", sqlite.OutcomeApproved, 4200 * time.Millisecond, "plain", "", "vpn", "gw1", "203.0.113.5"},
		testPush{reportT0.Add(4 * time.Minute), "00000000000000e5", "carol", sqlite.OutcomeExpired, 0, "choose", "42", "", "wifi-ap", "192.0.2.9"},
		testPush{reportT0.Add(6 * time.Minute), "0000000000000107", "alice", sqlite.OutcomeDeniedFraud, 9 * time.Second, "ack", "7316", "vpn", "gw1", "203.0.113.5"},
		testPush{reportT0.Add(7 * time.Minute), "0000000000000129", "alice", sqlite.OutcomePending, 0, "plain", "", "vpn", "gw1", "203.0.113.5"},
	)
}

type testPush struct {
	created                              time.Time
	tx, user, outcome                    string
	latency                              time.Duration
	variant, number, client, nasID, ipAd string
}

// insertPushes writes push rows as radmfa serve does (the report tests do
// not run serve).
func insertPushes(t *testing.T, path string, pushes ...testPush) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, p := range pushes {
		var decided any
		if p.latency > 0 {
			decided = p.created.Add(p.latency).UnixMilli()
		}
		flow := "inline"
		if p.variant != "plain" {
			flow = "challenge"
		}
		_, err := db.Exec(`INSERT INTO pushes (tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow,
			number_shown, resource, client, calling_station, nas_identifier, token_hash, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'VPN', ?, ?, ?, ?, 'r1')`,
			p.tx, p.user, p.created.UnixMilli(), p.created.Add(25*time.Second).UnixMilli(), decided, p.outcome, p.variant, flow,
			p.number, p.client, p.ipAd, p.nasID, fmt.Appendf(nil, "token %d", i))
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReports checks every report in every format against golden files
// (go test -run TestReports -update rewrites them).
func TestReports(t *testing.T) {
	dir := t.TempDir()
	reportFixture(t, dir)
	day := []string{"--since", "2026-11-24", "--until", "2026-11-26"}
	tests := []struct {
		name string
		args []string
	}{
		{"activity-fixture.txt", []string{"report", "activity"}},
		{"activity-filtered.txt", []string{"report", "activity", "--nas", "gw1", "--result", "failure", "--method", "totp,none", "--since", "2026-11-24T09:00:00Z", "--until", "2026-11-24 10:00"}},
		{"activity.csv", []string{"report", "activity", "--format", "csv"}},
		{"activity-all.json", []string{"report", "activity", "--format", "json", "--limit", "2"}},
		{"push.txt", []string{"report", "push"}},
		{"push-denied.txt", []string{"report", "push", "--result", "denied,expired", "--limit", "1"}},
		{"push.csv", []string{"report", "push", "-o", "csv"}},
		{"push.json", []string{"report", "push", "--json", "--user", "Carol"}},
		{"summary.txt", append([]string{"report", "summary"}, day...)},
		{"summary-user.txt", append([]string{"report", "summary", "--per", "user"}, day...)},
		{"summary.csv", append([]string{"report", "summary", "--format", "csv"}, day...)},
		{"summary.json", append([]string{"report", "summary", "--json", "--nas", "vpn"}, day...)},
		{"summary-by-day.txt", append([]string{"report", "summary", "--by", "day"}, day...)},
		{"summary-by-hour.csv", []string{"report", "summary", "--by", "hour", "--format", "csv", "--since", "2026-11-24T08:00:00Z", "--until", "2026-11-24T12:00:00Z"}},
		{"summary-by-day.json", append([]string{"report", "summary", "--by", "day", "--json", "--user", "alice"}, day...)},
		{"transaction.txt", []string{"report", "transaction", "0000000000000107"}},
		{"transaction.csv", []string{"report", "transaction", "0000000000000107", "--format", "csv"}},
		{"transaction.json", []string{"report", "transaction", "00000000000000a1", "--json"}},
		{"audit.txt", []string{"report", "audit"}},
		{"audit.csv", []string{"report", "audit", "--user", "bob", "--format", "csv"}},
		{"audit.json", []string{"report", "audit", "--json", "--actor", "root", "--limit", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, "report-"+tt.name, out)
		})
	}
}

func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	reportFixture(t, dir)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"since yesterdayish", []string{"report", "activity", "--since", "yesterdayish"}, `--since: "yesterdayish" is neither a duration before now (24h, 30d) nor a date or time`},
		{"until garbage", []string{"report", "push", "--until", "2026-02-30"}, "--until:"},
		{"reversed range", []string{"report", "summary", "--since", "1d", "--until", "2d"}, "must be before until"},
		{"unknown result", []string{"report", "activity", "--result", "maybe"}, `unknown result "maybe" (want challenge, success, failure or outer)`},
		{"unknown outcome", []string{"report", "push", "--result", "ignored"}, `unknown push outcome "ignored"`},
		{"unknown method", []string{"report", "summary", "--method", "fax"}, `unknown method "fax"`},
		{"push method", []string{"report", "push", "--method", "totp"}, "the push history has only pushes"},
		{"limit zero", []string{"report", "push", "--limit", "0"}, "--limit 0: want 1 to 10000"},
		{"limit huge", []string{"report", "audit", "--limit", "10001"}, "--limit 10001: want 1 to 10000"},
		{"negative cursor", []string{"report", "push", "--before", "-1"}, "--before -1"},
		{"unknown cursor", []string{"report", "activity", "--before", "999"}, "no event with ID 999"},
		{"format", []string{"report", "activity", "--format", "xml"}, "--format xml: want table, csv or json"},
		{"json and csv", []string{"report", "push", "--json", "--format", "csv"}, "contradict"},
		{"per what", []string{"report", "summary", "--per", "device"}, `cannot summarise per "device" (want nas or user)`},
		{"by week", []string{"report", "summary", "--by", "week"}, "--by week: want day or hour"},
		{"per and by", []string{"report", "summary", "--by", "day", "--per", "user"}, "cannot be used together"},
		{"summary pages", []string{"report", "summary", "--before", "3"}, "--before: totals have no pages"},
		{"audit nas", []string{"report", "audit", "--nas", "vpn"}, "--nas: the audit log has no such field"},
		{"hourly forever", []string{"report", "summary", "--by", "hour", "--since", "2020-01-01"}, "too many"},
		{"transaction without ID", []string{"report", "transaction"}, "takes 1 argument(s): ID (got 0)"},
		{"bad user", []string{"report", "activity", "--user", "a\x01b"}, `user "a\u0001b"`},
		{"prune without age", []string{"report", "prune"}, "--older-than is required"},
		{"prune an hour", []string{"report", "prune", "--older-than", "1h"}, "--older-than 1h: want at least 1d"},
		{"prune garbage", []string{"report", "prune", "--older-than", "ages"}, "--older-than ages"},
		{"unknown subcommand", []string{"report", "everything"}, `unknown command "everything"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Fatalf("stderr %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestReportEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "radmfa.db")}, sqlite.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"report", "activity"}, "No events.\n"},
		{[]string{"report", "activity", "--json"}, "[]\n"},
		{[]string{"report", "activity", "--format", "csv"}, strings.Join(sqlite.EventColumns, ",") + "\n"},
		{[]string{"report", "push"}, "No pushes.\n"},
		{[]string{"report", "push", "--json"}, "[]\n"},
		{[]string{"report", "summary"}, "No events.\n"},
		{[]string{"report", "summary", "--json"}, "[]\n"},
		{[]string{"report", "summary", "--by", "day"}, "No events.\n"},
		{[]string{"report", "audit"}, "No admin actions.\n"},
		{[]string{"report", "prune", "--older-than", "30d"}, "Nothing older than"},
		{[]string{"report", "prune", "--older-than", "30d", "--dry-run"}, "Would delete 0 rows"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != 0 || !strings.HasPrefix(out, tt.want) {
				t.Fatalf("exit %d, stdout %q, want %q; stderr %s", code, out, tt.want, stderr)
			}
		})
	}
	t.Run("transaction not found", func(t *testing.T) {
		_, stderr, code := radmfa(t, dir, "", "report", "transaction", "feedface")
		if code != exitError || !strings.Contains(stderr, `transaction "feedface" not found`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

func TestReportStoreProblems(t *testing.T) {
	t.Run("no database", func(t *testing.T) {
		_, stderr, code := radmfa(t, t.TempDir(), "", "report", "summary")
		if code != exitError || !strings.Contains(stderr, "no database at") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "radmfa.db")
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path}, sqlite.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		db.Exec("PRAGMA user_version = 99")
		db.Close()
		_, stderr, code := radmfa(t, dir, "", "report", "push")
		if code != exitError || !strings.Contains(stderr, "database schema is newer than this radmfa") || !strings.Contains(stderr, "upgrade radmfa") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

func TestReportPrune(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "radmfa.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, sqlite.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var events []mfa.Event
	for i := 0; i < 1200; i++ {
		// 1,000 events 40 days old, 200 from today.
		at := now.Add(-40*24*time.Hour + time.Duration(i)*time.Second)
		if i >= 1000 {
			at = now.Add(-time.Duration(i) * time.Second)
		}
		events = append(events, mfa.Event{Time: at, TxID: fmt.Sprintf("%016x", i), User: "alice", Result: mfa.ResultSuccess,
			Method: mfa.MethodTOTP, FrontDoor: mfa.FrontDoorExec, Client: "vpn"})
	}
	err = s.Update(ctx, func(tx mfa.Tx) error {
		for _, e := range events {
			if err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	insertPushes(t, path,
		testPush{now.Add(-40 * 24 * time.Hour), "0000000000000000", "alice", sqlite.OutcomeApproved, time.Second, "plain", "", "vpn", "", ""},
		testPush{now.Add(-40 * 24 * time.Hour), "0000000000000001", "alice", sqlite.OutcomePending, 0, "plain", "", "vpn", "", ""},
	)
	steps := []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"dry run", []string{"report", "prune", "--older-than", "30d", "--dry-run"},
			regexp.MustCompile(`^Would delete 1001 rows older than \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: 1000 events, 1 decided pushes, 0 rollup rows\.\n$`)},
		{"prune", []string{"report", "prune", "--older-than", "30d"},
			regexp.MustCompile(`^Deleted 1001 rows older than .* UTC: 1000 events, 1 decided pushes, 0 rollup rows;\n\d+ batches in .*, the longest holding the write lock \d+\.\d ms\.\n$`)},
		{"again", []string{"report", "prune", "--older-than", "30d"}, regexp.MustCompile(`^Nothing older than`)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", st.args...)
			if code != 0 || !st.want.MatchString(out) {
				t.Fatalf("exit %d, stdout %q, want %s; stderr %s", code, out, st.want, stderr)
			}
		})
	}
	out, _, _ := radmfa(t, dir, "", "report", "push", "--format", "csv")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, "pending") {
		t.Fatalf("pushes left:\n%s\nwant the pending one alone", out)
	}
	out, _, _ = radmfa(t, dir, "", "report", "activity", "--json", "--limit", "10000")
	if n := strings.Count(out, `"tx_id"`); n != 200 {
		t.Fatalf("%d events left, want 200", n)
	}
	t.Run("retention from the config", func(t *testing.T) {
		cfg := filepath.Join(dir, "radmfa.toml")
		os.WriteFile(cfg, []byte("[retention]\nevents = \"1d\"\n"), 0o600)
		out, stderr, code := radmfa(t, dir, "", "--config", cfg, "report", "prune", "--dry-run")
		if code != 0 || !strings.HasPrefix(out, "Would delete ") {
			t.Fatalf("exit %d: %s%s", code, out, stderr)
		}
		os.WriteFile(cfg, []byte("[retention]\nevents = \"2h\"\n"), 0o600)
		_, stderr, code = radmfa(t, dir, "", "--config", cfg, "report", "prune")
		if code != exitError || !strings.Contains(stderr, "retention.events = 2h0m0s: must be 0 (keep forever) or at least 1d") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

func TestReportHelp(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"activity", "push", "summary", "transaction", "audit", "prune"} {
		t.Run(sub, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", "report", sub, "--help")
			if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
		})
	}
	out, _, _ := radmfa(t, dir, "", "report", "--help")
	for _, sub := range []string{"activity", "push", "summary", "transaction", "audit", "prune"} {
		if !strings.Contains(out, "  "+sub) {
			t.Errorf("radmfa report --help does not list %s", sub)
		}
	}
}

// TestReadmeReportSamples checks that the README shows each report as the
// code prints it.
func TestReadmeReportSamples(t *testing.T) {
	r := readme(t)
	for _, s := range []struct{ command, golden string }{
		{"radmfa report push", "report-push.txt"},
		{"radmfa report summary --since 2026-11-24 --until 2026-11-26", "report-summary.txt"},
		{"radmfa report summary --by day --since 2026-11-24 --until 2026-11-26", "report-summary-by-day.txt"},
		{"radmfa report transaction 0000000000000107", "report-transaction.txt"},
		{"radmfa report audit", "report-audit.txt"},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", s.golden))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r, "$ "+s.command+"\n"+string(b)+"```") {
			t.Errorf("README.md does not show `%s` as in testdata/%s", s.command, s.golden)
		}
	}
}
