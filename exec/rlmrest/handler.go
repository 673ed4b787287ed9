package rlmrest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// HeaderFrontDoor names the front door a forwarded request came through:
// radmfa exec sets it to "exec" when it hands a request to radmfa serve,
// so events say where the request really arrived.
const HeaderFrontDoor = "X-Radmfa-Front-Door"

// Decider is what the handler needs from the engine.
type Decider interface {
	Decide(ctx context.Context, req mfa.Request) (mfa.Decision, error)
	Refuse(ctx context.Context, req mfa.Request, reason string) (mfa.Decision, error)
	RecordError(ctx context.Context, req mfa.Request, txID, cause string) error
}

// Handler answers rlm_rest's POSTs (mount it at /radius/authorize).
type Handler struct {
	Decider Decider
	Log     zerolog.Logger
	// Timeout bounds one decision (default 10 s).
	Timeout time.Duration
	// Observe, if set, is called after each answer (for metrics).
	Observe func(req mfa.Request, d mfa.Decision, status int, took time.Duration)

	draining atomic.Bool
	drainMu  sync.Mutex
	drainCtx context.Context // canceled by Drain: ends push waits
	drain    context.CancelFunc
}

// DefaultTimeout bounds a decision when Handler.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Drain makes every later request answer NoReply, and ends the waits of
// requests waiting for a push with NoReply too: radmfa is shutting down,
// and FreeRADIUS should stay silent so the NAS retransmits to the next
// radmfa (which joins the push, still pending in the store) rather than
// give the user a Reject. Decisions that need no wait finish normally.
func (h *Handler) Drain() {
	h.draining.Store(true)
	h.drainContext()
	h.drain()
}

func (h *Handler) drainContext() context.Context {
	h.drainMu.Lock()
	defer h.drainMu.Unlock()
	if h.drainCtx == nil {
		h.drainCtx, h.drain = context.WithCancel(context.Background())
	}
	return h.drainCtx
}

// recordTimeout bounds writing an event after a failure.
const recordTimeout = 2 * time.Second

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		id = newID()
	}
	log := h.Log.With().Str("request_id", id).Logger()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST the request attributes as JSON (rlm_rest body = 'json')", http.StatusMethodNotAllowed)
		return
	}
	if h.draining.Load() {
		log.Info().Msg("shutting down: no reply")
		write(w, NoReply())
		return
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	defer context.AfterFunc(h.drainContext(), cancel)()

	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var req mfa.Request
	var parseErr error
	if readErr == nil {
		var pkt Packet
		req, pkt, parseErr = ParseRequest(body, r.URL.Query())
		// With the source address and port, the authenticator recognises
		// the NAS retransmitting this packet (it joins a pending push).
		req.Authenticator = pkt.Authenticator
	} else {
		req = mfa.Request{FrontDoor: mfa.FrontDoorREST}
		var mbe *http.MaxBytesError
		if errors.As(readErr, &mbe) {
			parseErr = errors.New("request body larger than " + strconv.Itoa(MaxBody/1024) + " KiB")
		} else {
			parseErr = errors.New("request body could not be read: " + readErr.Error())
		}
	}

	if r.Header.Get(HeaderFrontDoor) == mfa.FrontDoorExec.String() {
		req.FrontDoor = mfa.FrontDoorExec // radmfa exec forwarded it
	}
	var d mfa.Decision
	var err error
	if parseErr != nil {
		d, err = h.Decider.Refuse(ctx, req, "malformed request: "+parseErr.Error())
		log.Warn().Str("user", mfa.Printable(req.UserName)).Str("reason", parseErr.Error()).Msg("refused malformed request")
	} else {
		d, err = h.Decider.Decide(ctx, req)
	}
	if err != nil && errors.Is(err, mfa.ErrInterrupted) && h.draining.Load() {
		log.Info().Str("tx", d.TxID).Msg("shutting down while waiting for a push: no reply (the push stays pending)")
		write(w, NoReply())
		return
	}
	if err != nil {
		cause := err.Error()
		if ctx.Err() != nil {
			cause = "no decision within " + timeout.String()
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		if rerr := h.Decider.RecordError(rctx, req, d.TxID, cause); rerr != nil {
			log.Error().Err(rerr).Msg("event not recorded")
		}
		rcancel()
		log.Error().Err(err).Str("tx", d.TxID).Str("user", mfa.Printable(req.UserName)).Msg("could not decide")
		d = mfa.Decision{TxID: d.TxID, Message: mfa.MsgUnavailable}
	}
	resp := Respond(d)
	write(w, resp)
	took := time.Since(start)
	log.Debug().Str("tx", d.TxID).Str("user", mfa.Printable(req.UserName)).Stringer("action", d.Action).
		Str("reason", d.Reason).Int("status", resp.Status).Dur("duration", took).Msg("decision")
	if h.Observe != nil {
		h.Observe(req, d, resp.Status, took)
	}
}

func write(w http.ResponseWriter, r Response) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.Status)
	w.Write(r.Body)
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
