package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

func (c *cli) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Query the event log",
		Long: `Reports read the event log radmfa keeps in its database. Every authentication
step is one event with a result in SafeNet's vocabulary: Challenge (a code was
asked for, a push sent), Success, Failure, Outer Window Authentication. Each
push is also stored once with its own outcome (approved, denied, no response,
superseded), which the push history shows.

  activity      the event log, newest first
  push          push history, newest first, one row per push
  summary       totals per NAS or per user; --by day|hour for a time series
  transaction   every step of one authentication
  audit         admin actions (user and device changes)
  prune         delete old events (see also [retention] in the config)

Filters (where they apply): --user, --nas (the RADIUS client or the
NAS-Identifier), --result, --method, --since and --until (a duration before
now such as 24h or 30d, a date such as 2026-11-01, or an RFC 3339 time; times
without a zone are UTC; --until is exclusive). Output: --format table (the
default), csv or json; --json is short for --format json. --limit and
--before page through long reports. Times are shown in UTC.`,
	}
	// A parent command: an unknown subcommand is a usage error, not help.
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	cmd.AddCommand(c.reportActivityCommand(), c.reportPushCommand(), c.reportSummaryCommand(),
		c.reportTransactionCommand(), c.reportAuditCommand(), c.reportPruneCommand())
	return cmd
}

// maxReportLimit bounds --limit.
const maxReportLimit = sqlite.MaxLimit

// reportFlags are the filter, format and paging flags of the reports.
type reportFlags struct {
	text   sqlite.FilterText
	format string
	asJSON bool
	limit  int
	before int64
}

// Which flags a report takes.
const (
	flagFilters = 1 << iota // --user --nas --result --method --since --until
	flagPaging              // --limit --before
)

func (rf *reportFlags) register(f *pflag.FlagSet, which int, resultHelp string) {
	if which&flagFilters != 0 {
		f.StringVar(&rf.text.User, "user", "", "only this user")
		f.StringVar(&rf.text.NAS, "nas", "", "only this NAS: RADIUS client (short name or IP) or NAS-Identifier")
		f.StringVar(&rf.text.Result, "result", "", resultHelp)
		f.StringVar(&rf.text.Method, "method", "", "only these methods, comma-separated: totp, hotp, push, sms, email, bypass, none")
		f.StringVar(&rf.text.Since, "since", "", "from this time on: a duration before now (24h, 30d), a date or an RFC 3339 time")
		f.StringVar(&rf.text.Until, "until", "", "before this time (same forms as --since)")
	}
	if which&flagPaging != 0 {
		f.IntVar(&rf.limit, "limit", 50, "show at most this many rows (1 to 10000)")
		f.Int64Var(&rf.before, "before", 0, "show rows older than this ID (paging: the ID of the last row shown)")
	}
	f.StringVarP(&rf.format, "format", "o", "table", "output format: table, csv or json")
	f.BoolVar(&rf.asJSON, "json", false, "print JSON (short for --format json)")
}

// check validates the flags and returns the output format.
func (rf *reportFlags) check(cmd *cobra.Command) (string, error) {
	format := strings.ToLower(rf.format)
	if rf.asJSON {
		if cmd.Flags().Changed("format") && format != "json" {
			return "", usagef("--json and --format %s contradict each other", rf.format)
		}
		format = "json"
	}
	if format != "table" && format != "csv" && format != "json" {
		return "", usagef("--format %s: want table, csv or json", rf.format)
	}
	if f := cmd.Flags().Lookup("limit"); f != nil && (rf.limit < 1 || rf.limit > maxReportLimit) {
		return "", usagef("--limit %d: want 1 to %d", rf.limit, maxReportLimit)
	}
	if rf.before < 0 {
		return "", usagef("--before %d: want an ID from a previous page", rf.before)
	}
	return format, nil
}

// refuse rejects flags a report registers only to explain that they do not
// apply (they are hidden from its help).
func refuse(cmd *cobra.Command, why string, names ...string) error {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return usagef("--%s: %s", n, why)
		}
	}
	return nil
}

// filter parses the filter flags; now anchors durations.
func (rf *reportFlags) filter(cfg *config, now time.Time) (sqlite.Filter, error) {
	f, err := rf.text.Parse(now, cfg.Users)
	return f, badFilter(err)
}

// badFilter turns filter errors into usage errors, with the flag names.
func badFilter(err error) error {
	if err == nil || !errors.Is(err, sqlite.ErrBadFilter) {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), sqlite.ErrBadFilter.Error()+": ", "")
	for _, name := range []string{"since", "until"} {
		if strings.HasPrefix(msg, name+": ") {
			msg = "--" + msg
		}
	}
	return usageError{errors.New(msg)}
}

// moreHint tells how to get the next page: the same command and flags with
// --before set.
func moreHint(w io.Writer, cmd *cobra.Command, next int64) {
	var flags []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "before" {
			flags = append(flags, "--"+f.Name+" "+shellQuote(f.Value.String()))
		}
	})
	fmt.Fprintf(w, "More: %s %s\n", strings.Join(append([]string{cmd.CommandPath()}, flags...), " "), "--before "+strconv.FormatInt(next, 10))
}

// shellQuote quotes a flag value for copying into a shell when needed.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withStore loads the config and opens the database for a report.
func (c *cli) withStore(ctx context.Context, fn func(*config, *sqlite.Store) error) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	return c.withConfigStore(ctx, cfg, fn)
}

func (c *cli) withConfigStore(ctx context.Context, cfg *config, fn func(*config, *sqlite.Store) error) error {
	store, err := c.openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	return badFilter(fn(cfg, store))
}

// cell makes text safe for a terminal table: control characters (escape
// sequences in a user name or a Calling-Station-Id) are shown escaped, and
// empty text as "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return mfa.Printable(s)
}

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.WriteAll(rows)
	return cw.Error()
}

const tableTime = "2006-01-02 15:04:05.000"

func (c *cli) reportActivityCommand() *cobra.Command {
	var rf reportFlags
	cmd := &cobra.Command{
		Use:   "activity",
		Short: "The event log, newest first",
		Long: `Print the event log, newest first: time (UTC), transaction, user, result,
method, trigger class (what kind of passcode was typed; never the code), message
and where the request came from. CSV and JSON carry every field (NAS-IP-Address,
NAS-Identifier, stations, resource, front door, node). Page back with --before
ID, using the ID column of the last row shown.`,
		Example: `  radmfa report activity
  radmfa report activity --user alice --limit 20
  radmfa report activity --result failure --since 24h
  radmfa report activity --nas vpn-gw --since 2026-11-01 --until 2026-11-02 --format csv > nov1.csv
  radmfa report activity --json | jq '.[] | select(.result == "Failure")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := rf.check(cmd)
			if err != nil {
				return err
			}
			return c.withStore(cmd.Context(), func(cfg *config, store *sqlite.Store) error {
				f, err := rf.filter(cfg, time.Now())
				if err != nil {
					return err
				}
				events, err := store.Activity(cmd.Context(), sqlite.ActivityQuery{Filter: f, Limit: rf.limit, Before: rf.before})
				if err != nil {
					return err
				}
				switch format {
				case "json":
					out := make([]eventJSON, 0, len(events))
					for _, e := range events {
						out = append(out, toEventJSON(e))
					}
					return writeJSON(c.stdout, out)
				case "csv":
					var rows [][]string
					for _, e := range events {
						rows = append(rows, e.Record())
					}
					return writeCSV(c.stdout, sqlite.EventColumns, rows)
				}
				if len(events) == 0 {
					fmt.Fprintln(c.stdout, "No events.")
					return nil
				}
				printEvents(c.stdout, events)
				if len(events) == rf.limit {
					moreHint(c.stdout, cmd, events[len(events)-1].ID)
				}
				return nil
			})
		},
	}
	rf.register(cmd.Flags(), flagFilters|flagPaging, "only these results, comma-separated: challenge, success, failure, outer")
	return cmd
}

// eventJSON is the JSON form of an event.
type eventJSON struct {
	ID               int64     `json:"id"`
	Time             time.Time `json:"time"`
	TxID             string    `json:"tx_id"`
	User             string    `json:"user"`
	Result           string    `json:"result"`
	Method           string    `json:"method"`
	Trigger          string    `json:"trigger"`
	Message          string    `json:"message"`
	Device           string    `json:"device"`
	FrontDoor        string    `json:"front_door"`
	Node             string    `json:"node"`
	Client           string    `json:"client"`
	NASIPAddress     string    `json:"nas_ip_address"`
	NASIdentifier    string    `json:"nas_identifier"`
	CalledStationID  string    `json:"called_station_id"`
	CallingStationID string    `json:"calling_station_id"`
	Resource         string    `json:"resource"`
}

func toEventJSON(e sqlite.EventRow) eventJSON {
	trigger := ""
	if e.Trigger != 0 {
		trigger = e.Trigger.String()
	}
	return eventJSON{ID: e.ID, Time: e.Time, TxID: e.TxID, User: e.User, Result: e.Result.String(),
		Method: string(e.Method), Trigger: trigger, Message: e.Message, Device: e.Device, FrontDoor: e.FrontDoor.String(),
		Node: e.Node, Client: e.Client, NASIPAddress: e.NASIPAddress, NASIdentifier: e.NASIdentifier,
		CalledStationID: e.CalledStationID, CallingStationID: e.CallingStationID, Resource: e.Resource}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printEvents(w io.Writer, events []sqlite.EventRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tTX\tUSER\tRESULT\tMETHOD\tTRIGGER\tMESSAGE\tCLIENT\tCALLING STATION")
	for _, e := range events {
		j := toEventJSON(e)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Format(tableTime), cell(e.TxID),
			cell(e.User), j.Result, dash(j.Method), dash(j.Trigger), cell(e.Message), cell(e.Client), cell(e.CallingStationID))
	}
	tw.Flush()
}

func (c *cli) reportPushCommand() *cobra.Command {
	var rf reportFlags
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push history, newest first: one row per push with its outcome",
		Long: `Print the push history in descending time order, one row per push (SafeNet's
"Push OTP authentication history"): when it was sent, to whom, for which
resource, from which client IP (Calling-Station-Id), the number-matching
variant and the number or code shown at login, the outcome and how long the
user took to answer.

Outcomes: approved; denied: it wasn't me (a Failure, counts toward lockout);
denied: mistake (treated like a timeout); no response (the push expired
unanswered: the event log has nothing after its Challenge); superseded (a
newer push replaced it); pending (still waiting). --result filters by outcome:
approved, denied (both kinds), fraud, mistake, expired (or no-response),
superseded, pending.`,
		Example: `  radmfa report push
  radmfa report push --user alice --since 7d
  radmfa report push --result denied,expired --nas vpn-gw
  radmfa report push --format csv --since 30d > pushes.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := rf.check(cmd)
			if err != nil {
				return err
			}
			if m := strings.ToLower(rf.text.Method); m != "" && m != "push" {
				return usagef("--method %s: the push history has only pushes", rf.text.Method)
			}
			outcomes, err := sqlite.ParseOutcomes(rf.text.Result)
			if err != nil {
				return badFilter(err)
			}
			return c.withStore(cmd.Context(), func(cfg *config, store *sqlite.Store) error {
				text := rf.text
				text.Result, text.Method = "", ""
				f, err := text.Parse(time.Now(), cfg.Users)
				if err != nil {
					return err
				}
				pushes, err := store.Pushes(cmd.Context(), sqlite.PushQuery{Filter: f, Outcomes: outcomes, Limit: rf.limit, Before: rf.before})
				if err != nil {
					return err
				}
				switch format {
				case "json":
					out := make([]pushJSON, 0, len(pushes))
					for _, p := range pushes {
						out = append(out, toPushJSON(p))
					}
					return writeJSON(c.stdout, out)
				case "csv":
					var rows [][]string
					for _, p := range pushes {
						rows = append(rows, p.Record())
					}
					return writeCSV(c.stdout, sqlite.PushColumns, rows)
				}
				if len(pushes) == 0 {
					fmt.Fprintln(c.stdout, "No pushes.")
					return nil
				}
				printPushes(c.stdout, pushes, true)
				if len(pushes) == rf.limit {
					moreHint(c.stdout, cmd, pushes[len(pushes)-1].ID)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	rf.register(f, flagFilters|flagPaging, "only these outcomes, comma-separated: approved, denied, fraud, mistake, expired, superseded, pending")
	f.MarkHidden("method") // every row is a push
	return cmd
}

// pushJSON is the JSON form of a push.
type pushJSON struct {
	ID             int64      `json:"id"`
	Time           time.Time  `json:"time"`
	TxID           string     `json:"tx_id"`
	User           string     `json:"user"`
	Resource       string     `json:"resource"`
	ClientIP       string     `json:"client_ip"`
	Variant        string     `json:"variant"`
	Flow           string     `json:"flow"`
	NumberShown    string     `json:"number_shown"`
	Outcome        string     `json:"outcome"`
	OutcomeText    string     `json:"outcome_text"`
	LatencySeconds *float64   `json:"latency_s"`
	Decided        *time.Time `json:"decided"`
	Expires        time.Time  `json:"expires"`
	Client         string     `json:"client"`
	NASIdentifier  string     `json:"nas_identifier"`
	Node           string     `json:"node"`
}

func toPushJSON(p sqlite.PushRow) pushJSON {
	j := pushJSON{ID: p.ID, Time: p.Created, TxID: p.TxID, User: p.User, Resource: p.Resource, ClientIP: p.CallingStation,
		Variant: p.Variant, Flow: p.Flow, NumberShown: p.Number, Outcome: p.Outcome, OutcomeText: p.OutcomeText(),
		Expires: p.Expires, Client: p.Client, NASIdentifier: p.NASIdentifier, Node: p.Node}
	if !p.Decided.IsZero() {
		s := p.Latency().Seconds()
		d := p.Decided
		j.LatencySeconds, j.Decided = &s, &d
	}
	return j
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

func printPushes(w io.Writer, pushes []sqlite.PushRow, withTx bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "ID\tTIME (UTC)\tUSER\tRESOURCE\tCLIENT IP\tVARIANT\tNUMBER\tOUTCOME\tLATENCY"
	if withTx {
		header += "\tTX"
	}
	fmt.Fprintln(tw, header)
	for _, p := range pushes {
		latency := "-"
		if !p.Decided.IsZero() {
			latency = secs(p.Latency())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", p.ID, p.Created.Format(tableTime), cell(p.User), cell(p.Resource),
			cell(p.CallingStation), cell(p.Variant), cell(p.Number), p.OutcomeText(), latency)
		if withTx {
			fmt.Fprintf(tw, "\t%s", cell(p.TxID))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func (c *cli) reportSummaryCommand() *cobra.Command {
	var rf reportFlags
	var per, by string
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Totals per NAS or per user, or a time series",
		Long: `Print totals per NAS (the default) or per user over a time range: successes,
failures, challenges, Outer Window Authentications, lockouts (Failure events
"account locked"), distinct client IPs (Calling-Station-Id), approved pushes
with the approval latency's median (p50) and 95th percentile (p95), and the
most frequent failure messages. Rows are ordered by failures, most first;
--limit keeps the first rows. A NAS is the RADIUS client FreeRADIUS
authenticated, or the NAS-Identifier for events without one.

With --by day or --by hour it prints a time series instead: the counts per
UTC day or hour over the range (filtered like the totals), including empty
buckets.

Summaries over long ranges read daily rollups that radmfa builds once a day is
over (the first summary after an upgrade builds them for the whole log, which
takes a while on a big one); --result filters read the event log itself.`,
		Example: `  radmfa report summary --since 30d
  radmfa report summary --per user --since 7d --limit 20
  radmfa report summary --nas vpn-gw --by day --since 30d
  radmfa report summary --per user --method push --format csv > push-users.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := rf.check(cmd)
			if err != nil {
				return err
			}
			if err := refuse(cmd, "totals have no pages (use --limit, or --since and --until)", "before"); err != nil {
				return err
			}
			p, err := sqlite.ParsePer(per)
			if err != nil {
				return badFilter(err)
			}
			var step time.Duration
			switch strings.ToLower(by) {
			case "":
			case "day":
				step = 24 * time.Hour
			case "hour":
				step = time.Hour
			default:
				return usagef("--by %s: want day or hour", by)
			}
			if step != 0 && cmd.Flags().Changed("per") {
				return usagef("--per and --by cannot be used together (filter the series with --nas or --user)")
			}
			return c.withStore(cmd.Context(), func(cfg *config, store *sqlite.Store) error {
				f, err := rf.filter(cfg, time.Now())
				if err != nil {
					return err
				}
				if step != 0 {
					points, err := store.Series(cmd.Context(), sqlite.SeriesQuery{Filter: f, Step: step})
					if err != nil {
						return err
					}
					return c.printSeries(format, points, step)
				}
				rows, err := store.Summary(cmd.Context(), sqlite.SummaryQuery{Filter: f, Per: p, Limit: rf.limit})
				if err != nil {
					return err
				}
				return c.printSummary(format, p, rows)
			})
		},
	}
	f := cmd.Flags()
	rf.register(f, flagFilters|flagPaging, "count only these results, comma-separated: challenge, success, failure, outer")
	f.StringVar(&per, "per", "nas", "group by nas or user")
	f.StringVar(&by, "by", "", "print a time series by day or hour instead of totals")
	f.MarkHidden("before") // totals have no pages
	return cmd
}

// summaryJSON is the JSON form of a summary row.
type summaryJSON struct {
	Per         string       `json:"per"`
	Name        string       `json:"name"`
	Successes   int64        `json:"successes"`
	Failures    int64        `json:"failures"`
	Challenges  int64        `json:"challenges"`
	OuterWindow int64        `json:"outer_window"`
	Lockouts    int64        `json:"lockouts"`
	ClientIPs   int64        `json:"client_ips"`
	Approved    int64        `json:"pushes_approved"`
	LatencyP50  *float64     `json:"push_latency_p50_s"`
	LatencyP95  *float64     `json:"push_latency_p95_s"`
	TopFailures []reasonJSON `json:"top_failures"` // never null
}

type reasonJSON struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

func (c *cli) printSummary(format string, per sqlite.Per, rows []sqlite.SummaryRow) error {
	switch format {
	case "json":
		out := make([]summaryJSON, 0, len(rows))
		for _, r := range rows {
			j := summaryJSON{Per: per.String(), Name: r.Name, Successes: r.Successes, Failures: r.Failures, Challenges: r.Challenges,
				OuterWindow: r.OuterWindow, Lockouts: r.Lockouts, ClientIPs: r.ClientIPs, Approved: r.Approved, TopFailures: []reasonJSON{}}
			if r.Approved > 0 {
				p50, p95 := r.LatencyP50.Seconds(), r.LatencyP95.Seconds()
				j.LatencyP50, j.LatencyP95 = &p50, &p95
			}
			for _, t := range r.TopFailures {
				j.TopFailures = append(j.TopFailures, reasonJSON{t.Message, t.Count})
			}
			out = append(out, j)
		}
		return writeJSON(c.stdout, out)
	case "csv":
		var recs [][]string
		for _, r := range rows {
			recs = append(recs, r.Record())
		}
		return writeCSV(c.stdout, append([]string{per.String()}, sqlite.SummaryColumns...), recs)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.stdout, "No events.")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tSUCCESS\tFAILURE\tCHALLENGE\tOUTER\tLOCKOUT\tCLIENT IPS\tAPPROVED\tP50\tP95\tTOP FAILURES\n", strings.ToUpper(per.String()))
	for _, r := range rows {
		p50, p95 := "-", "-"
		if r.Approved > 0 {
			p50, p95 = secs(r.LatencyP50), secs(r.LatencyP95)
		}
		var top []string
		for _, t := range r.TopFailures {
			top = append(top, fmt.Sprintf("%s (%d)", mfa.Printable(t.Message), t.Count))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", cell(r.Name), r.Successes, r.Failures, r.Challenges,
			r.OuterWindow, r.Lockouts, r.ClientIPs, r.Approved, p50, p95, dash(strings.Join(top, "; ")))
	}
	return tw.Flush()
}

// seriesJSON is the JSON form of a time series point.
type seriesJSON struct {
	Start       time.Time `json:"start"`
	Successes   int64     `json:"successes"`
	Failures    int64     `json:"failures"`
	Challenges  int64     `json:"challenges"`
	OuterWindow int64     `json:"outer_window"`
	Lockouts    int64     `json:"lockouts"`
}

func (c *cli) printSeries(format string, points []sqlite.SeriesPoint, step time.Duration) error {
	switch format {
	case "json":
		out := make([]seriesJSON, 0, len(points))
		for _, p := range points {
			out = append(out, seriesJSON{p.Start, p.Successes, p.Failures, p.Challenges, p.OuterWindow, p.Lockouts})
		}
		return writeJSON(c.stdout, out)
	case "csv":
		var recs [][]string
		for _, p := range points {
			recs = append(recs, p.Record())
		}
		return writeCSV(c.stdout, sqlite.SeriesColumns, recs)
	}
	if len(points) == 0 {
		fmt.Fprintln(c.stdout, "No events.")
		return nil
	}
	layout := "2006-01-02 15:04"
	if step == 24*time.Hour {
		layout = "2006-01-02"
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START (UTC)\tSUCCESS\tFAILURE\tCHALLENGE\tOUTER\tLOCKOUT")
	for _, p := range points {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", p.Start.Format(layout), p.Successes, p.Failures, p.Challenges, p.OuterWindow, p.Lockouts)
	}
	return tw.Flush()
}

func (c *cli) reportTransactionCommand() *cobra.Command {
	var rf reportFlags
	cmd := &cobra.Command{
		Use:   "transaction ID",
		Short: "Every step of one authentication, in order",
		Long: `Print every event of one authentication (a challenge and its answer share a
transaction ID, the TX column of the other reports), oldest first, and its
push, if it sent one. CSV puts both in one table with a "kind" column (event or
push).`,
		Example: `  radmfa report transaction 3f9c2a7e81d04b65
  radmfa report transaction 3f9c2a7e81d04b65 --json`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := rf.check(cmd)
			if err != nil {
				return err
			}
			return c.withStore(cmd.Context(), func(cfg *config, store *sqlite.Store) error {
				tx, err := store.Transaction(cmd.Context(), args[0])
				if err != nil {
					return notFound(err)
				}
				return c.printTransaction(format, tx)
			})
		},
	}
	rf.register(cmd.Flags(), 0, "")
	return cmd
}

// transactionJSON is the JSON form of a transaction.
type transactionJSON struct {
	TxID   string      `json:"tx_id"`
	Events []eventJSON `json:"events"`
	Pushes []pushJSON  `json:"pushes"`
}

// transactionColumns heads the CSV of a transaction: events and pushes in
// one table.
var transactionColumns = append(append([]string{"kind"}, sqlite.EventColumns...), "push_outcome", "push_variant", "push_number_shown", "push_latency_s")

func (c *cli) printTransaction(format string, tx sqlite.Transaction) error {
	switch format {
	case "json":
		j := transactionJSON{TxID: tx.ID, Events: []eventJSON{}, Pushes: []pushJSON{}}
		for _, e := range tx.Events {
			j.Events = append(j.Events, toEventJSON(e))
		}
		for _, p := range tx.Pushes {
			j.Pushes = append(j.Pushes, toPushJSON(p))
		}
		return writeJSON(c.stdout, j)
	case "csv":
		var recs [][]string
		for _, e := range tx.Events {
			recs = append(recs, append(append([]string{"event"}, e.Record()...), "", "", "", ""))
		}
		for _, p := range tx.Pushes {
			r := p.Record()
			ev := sqlite.EventRow{ID: p.ID, Event: mfa.Event{Time: p.Created, TxID: p.TxID, User: p.User, Method: mfa.MethodPush,
				Node: p.Node, Client: p.Client, NASIdentifier: p.NASIdentifier, CallingStationID: p.CallingStation, Resource: p.Resource}}
			er := ev.Record()
			er[4], er[9] = "", "" // no result, no front door
			recs = append(recs, append(append([]string{"push"}, er...), r[8], r[6], r[7], r[9]))
		}
		return writeCSV(c.stdout, transactionColumns, recs)
	}
	fmt.Fprintf(c.stdout, "Transaction %s: %d event(s), %d push(es)\n", cell(tx.ID), len(tx.Events), len(tx.Pushes))
	if len(tx.Events) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME (UTC)\tUSER\tRESULT\tMETHOD\tTRIGGER\tMESSAGE\tDEVICE\tCLIENT\tNAS-ID\tCALLING STATION\tFRONT DOOR\tNODE")
		for _, e := range tx.Events {
			j := toEventJSON(e)
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Format(tableTime), cell(e.User),
				j.Result, dash(j.Method), dash(j.Trigger), cell(e.Message), cell(e.Device), cell(e.Client), cell(e.NASIdentifier),
				cell(e.CallingStationID), j.FrontDoor, cell(e.Node))
		}
		tw.Flush()
	}
	if len(tx.Pushes) > 0 {
		fmt.Fprintln(c.stdout, "Push:")
		printPushes(c.stdout, tx.Pushes, false)
	}
	return nil
}

func (c *cli) reportAuditCommand() *cobra.Command {
	var rf reportFlags
	var actor string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Admin actions, newest first",
		Long: `Print the audit log, newest first: every user and device change (add, remove,
enable, disable, unlock, resync, bypass) with who made it (the OS user, and
the sudo user, or the admin login) and when. --user shows the actions on one
user and that user's devices.`,
		Example: `  radmfa report audit
  radmfa report audit --user alice
  radmfa report audit --since 30d --format csv > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := rf.check(cmd)
			if err != nil {
				return err
			}
			if err := refuse(cmd, "the audit log has no such field", "nas", "result", "method"); err != nil {
				return err
			}
			return c.withStore(cmd.Context(), func(cfg *config, store *sqlite.Store) error {
				f, err := rf.filter(cfg, time.Now())
				if err != nil {
					return err
				}
				entries, err := store.AuditLog(cmd.Context(), sqlite.AuditQuery{User: f.User, Actor: actor, Since: f.Since, Until: f.Until,
					Limit: rf.limit, Before: rf.before})
				if err != nil {
					return err
				}
				switch format {
				case "json":
					out := make([]auditJSON, 0, len(entries))
					for _, a := range entries {
						out = append(out, auditJSON{a.ID, a.Time, a.Actor, a.Action, a.Target, a.Details})
					}
					return writeJSON(c.stdout, out)
				case "csv":
					var recs [][]string
					for _, a := range entries {
						recs = append(recs, a.Record())
					}
					return writeCSV(c.stdout, sqlite.AuditColumns, recs)
				}
				if len(entries) == 0 {
					fmt.Fprintln(c.stdout, "No admin actions.")
					return nil
				}
				tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIME (UTC)\tACTOR\tACTION\tTARGET\tDETAILS")
				for _, a := range entries {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Time.Format(tableTime), cell(a.Actor), a.Action, cell(a.Target), cell(a.Details))
				}
				tw.Flush()
				if len(entries) == rf.limit {
					moreHint(c.stdout, cmd, entries[len(entries)-1].ID)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	rf.register(f, flagFilters|flagPaging, "")
	for _, name := range []string{"nas", "result", "method"} {
		f.MarkHidden(name)
	}
	f.StringVar(&actor, "actor", "", "only actions by this actor (as shown in the ACTOR column)")
	return cmd
}

// auditJSON is the JSON form of an audit entry.
type auditJSON struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Details string    `json:"details"`
}

func (c *cli) reportPruneCommand() *cobra.Command {
	var olderThan string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete events older than a given age",
		Long: `Delete events, decided pushes and report rollups older than --older-than
(default: [retention] events in the config; radmfa serve applies that setting
daily by itself). [retention] events is unset by default (keep everything), so
without it --older-than is required. Pending pushes and the audit log are kept.

Pruning runs in small batches, each its own write transaction of a few
milliseconds followed by a short pause, so that authentications by radmfa exec
and radmfa serve never wait for it; it is safe to run at any time and can be
interrupted and run again. Progress goes to standard error, the summary to
standard output. The database file does not shrink: SQLite reuses the freed
space for new events.`,
		Example: `  radmfa report prune --older-than 365d
  radmfa report prune --older-than 90d --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config()
			if err != nil {
				return err
			}
			age := time.Duration(cfg.Retention.Events)
			if cmd.Flags().Changed("older-than") {
				if age, err = mfa.ParseDuration(olderThan); err != nil {
					return usagef("--older-than %s: %v", olderThan, strings.TrimPrefix(err.Error(), "invalid duration "+strconv.Quote(olderThan)+" "))
				}
				if age < sqlite.MinRetention {
					return usagef("--older-than %s: want at least 1d", olderThan)
				}
			} else if age == 0 {
				return usagef("--older-than is required (or set [retention] events in the config)")
			}
			before := time.Now().Add(-age).UTC()
			return c.withConfigStore(cmd.Context(), cfg, func(_ *config, store *sqlite.Store) error {
				if dryRun {
					st, err := store.PruneCount(cmd.Context(), before)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "Would delete %d rows older than %s: %d events, %d decided pushes, %d rollup rows.\n",
						st.Total(), before.Format("2006-01-02 15:04:05 UTC"), st.Events, st.Pushes, st.Rollups)
					return nil
				}
				start := time.Now()
				last := start
				st, err := store.Prune(cmd.Context(), before, func(st sqlite.PruneStats) {
					if time.Since(last) >= time.Second {
						last = time.Now()
						fmt.Fprintf(c.stderr, "pruning: %d events, %d pushes, %d rollup rows deleted so far\n", st.Events, st.Pushes, st.Rollups)
					}
				})
				if err != nil {
					return fmt.Errorf("%w (after deleting %d rows; run it again to go on)", err, st.Total())
				}
				if st.Total() == 0 {
					fmt.Fprintf(c.stdout, "Nothing older than %s.\n", before.Format("2006-01-02 15:04:05 UTC"))
					return nil
				}
				fmt.Fprintf(c.stdout, "Deleted %d rows older than %s: %d events, %d decided pushes, %d rollup rows;\n"+
					"%d batches in %s, the longest holding the write lock %.1f ms.\n",
					st.Total(), before.Format("2006-01-02 15:04:05 UTC"), st.Events, st.Pushes, st.Rollups,
					st.Batches, time.Since(start).Round(time.Millisecond), float64(st.Longest)/float64(time.Millisecond))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&olderThan, "older-than", "", "delete what is older than this (365d, 720h; at least 1d); default: [retention] events, if set")
	f.BoolVar(&dryRun, "dry-run", false, "only count what would be deleted")
	return cmd
}
