package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/sqlite"
)

func (c *cli) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Query the event log",
		Long: `Reports read the event log radmfa keeps in its database. Every authentication
step is one event with a result in SafeNet's vocabulary: Challenge (a code was
asked for, a push sent), Success, Failure, Outer Window Authentication.`,
	}
	cmd.AddCommand(c.reportActivityCommand())
	return cmd
}

// maxReportLimit bounds --limit.
const maxReportLimit = 10000

func (c *cli) reportActivityCommand() *cobra.Command {
	var (
		limit  int
		before int64
		user   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "activity",
		Short: "Latest events, newest first",
		Long: `Print the latest events, newest first: time (UTC), transaction, user, result,
method, trigger class (what kind of passcode was typed; never the code), message
and where the request came from. Page back with --before ID, using the ID
column of the last row shown.`,
		Example: `  radmfa report activity
  radmfa report activity --user alice --limit 20
  radmfa report activity --json | jq '.[] | select(.result == "Failure")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > maxReportLimit {
				return usagef("--limit %d: want 1 to %d", limit, maxReportLimit)
			}
			if before < 0 {
				return usagef("--before %d: want an event ID from a previous page", before)
			}
			cfg, err := c.config()
			if err != nil {
				return err
			}
			q := sqlite.EventQuery{Limit: limit, BeforeID: before}
			if user != "" {
				if q.User, err = normalize(cfg, user); err != nil {
					return err
				}
			}
			store, err := c.openStore(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			defer store.Close()
			events, err := store.Events(cmd.Context(), q)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]eventJSON, 0, len(events))
				for _, e := range events {
					out = append(out, toEventJSON(e))
				}
				return writeJSON(c.stdout, out)
			}
			if len(events) == 0 {
				fmt.Fprintln(c.stdout, "No events.")
				return nil
			}
			printEvents(c.stdout, events)
			if len(events) == limit {
				fmt.Fprintf(c.stdout, "More: radmfa report activity --before %d\n", events[len(events)-1].ID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 50, "show at most this many events (1 to 10000)")
	f.Int64Var(&before, "before", 0, "show events older than this event ID (paging)")
	f.StringVar(&user, "user", "", "only this user's events")
	f.BoolVar(&asJSON, "json", false, "print JSON")
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Format("2006-01-02 15:04:05.000"), e.TxID,
			dash(e.User), j.Result, dash(j.Method), dash(j.Trigger), dash(e.Message), dash(e.Client), dash(e.CallingStationID))
	}
	tw.Flush()
}
