package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Tunables that are not worth a config key.
const (
	// maxIdle is how long an idle pooled connection is kept: firewalls and
	// Active Directory (MaxConnIdleTime, 15 min) drop idle connections
	// silently, and a dropped one costs a timeout to notice.
	maxIdle = time.Minute
	// badServerPause is how long a server that failed is tried only after
	// the others.
	badServerPause = 30 * time.Second
)

// longAgo is a deadline in the past: setting it unblocks every read and
// write on a socket at once.
var longAgo = time.Unix(1, 0)

// conn is an LDAP connection together with the socket under it, so that
// every operation can be bounded by a deadline, whatever go-ldap does
// inside (it has no context support).
type conn struct {
	l         *ldap.Conn
	raw       net.Conn
	srv       string    // URL, for messages
	idleSince time.Time // when it was put back in the pool
	reused    bool      // taken from the pool rather than dialled
	broken    bool      // must not be used again
	timedOut  bool      // the last operation ran into its deadline
	ctxBound  bool      // that deadline was the caller's, not the timeout
}

// do runs op bounded by timeout and by ctx. When ctx ends first, the socket
// gets a past deadline so op returns at once. Any failure marks the
// connection broken: a fresh one is cheap, a half-dead one costs a timeout.
func (c *conn) do(ctx context.Context, timeout time.Duration, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	c.ctxBound = false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, c.ctxBound = d, true
	}
	_ = c.raw.SetDeadline(deadline)
	c.l.SetTimeout(time.Until(deadline))
	stop := context.AfterFunc(ctx, func() { _ = c.raw.SetDeadline(longAgo) })
	err := op()
	if !stop() {
		// ctx ended while op ran: the socket's deadline is gone.
		c.broken = true
	}
	c.timedOut = err != nil && !time.Now().Before(deadline)
	if err != nil {
		c.broken = true
	}
	if !c.broken {
		_ = c.raw.SetDeadline(time.Time{})
	}
	return err
}

// close closes the connection. go-ldap's Close waits at most the request
// timeout for its goroutines, which then end on the closed socket.
func (c *conn) close() {
	c.l.SetTimeout(time.Second)
	_ = c.raw.SetDeadline(longAgo)
	_ = c.l.Close()
}

// opError turns the failure of an operation on c into an error for the
// caller: the directory did not answer in time (or ctx ended), or the
// operation failed. Both say which server and what was done.
func (c *conn) opError(ctx context.Context, what string, timeout time.Duration, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ldapdir: %s on %s: %w: %w", what, c.srv, mfa.ErrBackendDown, ctxErr)
	}
	if c.timedOut && c.ctxBound {
		// The socket's deadline (the caller's) fired a moment before ctx.
		return fmt.Errorf("ldapdir: %s on %s: %w: %w", what, c.srv, mfa.ErrBackendDown, context.DeadlineExceeded)
	}
	if c.timedOut {
		return fmt.Errorf("ldapdir: %s on %s: %w: no answer within %s", what, c.srv, mfa.ErrBackendDown, timeout)
	}
	return fmt.Errorf("ldapdir: %s on %s: %w: %w", what, c.srv, mfa.ErrBackendDown, err)
}

// pool holds idle service-account connections and limits how many are in
// use at once.
type pool struct {
	slots  chan struct{} // one token per connection in use
	mu     sync.Mutex
	idle   []*conn
	closed bool
}

var errClosed = errors.New("ldapdir: directory is closed")

// get returns a connection from the pool or dials a new one, waiting at
// most timeout (and ctx) for a free slot.
func (d *Directory) get(ctx context.Context) (*conn, error) {
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case d.pool.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("ldapdir: waiting for a connection: %w: %w", mfa.ErrBackendDown, ctx.Err())
	case <-t.C:
		return nil, fmt.Errorf("ldapdir: all %d connections busy for %s: %w", cap(d.pool.slots), d.timeout, mfa.ErrBackendDown)
	}
	for {
		d.pool.mu.Lock()
		if d.pool.closed {
			d.pool.mu.Unlock()
			<-d.pool.slots
			return nil, errClosed
		}
		var c *conn
		if n := len(d.pool.idle); n > 0 {
			c, d.pool.idle = d.pool.idle[n-1], d.pool.idle[:n-1]
		}
		d.pool.mu.Unlock()
		if c == nil {
			break
		}
		if c.l.IsClosing() || time.Since(c.idleSince) > maxIdle {
			c.close()
			continue
		}
		c.reused = true
		return c, nil
	}
	c, err := d.dialService(ctx)
	if err != nil {
		<-d.pool.slots
		return nil, err
	}
	return c, nil
}

// put returns a connection taken with get. Broken ones are closed.
func (d *Directory) put(c *conn) {
	d.pool.mu.Lock()
	keep := !c.broken && !d.pool.closed
	if keep {
		c.idleSince = time.Now()
		c.reused = false
		d.pool.idle = append(d.pool.idle, c)
	}
	d.pool.mu.Unlock()
	if !keep {
		c.close()
	}
	<-d.pool.slots
}

// withConn runs op on a pooled service connection, bounded by the timeout
// and ctx. If a connection that sat in the pool turns out dead (the server
// closed it), op is tried again on the next one: when the server dropped
// them all, each idle connection may be dead, so up to the pool's size of
// retries, the last on a fresh connection.
func (d *Directory) withConn(ctx context.Context, what string, op func(*conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := d.get(ctx)
		if err != nil {
			return err
		}
		err = c.do(ctx, d.timeout, func() error { return op(c) })
		d.put(c)
		if err == nil {
			return nil
		}
		// A dead connection shows as ErrorNetwork when the read side
		// noticed, or as a plain "unable to send request" when the write
		// did first: anything but a server's answer on a reused one.
		if c.reused && attempt < cap(d.pool.slots) && !c.timedOut && ctx.Err() == nil && !isResult(err) {
			continue
		}
		if isResult(err) {
			return err // an LDAP result: the caller says what it means
		}
		return c.opError(ctx, what, d.timeout, err)
	}
}

// isResult reports whether err is an answer of the server (an LDAP result
// code) rather than a failure to get one.
func isResult(err error) bool {
	var le *ldap.Error
	// go-ldap's own errors (network, filter, empty password) are 200 and up.
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// dialService connects and binds as the service account.
func (d *Directory) dialService(ctx context.Context) (*conn, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if d.cfg.BindDN == "" {
		return c, nil
	}
	err = c.do(ctx, d.timeout, func() error { return c.l.Bind(d.cfg.BindDN, d.bindPassword.Reveal()) })
	if err != nil {
		c.close()
		if isResult(err) {
			return nil, fmt.Errorf("ldapdir: service account bind as %q on %s: %w: %w", d.cfg.BindDN, c.srv, mfa.ErrBackendDown, err)
		}
		return nil, c.opError(ctx, "service account bind", d.timeout, err)
	}
	return c, nil
}

// dial connects to the first server that answers (servers that failed
// lately last), with TLS as configured, without binding.
func (d *Directory) dial(ctx context.Context) (*conn, error) {
	var errs []string
	untrusted := false
	for _, i := range d.serverOrder() {
		c, err := d.dialServer(ctx, d.servers[i])
		d.markServer(i, err == nil)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err.Error())
		untrusted = untrusted || errors.Is(err, mfa.ErrBackendUntrusted)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ldapdir: connect: %w: %w (%s)", mfa.ErrBackendDown, ctx.Err(), strings.Join(errs, "; "))
		}
	}
	if untrusted {
		// A server whose certificate failed may be an attacker in the
		// middle: the engine never fails open on this.
		return nil, fmt.Errorf("ldapdir: connect: %w (%w): %s", mfa.ErrBackendDown, mfa.ErrBackendUntrusted, strings.Join(errs, "; "))
	}
	return nil, fmt.Errorf("ldapdir: connect: %w: %s", mfa.ErrBackendDown, strings.Join(errs, "; "))
}

// serverOrder returns the indexes of the servers to try: in configured
// order, those that failed in the last badServerPause at the end.
func (d *Directory) serverOrder() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	var good, bad []int
	for i := range d.servers {
		if now.Before(d.badUntil[i]) {
			bad = append(bad, i)
		} else {
			good = append(good, i)
		}
	}
	return append(good, bad...)
}

func (d *Directory) markServer(i int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok {
		d.badUntil[i] = time.Time{}
	} else {
		d.badUntil[i] = time.Now().Add(badServerPause)
	}
}

// dialServer opens a TCP connection to s, with TLS for ldaps:// or
// StartTLS when configured; each step is bounded by the timeout.
func (d *Directory) dialServer(ctx context.Context, s server) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(dctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.url, err)
	}
	var nc net.Conn = raw
	if s.ldaps {
		tc := tls.Client(raw, d.tlsConfig(s))
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			if dctx.Err() == nil && tlsTrustError(err) {
				return nil, fmt.Errorf("%s: %w: %v", s.url, mfa.ErrBackendUntrusted, err)
			}
			return nil, fmt.Errorf("%s: %v", s.url, err)
		}
		nc = tc
	}
	l := ldap.NewConn(nc, s.ldaps)
	l.Start()
	c := &conn{l: l, raw: raw, srv: s.url}
	if d.cfg.StartTLS && !s.ldaps {
		if err := c.do(ctx, d.timeout, func() error { return l.StartTLS(d.tlsConfig(s)) }); err != nil {
			c.close()
			switch {
			case c.timedOut && c.ctxBound:
				return nil, fmt.Errorf("%s: StartTLS: %w", s.url, context.DeadlineExceeded)
			case c.timedOut:
				return nil, fmt.Errorf("%s: StartTLS: no answer within %s", s.url, d.timeout)
			}
			// Refused or failed: a server that answers but cannot give
			// TLS may be an attacker stripping StartTLS.
			return nil, fmt.Errorf("%s: StartTLS: %w: %v", s.url, mfa.ErrBackendUntrusted, err)
		}
	}
	return c, nil
}

// tlsTrustError reports whether a TLS handshake failed on the server's
// identity or the protocol itself (a bad, expired or unknown certificate,
// an alert, something that is not TLS), rather than on the network.
func tlsTrustError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
		ae tls.AlertError
		rh tls.RecordHeaderError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &ae) || errors.As(err, &rh)
}

// tlsConfig returns the TLS settings for server s.
func (d *Directory) tlsConfig(s server) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            d.roots,
		ServerName:         s.host,
		InsecureSkipVerify: d.cfg.InsecureSkipVerify,
	}
}
