package sqlite

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

var t0 = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

// openAt opens (creating) the database in dir with a fixed clock.
func openAt(t *testing.T, dir string, now time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: filepath.Join(dir, "radmfa.db")},
		Options{Create: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addEvents(t *testing.T, s *Store, events ...mfa.Event) {
	t.Helper()
	err := s.Update(context.Background(), func(tx mfa.Tx) error {
		for _, e := range events {
			if err := tx.AddEvent(context.Background(), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// addPushes stores pushes as radmfa serve will (there is no store method
// for them yet outside serve).
func addPushes(t *testing.T, s *Store, pushes ...PushRow) {
	t.Helper()
	for i, p := range pushes {
		var decided any
		if !p.Decided.IsZero() {
			decided = ms(p.Decided)
		}
		_, err := s.db.Exec(`INSERT INTO pushes (tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow,
			number_shown, resource, client, calling_station, nas_identifier, token_hash, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.TxID, p.User, ms(p.Created), ms(p.Created.Add(25*time.Second)), decided, p.Outcome, p.Variant, p.Flow,
			p.Number, p.Resource, p.Client, p.CallingStation, p.NASIdentifier, fmt.Appendf(nil, "token-%s-%d", p.TxID, i), p.Node)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a small event log: two NAS (one known only by its
// NAS-Identifier), three users, every result, a push of each outcome.
func fixture(t *testing.T, s *Store) {
	t.Helper()
	ev := func(d time.Duration, tx, user string, r mfa.Result, m mfa.Method, msg, client, nasID, ip string) mfa.Event {
		return mfa.Event{Time: t0.Add(d), TxID: tx, User: user, Result: r, Method: m, Trigger: mfa.TriggerEmpty, Message: msg,
			FrontDoor: mfa.FrontDoorREST, Node: "r1", Client: client, NASIdentifier: nasID, CallingStationID: ip, Resource: "VPN"}
	}
	addEvents(t, s,
		ev(0, "tx1", "alice", mfa.ResultChallenge, mfa.MethodPush, "push sent", "vpn", "gw1", "203.0.113.5"),
		ev(4*time.Second, "tx1", "alice", mfa.ResultSuccess, mfa.MethodPush, "push approved", "vpn", "gw1", "203.0.113.5"),
		ev(time.Minute, "tx2", "bob", mfa.ResultFailure, mfa.MethodTOTP, "wrong code", "vpn", "gw1", "198.51.100.7"),
		ev(2*time.Minute, "tx3", "bob", mfa.ResultFailure, mfa.MethodTOTP, LockoutMessage, "vpn", "gw1", "198.51.100.7"),
		ev(3*time.Minute, "tx4", "carol", mfa.ResultOuterWindow, mfa.MethodTOTP, "resync", "", "wifi-ap", "192.0.2.9"),
		ev(4*time.Minute, "tx5", "carol", mfa.ResultChallenge, mfa.MethodPush, "push sent", "", "wifi-ap", "192.0.2.9"),
		ev(5*time.Minute, "tx6", "alice", mfa.ResultFailure, mfa.MethodNone, "invalid passcode", "vpn", "gw1", "203.0.113.6"),
		ev(6*time.Minute, "tx7", "alice", mfa.ResultChallenge, mfa.MethodPush, "push sent", "vpn", "gw1", "203.0.113.5"),
		ev(6*time.Minute+9*time.Second, "tx7", "alice", mfa.ResultFailure, mfa.MethodPush, "push rejected by user: it wasn't me", "vpn", "gw1", "203.0.113.5"),
	)
	push := func(d time.Duration, tx, user, outcome string, latency time.Duration, client, nasID string) PushRow {
		p := PushRow{TxID: tx, User: user, Created: t0.Add(d), Outcome: outcome, Variant: "plain", Flow: "inline",
			Resource: "VPN", Client: client, NASIdentifier: nasID, CallingStation: "203.0.113.5", Node: "r1"}
		if latency > 0 {
			p.Decided = p.Created.Add(latency)
		}
		return p
	}
	addPushes(t, s,
		push(0, "tx1", "alice", OutcomeApproved, 4*time.Second, "vpn", "gw1"),
		push(4*time.Minute, "tx5", "carol", OutcomeExpired, 0, "", "wifi-ap"),
		push(6*time.Minute, "tx7", "alice", OutcomeDeniedFraud, 9*time.Second, "vpn", "gw1"),
	)
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"24h", now.Add(-24 * time.Hour), ""},
		{"30d", now.Add(-30 * 24 * time.Hour), ""},
		{"90m", now.Add(-90 * time.Minute), ""},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2026-11-01T08:00:00Z", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), ""},
		{"2026-11-01T08:00:00+02:00", time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), ""},
		{"2026-11-01 08:30", time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC), ""},
		{"yesterdayish", time.Time{}, `"yesterdayish" is neither a duration`},
		{"0s", time.Time{}, "must be positive"},
		{"-5h", time.Time{}, "must be positive"},
		{"2026-13-01", time.Time{}, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadFilter) {
					t.Fatalf("got %v, %v; want an ErrBadFilter containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFilterTextParse(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   FilterText
		want Filter
		err  string
	}{
		{"empty", FilterText{}, Filter{}, ""},
		{"user normalised", FilterText{User: " Alice "}, Filter{User: "alice"}, ""},
		{"results", FilterText{Result: "failure, OUTER,Failure"}, Filter{Results: []mfa.Result{mfa.ResultFailure, mfa.ResultOuterWindow}}, ""},
		{"full result name", FilterText{Result: "Outer Window Authentication"}, Filter{Results: []mfa.Result{mfa.ResultOuterWindow}}, ""},
		{"methods", FilterText{Method: "push,none"}, Filter{Methods: []mfa.Method{mfa.MethodPush, mfa.MethodNone}}, ""},
		{"bypass method", FilterText{Method: "Bypass"}, Filter{Methods: []mfa.Method{mfa.MethodBypass}}, ""},
		{"range", FilterText{Since: "2026-11-01", Until: "2026-11-02"},
			Filter{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}, ""},
		{"unknown result", FilterText{Result: "maybe"}, Filter{}, `unknown result "maybe"`},
		{"unknown method", FilterText{Method: "carrier pigeon"}, Filter{}, `unknown method "carrier pigeon"`},
		{"bad since", FilterText{Since: "yesterdayish"}, Filter{}, "since:"},
		{"bad until", FilterText{Until: "soon"}, Filter{}, "until:"},
		{"reversed range", FilterText{Since: "1d", Until: "2d"}, Filter{}, "must be before until"},
		{"control character in user", FilterText{User: "bob\nx"}, Filter{}, `user "bob\u000ax"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Parse(now, mfa.UserNames{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadFilter) {
					t.Fatalf("got %+v, %v; want an ErrBadFilter containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseOutcomes(t *testing.T) {
	got, err := ParseOutcomes("denied, no-response,approved,fraud")
	want := []string{OutcomeDeniedFraud, OutcomeDeniedMistake, OutcomeExpired, OutcomeApproved}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if _, err := ParseOutcomes("ignored"); err == nil || !errors.Is(err, ErrBadFilter) {
		t.Fatalf("got %v, want an ErrBadFilter", err)
	}
}

func txIDs(events []EventRow) string {
	var ids []string
	for _, e := range events {
		ids = append(ids, fmt.Sprintf("%s/%s", e.TxID, e.Result))
	}
	return strings.Join(ids, " ")
}

func TestActivity(t *testing.T) {
	s := openAt(t, t.TempDir(), t0.Add(time.Hour))
	fixture(t, s)
	ctx := context.Background()
	tests := []struct {
		name string
		q    ActivityQuery
		want string
	}{
		{"all newest first", ActivityQuery{}, "tx7/Failure tx7/Challenge tx6/Failure tx5/Challenge tx4/Outer Window Authentication tx3/Failure tx2/Failure tx1/Success tx1/Challenge"},
		{"limit", ActivityQuery{Limit: 2}, "tx7/Failure tx7/Challenge"},
		{"page", ActivityQuery{Limit: 2, Before: 7}, "tx5/Challenge tx4/Outer Window Authentication"},
		{"user", ActivityQuery{Filter: Filter{User: "bob"}}, "tx3/Failure tx2/Failure"},
		{"client", ActivityQuery{Filter: Filter{NAS: "vpn"}, Limit: 3}, "tx7/Failure tx7/Challenge tx6/Failure"},
		{"NAS-Identifier", ActivityQuery{Filter: Filter{NAS: "gw1"}, Limit: 3}, "tx7/Failure tx7/Challenge tx6/Failure"},
		{"NAS-Identifier without client", ActivityQuery{Filter: Filter{NAS: "wifi-ap"}}, "tx5/Challenge tx4/Outer Window Authentication"},
		{"NAS paged", ActivityQuery{Filter: Filter{NAS: "gw1"}, Limit: 2, Before: 6}, "tx3/Failure tx2/Failure"},
		{"user and NAS", ActivityQuery{Filter: Filter{User: "carol", NAS: "wifi-ap"}}, "tx5/Challenge tx4/Outer Window Authentication"},
		{"result", ActivityQuery{Filter: Filter{Results: []mfa.Result{mfa.ResultSuccess, mfa.ResultOuterWindow}}}, "tx4/Outer Window Authentication tx1/Success"},
		{"method none", ActivityQuery{Filter: Filter{Methods: []mfa.Method{mfa.MethodNone}}}, "tx6/Failure"},
		{"range", ActivityQuery{Filter: Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}}, "tx3/Failure tx2/Failure"},
		{"nothing", ActivityQuery{Filter: Filter{User: "nobody"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Activity(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if txIDs(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", txIDs(got), tt.want)
			}
		})
	}
	t.Run("unknown cursor", func(t *testing.T) {
		if _, err := s.Activity(ctx, ActivityQuery{Before: 999}); !errors.Is(err, ErrBadFilter) {
			t.Fatalf("got %v, want ErrBadFilter", err)
		}
	})
}

func TestPushes(t *testing.T) {
	s := openAt(t, t.TempDir(), t0.Add(time.Hour))
	fixture(t, s)
	ctx := context.Background()
	tests := []struct {
		name string
		q    PushQuery
		want string
	}{
		{"newest first", PushQuery{}, "tx7 denied: it wasn't me 9s, tx5 no response 0s, tx1 approved 4s"},
		{"page", PushQuery{Limit: 1, Before: 2}, "tx1 approved 4s"},
		{"outcome", PushQuery{Outcomes: []string{OutcomeApproved, OutcomeExpired}}, "tx5 no response 0s, tx1 approved 4s"},
		{"NAS-Identifier", PushQuery{Filter: Filter{NAS: "wifi-ap"}}, "tx5 no response 0s"},
		{"client", PushQuery{Filter: Filter{NAS: "vpn"}, Limit: 1}, "tx7 denied: it wasn't me 9s"},
		{"user", PushQuery{Filter: Filter{User: "carol"}}, "tx5 no response 0s"},
		{"since", PushQuery{Filter: Filter{Since: t0.Add(time.Minute)}}, "tx7 denied: it wasn't me 9s, tx5 no response 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Pushes(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var desc []string
			for _, p := range got {
				desc = append(desc, fmt.Sprintf("%s %s %s", p.TxID, p.OutcomeText(), p.Latency()))
			}
			if strings.Join(desc, ", ") != tt.want {
				t.Fatalf("got  %s\nwant %s", strings.Join(desc, ", "), tt.want)
			}
		})
	}
	t.Run("result filter refused", func(t *testing.T) {
		_, err := s.Pushes(ctx, PushQuery{Filter: Filter{Results: []mfa.Result{mfa.ResultSuccess}}})
		if !errors.Is(err, ErrBadFilter) {
			t.Fatalf("got %v, want ErrBadFilter", err)
		}
	})
}

func TestTransaction(t *testing.T) {
	s := openAt(t, t.TempDir(), t0.Add(time.Hour))
	fixture(t, s)
	ctx := context.Background()
	tx, err := s.Transaction(ctx, "tx7")
	if err != nil {
		t.Fatal(err)
	}
	if got := txIDs(tx.Events); got != "tx7/Challenge tx7/Failure" {
		t.Fatalf("events %s, want the challenge, then the failure", got)
	}
	if len(tx.Pushes) != 1 || tx.Pushes[0].Outcome != OutcomeDeniedFraud {
		t.Fatalf("pushes %+v, want the denied push", tx.Pushes)
	}
	if _, err := s.Transaction(ctx, "nope"); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestAuditLog(t *testing.T) {
	s := openAt(t, t.TempDir(), t0)
	ctx := context.Background()
	dev := testDevice("totp1")
	for _, name := range []string{"al", "alice", "bob"} {
		if err := s.CreateUser(ctx, "root", name, dev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddDevice(ctx, "admin (sudo: eve)", "alice", testDevice("phone")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"all", AuditQuery{}, "device.add alice/phone, user.add bob, user.add alice, user.add al"},
		{"user and devices, not a prefix", AuditQuery{User: "alice"}, "device.add alice/phone, user.add alice"},
		{"actor", AuditQuery{Actor: "root", Limit: 1}, "user.add bob"},
		{"page", AuditQuery{Limit: 2, Before: 3}, "user.add alice, user.add al"},
		{"until", AuditQuery{Until: t0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AuditLog(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var desc []string
			for _, a := range got {
				desc = append(desc, a.Action+" "+a.Target)
			}
			if strings.Join(desc, ", ") != tt.want {
				t.Fatalf("got  %s\nwant %s", strings.Join(desc, ", "), tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	s := openAt(t, t.TempDir(), t0.Add(time.Hour))
	fixture(t, s)
	got, err := s.Summary(context.Background(), SummaryQuery{Per: PerNAS})
	if err != nil {
		t.Fatal(err)
	}
	want := []SummaryRow{
		{Name: "vpn", Challenges: 2, Successes: 1, Failures: 4, Lockouts: 1, ClientIPs: 3, Approved: 1,
			LatencyP50: 4 * time.Second, LatencyP95: 4 * time.Second, TopFailures: []ReasonCount{
				{LockoutMessage, 1}, {"invalid passcode", 1}, {"push rejected by user: it wasn't me", 1}}},
		{Name: "wifi-ap", Challenges: 1, OuterWindow: 1, ClientIPs: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	got, err = s.Summary(context.Background(), SummaryQuery{Per: PerUser, Filter: Filter{Results: []mfa.Result{mfa.ResultFailure}}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "alice" || got[0].Failures != 2 || got[0].Successes != 0 || got[0].Approved != 0 {
		t.Fatalf("got %+v, want alice's two failures alone", got)
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	for _, tt := range []struct {
		p    int
		in   []int64
		want int64
	}{{50, v, 10}, {95, v, 19}, {100, v, 20}, {50, v[:1], 1}, {95, v[:2], 2}, {50, nil, 0}} {
		t.Run(fmt.Sprint(tt.p, "/", len(tt.in)), func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// randomLog writes a few days of varied events and pushes.
func randomLog(t *testing.T, s *Store, start time.Time, days int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	results := []mfa.Result{mfa.ResultChallenge, mfa.ResultSuccess, mfa.ResultSuccess, mfa.ResultFailure, mfa.ResultOuterWindow}
	methods := []mfa.Method{mfa.MethodTOTP, mfa.MethodPush, mfa.MethodNone}
	messages := []string{"wrong code", LockoutMessage, "invalid passcode", `weird "msg", with, commas`}
	var events []mfa.Event
	var pushes []PushRow
	for i := 0; i < days*150; i++ {
		at := start.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour)))).Truncate(time.Millisecond)
		e := mfa.Event{Time: at, TxID: fmt.Sprintf("tx%d", i), User: fmt.Sprintf("u%d", r.IntN(7)),
			Result: results[r.IntN(len(results))], Method: methods[r.IntN(len(methods))], FrontDoor: mfa.FrontDoorExec,
			Client: []string{"vpn", "wifi", ""}[r.IntN(3)], NASIdentifier: []string{"gw1", "gw2"}[r.IntN(2)],
			CallingStationID: []string{"", "192.0.2.1", "192.0.2.2", "198.51.100.3"}[r.IntN(4)]}
		if e.Result == mfa.ResultFailure {
			e.Message = messages[r.IntN(len(messages))]
		}
		events = append(events, e)
		if e.Method == mfa.MethodPush && e.Result == mfa.ResultSuccess {
			pushes = append(pushes, PushRow{TxID: e.TxID, User: e.User, Created: at.Add(-3 * time.Second), Decided: at,
				Outcome: OutcomeApproved, Variant: "plain", Flow: "inline", Client: e.Client, NASIdentifier: e.NASIdentifier})
		}
	}
	addEvents(t, s, events...)
	addPushes(t, s, pushes...)
}

// TestRollupsMatchRawEvents checks that summaries and series read from the
// rollups are exactly what the raw events say, for ranges that start and
// end inside days and filters the rollups can and cannot answer.
func TestRollupsMatchRawEvents(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	// A clock before the data: nothing can be rolled up.
	early := openAt(t, dir, start)
	randomLog(t, early, start, 6)
	late := openAt(t, dir, start.Add(7*24*time.Hour))
	ctx := context.Background()
	mid := start.Add(36*time.Hour + 17*time.Minute)
	filters := map[string]Filter{
		"everything":         {},
		"inside days":        {Since: mid, Until: mid.Add(60 * time.Hour)},
		"since only":         {Since: mid},
		"NAS":                {NAS: "gw2"},
		"client and range":   {NAS: "vpn", Since: mid},
		"method":             {Methods: []mfa.Method{mfa.MethodPush, mfa.MethodNone}},
		"result (raw)":       {Results: []mfa.Result{mfa.ResultFailure}},
		"user (raw)":         {User: "u3", Since: mid},
		"less than a day":    {Since: mid, Until: mid.Add(5 * time.Hour)},
		"aligned to days":    {Since: start.Add(24 * time.Hour), Until: start.Add(72 * time.Hour)},
		"nothing in the end": {Since: start.Add(30 * 24 * time.Hour)},
	}
	for name, f := range filters {
		for _, per := range []Per{PerNAS, PerUser} {
			t.Run(name+"/"+per.String(), func(t *testing.T) {
				raw, err := early.Summary(ctx, SummaryQuery{Filter: f, Per: per, Limit: MaxLimit})
				if err != nil {
					t.Fatal(err)
				}
				got, err := late.Summary(ctx, SummaryQuery{Filter: f, Per: per, Limit: MaxLimit})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, raw) {
					t.Fatalf("from rollups:\n%+v\nfrom events:\n%+v", got, raw)
				}
			})
		}
		for _, step := range []time.Duration{time.Hour, 24 * time.Hour} {
			t.Run(name+"/series "+step.String(), func(t *testing.T) {
				if f.Until.IsZero() {
					f.Until = start.Add(7 * 24 * time.Hour)
				}
				raw, err := early.Series(ctx, SeriesQuery{Filter: f, Step: step})
				if err != nil {
					t.Fatal(err)
				}
				got, err := late.Series(ctx, SeriesQuery{Filter: f, Step: step})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, raw) {
					t.Fatalf("from rollups:\n%+v\nfrom events:\n%+v", got, raw)
				}
			})
		}
	}
	var done int64
	var nasRows, userRows, hourRows int
	late.db.QueryRow(`SELECT days_done, (SELECT COUNT(*) FROM report_nas_days), (SELECT COUNT(*) FROM report_user_days),
		(SELECT COUNT(*) FROM report_hours) FROM report_state`).Scan(&done, &nasRows, &userRows, &hourRows)
	// The clock is at the start of day 7, which ends 15 minutes later.
	if want := ms(start.Add(6 * 24 * time.Hour)); done != want || nasRows == 0 || userRows == 0 || hourRows == 0 {
		t.Fatalf("days_done %d (want %d), rollup rows %d/%d/%d: the rollups were not used", done, want, nasRows, userRows, hourRows)
	}
}

func TestRefreshReports(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	s := openAt(t, dir, start.Add(5*24*time.Hour))
	ctx := context.Background()
	count := func() (int64, int) {
		var done int64
		var n int
		s.db.QueryRow(`SELECT days_done, (SELECT COUNT(*) FROM report_nas_days) + (SELECT COUNT(*) FROM report_user_days)
			+ (SELECT COUNT(*) FROM report_hours) FROM report_state`).Scan(&done, &n)
		return done, n
	}
	t.Run("no events", func(t *testing.T) {
		if err := s.RefreshReports(ctx); err != nil {
			t.Fatal(err)
		}
		if done, n := count(); done != 0 || n != 0 {
			t.Fatalf("days_done %d, %d rows; want nothing done", done, n)
		}
	})
	randomLog(t, s, start, 3)
	t.Run("another builder holds the lease", func(t *testing.T) {
		s.db.Exec(`UPDATE report_state SET lease_owner = 'other', lease_until = ?`, ms(start.Add(5*24*time.Hour+time.Minute)))
		if err := s.RefreshReports(ctx); err != nil {
			t.Fatal(err)
		}
		if done, n := count(); done != 0 || n != 0 {
			t.Fatalf("days_done %d, %d rows; want nothing done", done, n)
		}
	})
	t.Run("expired lease", func(t *testing.T) {
		s.db.Exec(`UPDATE report_state SET lease_until = ?`, ms(start))
		if err := s.RefreshReports(ctx); err != nil {
			t.Fatal(err)
		}
		done, n := count()
		// Days 0-2 have events, day 3 is empty, day 4 is today.
		if done != ms(start.Add(4*24*time.Hour)) || n == 0 {
			t.Fatalf("days_done %s, %d rows", time.UnixMilli(done).UTC(), n)
		}
		var owner string
		s.db.QueryRow(`SELECT lease_owner FROM report_state`).Scan(&owner)
		if owner != "" {
			t.Fatalf("lease still held by %q", owner)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		_, before := count()
		// A crashed builder left rows for a day not yet done.
		s.db.Exec(`UPDATE report_state SET days_done = ?`, ms(start.Add(2*24*time.Hour)))
		if err := s.RefreshReports(ctx); err != nil {
			t.Fatal(err)
		}
		if _, after := count(); after != before {
			t.Fatalf("%d rollup rows after rebuilding, %d before", after, before)
		}
	})
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	s := openAt(t, dir, start.Add(10*24*time.Hour))
	ctx := context.Background()
	randomLog(t, s, start, 6)
	addPushes(t, s, PushRow{TxID: "pending", User: "u1", Created: start, Outcome: OutcomePending, Variant: "plain", Flow: "inline"})
	if err := s.RefreshReports(ctx); err != nil {
		t.Fatal(err)
	}
	cut := start.Add(3*24*time.Hour + 5*time.Hour)
	want, err := s.PruneCount(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if want.Events == 0 || want.Pushes == 0 || want.Rollups == 0 {
		t.Fatalf("nothing to prune: %+v", want)
	}
	calls := 0
	got, err := s.Prune(ctx, cut, func(st PruneStats) {
		calls++
		if st.Batches != calls {
			t.Errorf("progress call %d reports %d batches", calls, st.Batches)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Events != want.Events || got.Pushes != want.Pushes || got.Rollups != want.Rollups || calls == 0 || got.Batches != calls {
		t.Fatalf("pruned %+v after %d progress calls, counted %+v", got, calls, want)
	}
	var old, oldPushes, pending, oldRollups int
	s.db.QueryRow(`SELECT (SELECT COUNT(*) FROM events WHERE time < ?), (SELECT COUNT(*) FROM pushes WHERE created_at < ? AND outcome <> 'pending'),
		(SELECT COUNT(*) FROM pushes WHERE outcome = 'pending'), (SELECT COUNT(*) FROM report_nas_days WHERE day < ?)`,
		ms(cut), ms(cut), ms(start.Add(3*24*time.Hour))).Scan(&old, &oldPushes, &pending, &oldRollups)
	if old != 0 || oldPushes != 0 || pending != 1 || oldRollups != 0 {
		t.Fatalf("left %d old events, %d old pushes, %d pending pushes (want 1), %d old rollup rows", old, oldPushes, pending, oldRollups)
	}
	again, err := s.Prune(ctx, cut, nil)
	if err != nil || again.Total() != 0 {
		t.Fatalf("second prune: %+v, %v; want nothing left", again, err)
	}
}

func TestRetentionConfig(t *testing.T) {
	tests := []struct {
		name string
		c    RetentionConfig
		err  string
	}{
		{"default keeps forever", RetentionConfig{}, ""},
		{"a year", RetentionConfig{Events: mfa.Duration(365 * 24 * time.Hour)}, ""},
		{"one day", RetentionConfig{Events: mfa.Duration(24 * time.Hour)}, ""},
		{"too short", RetentionConfig{Events: mfa.Duration(time.Hour)}, "retention.events = 1h0m0s: must be 0 (keep forever) or at least 1d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	if _, ok := (RetentionConfig{}).Cutoff(now); ok {
		t.Fatal("zero retention has a cutoff")
	}
	if c, ok := (RetentionConfig{Events: mfa.Duration(48 * time.Hour)}).Cutoff(now); !ok || !c.Equal(now.Add(-48*time.Hour)) {
		t.Fatalf("cutoff %v %v", c, ok)
	}
}

// TestQueryPlans checks that the page queries walk an index in order: no
// full scan, no sort of every matching row. SQLite plans the same without
// statistics whatever the table size, so this holds at 10 million events.
func TestQueryPlans(t *testing.T) {
	s := openAt(t, t.TempDir(), t0)
	tests := []struct {
		name  string
		query string
		args  []any
	}{}
	add := func(name, q string, args []any) {
		tests = append(tests, struct {
			name  string
			query string
			args  []any
		}{name, q, args})
	}
	q, a := activityQuery(ActivityQuery{}, 0)
	add("activity", q, a)
	q, a = activityQuery(ActivityQuery{Before: 5}, ms(t0))
	add("activity page", q, a)
	q, a = activityQuery(ActivityQuery{Filter: Filter{NAS: "vpn", Since: t0}, Before: 5}, ms(t0))
	add("activity NAS", q, a)
	q, a = activityQuery(ActivityQuery{Filter: Filter{User: "alice", NAS: "vpn"}}, 0)
	add("activity user", q, a)
	q, a = pushQuery(PushQuery{}, 0)
	add("pushes", q, a)
	q, a = pushQuery(PushQuery{Filter: Filter{NAS: "vpn"}, Before: 3}, ms(t0))
	add("pushes NAS", q, a)
	q, a = pushQuery(PushQuery{Filter: Filter{User: "alice"}}, 0)
	add("pushes user", q, a)
	add("latencies", `SELECT client, decided_at - created_at FROM pushes WHERE outcome = 'approved' AND decided_at IS NOT NULL AND created_at >= ?`, []any{0})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.db.Query("EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for i, line := range plan {
				table := strings.HasPrefix(line, "SCAN events") || strings.HasPrefix(line, "SCAN pushes") ||
					strings.HasPrefix(line, "SEARCH events") || strings.HasPrefix(line, "SEARCH pushes")
				if !table {
					continue
				}
				// "SCAN t USING INDEX i" walks i in order and stops at the
				// LIMIT; "SCAN t" reads the whole table.
				if !strings.Contains(line, "INDEX") {
					t.Fatalf("full scan %q:\n%s", line, text)
				}
				// Sorting a union of two bounded pages is fine; sorting
				// the rows of a table walk is not.
				if i+1 < len(plan) && strings.HasPrefix(plan[i+1], "USE TEMP B-TREE FOR ORDER BY") {
					t.Fatalf("%q sorts every matching row:\n%s", line, text)
				}
			}
			if !strings.Contains(text, "INDEX") {
				t.Fatalf("plan uses no index:\n%s", text)
			}
		})
	}
}

func TestIPHashIsFNV1a(t *testing.T) {
	for _, ip := range []string{"", "192.0.2.1", "2001:db8::1", "aa:bb:cc:dd:ee:ff"} {
		t.Run(ip, func(t *testing.T) {
			h := fnv.New64a()
			h.Write([]byte(ip))
			if got, want := ipHash(ip), h.Sum64(); got != want {
				t.Fatalf("got %x, want %x", got, want)
			}
		})
	}
}
