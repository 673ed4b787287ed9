package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PushOutcome is what became of a push, stored with it (SPEC §5): reports
// show it without bending the events' Challenge/Success/Failure semantics.
type PushOutcome string

// Push outcomes.
const (
	PushPending     PushOutcome = "pending"
	PushApproved    PushOutcome = "approved"
	PushDeniedFraud PushOutcome = "denied_fraud"   // "It wasn't me"
	PushDeniedOops  PushOutcome = "denied_mistake" // "I made a mistake": like a timeout
	PushWrongNumber PushOutcome = "denied_wrong_number"
	PushExpired     PushOutcome = "expired" // no response
	PushSuperseded  PushOutcome = "superseded"
)

// PushVariant is the number-matching variant (seed 004).
type PushVariant string

// Push variants.
const (
	VariantPlain  PushVariant = "plain"  // Approve / Deny
	VariantAck    PushVariant = "ack"    // the page shows a request code to compare with the login prompt
	VariantChoose PushVariant = "choose" // the page offers 3 numbers; the user picks the one the prompt showed
	VariantEnter  PushVariant = "enter"  // the user types the number the prompt showed
)

// ShowsNumber reports whether the login prompt must show something (which
// only an Access-Challenge's Reply-Message can).
func (v PushVariant) ShowsNumber() bool {
	return v == VariantAck || v == VariantChoose || v == VariantEnter
}

// PushFlow is how the RADIUS request waits for the push (SPEC §4).
type PushFlow string

// Push flows.
const (
	// FlowInline blocks the Access-Request until the push is decided or
	// times out. Only VariantPlain fits: nothing can be shown first.
	FlowInline PushFlow = "inline"
	// FlowChallenge answers Access-Challenge first ("Approve … then press
	// Enter"); the answer then waits.
	FlowChallenge PushFlow = "challenge"
)

// Push is one push approval request.
type Push struct {
	ID             int64
	TxID           string
	User           string
	Created        time.Time
	Expires        time.Time
	Decided        time.Time // zero while pending
	Outcome        PushOutcome
	Variant        PushVariant
	Flow           PushFlow
	Number         string   // shown at login: the number (choose, enter) or request code (ack)
	Choices        []string // choose: the numbers the page offers, Number among them
	Resource       string
	Client         string
	CallingStation string
	NASIdentifier  string
	TokenHash      []byte // SHA-256 of the approval URL's token
	DedupKey       string // retransmissions of the same packet carry the same key
	Node           string
	FrontDoor      FrontDoor // where the request that created it came in
	DecidedBy      string    // "page", "api", "timeout", …
}

// PushStore keeps pushes. Every method runs inside a store transaction.
type PushStore interface {
	CreatePush(ctx context.Context, p Push) (int64, error)
	PushByID(ctx context.Context, id int64) (Push, error)
	PushByToken(ctx context.Context, tokenHash []byte) (Push, error)
	// JoinablePush finds a pending, unexpired push that a request may
	// join: one with the dedup key, or (if callingStation is not empty)
	// one for the same user, client and calling station. ErrNotFound if
	// none.
	JoinablePush(ctx context.Context, dedupKey, user, client, callingStation string, now time.Time) (Push, error)
	// DecidePush moves a pending push to outcome; it returns false, and
	// changes nothing, if the push was no longer pending.
	DecidePush(ctx context.Context, id int64, outcome PushOutcome, at time.Time, by string) (bool, error)
	// SupersedePushes marks the user's other pending pushes superseded
	// and returns their ids (their waiting logins are then woken).
	SupersedePushes(ctx context.Context, user string, except int64, at time.Time) ([]int64, error)
	// CountPushes counts the pushes created for user after a time.
	CountPushes(ctx context.Context, user string, since time.Time) (int, error)
}

// WithWaitNotice returns a context that makes Decide call notice just
// before the decision starts to wait for a push (which lasts up to the push
// timeout): a front door can then let go of what it holds for the request
// meanwhile (radmfa serve hands the HTTP connection over to the waiting
// decision). notice must return at once.
func WithWaitNotice(ctx context.Context, notice func()) context.Context {
	return context.WithValue(ctx, waitNoticeKey{}, notice)
}

type waitNoticeKey struct{}

// NoticeWait calls the notice given to WithWaitNotice, if ctx carries one.
// The engine calls it just before it waits for a push; fakes of the engine
// in tests do the same.
func NoticeWait(ctx context.Context) {
	if notice, _ := ctx.Value(waitNoticeKey{}).(func()); notice != nil {
		notice()
	}
}

// PushWaiter wakes requests that wait for a push: radmfa serve implements
// it (approvals arrive through its approval page).
type PushWaiter interface {
	// Wait blocks until the push is decided, d passes or ctx ends, and
	// returns the outcome then (PushPending if undecided).
	Wait(ctx context.Context, id int64, d time.Duration) (PushOutcome, error)
	// Decided tells waiters that a push has an outcome.
	Decided(id int64)
}

// Errors of push approvals.
var (
	ErrPushNotFound = errors.New("mfa: no such push (the link is wrong or was already used)")
	ErrPushExpired  = errors.New("mfa: this request has expired")
	ErrPushDecided  = errors.New("mfa: this request was already answered")
)

// PushDecision is what the approver chose.
type PushDecision struct {
	Approve bool
	// Fraud, when denying: "It wasn't me" (true) or "I made a mistake".
	Fraud bool
	// Number is what the user picked or typed (choose, enter).
	Number string
	// By names the channel: "page" or "api".
	By string
}

// PushView is what the approval page shows.
type PushView struct {
	User           string
	Resource       string
	Organisation   string
	ClientIP       string
	RequestTime    time.Time
	Expires        time.Time
	Variant        PushVariant
	RequestCode    string   // ack
	Choices        []string // choose
	Outcome        PushOutcome
	ExpiredAlready bool
}

func (p Push) view(org string, now time.Time) PushView {
	v := PushView{User: p.User, Resource: p.Resource, Organisation: org, ClientIP: p.CallingStation,
		RequestTime: p.Created, Expires: p.Expires, Variant: p.Variant, Outcome: p.Outcome,
		ExpiredAlready: p.Outcome == PushPending && !now.Before(p.Expires)}
	switch p.Variant {
	case VariantAck:
		v.RequestCode = p.Number
	case VariantChoose:
		v.Choices = p.Choices
	}
	return v
}

func (o PushOutcome) describe() string {
	switch o {
	case PushApproved:
		return "approved"
	case PushDeniedFraud:
		return "denied: it wasn't me"
	case PushDeniedOops:
		return "denied: mistake"
	case PushWrongNumber:
		return "denied: wrong number"
	case PushExpired:
		return "no response"
	case PushSuperseded:
		return "superseded"
	}
	return string(o)
}

// validate checks the variant/flow combination.
func validatePush(flow PushFlow, variant PushVariant) error {
	switch flow {
	case FlowInline, FlowChallenge:
	default:
		return fmt.Errorf("flow %q: want inline or challenge", flow)
	}
	switch variant {
	case VariantPlain, VariantAck, VariantChoose, VariantEnter:
	default:
		return fmt.Errorf("variant %q: want plain, ack, choose or enter", variant)
	}
	if flow == FlowInline && (variant == VariantChoose || variant == VariantEnter) {
		return fmt.Errorf("variant %s needs flow = \"challenge\": only an Access-Challenge can show the number at login", variant)
	}
	return nil
}
