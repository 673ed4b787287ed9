package rlmrest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
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
	taken    sync.WaitGroup // requests answering on a connection taken over
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
	x := &exchange{h: h, log: log, req: req, start: start, timeout: timeout}
	if parseErr != nil {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		d, err := h.Decider.Refuse(ctx, req, "malformed request: "+parseErr.Error())
		log.Warn().Str("user", mfa.Printable(req.UserName)).Str("reason", parseErr.Error()).Msg("refused malformed request")
		x.finish(w, x.respond(ctx, d, err))
		return
	}

	// The decision runs on a goroutine of its own, under a context that
	// outlives this handler. When it has to wait for a push (up to the push
	// timeout), it takes the connection over and answers on it later, so
	// that the HTTP server keeps no request, buffers or goroutine for the
	// thousands of logins that may wait at once.
	x.waiting, x.conn, x.done = make(chan struct{}), make(chan net.Conn, 1), make(chan answer, 1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	var once sync.Once
	ctx = mfa.WithWaitNotice(ctx, func() { once.Do(func() { close(x.waiting) }) })
	go x.decide(ctx, cancel)
	select {
	case a := <-x.done:
		x.finish(w, a)
		return
	case <-x.waiting:
	}
	c := h.takeOver(w, log)
	x.conn <- c
	if c == nil { // answer here after all
		x.finish(w, <-x.done)
	}
}

// exchange is one request being decided.
type exchange struct {
	h       *Handler
	log     zerolog.Logger
	req     mfa.Request
	start   time.Time
	timeout time.Duration

	waiting chan struct{} // closed when the decision starts to wait for a push
	conn    chan net.Conn // then: the connection to answer on (nil: answer through the handler)
	done    chan answer   // otherwise: the answer, for the handler to write
}

// answer is a decision and the response that carries it.
type answer struct {
	resp Response
	d    mfa.Decision
}

// decide makes the decision and answers it: on the connection taken over
// if it waited, else through the handler.
func (x *exchange) decide(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	defer context.AfterFunc(x.h.drainContext(), cancel)()
	d, err := x.h.Decider.Decide(ctx, x.req)
	a := x.respond(ctx, d, err)
	select {
	case <-x.waiting:
		if c := <-x.conn; c != nil {
			writeConn(c, a.resp, x.log)
			x.report(a)
			x.h.taken.Done()
			return
		}
	default:
	}
	x.done <- a
}

// respond turns the decision, or the failure to make one, into the answer.
func (x *exchange) respond(ctx context.Context, d mfa.Decision, err error) answer {
	h := x.h
	if err != nil && errors.Is(err, mfa.ErrInterrupted) && h.draining.Load() {
		x.log.Info().Str("tx", d.TxID).Msg("shutting down while waiting for a push: no reply (the push stays pending)")
		return answer{resp: NoReply(), d: d}
	}
	if err != nil {
		cause := err.Error()
		if ctx.Err() != nil {
			cause = "no decision within " + x.timeout.String()
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		if rerr := h.Decider.RecordError(rctx, x.req, d.TxID, cause); rerr != nil {
			x.log.Error().Err(rerr).Msg("event not recorded")
		}
		rcancel()
		x.log.Error().Err(err).Str("tx", d.TxID).Str("user", mfa.Printable(x.req.UserName)).Msg("could not decide")
		d = mfa.Decision{TxID: d.TxID, Message: mfa.MsgUnavailable}
	}
	return answer{resp: RespondTo(x.req, d), d: d}
}

// finish writes the answer through the handler.
func (x *exchange) finish(w http.ResponseWriter, a answer) {
	write(w, a.resp)
	x.report(a)
}

// report logs the decision and tells Observe.
func (x *exchange) report(a answer) {
	took := time.Since(x.start)
	d, resp := a.d, a.resp
	x.log.Debug().Str("tx", d.TxID).Str("user", mfa.Printable(x.req.UserName)).Stringer("action", d.Action).
		Str("reason", d.Reason).Int("status", resp.Status).Dur("duration", took).Msg("decision")
	if x.h.Observe != nil && resp.Status != StatusNoReply {
		x.h.Observe(x.req, d, resp.Status, took)
	}
}

// takeOver takes the connection from the HTTP server, or returns nil when
// it cannot (HTTP/2). Drain's caller waits for the answers on taken
// connections with WaitTaken.
func (h *Handler) takeOver(w http.ResponseWriter, log zerolog.Logger) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil
	}
	c, _, err := hj.Hijack()
	if err != nil {
		log.Warn().Err(err).Msg("cannot take the connection over: waiting in the handler")
		return nil
	}
	h.taken.Add(1)
	return c
}

// writeConn answers on a taken connection and closes it (rlm_rest opens a
// new one for its next request).
func writeConn(c net.Conn, r Response, log zerolog.Logger) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	head := "HTTP/1.1 " + strconv.Itoa(r.Status) + " " + http.StatusText(r.Status) +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(r.Body)) + "\r\nConnection: close\r\n\r\n"
	if _, err := c.Write(append([]byte(head), r.Body...)); err != nil {
		// FreeRADIUS gave up on the request (its rest timeout passed).
		log.Warn().Err(err).Msg("the answer could not be sent")
	}
}

// WaitTaken waits until every request whose connection was taken over has
// been answered (after Drain, they answer at once), or ctx ends. Call it
// after the HTTP server's Shutdown, which waits for the handlers that may
// still take one over.
func (h *Handler) WaitTaken(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.taken.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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
