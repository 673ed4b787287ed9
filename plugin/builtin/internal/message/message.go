// Package message writes what the built-in notifiers send: the JSON
// payload of the webhook and command notifiers, the title and lines a
// person reads for a push, and excerpts of foreign text with secrets
// removed.
package message

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/radmfa/radmfa/plugin"
)

// Payload is the JSON form of a notification that the webhook notifier
// posts (as "data") and the command notifier writes to standard input.
// Unlike plugin.NotifyRequest it holds the secrets in clear: it exists only
// to be delivered and must never be logged.
type Payload struct {
	Kind    string `json:"kind"`
	User    string `json:"user"`
	To      string `json:"to,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Message is the text for a person, secrets included
	// (plugin.NotifyRequest.RevealText).
	Message string       `json:"message"`
	Code    string       `json:"code,omitempty"`
	Push    *PushPayload `json:"push,omitempty"`
}

// PushPayload is the push part of Payload.
type PushPayload struct {
	ApprovalURL  string     `json:"approval_url"`
	Resource     string     `json:"resource,omitempty"`
	Organisation string     `json:"organisation,omitempty"`
	ClientIP     string     `json:"client_ip,omitempty"`
	RequestTime  *time.Time `json:"request_time,omitempty"`
	Expires      *time.Time `json:"expires,omitempty"`
	Variant      string     `json:"variant,omitempty"`
	RequestCode  string     `json:"request_code,omitempty"`
}

// NewPayload returns the payload of r, secrets revealed.
func NewPayload(r *plugin.NotifyRequest) Payload {
	p := Payload{
		Kind:    r.Kind.String(),
		User:    r.User,
		To:      r.To,
		Subject: r.Subject,
		Message: r.RevealText(),
		Code:    r.Code.Reveal(),
	}
	if r.Push != nil {
		p.Push = &PushPayload{
			ApprovalURL:  r.Push.ApprovalURL.Reveal(),
			Resource:     r.Push.Resource,
			Organisation: r.Push.Organisation,
			ClientIP:     r.Push.ClientIP,
			RequestTime:  timePtr(r.Push.RequestTime),
			Expires:      timePtr(r.Push.Expires),
			Variant:      r.Push.Variant,
			RequestCode:  r.Push.RequestCode,
		}
	}
	return p
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Title returns a short title for r: its Subject, or one made from the
// kind and, for a push, the resource.
func Title(r *plugin.NotifyRequest) string {
	if r.Subject != "" {
		return r.Subject
	}
	switch r.Kind {
	case plugin.KindPush:
		if r.Push != nil && r.Push.Resource != "" {
			return "Sign-in request: " + r.Push.Resource
		}
		return "Sign-in request"
	case plugin.KindCode:
		return "Your sign-in code"
	}
	return "Sign-in alert"
}

// PushLines describes a push for a person, without secrets: who signs in
// to what, from where and when, and for the ack variant the request code
// to compare. Times are shown in loc.
func PushLines(r *plugin.NotifyRequest, loc *time.Location) []string {
	p := r.Push
	if p == nil {
		return nil
	}
	var lines []string
	switch {
	case p.Resource != "" && p.Organisation != "":
		lines = append(lines, fmt.Sprintf("%s is signing in to %s (%s).", orSomeone(r.User), p.Resource, p.Organisation))
	case p.Resource != "":
		lines = append(lines, fmt.Sprintf("%s is signing in to %s.", orSomeone(r.User), p.Resource))
	case p.Organisation != "":
		lines = append(lines, fmt.Sprintf("%s is signing in at %s.", orSomeone(r.User), p.Organisation))
	default:
		lines = append(lines, orSomeone(r.User)+" is signing in.")
	}
	if p.ClientIP != "" {
		lines = append(lines, "From: "+p.ClientIP)
	}
	if !p.RequestTime.IsZero() {
		lines = append(lines, "Time: "+p.RequestTime.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	if p.Variant == "ack" && p.RequestCode != "" {
		lines = append(lines, "Request code: "+p.RequestCode)
	}
	if !p.Expires.IsZero() {
		lines = append(lines, "Expires: "+p.Expires.In(loc).Format("15:04:05 MST"))
	}
	return lines
}

func orSomeone(s string) string {
	if s == "" {
		return "Someone"
	}
	return s
}

// Redact replaces every secret in text with "[redacted]".
func Redact(text string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	return text
}

// Excerpt returns text with secrets redacted, control characters made
// visible and at most max bytes kept (the end, where errors usually are),
// for a Detail or an error message.
func Excerpt(text string, max int, secrets ...string) string {
	text = strings.TrimSpace(Redact(strings.ToValidUTF8(text, "?"), secrets...))
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return '?'
		}
		return r
	}, text)
	if len(text) > max {
		cut := len(text) - max
		for cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut++
		}
		text = "…" + text[cut:]
	}
	return text
}
