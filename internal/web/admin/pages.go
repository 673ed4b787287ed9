package admin

import (
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// funcs are the template helpers.
var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"secs": func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s" },
	"dash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	"pages": func() []string { return []string{"summary", "activity", "push", "transaction", "audit"} },
	"add":   func(a, b float64) float64 { return a + b },
	"sub":   func(a, b float64) float64 { return a - b },
}

// pageData is what the report templates get; each page fills its part.
type pageData struct {
	Page  string // the nav entry: activity, push, summary, transaction, audit
	Admin string
	CSRF  string // for the logout form
	Form  form
	Error string
	CSV   string // download link of what is shown
	// SeriesCSV downloads the chart's data.
	SeriesCSV string
	Next      string // link to the next page, if any

	Events  []sqlite.EventRow
	Pushes  []sqlite.PushRow
	Summary []sqlite.SummaryRow
	Chart   *chart
	Tx      *sqlite.Transaction
	Audit   []sqlite.AuditEntry
}

// form is the filter form as typed, to show it again.
type form struct {
	sqlite.FilterText
	Limit  string
	Per    string
	By     string
	Actor  string
	TxID   string
	Before string
}

const defaultLimit = 50

func readForm(r *http.Request) form {
	q := r.URL.Query()
	f := form{FilterText: sqlite.FilterText{User: q.Get("user"), NAS: q.Get("nas"), Result: q.Get("result"),
		Method: q.Get("method"), Since: q.Get("since"), Until: q.Get("until")},
		Limit: q.Get("limit"), Per: q.Get("per"), By: q.Get("by"), Actor: q.Get("actor"), TxID: q.Get("id"), Before: q.Get("before")}
	return f
}

// limits parses limit and before.
func (f form) limits() (int, int64, error) {
	limit := defaultLimit
	if f.Limit != "" {
		n, err := strconv.Atoi(f.Limit)
		if err != nil || n < 1 || n > sqlite.MaxLimit {
			return 0, 0, fmt.Errorf("limit %q: want 1 to %d", f.Limit, sqlite.MaxLimit)
		}
		limit = n
	}
	var before int64
	if f.Before != "" {
		n, err := strconv.ParseInt(f.Before, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("before %q: want an ID from a previous page", f.Before)
		}
		before = n
	}
	return limit, before, nil
}

func (h *handler) data(page string, r *http.Request, s session) pageData {
	return pageData{Page: page, Admin: s.name, CSRF: s.csrf, Form: readForm(r)}
}

// badInput shows the page with the error and no rows.
func (h *handler) badInput(w http.ResponseWriter, page string, d pageData, err error) {
	d.Error = strings.ReplaceAll(err.Error(), sqlite.ErrBadFilter.Error()+": ", "")
	h.render(w, http.StatusBadRequest, page, d)
}

// failed reports a store error without details to the browser.
func (h *handler) failed(w http.ResponseWriter, page string, err error) {
	h.log.Error().Err(err).Str("page", page).Msg("admin report failed")
	http.Error(w, "the report failed; see radmfa's log", http.StatusInternalServerError)
}

// withParam returns the request's URL with one query parameter changed
// ("" removes it).
func withParam(r *http.Request, key, value string) string {
	q := r.URL.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

func writeCSV(w http.ResponseWriter, name string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="radmfa-`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.WriteAll(rows)
}

func (h *handler) activity(w http.ResponseWriter, r *http.Request, s session) {
	d := h.data("activity", r, s)
	f, err := d.Form.Parse(h.now(), h.cfg.Users)
	if err != nil {
		h.badInput(w, "activity", d, err)
		return
	}
	limit, before, err := d.Form.limits()
	if err != nil {
		h.badInput(w, "activity", d, err)
		return
	}
	events, err := h.reports.Activity(r.Context(), sqlite.ActivityQuery{Filter: f, Limit: limit, Before: before})
	if errors.Is(err, sqlite.ErrBadFilter) {
		h.badInput(w, "activity", d, err)
		return
	}
	if err != nil {
		h.failed(w, "activity", err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		var rows [][]string
		for _, e := range events {
			rows = append(rows, e.Record())
		}
		writeCSV(w, "activity", sqlite.EventColumns, rows)
		return
	}
	d.Events = events
	d.CSV = withParam(r, "format", "csv")
	if len(events) == limit {
		d.Next = withParam(r, "before", strconv.FormatInt(events[len(events)-1].ID, 10))
	}
	h.render(w, http.StatusOK, "activity", d)
}

func (h *handler) push(w http.ResponseWriter, r *http.Request, s session) {
	d := h.data("push", r, s)
	outcomes, err := sqlite.ParseOutcomes(d.Form.Result)
	if err != nil {
		h.badInput(w, "push", d, err)
		return
	}
	text := d.Form.FilterText
	text.Result, text.Method = "", ""
	f, err := text.Parse(h.now(), h.cfg.Users)
	if err != nil {
		h.badInput(w, "push", d, err)
		return
	}
	limit, before, err := d.Form.limits()
	if err != nil {
		h.badInput(w, "push", d, err)
		return
	}
	pushes, err := h.reports.Pushes(r.Context(), sqlite.PushQuery{Filter: f, Outcomes: outcomes, Limit: limit, Before: before})
	if errors.Is(err, sqlite.ErrBadFilter) {
		h.badInput(w, "push", d, err)
		return
	}
	if err != nil {
		h.failed(w, "push", err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		var rows [][]string
		for _, p := range pushes {
			rows = append(rows, p.Record())
		}
		writeCSV(w, "push", sqlite.PushColumns, rows)
		return
	}
	d.Pushes = pushes
	d.CSV = withParam(r, "format", "csv")
	if len(pushes) == limit {
		d.Next = withParam(r, "before", strconv.FormatInt(pushes[len(pushes)-1].ID, 10))
	}
	h.render(w, http.StatusOK, "push", d)
}

// defaultSummaryRange is the summary page's range without --since.
const defaultSummaryRange = "30d"

func (h *handler) summary(w http.ResponseWriter, r *http.Request, s session) {
	d := h.data("summary", r, s)
	if d.Form.Since == "" {
		d.Form.Since = defaultSummaryRange
	}
	if d.Form.Per == "" {
		d.Form.Per = "nas"
	}
	f, err := d.Form.Parse(h.now(), h.cfg.Users)
	if err != nil {
		h.badInput(w, "summary", d, err)
		return
	}
	per, err := sqlite.ParsePer(d.Form.Per)
	if err != nil {
		h.badInput(w, "summary", d, err)
		return
	}
	limit, _, err := d.Form.limits()
	if err != nil {
		h.badInput(w, "summary", d, err)
		return
	}
	// The chart: by hour over three days or less, else by day.
	until := f.Until
	if until.IsZero() {
		until = h.now()
	}
	step := 24 * time.Hour
	switch d.Form.By {
	case "hour":
		step = time.Hour
	case "day":
	case "":
		if until.Sub(f.Since) <= 3*24*time.Hour {
			step, d.Form.By = time.Hour, "hour"
		} else {
			d.Form.By = "day"
		}
	default:
		h.badInput(w, "summary", d, fmt.Errorf("by %q: want day or hour", d.Form.By))
		return
	}
	points, err := h.reports.Series(r.Context(), sqlite.SeriesQuery{Filter: f, Step: step})
	if errors.Is(err, sqlite.ErrBadFilter) {
		h.badInput(w, "summary", d, err)
		return
	}
	if err != nil {
		h.failed(w, "summary", err)
		return
	}
	q := r.URL.Query()
	if q.Get("format") == "csv" && q.Get("series") != "" {
		var rows [][]string
		for _, p := range points {
			rows = append(rows, p.Record())
		}
		writeCSV(w, "series", sqlite.SeriesColumns, rows)
		return
	}
	rows, err := h.reports.Summary(r.Context(), sqlite.SummaryQuery{Filter: f, Per: per, Limit: limit})
	if err != nil {
		h.failed(w, "summary", err)
		return
	}
	if q.Get("format") == "csv" {
		var recs [][]string
		for _, row := range rows {
			recs = append(recs, row.Record())
		}
		writeCSV(w, "summary-per-"+per.String(), append([]string{per.String()}, sqlite.SummaryColumns...), recs)
		return
	}
	d.Summary = rows
	d.Chart = newChart(points, step)
	d.CSV = withParam(r, "format", "csv")
	q.Set("format", "csv")
	q.Set("series", "1")
	d.SeriesCSV = (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String()
	h.render(w, http.StatusOK, "summary", d)
}

func (h *handler) transaction(w http.ResponseWriter, r *http.Request, s session) {
	d := h.data("transaction", r, s)
	id := strings.TrimSpace(d.Form.TxID)
	if id == "" {
		h.render(w, http.StatusOK, "transaction", d)
		return
	}
	tx, err := h.reports.Transaction(r.Context(), id)
	if errors.Is(err, mfa.ErrNotFound) {
		d.Error = fmt.Sprintf("No transaction %q.", id)
		h.render(w, http.StatusNotFound, "transaction", d)
		return
	}
	if err != nil {
		h.failed(w, "transaction", err)
		return
	}
	d.Tx = &tx
	h.render(w, http.StatusOK, "transaction", d)
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request, s session) {
	d := h.data("audit", r, s)
	text := sqlite.FilterText{User: d.Form.User, Since: d.Form.Since, Until: d.Form.Until}
	f, err := text.Parse(h.now(), h.cfg.Users)
	if err != nil {
		h.badInput(w, "audit", d, err)
		return
	}
	limit, before, err := d.Form.limits()
	if err != nil {
		h.badInput(w, "audit", d, err)
		return
	}
	entries, err := h.reports.AuditLog(r.Context(), sqlite.AuditQuery{User: f.User, Actor: d.Form.Actor, Since: f.Since, Until: f.Until,
		Limit: limit, Before: before})
	if errors.Is(err, sqlite.ErrBadFilter) {
		h.badInput(w, "audit", d, err)
		return
	}
	if err != nil {
		h.failed(w, "audit", err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		var rows [][]string
		for _, a := range entries {
			rows = append(rows, a.Record())
		}
		writeCSV(w, "audit", sqlite.AuditColumns, rows)
		return
	}
	d.Audit = entries
	d.CSV = withParam(r, "format", "csv")
	if len(entries) == limit {
		d.Next = withParam(r, "before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
	}
	h.render(w, http.StatusOK, "audit", d)
}
