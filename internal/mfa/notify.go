package mfa

import (
	"context"
	"fmt"
	"time"
)

// NotificationKind says what a notification carries.
type NotificationKind uint8

// Notification kinds. The zero value is invalid.
const (
	NotifyInvalid NotificationKind = iota
	NotifyPush                     // a login to approve: approval URL and what to show
	NotifyCode                     // a one-time code to type (SMS, e-mail)
	NotifyAlert                    // a message for the user or operator (fraud report, lockout)
)

var notificationKindNames = [...]string{"invalid", "push", "code", "alert"}

func (k NotificationKind) String() string {
	if int(k) < len(notificationKindNames) {
		return notificationKindNames[k]
	}
	return fmt.Sprintf("NotificationKind(%d)", k)
}

// Notification is a message to deliver through a notifier (a plugin).
type Notification struct {
	Kind NotificationKind
	// Notifier names the notifier to use ("" = the default one): a
	// device's notifier, e.g. "sms" for a phone number.
	Notifier string
	User     string // normalised user name it concerns
	// To is the address to deliver to (phone number, e-mail address);
	// "" lets the notifier use its configured destination (an ntfy topic,
	// a webhook URL, the operator's address).
	To      string
	Subject string
	Text    string // the human-readable message, in full
	Code    Secret // NotifyCode: the one-time code (never logged)
	Push    *PushNotice
}

// PushNotice is what a push shows and where it is approved (SPEC §4).
type PushNotice struct {
	ApprovalURL  Secret // single-use bearer URL of the approval page
	Resource     string // what the user is logging in to
	Organisation string
	ClientIP     string // Calling-Station-Id
	RequestTime  time.Time
	Expires      time.Time
	Variant      string // plain, ack, choose, enter
	RequestCode  string // ack: the short code to compare with the login screen
}

// Delivery is a notifier's report on one notification.
type Delivery struct {
	ID     string // the notifier's id for it, if any
	Status string // "sent", "queued" or "failed"
	Detail string // human-readable, no secrets
}

// Notifier delivers notifications (the plugin host implements it).
type Notifier interface {
	Notify(ctx context.Context, n Notification) (Delivery, error)
}
