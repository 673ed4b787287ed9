package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// pushDevice returns the user's first enabled push device.
func pushDevice(devices []Device) (Device, bool) {
	for _, d := range devices {
		if d.Kind == DevicePush {
			return d, true
		}
	}
	return Device{}, false
}

// pushTrigger handles an empty or one-character passcode: a push when push
// is available for this user and client, otherwise the fallback (the
// authenticator app's code, seed 002).
func (e *Engine) pushTrigger(ctx context.Context, tx Tx, r *request) (step, error) {
	settings := r.profile.push(e.cfg.Push)
	dev, hasPush := pushDevice(r.devices)
	configured := e.cfg.Push.ApprovalURL != "" && settings.enabled && hasPush
	switch {
	case configured && e.pushDown:
		r.ev.Method = MethodPush
		return e.failMode(r, "push unavailable: the radmfa daemon cannot be reached")
	case !configured || e.notifier == nil || e.waiter == nil:
		// No push: the user's fallback, by what is enrolled (SMS, e-mail,
		// else the authenticator app's code; SPEC §2).
		for _, kind := range []DeviceKind{DeviceSMS, DeviceEmail} {
			if d, ok := codeDevice(r.devices, kind); ok {
				return e.sendCode(ctx, tx, r, d)
			}
		}
		return e.otpChallenge(ctx, tx, r, ChallengeOTP, MsgEnterAppCode, 0, true)
	}
	r.ev.Method = MethodPush
	r.ev.Device = dev.Name

	// Join a pending push: a retransmission of the same packet, or (if
	// allowed) the same user, client and calling station.
	station := ""
	if e.cfg.Push.joinByStation() {
		station = r.req.NAS.CallingStationID
	}
	p, err := tx.JoinablePush(ctx, dedupKey(r.req), r.ev.User, clientOf(r.req), station, r.now)
	if err == nil {
		return e.joined(ctx, tx, r, p)
	}
	if !errors.Is(err, ErrNotFound) {
		return step{}, err
	}

	limit, window := e.cfg.Push.rate()
	n, err := tx.CountPushes(ctx, r.ev.User, r.now.Add(-window))
	if err != nil {
		return step{}, err
	}
	if n >= limit {
		return reject(r, fmt.Sprintf("push refused: more than %d pushes in %s", limit, window), MsgRateLimited), nil
	}

	token, err := e.randomToken()
	if err != nil {
		return step{}, err
	}
	p = Push{
		TxID: r.ev.TxID, User: r.ev.User, Created: r.now, Expires: r.now.Add(settings.timeout),
		Outcome: PushPending, Variant: settings.variant, Flow: settings.flow,
		Resource: r.ev.Resource, Client: clientOf(r.req), CallingStation: r.ev.CallingStationID,
		NASIdentifier: r.ev.NASIdentifier, TokenHash: TokenHash(token), DedupKey: dedupKey(r.req),
		Node: e.cfg.Node, FrontDoor: r.req.FrontDoor,
	}
	if p.Number, p.Choices, err = e.pushNumber(settings.variant); err != nil {
		return step{}, err
	}
	if p.ID, err = tx.CreatePush(ctx, p); err != nil {
		return step{}, err
	}
	superseded, err := tx.SupersedePushes(ctx, r.ev.User, p.ID, r.now)
	if err != nil {
		return step{}, err
	}
	r.ev.Result = ResultChallenge
	r.ev.Message = "push sent" + p.describeVariant()
	st := step{events: []Event{r.ev}}
	if p.Flow == FlowChallenge {
		state, err := e.newChallenge(ctx, tx, r, ChallengePush, p.ID, p.Expires)
		if err != nil {
			return step{}, err
		}
		st.d = Decision{Action: ActionChallenge, Message: pushPrompt(p), State: state, TxID: r.ev.TxID, Reason: r.ev.Message}
	}
	n2 := Notification{
		Kind: NotifyPush, User: r.ev.User, To: dev.Address,
		Subject: "Sign-in request",
		Text:    pushText(p, e.cfg.Push.Organisation),
		Push: &PushNotice{
			ApprovalURL: Secret(strings.TrimSuffix(e.cfg.Push.ApprovalURL, "/") + "/approve/" + token),
			Resource:    p.Resource, Organisation: e.cfg.Push.Organisation, ClientIP: p.CallingStation,
			RequestTime: p.Created, Expires: p.Expires, Variant: string(p.Variant),
		},
	}
	if p.Variant == VariantAck {
		n2.Push.RequestCode = p.Number
	}
	challenge := st.d
	st.next = func(ctx context.Context) (step, error) {
		// Logins waiting for the pushes this one replaced are answered
		// now, not at their own timeout (committed by now).
		if e.waiter != nil {
			for _, id := range superseded {
				e.waiter.Decided(id)
			}
		}
		return e.deliver(ctx, r, p, n2, challenge)
	}
	return st, nil
}

// failMode answers when a backend push needs is down: Reject (secure,
// the default) or Accept (open), always recorded.
func (e *Engine) failMode(r *request, why string) (step, error) {
	if r.profile.failMode() == FailOpen {
		r.ev.Result = ResultSuccess
		r.ev.Message = why + "; fail mode open: accepted"
		return step{d: Decision{Action: ActionAccept, TxID: r.ev.TxID, Reason: r.ev.Message}, events: []Event{r.ev}}, nil
	}
	return reject(r, why+"; fail mode secure: rejected", MsgPushFailed), nil
}

// deliver sends the push notification, outside any transaction, then
// returns the challenge (challenge flow) or waits (inline flow).
func (e *Engine) deliver(ctx context.Context, r *request, p Push, n Notification, challenge Decision) (step, error) {
	dctx, cancel := context.WithTimeout(ctx, min(10*time.Second, time.Until(p.Expires)))
	err := deliveryErr(e.notifier.Notify(dctx, n))
	cancel()
	if err != nil {
		return e.inTx(context.WithoutCancel(ctx), func(tx Tx) (step, error) {
			if _, err := tx.DecidePush(ctx, p.ID, PushExpired, e.now().UTC(), "notifier-error"); err != nil {
				return step{}, err
			}
			r.ev.Time = e.now().UTC().Truncate(time.Millisecond)
			return e.undelivered(r, "push could not be delivered", err)
		})
	}
	if p.Flow == FlowChallenge {
		return step{d: challenge}, nil
	}
	// The wait is a step of its own: this frame (the push and its
	// notification) is then off the stack of the waiting goroutine, whose
	// stack the runtime can shrink while it waits (thousands wait at once).
	id, expires := p.ID, p.Expires
	return step{next: func(ctx context.Context) (step, error) { return e.wait(ctx, r, id, expires) }}, nil
}

// joined handles a request that joins a pending push: no notification, no
// event; it waits for the same push (inline) or gets a State for it
// (challenge flow).
func (e *Engine) joined(ctx context.Context, tx Tx, r *request, p Push) (step, error) {
	r.ev.TxID = p.TxID
	if p.Flow == FlowChallenge {
		state, err := e.newChallenge(ctx, tx, r, ChallengePush, p.ID, p.Expires)
		if err != nil {
			return step{}, err
		}
		return step{d: Decision{Action: ActionChallenge, Message: pushPrompt(p), State: state, TxID: p.TxID, Reason: "joined a pending push"}}, nil
	}
	return step{next: func(ctx context.Context) (step, error) { return e.wait(ctx, r, p.ID, p.Expires) }}, nil
}

// joinPush handles the answer to a push challenge: wait for that push.
func (e *Engine) joinPush(ctx context.Context, tx Tx, r *request, id int64) (step, error) {
	p, err := tx.PushByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return reject(r, "the push this challenge stood for is gone", MsgExpired), nil
	}
	if err != nil {
		return step{}, err
	}
	r.ev.Method = MethodPush
	if p.Outcome != PushPending || e.waiter == nil {
		return e.conclude(ctx, tx, r, id)
	}
	return step{next: func(ctx context.Context) (step, error) { return e.wait(ctx, r, id, p.Expires) }}, nil
}

// wait blocks until the push is decided or expires, then concludes.
func (e *Engine) wait(ctx context.Context, r *request, id int64, deadline time.Time) (step, error) {
	if e.waiter == nil {
		return step{}, errors.New("no push waiter")
	}
	NoticeWait(ctx)
	if _, err := e.waiter.Wait(ctx, id, deadline.Sub(e.now())); err != nil {
		if ctx.Err() != nil {
			return step{}, fmt.Errorf("%w: %v", ErrInterrupted, ctx.Err())
		}
		return step{}, err
	}
	if ctx.Err() != nil {
		return step{}, fmt.Errorf("%w: %v", ErrInterrupted, ctx.Err())
	}
	r.now = e.now().UTC().Truncate(time.Millisecond)
	return e.inTx(ctx, func(tx Tx) (step, error) { return e.conclude(ctx, tx, r, id) })
}

// conclude answers from a push's outcome. The events for approvals and
// denials were written by the approver (DecidePush); an ignored push or
// "I made a mistake" leaves no event after the Challenge (seed 003) and
// offers the fallback: the app's code, or Enter for another push (seed
// 002).
func (e *Engine) conclude(ctx context.Context, tx Tx, r *request, id int64) (step, error) {
	p, err := tx.PushByID(ctx, id)
	if err != nil {
		return step{}, err
	}
	if p.Outcome == PushPending {
		ok, err := tx.DecidePush(ctx, id, PushExpired, r.now, "timeout")
		if err != nil {
			return step{}, err
		}
		if !ok { // decided meanwhile
			if p, err = tx.PushByID(ctx, id); err != nil {
				return step{}, err
			}
		} else {
			p.Outcome = PushExpired
		}
	}
	d := Decision{TxID: p.TxID, Reason: "push " + p.Outcome.describe()}
	switch p.Outcome {
	case PushApproved:
		d.Action = ActionAccept
		return step{d: d}, nil
	case PushDeniedFraud, PushWrongNumber:
		d.Action, d.Message = ActionReject, MsgPushDenied
		return step{d: d}, nil
	case PushSuperseded:
		d.Action, d.Message = ActionReject, MsgFailed
		return step{d: d}, nil
	}
	r.ev.TxID = p.TxID
	st, err := e.otpChallenge(ctx, tx, r, ChallengeFallback, MsgFallback, 0, false)
	st.d.Reason = d.Reason + ": fallback to the app's code"
	return st, err
}

// PushView returns what the approval page shows for a token.
func (e *Engine) PushView(ctx context.Context, token string) (PushView, error) {
	var v PushView
	err := e.store.Update(ctx, func(tx Tx) error {
		p, err := tx.PushByToken(ctx, TokenHash(token))
		if errors.Is(err, ErrNotFound) {
			return ErrPushNotFound
		}
		if err != nil {
			return err
		}
		v = p.view(e.cfg.Push.Organisation, e.now())
		return nil
	})
	return v, err
}

// DecidePush records the approver's answer to a push (the approval page or
// the JSON API) and wakes the request waiting for it. Approved → Success
// event; "it wasn't me" or a wrong number → Failure event, counted toward
// lockout, and an alert to the user and operator; "I made a mistake" → no
// event (like a timeout). A token is single-use: a second answer is
// ErrPushDecided.
func (e *Engine) DecidePush(ctx context.Context, token string, d PushDecision) (PushOutcome, error) {
	now := e.now().UTC().Truncate(time.Millisecond)
	var p Push
	var outcome PushOutcome
	var alertTo []string
	err := e.store.Update(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PushByToken(ctx, TokenHash(token))
		if errors.Is(err, ErrNotFound) {
			return ErrPushNotFound
		}
		if err != nil {
			return err
		}
		if p.Outcome == PushExpired {
			return ErrPushExpired // timed out (and concluded) already
		}
		if p.Outcome != PushPending {
			return ErrPushDecided
		}
		if !now.Before(p.Expires) {
			return ErrPushExpired
		}
		switch {
		case !d.Approve && d.Fraud:
			outcome = PushDeniedFraud
		case !d.Approve:
			outcome = PushDeniedOops
		case (p.Variant == VariantChoose || p.Variant == VariantEnter) && !numbersEqual(strings.TrimSpace(d.Number), p.Number):
			outcome = PushWrongNumber
		default:
			outcome = PushApproved
		}
		ok, err := tx.DecidePush(ctx, p.ID, outcome, now, d.By)
		if err != nil {
			return err
		}
		if !ok {
			return ErrPushDecided
		}
		ev := e.pushEvent(p, now)
		user, err := tx.LookupUser(ctx, p.User)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		latency := now.Sub(p.Created).Seconds()
		switch outcome {
		case PushApproved:
			ev.Result, ev.Message = ResultSuccess, fmt.Sprintf("push approved (%.1f s)", latency)
			if user.Failures > 0 {
				if err := tx.ResetFailures(ctx, user.ID); err != nil {
					return err
				}
			}
		case PushDeniedFraud, PushWrongNumber:
			ev.Result = ResultFailure
			ev.Message = "push rejected by user: it wasn't me"
			if outcome == PushWrongNumber {
				ev.Message = "push rejected: wrong number chosen"
			}
			if user.ID != 0 {
				locked, err := e.countFailure(ctx, tx, user.ID, now, "")
				if err != nil {
					return err
				}
				if locked {
					lock := ev
					lock.Message = "account locked"
					if err := tx.AddEvent(ctx, lock); err != nil {
						return err
					}
				}
			}
			alertTo, err = e.alertAddresses(ctx, tx, user)
			if err != nil {
				return err
			}
		default:
			return nil // a mistake: no event
		}
		return tx.AddEvent(ctx, ev)
	})
	if err != nil {
		return "", err
	}
	if e.waiter != nil {
		e.waiter.Decided(p.ID)
	}
	if outcome == PushDeniedFraud || outcome == PushWrongNumber {
		e.alert(ctx, p, outcome, alertTo)
	}
	return outcome, nil
}

// pushEvent is an event about a push, with the push's context.
func (e *Engine) pushEvent(p Push, now time.Time) Event {
	return Event{Time: now, TxID: p.TxID, User: p.User, Method: MethodPush, Trigger: TriggerInvalid,
		FrontDoor: p.FrontDoor, Node: e.cfg.Node, Client: p.Client, NASIdentifier: p.NASIdentifier,
		CallingStationID: p.CallingStation, Resource: p.Resource}
}

// alertAddresses lists where a fraud alert goes: the user's push devices
// and the operator.
func (e *Engine) alertAddresses(ctx context.Context, tx Tx, u User) ([]string, error) {
	var to []string
	if u.ID != 0 {
		devs, err := tx.Devices(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			if d.Kind == DevicePush && !d.Disabled {
				to = append(to, d.Address)
			}
		}
	}
	if e.cfg.Push.OperatorAlert != "" {
		to = append(to, e.cfg.Push.OperatorAlert)
	}
	return to, nil
}

// alert sends fraud alerts, best-effort and bounded in time.
func (e *Engine) alert(ctx context.Context, p Push, outcome PushOutcome, to []string) {
	if e.notifier == nil {
		return
	}
	what := "reported as not theirs"
	if outcome == PushWrongNumber {
		what = "denied with a wrong number"
	}
	text := fmt.Sprintf("A sign-in request for %s to %s from %s at %s was %s. If this was not you, change your password and tell your help desk.",
		p.User, orDash(p.Resource), orDash(p.CallingStation), p.Created.UTC().Format(time.RFC3339), what)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, addr := range to {
		e.notifier.Notify(actx, Notification{Kind: NotifyAlert, User: p.User, To: addr, Subject: "Suspicious sign-in request", Text: text})
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// pushNumber returns what the login prompt shows for a variant, and the
// choices of a choose push.
func (e *Engine) pushNumber(v PushVariant) (string, []string, error) {
	switch v {
	case VariantAck:
		const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ" // no I or O
		code := make([]byte, 5)
		for i := range code {
			n, err := e.randomNumber(0, len(letters)-1)
			if err != nil {
				return "", nil, err
			}
			code[i] = letters[n]
		}
		return string(code), nil, nil
	case VariantChoose, VariantEnter:
		n, err := e.randomNumber(10, 99)
		if err != nil {
			return "", nil, err
		}
		number := strconv.Itoa(n)
		if v == VariantEnter {
			return number, nil, nil
		}
		choices := []string{number}
		for len(choices) < 3 {
			m, err := e.randomNumber(10, 99)
			if err != nil {
				return "", nil, err
			}
			c := strconv.Itoa(m)
			if !contains(choices, c) {
				choices = append(choices, c)
			}
		}
		// Shuffle so the right number's place says nothing.
		for i := len(choices) - 1; i > 0; i-- {
			j, err := e.randomNumber(0, i)
			if err != nil {
				return "", nil, err
			}
			choices[i], choices[j] = choices[j], choices[i]
		}
		return number, choices, nil
	}
	return "", nil, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// pushPrompt is the Reply-Message of a push challenge.
func pushPrompt(p Push) string {
	switch p.Variant {
	case VariantAck:
		return fmt.Sprintf("Approve the sign-in request on your phone (request code %s), then press Enter", p.Number)
	case VariantChoose:
		return fmt.Sprintf("Approve the sign-in request on your phone by choosing %s, then press Enter", p.Number)
	case VariantEnter:
		return fmt.Sprintf("Approve the sign-in request on your phone by entering %s, then press Enter", p.Number)
	}
	return "Approve the sign-in request on your phone, then press Enter"
}

// pushText is the notification's message.
func pushText(p Push, org string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sign-in request for %s", p.User)
	if p.Resource != "" {
		fmt.Fprintf(&b, " to %s", p.Resource)
	}
	if org != "" {
		fmt.Fprintf(&b, " (%s)", org)
	}
	if p.CallingStation != "" {
		fmt.Fprintf(&b, " from %s", p.CallingStation)
	}
	fmt.Fprintf(&b, " at %s UTC.", p.Created.UTC().Format("15:04:05"))
	if p.Variant == VariantAck {
		fmt.Fprintf(&b, " Request code %s.", p.Number)
	}
	return b.String()
}

func (p Push) describeVariant() string {
	switch p.Variant {
	case VariantAck:
		return fmt.Sprintf(" (%s flow, ack, request code %s)", p.Flow, p.Number)
	case VariantChoose, VariantEnter:
		return fmt.Sprintf(" (%s flow, %s, number %s)", p.Flow, p.Variant, p.Number)
	}
	return fmt.Sprintf(" (%s flow)", p.Flow)
}

// dedupKey identifies a packet: a retransmission has the same source
// address and port and the same Request Authenticator.
func dedupKey(req Request) string {
	if len(req.Authenticator) == 0 || req.NAS.ClientIP == "" {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|", req.NAS.ClientIP, req.NAS.ClientPort)
	h.Write(req.Authenticator)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
