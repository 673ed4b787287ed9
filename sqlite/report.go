package sqlite

// Reports: the event log, push history, transactions, the audit log and
// summaries, for `radmfa report` and the admin page. Everything here reads;
// the one write is RefreshReports, which extends the rollup tables of
// schema 3 (report_days, report_hours) by whole days in short transactions.
//
// Sizes the queries are built for (SPEC §10): 10 million events over 90
// days. Newest-first pages walk an index backwards and stop after a page;
// summaries over weeks read the daily rollups plus at most the raw events of
// the partial days at either end of the range.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// LockoutMessage is the message of the Failure event written when a user is
// locked out; summaries count such events as lockouts.
const LockoutMessage = "account locked"

// MaxLimit bounds every report's page size.
const MaxLimit = 10000

// ErrBadFilter wraps errors in report filters and cursors: the caller asked
// for something malformed (a usage error), not the store failing.
var ErrBadFilter = errors.New("sqlite: bad report filter")

// Filter selects events (and pushes) for reports. The zero value selects
// everything.
type Filter struct {
	User    string       // only this (normalised) user
	NAS     string       // only this RADIUS client or NAS-Identifier
	Results []mfa.Result // only these results (nil: all)
	Methods []mfa.Method // only these methods (nil: all; MethodNone: events without one)
	Since   time.Time    // at or after this instant (zero: from the start)
	Until   time.Time    // before this instant (zero: no end)
}

// FilterText is a Filter as people type it (CLI flags, query strings).
type FilterText struct {
	User   string // a user name; normalised as configured
	NAS    string // a client short name or IP, or a NAS-Identifier
	Result string // comma-separated results: challenge, success, failure, outer
	Method string // comma-separated methods: totp, hotp, push, sms, email, bypass, none
	Since  string // a duration before now (24h, 30d), a date or an RFC 3339 time
	Until  string // the same; the range ends before it
}

// Parse checks the text and returns the Filter. Errors wrap ErrBadFilter
// and say what is accepted.
func (ft FilterText) Parse(now time.Time, users mfa.UserNames) (Filter, error) {
	var f Filter
	var err error
	if s := strings.TrimSpace(ft.User); s != "" {
		if f.User, err = users.Normalize(s); err != nil {
			return Filter{}, fmt.Errorf("%w: user \"%s\": empty, too long or contains control characters", ErrBadFilter, mfa.Printable(s))
		}
	}
	f.NAS = strings.TrimSpace(ft.NAS)
	if f.Results, err = ParseResults(ft.Result); err != nil {
		return Filter{}, err
	}
	if f.Methods, err = ParseMethods(ft.Method); err != nil {
		return Filter{}, err
	}
	if s := strings.TrimSpace(ft.Since); s != "" {
		if f.Since, err = ParseTime(s, now); err != nil {
			return Filter{}, fmt.Errorf("since: %w", err)
		}
	}
	if s := strings.TrimSpace(ft.Until); s != "" {
		if f.Until, err = ParseTime(s, now); err != nil {
			return Filter{}, fmt.Errorf("until: %w", err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return Filter{}, fmt.Errorf("%w: since (%s) must be before until (%s)", ErrBadFilter,
			f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// timeLayouts are the absolute forms ParseTime accepts; without a zone they
// are UTC, like every time radmfa shows.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// ParseTime reads a point in time for --since and --until: a duration
// before now ("90m", "24h", "30d"), a date ("2026-11-01", midnight UTC) or
// a date and time (RFC 3339, or "2026-11-01 08:00" in UTC).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if d, err := mfa.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%w: %q: a duration must be positive (it means that long before now)", ErrBadFilter, s)
		}
		return now.Add(-d).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is neither a duration before now (24h, 30d) nor a date or time (2026-11-01, 2026-11-01T08:00:00Z)", ErrBadFilter, s)
}

// ParseResults reads a comma-separated list of results, ignoring case;
// "outer" abbreviates Outer Window Authentication.
func ParseResults(s string) ([]mfa.Result, error) {
	var out []mfa.Result
	for _, part := range splitList(s) {
		if strings.EqualFold(part, "outer") || strings.EqualFold(part, "outer-window") {
			part = mfa.ResultOuterWindow.String()
		}
		r, err := mfa.ParseResult(part)
		if err != nil {
			return nil, fmt.Errorf("%w: unknown result %q (want challenge, success, failure or outer)", ErrBadFilter, part)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

var methods = []mfa.Method{mfa.MethodTOTP, mfa.MethodHOTP, mfa.MethodPush, mfa.MethodSMS, mfa.MethodEmail, mfa.MethodBypass}

// ParseMethods reads a comma-separated list of methods; "none" selects
// events without a method (an invalid passcode, an unknown user).
func ParseMethods(s string) ([]mfa.Method, error) {
	var out []mfa.Method
	for _, part := range splitList(s) {
		m := mfa.Method(strings.ToLower(part))
		if m == "none" {
			m = mfa.MethodNone
		} else if !slices.Contains(methods, m) {
			return nil, fmt.Errorf("%w: unknown method %q (want totp, hotp, push, sms, email, bypass or none)", ErrBadFilter, part)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// where builds SQL conditions (joined with AND, each with a leading " AND ")
// for a filter over a table with the given time column. Results and Methods
// apply only where the table has those columns.
type where struct {
	sql  strings.Builder
	args []any
}

func (w *where) add(cond string, args ...any) {
	w.sql.WriteString(" AND ")
	w.sql.WriteString(cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if vals == nil {
		return
	}
	w.sql.WriteString(" AND " + col + " IN (")
	for i, v := range vals {
		if i > 0 {
			w.sql.WriteString(", ")
		}
		w.sql.WriteString("?")
		w.args = append(w.args, v)
	}
	w.sql.WriteString(")")
}

func resultNames(rs []mfa.Result) []string {
	if rs == nil {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func methodNames(ms []mfa.Method) []string {
	if ms == nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// eventWhere adds the filter's conditions on events, except NAS when
// nasUnion is set (the caller unions two index walks instead).
func eventWhere(w *where, f Filter, nasUnion bool) {
	if f.User != "" {
		w.add("user_name = ?", f.User)
	}
	if f.NAS != "" && !nasUnion {
		w.add("(client = ? OR nas_identifier = ?)", f.NAS, f.NAS)
	}
	w.in("result", resultNames(f.Results))
	w.in("method", methodNames(f.Methods))
	// Both bounds, always: with only a lower one SQLite may prefer to walk
	// another index in GROUP BY order over reading the range by time.
	if !f.Since.IsZero() || !f.Until.IsZero() {
		sp := f.span()
		w.add("time >= ?", sp.from)
		w.add("time < ?", sp.to)
	}
}

func clampLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return min(n, MaxLimit)
}

const eventCols = `id, time, tx_id, user_name, result, method, trigger, message, device,
	front_door, node, client, nas_ip, nas_identifier, called_station, calling_station, resource`

func scanEvents(rows *sql.Rows) ([]EventRow, error) {
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var r EventRow
		var t int64
		var result, method, trigger, door string
		if err := rows.Scan(&r.ID, &t, &r.TxID, &r.User, &result, &method, &trigger, &r.Message, &r.Device,
			&door, &r.Node, &r.Client, &r.NASIPAddress, &r.NASIdentifier, &r.CalledStationID, &r.CallingStationID, &r.Resource); err != nil {
			return nil, err
		}
		r.Time = time.UnixMilli(t).UTC()
		r.Result, _ = mfa.ParseResult(result)
		r.Method = mfa.Method(method)
		if trigger != "" {
			r.Trigger, _ = mfa.ParseTrigger(trigger)
		}
		r.FrontDoor, _ = mfa.ParseFrontDoor(door)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ActivityQuery selects a page of the event log, newest first.
type ActivityQuery struct {
	Filter
	Limit  int   // at most this many (default 100, at most MaxLimit)
	Before int64 // only events older than the event with this ID (paging); 0: from the newest
}

// Activity returns events newest first (by time, then ID). Page on with
// Before set to the ID of the last event returned.
func (s *Store) Activity(ctx context.Context, q ActivityQuery) ([]EventRow, error) {
	var cursor int64
	if q.Before > 0 {
		err := s.db.QueryRowContext(quiet(ctx), `SELECT time FROM events WHERE id = ?`, q.Before).Scan(&cursor)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: no event with ID %d (pruned, or not an event ID)", ErrBadFilter, q.Before)
		}
		if err != nil {
			return nil, s.wrap("activity", err)
		}
	}
	query, args := activityQuery(q, cursor)
	rows, err := s.db.QueryContext(quiet(ctx), query, args...)
	if err != nil {
		return nil, s.wrap("activity", err)
	}
	out, err := scanEvents(rows)
	return out, s.wrap("activity", err)
}

// activityQuery builds the page query; cursor is the time of the event
// q.Before names.
func activityQuery(q ActivityQuery, cursor int64) (string, []any) {
	// With a NAS but no user, walk the (client, time) and
	// (nas_identifier, time) indexes separately and merge the two pages:
	// an OR would make SQLite collect and sort every matching event.
	nasUnion := q.NAS != "" && q.User == ""
	var w where
	eventWhere(&w, q.Filter, nasUnion)
	if q.Before > 0 {
		w.add("(time, id) < (?, ?)", cursor, q.Before)
	}
	return pageQuery("events", eventCols, "time", w, nasUnion, q.NAS, clampLimit(q.Limit))
}

// pageQuery is a newest-first page of a table: one index walk, or with
// nasUnion the union of two (client and nas_identifier equal to nas).
func pageQuery(table, cols, timeCol string, w where, nasUnion bool, nas string, limit int) (string, []any) {
	order := ` ORDER BY ` + timeCol + ` DESC, id DESC LIMIT ?`
	if !nasUnion {
		return `SELECT ` + cols + ` FROM ` + table + ` WHERE 1` + w.sql.String() + order, append(w.args, limit)
	}
	arm := func(col string) string {
		return `SELECT * FROM (SELECT ` + cols + ` FROM ` + table + ` WHERE ` + col + ` = ?` + w.sql.String() + order + `)`
	}
	args := append(append([]any{nas}, w.args...), limit, nas)
	args = append(append(args, w.args...), limit, limit)
	return `SELECT * FROM (` + arm("client") + ` UNION ` + arm("nas_identifier") + `)` + order, args
}

// Push outcomes as stored in pushes.outcome.
const (
	OutcomePending       = "pending"
	OutcomeApproved      = "approved"
	OutcomeDeniedFraud   = "denied_fraud"
	OutcomeDeniedMistake = "denied_mistake"
	OutcomeExpired       = "expired"
	OutcomeSuperseded    = "superseded"
)

// outcomeText is how reports show each outcome (seed 003: an ignored push
// is "no response").
var outcomeText = map[string]string{
	OutcomePending:       "pending",
	OutcomeApproved:      "approved",
	OutcomeDeniedFraud:   "denied: it wasn't me",
	OutcomeDeniedMistake: "denied: mistake",
	OutcomeExpired:       "no response",
	OutcomeSuperseded:    "superseded",
}

// ParseOutcomes reads a comma-separated list of push outcomes: approved,
// denied (both kinds), fraud, mistake, expired (or no-response),
// superseded, pending; stored names such as denied_fraud work too.
func ParseOutcomes(s string) ([]string, error) {
	var out []string
	for _, part := range splitList(s) {
		var add []string
		switch strings.ToLower(part) {
		case "approved", "approve", "success":
			add = []string{OutcomeApproved}
		case "denied", "deny":
			add = []string{OutcomeDeniedFraud, OutcomeDeniedMistake}
		case "fraud", "denied_fraud", "failure":
			add = []string{OutcomeDeniedFraud}
		case "mistake", "denied_mistake":
			add = []string{OutcomeDeniedMistake}
		case "expired", "no-response", "no_response", "timeout":
			add = []string{OutcomeExpired}
		case "superseded":
			add = []string{OutcomeSuperseded}
		case "pending":
			add = []string{OutcomePending}
		default:
			return nil, fmt.Errorf("%w: unknown push outcome %q (want approved, denied, fraud, mistake, expired, superseded or pending)", ErrBadFilter, part)
		}
		for _, o := range add {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// PushRow is one push notification and its outcome.
type PushRow struct {
	ID             int64
	TxID           string
	User           string
	Created        time.Time // when it was sent
	Expires        time.Time
	Decided        time.Time // when the user answered; zero while pending, and for expired or superseded pushes
	Outcome        string    // one of the Outcome constants
	Variant        string    // plain, ack, choose, enter
	Flow           string    // inline, challenge
	Number         string    // number or request code shown at login ('' for plain)
	Resource       string
	Client         string
	CallingStation string // usually the user's IP address
	NASIdentifier  string
	Node           string
}

// OutcomeText is the outcome as reports show it: "approved", "denied: it
// wasn't me", "denied: mistake", "no response", "superseded", "pending".
func (p PushRow) OutcomeText() string {
	if t, ok := outcomeText[p.Outcome]; ok {
		return t
	}
	return p.Outcome
}

// Latency is how long the user took to answer; zero without an answer.
func (p PushRow) Latency() time.Duration {
	if p.Decided.IsZero() {
		return 0
	}
	return p.Decided.Sub(p.Created)
}

// PushQuery selects a page of the push history, newest first.
type PushQuery struct {
	Filter            // Results and Methods must be empty: pushes have outcomes
	Outcomes []string // only these outcomes (nil: all); see ParseOutcomes
	Limit    int      // at most this many (default 100, at most MaxLimit)
	Before   int64    // only pushes older than the push with this ID; 0: from the newest
}

const pushCols = `id, tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow,
	number_shown, resource, client, calling_station, nas_identifier, node`

func scanPushes(rows *sql.Rows) ([]PushRow, error) {
	defer rows.Close()
	var out []PushRow
	for rows.Next() {
		var p PushRow
		var created, expires int64
		var decided sql.NullInt64
		if err := rows.Scan(&p.ID, &p.TxID, &p.User, &created, &expires, &decided, &p.Outcome, &p.Variant, &p.Flow,
			&p.Number, &p.Resource, &p.Client, &p.CallingStation, &p.NASIdentifier, &p.Node); err != nil {
			return nil, err
		}
		p.Created = time.UnixMilli(created).UTC()
		p.Expires = time.UnixMilli(expires).UTC()
		p.Decided = fromMS(decided)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Pushes returns the push history newest first (by time sent, then ID), one
// row per push with its stored outcome (seed 003's "Push OTP authentication
// history report").
func (s *Store) Pushes(ctx context.Context, q PushQuery) ([]PushRow, error) {
	if q.Results != nil || q.Methods != nil {
		return nil, fmt.Errorf("%w: push history filters by outcome, not by result or method", ErrBadFilter)
	}
	var cursor int64
	if q.Before > 0 {
		err := s.db.QueryRowContext(quiet(ctx), `SELECT created_at FROM pushes WHERE id = ?`, q.Before).Scan(&cursor)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: no push with ID %d (pruned, or not a push ID)", ErrBadFilter, q.Before)
		}
		if err != nil {
			return nil, s.wrap("push history", err)
		}
	}
	query, args := pushQuery(q, cursor)
	rows, err := s.db.QueryContext(quiet(ctx), query, args...)
	if err != nil {
		return nil, s.wrap("push history", err)
	}
	out, err := scanPushes(rows)
	return out, s.wrap("push history", err)
}

// pushQuery builds the page query; cursor is the time of the push q.Before
// names.
func pushQuery(q PushQuery, cursor int64) (string, []any) {
	var w where
	if q.User != "" {
		w.add("user_name = ?", q.User)
	}
	nasUnion := q.NAS != "" && q.User == ""
	if q.NAS != "" && !nasUnion {
		w.add("(client = ? OR nas_identifier = ?)", q.NAS, q.NAS)
	}
	w.in("outcome", q.Outcomes)
	if !q.Since.IsZero() {
		w.add("created_at >= ?", ms(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("created_at < ?", ms(q.Until))
	}
	if q.Before > 0 {
		w.add("(created_at, id) < (?, ?)", cursor, q.Before)
	}
	return pageQuery("pushes", pushCols, "created_at", w, nasUnion, q.NAS, clampLimit(q.Limit))
}

// Transaction is one authentication: its events in order and its pushes.
type Transaction struct {
	ID     string
	Events []EventRow // oldest first
	Pushes []PushRow  // oldest first
}

// Transaction returns every step of one authentication, or an error
// wrapping mfa.ErrNotFound when nothing has that transaction ID.
func (s *Store) Transaction(ctx context.Context, id string) (Transaction, error) {
	t := Transaction{ID: id}
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT `+eventCols+` FROM events WHERE tx_id = ? ORDER BY time, id`, id)
	if err != nil {
		return t, s.wrap("transaction", err)
	}
	if t.Events, err = scanEvents(rows); err != nil {
		return t, s.wrap("transaction", err)
	}
	rows, err = s.db.QueryContext(quiet(ctx), `SELECT `+pushCols+` FROM pushes WHERE tx_id = ? ORDER BY created_at, id`, id)
	if err != nil {
		return t, s.wrap("transaction", err)
	}
	if t.Pushes, err = scanPushes(rows); err != nil {
		return t, s.wrap("transaction", err)
	}
	if len(t.Events) == 0 && len(t.Pushes) == 0 {
		return t, fmt.Errorf("transaction %q: %w", id, mfa.ErrNotFound)
	}
	return t, nil
}

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	User   string    // only actions on this user (and the user's devices)
	Actor  string    // only actions by this actor (exact)
	Since  time.Time // at or after (zero: from the start)
	Until  time.Time // before (zero: no end)
	Limit  int       // at most this many (default 100, at most MaxLimit)
	Before int64     // only entries older than the entry with this ID; 0: from the newest
}

// AuditLog returns admin actions newest first (by time, then ID).
func (s *Store) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var w where
	if q.User != "" {
		// Targets are "user" or "user/device"; LIKE would need escaping.
		w.add("(target = ? OR substr(target, 1, ?) = ?)", q.User, len(q.User)+1, q.User+"/")
	}
	if q.Actor != "" {
		w.add("actor = ?", q.Actor)
	}
	if !q.Since.IsZero() {
		w.add("time >= ?", ms(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("time < ?", ms(q.Until))
	}
	if q.Before > 0 {
		var t int64
		err := s.db.QueryRowContext(quiet(ctx), `SELECT time FROM audit WHERE id = ?`, q.Before).Scan(&t)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: no audit entry with ID %d", ErrBadFilter, q.Before)
		}
		if err != nil {
			return nil, s.wrap("audit", err)
		}
		w.add("(time, id) < (?, ?)", t, q.Before)
	}
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT id, time, actor, action, target, details FROM audit WHERE 1`+
		w.sql.String()+` ORDER BY time DESC, id DESC LIMIT ?`, append(w.args, clampLimit(q.Limit))...)
	if err != nil {
		return nil, s.wrap("audit", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var t int64
		if err := rows.Scan(&a.ID, &t, &a.Actor, &a.Action, &a.Target, &a.Details); err != nil {
			return nil, s.wrap("audit", err)
		}
		a.Time = time.UnixMilli(t).UTC()
		out = append(out, a)
	}
	return out, s.wrap("audit", rows.Err())
}

// Per says how a summary groups events.
type Per uint8

// Groupings. The zero value is invalid.
const (
	PerInvalid Per = iota
	PerNAS         // the RADIUS client, or the NAS-Identifier for events without one
	PerUser        // the normalised user name
)

var perNames = [...]string{"invalid", "nas", "user"}

// String returns "nas" or "user".
func (p Per) String() string {
	if int(p) < len(perNames) {
		return perNames[p]
	}
	return fmt.Sprintf("Per(%d)", p)
}

// ParsePer is the inverse of Per.String.
func ParsePer(s string) (Per, error) {
	for i, n := range perNames {
		if i > 0 && strings.EqualFold(n, s) {
			return Per(i), nil
		}
	}
	return PerInvalid, fmt.Errorf("%w: cannot summarise per %q (want nas or user)", ErrBadFilter, s)
}

// groupExpr is the SQL grouping key, valid for events, pushes and the
// rollups alike.
func (p Per) groupExpr() string {
	if p == PerUser {
		return "user_name"
	}
	return "CASE WHEN client <> '' THEN client ELSE nas_identifier END"
}

// SummaryQuery asks for totals per NAS or per user.
type SummaryQuery struct {
	Filter
	Per   Per
	Limit int // at most this many rows (default 100, at most MaxLimit)
}

// SummaryRow is the totals of one NAS or user.
type SummaryRow struct {
	Name        string // the NAS (client or NAS-Identifier) or user; '' for events without one
	Challenges  int64
	Successes   int64
	Failures    int64
	OuterWindow int64 // Outer Window Authentication
	Lockouts    int64 // Failure events "account locked"
	ClientIPs   int64 // distinct calling stations
	Approved    int64 // approved pushes: the latency sample
	LatencyP50  time.Duration
	LatencyP95  time.Duration
	TopFailures []ReasonCount // the most frequent failure messages, at most TopFailureCount
}

// ReasonCount is a failure message and how often it occurred.
type ReasonCount struct {
	Message string
	Count   int64
}

// TopFailureCount is how many failure reasons a SummaryRow lists.
const TopFailureCount = 3

// span is a half-open range of Unix milliseconds.
type span struct{ from, to int64 }

const (
	hourMS  = int64(time.Hour / time.Millisecond)
	dayMS   = 24 * hourMS
	noLimit = int64(1<<63 - 1)
)

func floorTo(t, unit int64) int64 { return t - t%unit }

func ceilTo(t, unit int64) int64 {
	if r := t % unit; r != 0 {
		return t - r + unit
	}
	return t
}

func (f Filter) span() span {
	sp := span{0, noLimit}
	if !f.Since.IsZero() {
		sp.from = max(ms(f.Since), 0)
	}
	if !f.Until.IsZero() {
		sp.to = ms(f.Until)
	}
	return sp
}

// within returns the filter restricted to a span.
func (f Filter) within(sp span) Filter {
	f.Since, f.Until = time.Time{}, time.Time{}
	if sp.from > 0 {
		f.Since = time.UnixMilli(sp.from)
	}
	if sp.to != noLimit {
		f.Until = time.UnixMilli(sp.to)
	}
	return f
}

// plan splits the filter's range into the part the rollups answer (whole
// buckets before days_done) and the raw-event parts around it. Without
// rollup, everything is raw.
func (s *Store) plan(ctx context.Context, f Filter, bucket int64, rollup bool) (span, []span, error) {
	all := f.span()
	if !rollup {
		return span{}, []span{all}, nil
	}
	var done int64
	if err := s.db.QueryRowContext(quiet(ctx), `SELECT days_done FROM report_state WHERE id = 1`).Scan(&done); err != nil {
		return span{}, nil, err
	}
	lo, hi := ceilTo(all.from, bucket), min(floorTo(all.to, bucket), done)
	if lo >= hi {
		return span{}, []span{all}, nil
	}
	var raw []span
	if all.from < lo {
		raw = append(raw, span{all.from, lo})
	}
	if hi < all.to {
		raw = append(raw, span{hi, all.to})
	}
	return span{lo, hi}, raw, nil
}

// tally is the totals of one group (a NAS, a user, a rollup row): what the
// rollups store and what summaries add up.
type tally struct {
	challenges, successes, failures, outerWindow, lockouts int64
	reasons                                                map[string]int64
	ips                                                    []uint64 // hashes, with duplicates until compacted
	latencies                                              []int64  // approved pushes, ms
}

// add counts pre-grouped events: their results, one failure reason (for
// the failures among them) and one client IP.
func (t *tally) add(c, s, f, o, l int64, reason, ip string) {
	t.challenges += c
	t.successes += s
	t.failures += f
	t.outerWindow += o
	t.lockouts += l
	if reason != "" && f > 0 {
		if t.reasons == nil {
			t.reasons = map[string]int64{}
		}
		t.reasons[reason] += f
	}
	if ip != "" {
		t.addIP(ipHash(ip))
	}
}

func (t *tally) addIP(h uint64) {
	// Compact now and then so that a busy NAS's day does not hold one
	// entry per event.
	if len(t.ips) >= 4096 && len(t.ips) == cap(t.ips) {
		t.compactIPs()
	}
	t.ips = append(t.ips, h)
}

// compactIPs sorts the IP hashes and drops duplicates.
func (t *tally) compactIPs() {
	slices.Sort(t.ips)
	t.ips = slices.Compact(t.ips)
}

// merge adds a stored rollup row.
func (t *tally) merge(c, s, f, o, l int64, reasons string, ips, latencies []byte) error {
	t.add(c, s, f, o, l, "", "")
	for prev := int64(0); len(latencies) > 0; {
		d, n := binary.Uvarint(latencies)
		if n <= 0 {
			return errors.New("rollup push_latencies: bad varint")
		}
		prev += int64(d)
		t.latencies = append(t.latencies, prev)
		latencies = latencies[n:]
	}
	if reasons != "" {
		var m map[string]int64
		if err := json.Unmarshal([]byte(reasons), &m); err != nil {
			return fmt.Errorf("rollup reasons: %w", err)
		}
		if t.reasons == nil {
			t.reasons = make(map[string]int64, len(m))
		}
		for k, v := range m {
			t.reasons[k] += v
		}
	}
	if len(ips)%8 != 0 {
		return errors.New("rollup client_ips: length not a multiple of 8")
	}
	for i := 0; i < len(ips); i += 8 {
		t.ips = append(t.ips, binary.LittleEndian.Uint64(ips[i:]))
	}
	return nil
}

// encode returns the reasons, client IPs and push latencies as stored in
// rollup rows.
func (t *tally) encode() (string, []byte, []byte) {
	reasons := ""
	if len(t.reasons) > 0 {
		b, _ := json.Marshal(t.reasons) // a map of strings to numbers always encodes
		reasons = string(b)
	}
	t.compactIPs()
	ips := make([]byte, 0, 8*len(t.ips))
	for _, h := range t.ips {
		ips = binary.LittleEndian.AppendUint64(ips, h)
	}
	slices.Sort(t.latencies)
	var lat []byte
	prev := int64(0)
	for _, d := range t.latencies {
		d = max(d, prev) // sorted; a negative latency (clock step) counts as the smallest
		lat = binary.AppendUvarint(lat, uint64(d-prev))
		prev = d
	}
	if lat == nil {
		lat = []byte{}
	}
	return reasons, ips, lat
}

// ipHash is 64-bit FNV-1a (hash/fnv's, without its allocation).
func ipHash(ip string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ip); i++ {
		h ^= uint64(ip[i])
		h *= 1099511628211
	}
	return h
}

// rollupTable says which rollup can answer a summary, or "" for none: the
// rollups have no result dimension, report_user_days no NAS, and a single
// user's events are cheapest through the (user_name, time) index.
func rollupTable(f Filter, per Per) string {
	switch {
	case f.User != "" || f.Results != nil:
		return ""
	case per == PerNAS:
		return "report_nas_days"
	case f.NAS == "":
		return "report_user_days"
	}
	return ""
}

// Summary returns totals per NAS or per user over the filter's range: most
// failures first, then most successes, then by name. Whole days come from
// the daily rollups where the filter allows (refreshed first, see
// RefreshReports), the rest from the event log. It counts every group
// first, then reads client IPs and failure reasons of the rows it returns
// only; push latency percentiles (nearest rank) come from the approved
// pushes themselves.
func (s *Store) Summary(ctx context.Context, q SummaryQuery) ([]SummaryRow, error) {
	if q.Per != PerNAS && q.Per != PerUser {
		return nil, fmt.Errorf("%w: summary per %v", ErrBadFilter, q.Per)
	}
	table := rollupTable(q.Filter, q.Per)
	if table != "" {
		// Best effort: on failure (busy, read-only) the raw events answer.
		_ = s.RefreshReports(ctx)
	}
	rollup, raw, err := s.plan(ctx, q.Filter, dayMS, table != "")
	if err != nil {
		return nil, s.wrap("summary", err)
	}
	g := q.Per.groupExpr()
	// The same rows of the rollup table and of events, with an optional
	// extra condition.
	rollupWhere := func(extra string, args ...any) (string, []any) {
		var w where
		w.add("day >= ?", rollup.from)
		w.add("day < ?", rollup.to)
		if q.NAS != "" {
			w.add("(client = ? OR nas_identifier = ?)", q.NAS, q.NAS)
		}
		w.in("method", methodNames(q.Methods))
		if extra != "" {
			w.add(extra, args...)
		}
		return w.sql.String(), w.args
	}
	rawWhere := func(sp span, extra string, args ...any) (string, []any) {
		var w where
		eventWhere(&w, q.Filter.within(sp), false)
		if extra != "" {
			w.add(extra, args...)
		}
		return w.sql.String(), w.args
	}

	// Counts of every group.
	counts := map[string]*SummaryRow{}
	scanCounts := func(query string, args ...any) error {
		rows, err := s.db.QueryContext(quiet(ctx), query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var c, su, f, o, l int64
			if err := rows.Scan(&name, &c, &su, &f, &o, &l); err != nil {
				return err
			}
			r := counts[name]
			if r == nil {
				r = &SummaryRow{Name: name}
				counts[name] = r
			}
			r.Challenges += c
			r.Successes += su
			r.Failures += f
			r.OuterWindow += o
			r.Lockouts += l
		}
		return rows.Err()
	}
	if rollup.to > rollup.from {
		cond, args := rollupWhere("")
		if err := scanCounts(`SELECT `+g+`, SUM(challenges), SUM(successes), SUM(failures), SUM(outer_window), SUM(lockouts)
			FROM `+table+` WHERE 1`+cond+` GROUP BY 1`, args...); err != nil {
			return nil, s.wrap("summary", err)
		}
	}
	for _, sp := range raw {
		cond, args := rawWhere(sp, "")
		if err := scanCounts(`SELECT `+g+`, SUM(result = 'Challenge'), SUM(result = 'Success'), SUM(result = 'Failure'),
				SUM(result = 'Outer Window Authentication'), SUM(result = 'Failure' AND message = ?)
			FROM events WHERE 1`+cond+` GROUP BY 1`, append([]any{LockoutMessage}, args...)...); err != nil {
			return nil, s.wrap("summary", err)
		}
	}
	out := make([]SummaryRow, 0, len(counts))
	for _, r := range counts {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Failures != b.Failures {
			return a.Failures > b.Failures
		}
		if a.Successes != b.Successes {
			return a.Successes > b.Successes
		}
		return a.Name < b.Name
	})
	if limit := clampLimit(q.Limit); len(out) > limit {
		out = out[:limit]
	}
	if len(out) == 0 {
		return out, nil
	}

	// Client IPs and failure reasons of the rows shown.
	names := make([]string, len(out))
	details := make(map[string]*tally, len(out))
	for i, r := range out {
		names[i] = r.Name
		details[r.Name] = &tally{}
	}
	shown, _ := json.Marshal(names) // strings always encode
	in := g + ` IN (SELECT value FROM json_each(?))`
	if rollup.to > rollup.from {
		cond, args := rollupWhere(in, string(shown))
		rows, err := s.db.QueryContext(quiet(ctx), `SELECT `+g+`, reasons, client_ips, push_latencies FROM `+table+` WHERE 1`+cond, args...)
		if err != nil {
			return nil, s.wrap("summary", err)
		}
		for rows.Next() {
			var name, reasons string
			var ips, latencies []byte
			if err := rows.Scan(&name, &reasons, &ips, &latencies); err != nil {
				rows.Close()
				return nil, s.wrap("summary", err)
			}
			if !pushRelevant(q.Filter) {
				latencies = nil
			}
			if t := details[name]; t != nil {
				if err := t.merge(0, 0, 0, 0, 0, reasons, ips, latencies); err != nil {
					rows.Close()
					return nil, s.wrap("summary", err)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return nil, s.wrap("summary", err)
		}
	}
	for _, sp := range raw {
		cond, args := rawWhere(sp, in, string(shown))
		rows, err := s.db.QueryContext(quiet(ctx), `SELECT `+g+`, calling_station, CASE WHEN result = 'Failure' THEN message ELSE '' END,
				SUM(result = 'Failure') FROM events WHERE 1`+cond+` GROUP BY 1, 2, 3`, args...)
		if err != nil {
			return nil, s.wrap("summary", err)
		}
		for rows.Next() {
			var name, ip, reason string
			var f int64
			if err := rows.Scan(&name, &ip, &reason, &f); err != nil {
				rows.Close()
				return nil, s.wrap("summary", err)
			}
			if t := details[name]; t != nil {
				t.add(0, 0, f, 0, 0, reason, ip)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, s.wrap("summary", err)
		}
	}
	if pushRelevant(q.Filter) {
		for _, sp := range raw {
			if err := s.rawLatencies(ctx, q.Filter.within(sp), q.Per, string(shown), details); err != nil {
				return nil, s.wrap("summary", err)
			}
		}
	}
	for i := range out {
		t := details[out[i].Name]
		t.compactIPs()
		out[i].ClientIPs = int64(len(t.ips))
		if n := len(t.latencies); n > 0 {
			slices.Sort(t.latencies)
			out[i].Approved = int64(n)
			out[i].LatencyP50 = time.Duration(percentile(t.latencies, 50)) * time.Millisecond
			out[i].LatencyP95 = time.Duration(percentile(t.latencies, 95)) * time.Millisecond
		}
		for m, n := range t.reasons {
			out[i].TopFailures = append(out[i].TopFailures, ReasonCount{m, n})
		}
		sort.Slice(out[i].TopFailures, func(a, b int) bool {
			x, y := out[i].TopFailures[a], out[i].TopFailures[b]
			return x.Count > y.Count || x.Count == y.Count && x.Message < y.Message
		})
		if len(out[i].TopFailures) > TopFailureCount {
			out[i].TopFailures = out[i].TopFailures[:TopFailureCount]
		}
	}
	return out, nil
}

// pushRelevant says whether push latencies belong in a summary with the
// filter: an approval is a Success event of method push.
func pushRelevant(f Filter) bool {
	return (f.Results == nil || slices.Contains(f.Results, mfa.ResultSuccess)) &&
		(f.Methods == nil || slices.Contains(f.Methods, mfa.MethodPush))
}

// rawLatencies adds the approval latencies of the pushes approved in the
// filter's range to the groups named in shown (a JSON array), from the
// pushes table (through the pushes_approved index, or a user's or NAS's).
func (s *Store) rawLatencies(ctx context.Context, f Filter, per Per, shown string, into map[string]*tally) error {
	var w where
	if f.User != "" {
		w.add("user_name = ?", f.User)
	}
	if f.NAS != "" {
		w.add("(client = ? OR nas_identifier = ?)", f.NAS, f.NAS)
	}
	sp := f.span()
	w.add("created_at >= ?", sp.from)
	w.add("created_at < ?", sp.to)
	w.add(per.groupExpr()+" IN (SELECT value FROM json_each(?))", shown)
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT `+per.groupExpr()+`, decided_at - created_at FROM pushes
		WHERE outcome = 'approved' AND decided_at IS NOT NULL`+w.sql.String(), w.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var d int64
		if err := rows.Scan(&name, &d); err != nil {
			return err
		}
		if t := into[name]; t != nil {
			t.latencies = append(t.latencies, d)
		}
	}
	return rows.Err()
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// SeriesQuery asks for event counts over time.
type SeriesQuery struct {
	Filter
	Step time.Duration // time.Hour or 24 * time.Hour; buckets start on UTC hours or days
}

// SeriesPoint is the counts of one time bucket.
type SeriesPoint struct {
	Start       time.Time
	Challenges  int64
	Successes   int64
	Failures    int64
	OuterWindow int64
	Lockouts    int64
}

// MaxSeriesPoints bounds a series: a year by the hour.
const MaxSeriesPoints = 366 * 24

// Series returns counts per hour or day over the filter's range, one point
// per bucket including empty ones, oldest first. Without Since it starts at
// the first event; without Until it ends now.
func (s *Store) Series(ctx context.Context, q SeriesQuery) ([]SeriesPoint, error) {
	step := q.Step.Milliseconds()
	if step != hourMS && step != dayMS {
		return nil, fmt.Errorf("%w: series step %s (want 1h or 24h)", ErrBadFilter, q.Step)
	}
	f := q.Filter
	if f.Since.IsZero() {
		var first sql.NullInt64
		if err := s.db.QueryRowContext(quiet(ctx), `SELECT MIN(time) FROM events`).Scan(&first); err != nil {
			return nil, s.wrap("series", err)
		}
		if !first.Valid {
			return nil, nil
		}
		f.Since = time.UnixMilli(first.Int64)
	}
	if f.Until.IsZero() {
		f.Until = s.now()
	}
	sp := f.span()
	start := floorTo(sp.from, step)
	n := (sp.to - start + step - 1) / step
	if n > MaxSeriesPoints {
		return nil, fmt.Errorf("%w: %d points is too many (at most %d): shorten the range or count by day", ErrBadFilter, n, MaxSeriesPoints)
	}
	if n <= 0 {
		return nil, nil
	}
	// report_hours has NAS and method but neither user nor message.
	useRollup := f.User == ""
	if useRollup {
		_ = s.RefreshReports(ctx)
	}
	rollup, raw, err := s.plan(ctx, f, hourMS, useRollup)
	if err != nil {
		return nil, s.wrap("series", err)
	}
	var parts []string
	var args []any
	if rollup.to > rollup.from {
		var w where
		w.add("hour >= ?", rollup.from)
		w.add("hour < ?", rollup.to)
		if f.NAS != "" {
			w.add("(client = ? OR nas_identifier = ?)", f.NAS, f.NAS)
		}
		w.in("method", methodNames(f.Methods))
		parts = append(parts, fmt.Sprintf(`SELECT hour, %s, %s, %s, %s, %s FROM report_hours WHERE 1%s`,
			resultCol(f, mfa.ResultChallenge, "challenges"), resultCol(f, mfa.ResultSuccess, "successes"),
			resultCol(f, mfa.ResultFailure, "failures"), resultCol(f, mfa.ResultOuterWindow, "outer_window"),
			resultCol(f, mfa.ResultFailure, "lockouts"), w.sql.String()))
		args = append(args, w.args...)
	}
	for _, sp := range raw {
		var w where
		eventWhere(&w, f.within(sp), false)
		parts = append(parts, `SELECT time, result = 'Challenge', result = 'Success', result = 'Failure',
			result = 'Outer Window Authentication', result = 'Failure' AND message = ? FROM events WHERE 1`+w.sql.String())
		args = append(append(args, LockoutMessage), w.args...)
	}
	query := `WITH src(t, c, s, f, o, l) AS (` + strings.Join(parts, " UNION ALL ") + `)
		SELECT t / ? * ?, SUM(c), SUM(s), SUM(f), SUM(o), SUM(l) FROM src GROUP BY 1`
	rows, err := s.db.QueryContext(quiet(ctx), query, append(args, step, step)...)
	if err != nil {
		return nil, s.wrap("series", err)
	}
	defer rows.Close()
	out := make([]SeriesPoint, n)
	for i := range out {
		out[i].Start = time.UnixMilli(start + int64(i)*step).UTC()
	}
	for rows.Next() {
		var b int64
		var p SeriesPoint
		if err := rows.Scan(&b, &p.Challenges, &p.Successes, &p.Failures, &p.OuterWindow, &p.Lockouts); err != nil {
			return nil, s.wrap("series", err)
		}
		if i := (b - start) / step; i >= 0 && i < n {
			p.Start = out[i].Start
			out[i] = p
		}
	}
	return out, s.wrap("series", rows.Err())
}

// resultCol selects a rollup count column, or 0 when the filter excludes
// that result.
func resultCol(f Filter, r mfa.Result, col string) string {
	if f.Results == nil || slices.Contains(f.Results, r) {
		return col
	}
	return "0"
}

// Rollup maintenance.
const (
	// rollupSettle is how long after a day ends it is rolled up: events
	// are stamped when decided and committed within seconds.
	rollupSettle = 15 * time.Minute
	// rollupLease is how long a builder may go silent before another
	// process takes over.
	rollupLease = time.Minute
	// rollupChunk is the most rollup rows written per transaction, so the
	// write lock is held for a few milliseconds at a time.
	rollupChunk = 500
)

// errLeaseLost means another process took over building the rollups.
var errLeaseLost = errors.New("sqlite: rollup lease lost")

// RefreshReports extends the report rollups to the last complete UTC day
// (15 minutes after it ended). It reads each missing day's events, then
// writes the day's rollup rows in transactions of a few hundred rows, so
// authentications never wait for it for more than a few milliseconds.
// Concurrent callers do not duplicate work: one holds a lease, the others
// return at once. Summary and Series call it; radmfa serve should call it
// daily. A day's events must be in the log by the time it is rolled up: an
// event written later with an older time is missing from summaries that use
// the rollups (the event log itself still has it).
func (s *Store) RefreshReports(ctx context.Context) error {
	target := floorTo(ms(s.now().Add(-rollupSettle)), dayMS)
	var done int64
	if err := s.db.QueryRowContext(quiet(ctx), `SELECT days_done FROM report_state WHERE id = 1`).Scan(&done); err != nil {
		return s.wrap("rollups", err)
	}
	if done >= target {
		return nil
	}
	owner := rand.Text()
	done, ok, err := s.takeLease(ctx, owner, target)
	if err != nil || !ok {
		return s.wrap("rollups", err)
	}
	defer s.releaseLease(context.WithoutCancel(ctx), owner)
	// One goroutine reads and sums the next day while this one writes the
	// last: the two halves take about as long each.
	type dayRows struct {
		day    int64 // -1: no events in the days left
		tables []rollupRows
		err    error
	}
	work, cancel := context.WithCancel(ctx)
	days := make(chan dayRows, 1)
	go func() {
		defer close(days)
		for d := done; d < target; d += dayMS {
			// Skip days without events.
			var next sql.NullInt64
			err := s.db.QueryRowContext(quiet(work), `SELECT MIN(time) FROM events WHERE time >= ?`, d).Scan(&next)
			r := dayRows{day: -1, err: err}
			if err == nil && next.Valid && floorTo(next.Int64, dayMS) < target {
				d = max(d, floorTo(next.Int64, dayMS))
				r.day = d
				r.tables, r.err = s.sumDay(work, d)
			}
			select {
			case days <- r:
			case <-work.Done():
				return
			}
			if r.err != nil || r.day < 0 {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range days { // wait for the reader
		}
	}()
	for r := range days {
		if r.err != nil {
			return s.wrap("rollups", r.err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.day < 0 {
			return s.wrap("rollups", s.rollupWrite(ctx, owner, done, nil, target))
		}
		if err := s.rollupWrite(ctx, owner, r.day, r.tables, r.day+dayMS); err != nil {
			return s.wrap("rollups", err)
		}
		done = r.day + dayMS
	}
	return nil
}

// takeLease makes owner the rollup builder unless another live builder
// is at work or nothing is missing; it returns where building starts.
func (s *Store) takeLease(ctx context.Context, owner string, target int64) (int64, bool, error) {
	t, err := s.beginTx(ctx)
	if err != nil {
		return 0, false, err
	}
	defer t.Rollback()
	var done, until int64
	var holder string
	if err := t.QueryRowContext(quiet(ctx), `SELECT days_done, lease_owner, lease_until FROM report_state WHERE id = 1`).Scan(&done, &holder, &until); err != nil {
		return 0, false, err
	}
	now := ms(s.now())
	if done >= target || holder != "" && until > now {
		return 0, false, nil
	}
	if done == 0 {
		// A new log (or a log from before schema 3): start at the first
		// event's day, or later: nothing to do without events.
		var first sql.NullInt64
		if err := t.QueryRowContext(quiet(ctx), `SELECT MIN(time) FROM events`).Scan(&first); err != nil {
			return 0, false, err
		}
		if !first.Valid {
			return 0, false, nil
		}
		done = floorTo(first.Int64, dayMS)
	}
	if _, err := t.ExecContext(quiet(ctx), `UPDATE report_state SET days_done = ?, lease_owner = ?, lease_until = ? WHERE id = 1`,
		done, owner, now+rollupLease.Milliseconds()); err != nil {
		return 0, false, err
	}
	return done, true, t.Commit()
}

func (s *Store) releaseLease(ctx context.Context, owner string) {
	t, err := s.beginTx(ctx)
	if err != nil {
		return
	}
	defer t.Rollback()
	if _, err := t.ExecContext(quiet(ctx), `UPDATE report_state SET lease_owner = '', lease_until = 0 WHERE id = 1 AND lease_owner = ?`, owner); err == nil {
		t.Commit()
	}
}

// rollupRows are rows for one rollup table: its INSERT prefix and values.
type rollupRows struct {
	insert string
	rows   [][]any
}

type nasKey struct{ client, nasID, method string }
type userKey struct{ user, method string }
type hourKey struct {
	hour                  int64
	client, nasID, method string
}

// sumDay reads one day's events and approved pushes in a single pass and
// sums them per NAS, per user and per hour, as rollup rows.
func (s *Store) sumDay(ctx context.Context, day int64) ([]rollupRows, error) {
	nas := map[nasKey]*tally{}
	users := map[userKey]*tally{}
	hours := map[hourKey]*tally{}
	// Results as numbers and messages only for failures: less text to
	// copy out of SQLite for each of the day's events.
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT time / ? * ?, user_name, client, nas_identifier, method, calling_station,
			CASE result WHEN 'Challenge' THEN 1 WHEN 'Success' THEN 2 WHEN 'Failure' THEN 3 WHEN 'Outer Window Authentication' THEN 4 ELSE 0 END,
			CASE WHEN result = 'Failure' THEN message ELSE '' END
		FROM events WHERE time >= ? AND time < ?`, hourMS, hourMS, day, day+dayMS)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var hour int64
		var result int
		var user, client, nasID, method, ip, reason string
		if err := rows.Scan(&hour, &user, &client, &nasID, &method, &ip, &result, &reason); err != nil {
			rows.Close()
			return nil, err
		}
		var c, su, f, o, l int64
		switch result {
		case 1:
			c = 1
		case 2:
			su = 1
		case 3:
			f = 1
			if reason == LockoutMessage {
				l = 1
			}
		case 4:
			o = 1
		}
		get(nas, nasKey{client, nasID, method}).add(c, su, f, o, l, reason, ip)
		get(users, userKey{user, method}).add(c, su, f, o, l, reason, ip)
		// Hours keep counts only.
		get(hours, hourKey{hour, client, nasID, method}).add(c, su, f, o, l, "", "")
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(quiet(ctx), `SELECT user_name, client, nas_identifier, decided_at - created_at FROM pushes
		WHERE outcome = 'approved' AND decided_at IS NOT NULL AND created_at >= ? AND created_at < ?`, day, day+dayMS)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var user, client, nasID string
		var d int64
		if err := rows.Scan(&user, &client, &nasID, &d); err != nil {
			rows.Close()
			return nil, err
		}
		n, u := get(nas, nasKey{client, nasID, string(mfa.MethodPush)}), get(users, userKey{user, string(mfa.MethodPush)})
		n.latencies = append(n.latencies, d)
		u.latencies = append(u.latencies, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts := func(t *tally) []any {
		return []any{t.challenges, t.successes, t.failures, t.outerWindow, t.lockouts}
	}
	nasRows := rollupRows{insert: `INSERT INTO report_nas_days (day, client, nas_identifier, method,
		challenges, successes, failures, outer_window, lockouts, reasons, client_ips, push_latencies) VALUES `}
	for k, t := range nas {
		reasons, ips, lat := t.encode()
		nasRows.rows = append(nasRows.rows, append(append([]any{day, k.client, k.nasID, k.method}, counts(t)...), reasons, ips, lat))
	}
	userRows := rollupRows{insert: `INSERT INTO report_user_days (day, user_name, method,
		challenges, successes, failures, outer_window, lockouts, reasons, client_ips, push_latencies) VALUES `}
	for k, t := range users {
		reasons, ips, lat := t.encode()
		userRows.rows = append(userRows.rows, append(append([]any{day, k.user, k.method}, counts(t)...), reasons, ips, lat))
	}
	hourRows := rollupRows{insert: `INSERT INTO report_hours (hour, client, nas_identifier, method,
		challenges, successes, failures, outer_window, lockouts) VALUES `}
	for k, t := range hours {
		hourRows.rows = append(hourRows.rows, append([]any{k.hour, k.client, k.nasID, k.method}, counts(t)...))
	}
	return []rollupRows{nasRows, userRows, hourRows}, nil
}

func get[K comparable](m map[K]*tally, k K) *tally {
	t := m[k]
	if t == nil {
		t = &tally{}
		m[k] = t
	}
	return t
}

// rollupWrite writes a day's rollup rows in chunks, first removing rows a
// crashed builder may have left for this day or later, and advances
// days_done to next with the last chunk. Every chunk checks that owner
// still holds the lease (and extends it).
func (s *Store) rollupWrite(ctx context.Context, owner string, day int64, tables []rollupRows, next int64) error {
	var chunks []rollupRows
	for _, t := range tables {
		for rows := t.rows; len(rows) > 0; {
			n := min(rollupChunk, len(rows))
			chunks = append(chunks, rollupRows{t.insert, rows[:n]})
			rows = rows[n:]
		}
	}
	if len(chunks) == 0 {
		chunks = append(chunks, rollupRows{})
	}
	for i, c := range chunks {
		err := func() error {
			t, err := s.beginTx(ctx)
			if err != nil {
				return err
			}
			defer t.Rollback()
			res, err := t.ExecContext(quiet(ctx), `UPDATE report_state SET lease_until = ? WHERE id = 1 AND lease_owner = ?`,
				ms(s.now())+rollupLease.Milliseconds(), owner)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return errLeaseLost
			}
			if i == 0 {
				for _, q := range []string{`DELETE FROM report_nas_days WHERE day >= ?`, `DELETE FROM report_user_days WHERE day >= ?`,
					`DELETE FROM report_hours WHERE hour >= ?`} {
					if _, err := t.ExecContext(quiet(ctx), q, day); err != nil {
						return err
					}
				}
			}
			// At most 100 rows per statement keeps under SQLite's limit
			// of bound parameters.
			for rows := c.rows; len(rows) > 0; {
				n := min(100, len(rows))
				one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(rows[0])), ",") + ")"
				var args []any
				for _, r := range rows[:n] {
					args = append(args, r...)
				}
				if _, err := t.ExecContext(quiet(ctx), c.insert+strings.TrimSuffix(strings.Repeat(one+",", n), ","), args...); err != nil {
					return err
				}
				rows = rows[n:]
			}
			if i == len(chunks)-1 {
				if _, err := t.ExecContext(quiet(ctx), `UPDATE report_state SET days_done = ? WHERE id = 1`, next); err != nil {
					return err
				}
			}
			return t.Commit()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// csvCell defuses text that a spreadsheet would run as a formula: user
// names and messages are attacker-controlled (OWASP "CSV injection").
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

const csvTime = "2006-01-02T15:04:05.000Z07:00"

// EventColumns names the fields of EventRow.Record (CSV headers).
var EventColumns = []string{"id", "time", "tx_id", "user", "result", "method", "trigger", "message", "device",
	"front_door", "node", "client", "nas_ip_address", "nas_identifier", "called_station_id", "calling_station_id", "resource"}

// Record is the event as CSV fields (see EventColumns); text that would
// start a spreadsheet formula is prefixed with a quote.
func (r EventRow) Record() []string {
	trigger := ""
	if r.Trigger != mfa.TriggerInvalid {
		trigger = r.Trigger.String()
	}
	return []string{strconv.FormatInt(r.ID, 10), r.Time.Format(csvTime), csvCell(r.TxID), csvCell(r.User), r.Result.String(),
		string(r.Method), trigger, csvCell(r.Message), csvCell(r.Device), r.FrontDoor.String(), csvCell(r.Node), csvCell(r.Client),
		csvCell(r.NASIPAddress), csvCell(r.NASIdentifier), csvCell(r.CalledStationID), csvCell(r.CallingStationID), csvCell(r.Resource)}
}

// PushColumns names the fields of PushRow.Record.
var PushColumns = []string{"id", "time", "tx_id", "user", "resource", "client_ip", "variant", "number_shown", "outcome",
	"latency_s", "flow", "client", "nas_identifier", "decided", "expires"}

func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(csvTime)
}

// Record is the push as CSV fields (see PushColumns).
func (p PushRow) Record() []string {
	latency := ""
	if !p.Decided.IsZero() {
		latency = strconv.FormatFloat(p.Latency().Seconds(), 'f', 3, 64)
	}
	return []string{strconv.FormatInt(p.ID, 10), p.Created.Format(csvTime), csvCell(p.TxID), csvCell(p.User), csvCell(p.Resource),
		csvCell(p.CallingStation), p.Variant, csvCell(p.Number), p.OutcomeText(), latency, p.Flow, csvCell(p.Client),
		csvCell(p.NASIdentifier), optTime(p.Decided), optTime(p.Expires)}
}

// SummaryColumns names the fields of SummaryRow.Record after the name
// column (named for the grouping: nas or user).
var SummaryColumns = []string{"successes", "failures", "challenges", "outer_window", "lockouts", "client_ips",
	"pushes_approved", "push_latency_p50_s", "push_latency_p95_s", "top_failures"}

// Record is the summary row as CSV fields: the name, then SummaryColumns.
// Top failures read "message (count); message (count)".
func (r SummaryRow) Record() []string {
	var top []string
	for _, t := range r.TopFailures {
		top = append(top, fmt.Sprintf("%s (%d)", t.Message, t.Count))
	}
	lat := func(d time.Duration) string {
		if r.Approved == 0 {
			return ""
		}
		return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	}
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{csvCell(r.Name), i(r.Successes), i(r.Failures), i(r.Challenges), i(r.OuterWindow), i(r.Lockouts),
		i(r.ClientIPs), i(r.Approved), lat(r.LatencyP50), lat(r.LatencyP95), csvCell(strings.Join(top, "; "))}
}

// SeriesColumns names the fields of SeriesPoint.Record.
var SeriesColumns = []string{"start", "successes", "failures", "challenges", "outer_window", "lockouts"}

// Record is the point as CSV fields (see SeriesColumns).
func (p SeriesPoint) Record() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{p.Start.Format(csvTime), i(p.Successes), i(p.Failures), i(p.Challenges), i(p.OuterWindow), i(p.Lockouts)}
}

// AuditColumns names the fields of AuditEntry.Record.
var AuditColumns = []string{"id", "time", "actor", "action", "target", "details"}

// Record is the entry as CSV fields (see AuditColumns).
func (a AuditEntry) Record() []string {
	return []string{strconv.FormatInt(a.ID, 10), a.Time.Format(csvTime), csvCell(a.Actor), a.Action, csvCell(a.Target), csvCell(a.Details)}
}
