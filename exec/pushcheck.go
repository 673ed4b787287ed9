package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/radmfa/radmfa/exec/frconf"
	"github.com/radmfa/radmfa/internal/mfa"
)

// A push wait holds the RADIUS request open: inline, the Access-Request
// itself waits; in the challenge flow, the answer to the challenge does.
// Everything between the NAS and radmfa must wait longer than the push
// timeout, or the user's approval (or the fallback challenge after the
// timeout) reaches nobody:
//
//	push timeout + pushMargin <= rlm_rest timeout <= max_request_time
//	push timeout + pushMargin <  NAS timeout × (1 + retries)
//
// These checks are shared by radmfa doctor and check-config.

// pushMargin is the time radmfa may need after a push times out to answer
// (one transaction and the HTTP reply), with room to spare.
const pushMargin = 2 * time.Second

// pushWait is one push policy in effect: [push] for the clients no profile
// names, or a profile's.
type pushWait struct {
	name    string // "[push]" or `profile "vpn"`
	timeout time.Duration
	flow    mfa.PushFlow
	// nas is how long the profile's NAS waits for an answer, retries
	// included (nas_timeout × (1 + nas_retries)); 0 when not configured.
	nas time.Duration
}

// pushWaits lists the push policies in effect, none when push is off.
func pushWaits(cfg *config) []pushWait {
	if cfg.Push.ApprovalURL == "" {
		return nil
	}
	global := pushWait{name: "[push]", timeout: mfa.DefaultPushTimeout, flow: mfa.FlowInline}
	if cfg.Push.Timeout != 0 {
		global.timeout = time.Duration(cfg.Push.Timeout)
	}
	if cfg.Push.Flow != "" {
		global.flow = cfg.Push.Flow
	}
	waits := []pushWait{global}
	for _, p := range cfg.Profiles {
		if p.Push.Disabled {
			continue
		}
		w := global
		w.name = fmt.Sprintf("profile %q", p.Name)
		if p.Push.Timeout != 0 {
			w.timeout = time.Duration(p.Push.Timeout)
		}
		if p.Push.Flow != "" {
			w.flow = p.Push.Flow
		}
		if p.NASTimeout != 0 {
			w.nas = time.Duration(p.NASTimeout) * time.Duration(1+p.NASRetries)
		}
		waits = append(waits, w)
	}
	return waits
}

// longestPushWait is the longest push timeout in effect, with the policy
// that has it; ok is false when push is off.
func longestPushWait(cfg *config) (w pushWait, ok bool) {
	for _, x := range pushWaits(cfg) {
		if !ok || x.timeout > w.timeout {
			w, ok = x, true
		}
	}
	return w, ok
}

// nasFindings compares each profile's NAS timeout with its push timeout
// (seed 002: the NAS must wait well beyond the push, or the user never sees
// the fallback).
func nasFindings(cfg *config) []finding {
	var out []finding
	for _, w := range pushWaits(cfg) {
		if w.nas == 0 {
			continue
		}
		if w.nas <= w.timeout+pushMargin {
			out = append(out, finding{"warn", fmt.Sprintf(
				"%s: the NAS waits nas_timeout × (1 + nas_retries) = %s, not longer than the push timeout %s + %s: it gives up before the push is answered or times out, so the user never gets the answer or the fallback challenge; raise the NAS's RADIUS timeout (or lower the push timeout)",
				w.name, w.nas, w.timeout, pushMargin)})
			continue
		}
		out = append(out, finding{"ok", fmt.Sprintf("%s: the NAS waits %s, longer than the push timeout %s", w.name, w.nas, w.timeout)})
	}
	return out
}

// frLimits are the FreeRADIUS settings that bound a push wait.
type frLimits struct {
	maxRequestTime float64 // seconds; default 30
	maxServers     int     // thread pool; default 32
	rest           []frModule
	exec           []frModule
}

// frModule is a radmfa rlm_rest or rlm_exec module.
type frModule struct {
	where   string  // "mods-enabled/radmfa_rest: rest rest_radmfa"
	timeout float64 // seconds: rest's authorize timeout, exec's timeout
	poolMax string  // rest: pool { max }, as written ("" = rlm_rest's default, 32)
}

// FreeRADIUS defaults for what frLimitsOf reads.
const (
	frDefaultMaxRequestTime = 30
	frDefaultMaxServers     = 32
	frDefaultRESTTimeout    = 4
	frDefaultExecTimeout    = 10
)

// frLimitsOf reads the limits from a parsed configuration directory
// (frFiles): radiusd.conf and the radmfa modules.
func frLimitsOf(dir string, files map[string]*frconf.Section) frLimits {
	lim := frLimits{maxRequestTime: frDefaultMaxRequestTime, maxServers: frDefaultMaxServers}
	if root := files[filepath.Join(dir, "radiusd.conf")]; root != nil {
		if v, ok := root.Get("max_request_time"); ok {
			lim.maxRequestTime = frSeconds(v, frDefaultMaxRequestTime)
		}
		if pool := root.Sub("thread pool"); pool != nil {
			if v, ok := pool.Get("max_servers"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					lim.maxServers = n
				}
			}
		}
	}
	for path, root := range files {
		rel, _ := filepath.Rel(dir, path)
		for _, s := range root.Find(func(n string) bool { return strings.HasPrefix(n, "exec ") }) {
			if prog, _ := s.Get("program"); !strings.Contains(prog, "radmfa") || !strings.Contains(prog, " exec") {
				continue
			}
			m := frModule{where: rel + ": " + s.Name, timeout: frDefaultExecTimeout}
			if v, ok := s.Get("timeout"); ok {
				m.timeout = frSeconds(v, frDefaultExecTimeout)
			}
			lim.exec = append(lim.exec, m)
		}
		for _, s := range root.Find(func(n string) bool { return strings.HasPrefix(n, "rest ") }) {
			auth := s.Sub("authorize")
			if auth == nil {
				continue
			}
			if uri, _ := auth.Get("uri"); !strings.Contains(uri, "radius/authorize") {
				continue
			}
			m := frModule{where: rel + ": " + s.Name, timeout: frDefaultRESTTimeout}
			if v, ok := auth.Get("timeout"); ok {
				m.timeout = frSeconds(v, frDefaultRESTTimeout)
			}
			if pool := s.Sub("pool"); pool != nil {
				m.poolMax, _ = pool.Get("max")
			}
			lim.rest = append(lim.rest, m)
		}
	}
	return lim
}

// pushFRFindings checks that FreeRADIUS waits long enough for the longest
// push, and says what the waits cost in threads.
func pushFRFindings(cfg *config, lim frLimits) []finding {
	w, ok := longestPushWait(cfg)
	if !ok {
		return nil
	}
	var out []finding
	add := func(level, format string, a ...any) { out = append(out, finding{level, fmt.Sprintf(format, a...)}) }
	need := (w.timeout + pushMargin).Seconds()
	for _, m := range lim.rest {
		if m.timeout < need {
			add("warn", "%s: authorize timeout = %g s is shorter than the push timeout of %s (%s) + %s: FreeRADIUS gives up (Access-Reject) while the user may still approve, and the fallback challenge after the timeout never arrives; set it to at least %g (the shipped snippet has 60)",
				m.where, m.timeout, w.name, w.timeout, pushMargin, need)
		} else {
			add("ok", "%s: timeout %g s fits the longest push (%s, %s)", m.where, m.timeout, w.name, w.timeout)
		}
		if n, err := strconv.Atoi(m.poolMax); err == nil && n < lim.maxServers {
			add("warn", "%s: pool max = %d is below thread pool max_servers (%d): logins waiting for a push hold their connections, and other logins then find none and fail; use max = ${thread[pool].max_servers}",
				m.where, n, lim.maxServers)
		}
	}
	if lim.maxRequestTime < need {
		add("warn", "max_request_time = %g s is shorter than the push timeout of %s (%s) + %s: FreeRADIUS abandons a login that waits for a push without answering; the NAS's retransmission then joins the push, but only after the NAS's own timeout; raise it to at least %g (and keep it at least the rest/exec timeout)",
			lim.maxRequestTime, w.name, w.timeout, pushMargin, need)
	} else {
		add("ok", "max_request_time %g s fits the longest push (%s, %s)", lim.maxRequestTime, w.name, w.timeout)
	}
	if len(lim.exec) > 0 {
		switch {
		case cfg.Exec.Daemon == "":
			add("warn", "%s: push approvals are configured, but radmfa exec decides locally ([exec] daemon is empty) and cannot wait for a push: push triggers get the authenticator app's challenge instead; set [exec] daemon to radmfa serve's socket", lim.exec[0].where)
		case cfg.Exec.timeout().Seconds() < need:
			add("warn", "[exec] timeout = %s is shorter than the push timeout of %s (%s) + %s: radmfa exec gives up before the push is answered; raise it (and the exec module's timeout above it)",
				cfg.Exec.timeout(), w.name, w.timeout, pushMargin)
		}
		for _, m := range lim.exec {
			if cfg.Exec.Daemon != "" && m.timeout < need {
				add("warn", "%s: timeout = %g s is shorter than the push timeout of %s (%s) + %s: FreeRADIUS kills radmfa exec while it waits for the push; set it to at least %g (rlm_exec allows at most 30: longer pushes need rlm_rest)",
					m.where, m.timeout, w.name, w.timeout, pushMargin, need)
			}
		}
	}
	// Each wait holds a FreeRADIUS thread: at most max_servers requests
	// run at once, and the rest (OTP logins too) queue behind them.
	add("ok", "thread pool max_servers = %d: each login waiting for a push holds one FreeRADIUS thread (and one rest connection) for up to %s, so at most %d wait at once and other requests queue behind them; at 10 s per approval that is about %.1f push logins a second (raise max_servers for more: an idle thread costs little)",
		lim.maxServers, w.timeout, lim.maxServers, float64(lim.maxServers)/10)
	return out
}
