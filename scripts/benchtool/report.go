package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/radmfa/radmfa/sqlite"
)

func init() { cases["report"] = func(options) error { return reportBench() } }

// The report data set (SPEC §10): 10 million events over 90 days from
// 10,000 users on 50 NAS; 20 % of authentications are pushes, each with
// its pushes row.
var genEvents = 10_000_000 // RADMFA_BENCH_EVENTS overrides, for a quick try

const (
	genDays   = 90
	genUsers  = 10_000
	genNAS    = 50
	genPushes = 0.20
)

// reportBench generates the data set by bulk insert into a temp database
// (RADMFA_BENCH_DIR keeps it in that directory instead), then times the
// reports against their targets.
func reportBench() error {
	if n, err := strconv.Atoi(os.Getenv("RADMFA_BENCH_EVENTS")); err == nil && n > 0 {
		genEvents = n
	}
	dir := os.Getenv("RADMFA_BENCH_DIR")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "radmfa-bench-report-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	path := filepath.Join(dir, "radmfa.db")
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)

	fmt.Printf("== report: %d events, %d days, %d users, %d NAS, %.0f %% of authentications by push\n",
		genEvents, genDays, genUsers, genNAS, genPushes*100)
	if _, err := os.Stat(path); err == nil {
		fmt.Printf("reusing %s\n", path)
	} else {
		start := time.Now()
		st, err := generate(ctx, path, now)
		if err != nil {
			return err
		}
		fi, _ := os.Stat(path)
		fmt.Printf("generate           %7.1f s   %d events, %d pushes, %d transactions; %.1f GB (inserts %.0f s, indexes %.0f s)\n",
			time.Since(start).Seconds(), st.events, st.pushes, st.txs, float64(fi.Size())/1e9, st.insert.Seconds(), st.index.Seconds())
	}

	store, err := sqlite.Open(ctx, sqlite.Config{Path: path}, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()

	start := time.Now()
	if err := store.RefreshReports(ctx); err != nil {
		return err
	}
	fmt.Printf("rollups catch-up   %7.1f s   once, after the bulk load (then one day at a time)\n", time.Since(start).Seconds())

	// Each query runs a few times; the median is reported, the first
	// (cold) run separately.
	type measure struct {
		name   string
		target time.Duration
		fn     func() (string, error)
	}
	since := now.Add(-30 * 24 * time.Hour)
	measures := []measure{
		{"push history, latest 100", 50 * time.Millisecond, func() (string, error) {
			rows, err := store.Pushes(ctx, sqlite.PushQuery{Limit: 100})
			return fmt.Sprintf("%d rows", len(rows)), err
		}},
		{"summary per NAS, 30 days", 2 * time.Second, func() (string, error) {
			rows, err := store.Summary(ctx, sqlite.SummaryQuery{Filter: sqlite.Filter{Since: since}, Per: sqlite.PerNAS})
			if err != nil || len(rows) == 0 {
				return "", err
			}
			return fmt.Sprintf("%d NAS; %s: %d successes, p50 %.1f s, p95 %.1f s", len(rows), rows[0].Name,
				rows[0].Successes, rows[0].LatencyP50.Seconds(), rows[0].LatencyP95.Seconds()), nil
		}},
		{"summary per user, 30 days", 0, func() (string, error) {
			rows, err := store.Summary(ctx, sqlite.SummaryQuery{Filter: sqlite.Filter{Since: since}, Per: sqlite.PerUser, Limit: 100})
			return fmt.Sprintf("top %d users", len(rows)), err
		}},
		{"activity, latest 100, one NAS", 0, func() (string, error) {
			rows, err := store.Activity(ctx, sqlite.ActivityQuery{Filter: sqlite.Filter{NAS: "gw-07"}, Limit: 100})
			return fmt.Sprintf("%d rows", len(rows)), err
		}},
		{"series by hour, 30 days", 0, func() (string, error) {
			pts, err := store.Series(ctx, sqlite.SeriesQuery{Filter: sqlite.Filter{Since: since}, Step: time.Hour})
			return fmt.Sprintf("%d points", len(pts)), err
		}},
	}
	for _, m := range measures {
		var times []time.Duration
		var note string
		for i := 0; i < 5; i++ {
			start := time.Now()
			n, err := m.fn()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			times = append(times, time.Since(start))
			note = n
		}
		verdict := ""
		if m.target > 0 {
			verdict = fmt.Sprintf("  target < %s: ", m.target)
			if median(times) < m.target {
				verdict += "ok"
			} else {
				verdict += "MISSED"
			}
		}
		fmt.Printf("%-30s median %8.1f ms  first %8.1f ms  (%s)%s\n", m.name, ms(median(times)), ms(times[0]), note, verdict)
	}

	// Pruning the oldest two hours, as serve's daily job prunes a day
	// (which takes about twelve times as long): how long each batch holds
	// the write lock.
	var first int64
	if _, err := fmt.Sscan(firstEvent(ctx, path), &first); err != nil {
		return err
	}
	start = time.Now()
	st, err := store.Prune(ctx, time.UnixMilli(first).Add(2*time.Hour), nil)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("prune 2 hours      %7.1f s   %d rows (%.0f rows/s, a day in ~%.0f s) in %d batches; longest write lock %.1f ms (target: a few ms)\n",
		took.Seconds(), st.Total(), float64(st.Total())/took.Seconds(), 12*took.Seconds(), st.Batches, ms(st.Longest))
	return nil
}

// firstEvent returns the time of the oldest event (ms), as text.
func firstEvent(ctx context.Context, path string) string {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return ""
	}
	defer db.Close()
	var t int64
	db.QueryRowContext(ctx, `SELECT MIN(time) FROM events`).Scan(&t)
	return strconv.FormatInt(t, 10)
}

type genStats struct {
	events, pushes, txs int
	insert, index       time.Duration
}

// generate bulk-loads the data set: the schema comes from sqlite.Open; rows
// go in through multi-row prepared INSERTs in large transactions, with
// durability off (a benchmark file, rebuilt on failure).
func generate(ctx context.Context, path string, now time.Time) (genStats, error) {
	store, err := sqlite.Open(ctx, sqlite.Config{Path: path}, sqlite.Options{Create: true})
	if err != nil {
		return genStats{}, err
	}
	store.Close()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=OFF&_synchronous=OFF&_cache_size=-2000000")
	if err != nil {
		return genStats{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Index builds sort with a helper thread.
	for _, p := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA threads = 2"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return genStats{}, err
		}
	}
	// Load without the secondary indexes, then build each in one sort:
	// much faster than updating them row by row (transaction IDs are
	// random, so their index would be written all over).
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name IN ('events', 'pushes') AND sql IS NOT NULL`)
	if err != nil {
		return genStats{}, err
	}
	var indexes [][2]string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return genStats{}, err
		}
		indexes = append(indexes, [2]string{name, def})
	}
	if err := rows.Err(); err != nil {
		return genStats{}, err
	}
	for _, ix := range indexes {
		if _, err := db.ExecContext(ctx, "DROP INDEX "+ix[0]); err != nil {
			return genStats{}, err
		}
	}
	g := newGenerator(now)
	start := time.Now()
	if err := g.run(ctx, db); err != nil {
		return g.stats, err
	}
	g.stats.insert = time.Since(start)
	start = time.Now()
	for _, ix := range indexes {
		if _, err := db.ExecContext(ctx, ix[1]); err != nil {
			return g.stats, err
		}
	}
	g.stats.index = time.Since(start)
	// Back to what radmfa runs with.
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return g.stats, err
	}
	return g.stats, nil
}

// Columns that are the same in every generated row are SQL literals:
// fewer values to bind.
const (
	eventCols   = 13
	pushCols    = 14
	rowsPerIn   = 80 // rows per INSERT statement
	eventInsert = "INSERT INTO events (time, tx_id, user_name, result, method, trigger, message, device, front_door, node, client, nas_ip, nas_identifier, called_station, calling_station, resource) VALUES "
	eventRow    = "(?, ?, ?, ?, ?, ?, ?, ?, 'rest', 'radius1', ?, ?, ?, '', ?, ?)"
	pushInsert  = "INSERT INTO pushes (tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow, number_shown, resource, client, calling_station, nas_identifier, token_hash, dedup_key, node) VALUES "
	pushRow     = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'radius1')"
)

// generator makes a deterministic, plausible event stream: users with a
// home NAS or two and an address or two, OTP and push authentications,
// failures with realistic messages, occasional lockouts and resyncs. One
// goroutine makes the rows, the other inserts them.
type generator struct {
	rng   *rand.Rand
	start time.Time
	step  float64 // ms between authentications

	users   []string
	userNAS [][2]int
	userIPs [][]string
	nas     []string // client short names
	nasID   []string // NAS-Identifier
	nasIP   []string
	res     []string // resource names

	events, pushes []any // values of the statement being filled
	out            chan batch
	stats          genStats
}

// batch is the values of one INSERT statement's rows.
type batch struct {
	events bool // events, or pushes
	args   []any
}

func newGenerator(now time.Time) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(7, 42)), start: now.Add(-genDays * 24 * time.Hour)}
	for i := range genNAS {
		g.nas = append(g.nas, fmt.Sprintf("nas-%02d", i+1))
		g.nasID = append(g.nasID, fmt.Sprintf("gw-%02d", i+1))
		g.nasIP = append(g.nasIP, fmt.Sprintf("192.0.2.%d", i+1))
		g.res = append(g.res, []string{"VPN", "Citrix Gateway", "Wi-Fi", "Admin SSH"}[i%4]+" "+strconv.Itoa(i/4+1))
	}
	for i := range genUsers {
		g.users = append(g.users, fmt.Sprintf("user%05d", i+1))
		a := g.rng.IntN(genNAS)
		g.userNAS = append(g.userNAS, [2]int{a, (a + 1 + g.rng.IntN(genNAS-1)) % genNAS})
		var ips []string
		for range 1 + g.rng.IntN(3) {
			ips = append(ips, fmt.Sprintf("100.%d.%d.%d", 64+g.rng.IntN(64), g.rng.IntN(256), 1+g.rng.IntN(254)))
		}
		g.userIPs = append(g.userIPs, ips)
	}
	return g
}

func (g *generator) run(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	evIns, err := conn.PrepareContext(ctx, eventInsert+rows(eventRow, rowsPerIn))
	if err != nil {
		return err
	}
	defer evIns.Close()
	pushIns, err := conn.PrepareContext(ctx, pushInsert+rows(pushRow, rowsPerIn))
	if err != nil {
		return err
	}
	defer pushIns.Close()
	// Average events per authentication (measured), to spread them evenly
	// over the 90 days.
	g.step = float64(genDays*24*time.Hour/time.Millisecond) / (float64(genEvents) / 1.37)

	g.out = make(chan batch, 8)
	stop := make(chan struct{})
	go func() {
		defer close(g.out)
		for g.stats.events < genEvents {
			select {
			case <-stop:
				return
			default:
			}
			g.auth()
		}
		g.send(true, &g.events)
		g.send(false, &g.pushes)
	}()
	defer func() {
		close(stop)
		for range g.out { // let the producer finish
		}
	}()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	n := 0
	for b := range g.out {
		stmt, insert, row, cols := evIns, eventInsert, eventRow, eventCols
		if !b.events {
			stmt, insert, row, cols = pushIns, pushInsert, pushRow, pushCols
		}
		if len(b.args) == cols*rowsPerIn {
			_, err = stmt.ExecContext(ctx, b.args...)
		} else {
			_, err = conn.ExecContext(ctx, insert+rows(row, len(b.args)/cols), b.args...)
		}
		if err != nil {
			return err
		}
		if n++; n%5000 == 0 {
			if _, err := conn.ExecContext(ctx, "COMMIT; BEGIN"); err != nil {
				return err
			}
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

func rows(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// send hands the filled statement values to the inserter.
func (g *generator) send(events bool, args *[]any) {
	if len(*args) > 0 {
		g.out <- batch{events, *args}
	}
	*args = nil
}

func (g *generator) addEvent(vals ...any) {
	if g.events == nil {
		g.events = make([]any, 0, eventCols*rowsPerIn)
	}
	g.events = append(g.events, vals...)
	g.stats.events++
	if len(g.events) == cap(g.events) {
		g.send(true, &g.events)
	}
}

func (g *generator) addPush(vals ...any) {
	if g.pushes == nil {
		g.pushes = make([]any, 0, pushCols*rowsPerIn)
	}
	g.pushes = append(g.pushes, vals...)
	g.stats.pushes++
	if len(g.pushes) == cap(g.pushes) {
		g.send(false, &g.pushes)
	}
}

// auth generates one authentication: its events and, for a push, its row.
func (g *generator) auth() {
	r := g.rng
	u := r.IntN(genUsers)
	// A few heavy users, like service accounts and help-desk staff.
	if r.IntN(10) == 0 {
		u = r.IntN(genUsers / 100)
	}
	n := g.userNAS[u][0]
	if r.IntN(5) == 0 {
		n = g.userNAS[u][1]
	}
	ip := g.userIPs[u][r.IntN(len(g.userIPs[u]))]
	t0 := g.start.UnixMilli() + int64(float64(g.stats.txs)*g.step) + r.Int64N(int64(g.step)+1)
	txID := fmt.Sprintf("%016x", uint64(g.stats.txs+1)*0x9E3779B97F4A7C15)
	g.stats.txs++
	ev := func(dt int64, result, method, trigger, msg, device string) {
		if g.stats.events < genEvents {
			g.addEvent(t0+dt, txID, g.users[u], result, method, trigger, msg, device, g.nas[n], g.nasIP[n], g.nasID[n], ip, g.res[n])
		}
	}
	if r.Float64() < genPushes {
		// Push: Challenge when sent; Success when approved, Failure when
		// denied as fraud; nothing when ignored (seed 003).
		variant := []string{"plain", "plain", "plain", "ack", "choose", "enter"}[r.IntN(6)]
		flow, number := "inline", ""
		switch variant {
		case "ack":
			flow, number = "challenge", fmt.Sprintf("%04d", r.IntN(10000))
		case "choose", "enter":
			flow, number = "challenge", strconv.Itoa(10+r.IntN(90))
		}
		msg := "push sent"
		if number != "" {
			msg += ", number " + number
		}
		ev(0, "Challenge", "push", "empty", msg, "phone")
		latency := int64(1000 * math.Exp(1.6+0.6*r.NormFloat64())) // median ~5 s
		latency = min(max(latency, 700), 24_000)
		var decided any
		outcome := ""
		switch p := r.Float64(); {
		case p < 0.80:
			outcome, decided = "approved", t0+latency
			ev(latency, "Success", "push", "empty", "push approved", "phone")
		case p < 0.84:
			outcome, decided = "denied_fraud", t0+latency
			ev(latency, "Failure", "push", "empty", "push rejected by user: it wasn't me", "phone")
		case p < 0.89:
			outcome, decided = "denied_mistake", t0+latency
			ev(latency, "Challenge", "totp", "empty", "challenge: enter the code from the authenticator app", "")
		case p < 0.97:
			outcome = "expired"
		default:
			outcome = "superseded"
		}
		token := make([]byte, 16)
		binary.BigEndian.PutUint64(token, uint64(g.stats.pushes+1))
		binary.BigEndian.PutUint64(token[8:], uint64(t0))
		g.addPush(txID, g.users[u], t0, t0+25_000, decided, outcome, variant, flow, number,
			g.res[n], g.nas[n], ip, g.nasID[n], token)
		return
	}
	switch p := r.Float64(); {
	case p < 0.60:
		ev(0, "Success", "totp", "code", "OTP accepted", "totp1")
	case p < 0.82:
		ev(0, "Challenge", "totp", "empty", "challenge: enter the code from the authenticator app", "")
		ev(5000+r.Int64N(25_000), "Success", "totp", "code", "OTP accepted", "totp1")
	case p < 0.90:
		ev(0, "Failure", "totp", "code", []string{"wrong code", "wrong code", "OTP already used", "code expired"}[r.IntN(4)], "")
	case p < 0.94:
		ev(0, "Failure", "", "other", "invalid passcode", "")
	case p < 0.96:
		ev(0, "Outer Window Authentication", "totp", "code", "code in the outer window: enter the next code", "totp1")
		ev(20_000+r.Int64N(20_000), "Success", "totp", "code", "OTP accepted (resynchronised)", "totp1")
	case p < 0.975:
		ev(0, "Failure", "totp", "code", sqlite.LockoutMessage, "")
	default:
		ev(0, "Failure", "", "code", "unknown user", "")
	}
}
