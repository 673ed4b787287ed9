package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Notifier is what a notifier plugin implements. radmfa calls Configure
// once after starting the plugin (and again after each restart) before any
// Notify; Notify may be called concurrently.
//
// A "no" is a value: a delivery that was attempted and failed is a
// NotifyResponse with StatusFailed and a Detail. An error means the
// notifier could not try (not configured, bad request); radmfa treats both
// as a failed delivery and logs the error. Neither may contain a secret.
type Notifier interface {
	Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error)
	Notify(ctx context.Context, req *NotifyRequest) (*NotifyResponse, error)
}

// Kind says what a notification carries. The zero value is invalid.
type Kind uint8

// Notification kinds.
const (
	KindInvalid Kind = iota
	KindPush         // a login to approve: Push is set
	KindCode         // a one-time code to type: Code is set, To is the phone or address
	KindAlert        // a message for the user or the operator: fraud report, lockout
)

var kindNames = [...]string{"invalid", "push", "code", "alert"}

// String returns push, code, alert or invalid.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// MarshalText implements encoding.TextMarshaler (push, code, alert).
func (k Kind) MarshalText() ([]byte, error) {
	if k == KindInvalid || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("plugin: invalid kind %d", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	for i := KindPush; int(i) < len(kindNames); i++ {
		if string(b) == kindNames[i] {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("plugin: unknown kind %q: want push, code or alert", b)
}

// Status is a notifier's report on one delivery. The zero value is
// invalid: a Notifier must set one.
type Status uint8

// Delivery statuses.
const (
	StatusInvalid Status = iota
	StatusSent           // handed to the delivery service, which accepted it
	StatusQueued         // accepted for later delivery
	StatusFailed         // not delivered; Detail says why
)

var statusNames = [...]string{"invalid", "sent", "queued", "failed"}

// String returns sent, queued, failed or invalid.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", s)
}

// MarshalText implements encoding.TextMarshaler (sent, queued, failed).
func (s Status) MarshalText() ([]byte, error) {
	if s == StatusInvalid || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("plugin: invalid status %d", s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	for i := StatusSent; int(i) < len(statusNames); i++ {
		if string(b) == statusNames[i] {
			*s = i
			return nil
		}
	}
	return fmt.Errorf("plugin: unknown status %q: want sent, queued or failed", b)
}

// ConfigureRequest carries a notifier's settings: the [notifiers.NAME.settings]
// table of radmfa's config, as a JSON object. Settings never hold secrets
// themselves; they name files that do (token_file, secret_file, …).
type ConfigureRequest struct {
	// Name is the notifier's name in radmfa's config, for messages.
	Name string
	// Settings is a JSON object; empty means no settings ({}).
	Settings []byte
}

// Decode decodes Settings strictly into v (a pointer to a struct with json
// tags): an unknown field, a wrong type or trailing data is an error. Empty
// Settings leave v unchanged.
func (r *ConfigureRequest) Decode(v any) error {
	return DecodeSettings(r.Settings, v)
}

// ConfigureResponse is the answer to Configure. It is empty today; fields
// may be added without breaking plugins.
type ConfigureResponse struct{}

// NotifyRequest is one notification to deliver.
//
// Text never contains a secret. A notifier that writes a message for a
// person gets the full message from RevealText, which puts the code and
// the approval URL in.
type NotifyRequest struct {
	Kind Kind
	// User is the (normalised) user name the notification concerns.
	User string
	// To is the destination: a phone number or e-mail address for codes,
	// "" for the notifier's configured destination (an ntfy topic, a
	// webhook URL, the operator's address).
	To string
	// Subject is a short title; notifiers may use their own.
	Subject string
	// Text is the human-readable message, without secrets. "{code}" and
	// "{url}" in it stand for the code and the approval URL.
	Text string
	// Code is the one-time code of a KindCode notification.
	Code Secret
	// Push is set for KindPush.
	Push *Push
}

// Push is what a push notification shows and where it is approved.
type Push struct {
	// ApprovalURL is the single-use bearer URL of radmfa's approval page.
	ApprovalURL Secret
	// Resource is what the user is logging in to (the VPN, a NAS name).
	Resource     string
	Organisation string
	// ClientIP is where the login comes from (Calling-Station-Id).
	ClientIP    string
	RequestTime time.Time
	Expires     time.Time
	// Variant is the number-matching variant: plain, ack, choose or enter.
	Variant string
	// RequestCode is set for the ack variant only: the short code the
	// approval page and the login prompt both show, to compare. For choose
	// and enter the number is never sent in a notification.
	RequestCode string
}

// Validate checks that the request is complete for its kind.
func (r *NotifyRequest) Validate() error {
	if r == nil {
		return errors.New("plugin: nil notify request")
	}
	switch r.Kind {
	case KindPush:
		if r.Push == nil || r.Push.ApprovalURL.IsZero() {
			return errors.New("plugin: push notification without an approval URL")
		}
	case KindCode:
		if r.Code.IsZero() {
			return errors.New("plugin: code notification without a code")
		}
	case KindAlert:
		if r.Text == "" && r.Subject == "" {
			return errors.New("plugin: alert without text or subject")
		}
	default:
		return fmt.Errorf("plugin: notification of %v", r.Kind)
	}
	return nil
}

// RevealText returns the message for a person, secrets included: Text
// with "{code}" and "{url}" replaced by the code and the approval URL. When
// Text has no placeholder for a code or a push's URL, it is appended on a
// line of its own ("Code: 123456", "Approve or deny: https://…"). The
// result contains secrets: deliver it, never log it.
func (r *NotifyRequest) RevealText() string {
	text := r.Text
	var url string
	if r.Push != nil {
		url = r.Push.ApprovalURL.Reveal()
	}
	hasCode, hasURL := strings.Contains(text, "{code}"), strings.Contains(text, "{url}")
	text = strings.NewReplacer("{code}", r.Code.Reveal(), "{url}", url).Replace(text)
	add := func(line string) {
		if text != "" {
			text += "\n"
		}
		text += line
	}
	if r.Kind == KindCode && !hasCode && !r.Code.IsZero() {
		add("Code: " + r.Code.Reveal())
	}
	if r.Kind == KindPush && !hasURL && url != "" {
		add("Approve or deny: " + url)
	}
	return text
}

// Secrets returns the request's secrets (code, approval URL) that are
// set, for redacting them from text that a notifier did not write itself
// (a program's error output, a server's answer).
func (r *NotifyRequest) Secrets() []string {
	var s []string
	if !r.Code.IsZero() {
		s = append(s, r.Code.Reveal())
	}
	if r.Push != nil && !r.Push.ApprovalURL.IsZero() {
		s = append(s, r.Push.ApprovalURL.Reveal())
	}
	return s
}

// String describes the request without its secrets.
func (r *NotifyRequest) String() string {
	if r == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v notification for %q", r.Kind, r.User)
	if r.To != "" {
		fmt.Fprintf(&b, " to %q", r.To)
	}
	if r.Subject != "" {
		fmt.Fprintf(&b, " subject %q", r.Subject)
	}
	if !r.Code.IsZero() {
		b.WriteString(" code " + redacted)
	}
	if p := r.Push; p != nil {
		fmt.Fprintf(&b, " push{url %s resource %q organisation %q client %q variant %q", redacted, p.Resource, p.Organisation, p.ClientIP, p.Variant)
		if !p.RequestTime.IsZero() {
			fmt.Fprintf(&b, " requested %s", p.RequestTime.UTC().Format(time.RFC3339))
		}
		if !p.Expires.IsZero() {
			fmt.Fprintf(&b, " expires %s", p.Expires.UTC().Format(time.RFC3339))
		}
		b.WriteString("}")
	}
	return b.String()
}

// GoString makes %#v print the same as String, without secrets.
func (r *NotifyRequest) GoString() string { return r.String() }

// NotifyResponse is a notifier's report on one delivery.
type NotifyResponse struct {
	// ID is the delivery service's id for the message, if any.
	ID     string
	Status Status
	// Detail is human-readable and never contains a secret.
	Detail string
}

// Sent returns a response with StatusSent.
func Sent(id, detail string) *NotifyResponse {
	return &NotifyResponse{ID: id, Status: StatusSent, Detail: detail}
}

// Queued returns a response with StatusQueued.
func Queued(id, detail string) *NotifyResponse {
	return &NotifyResponse{ID: id, Status: StatusQueued, Detail: detail}
}

// Failed returns a response with StatusFailed and a detail made with
// fmt.Sprintf.
func Failed(format string, a ...any) *NotifyResponse {
	return &NotifyResponse{Status: StatusFailed, Detail: fmt.Sprintf(format, a...)}
}
