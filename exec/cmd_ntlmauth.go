package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/exec/ntlmauth"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// NTLMAuthTimeout caps one radmfa ntlm-auth decision, well below
// rlm_mschap's ntlm_auth_timeout (at most 10 s; the shipped snippet sets
// 5 s): an MS-CHAPv2 login never waits for a push here, so the time goes
// to the store and, for s and e, to sending the code. With
// ntlmRecordTimeout for the event of a failed decision, radmfa ntlm-auth
// answers within 4 s.
const NTLMAuthTimeout = 3 * time.Second

// ntlmRecordTimeout bounds writing the event after a failed decision.
const ntlmRecordTimeout = time.Second

// ntlmAuthFlags are radmfa's own flags among the ntlm_auth arguments; the
// ntlmauth parser returns them with the Samba flags it ignores.
var ntlmAuthFlags = map[string]bool{"config": true, "db": true, "client-name": true, "client-ip": true}

// fastNTLMAuth runs "radmfa ntlm-auth ARGS" without building the command
// tree: rlm_mschap starts radmfa once per MS-CHAPv2 request. Only a
// request for help goes to the command tree.
func (c *cli) fastNTLMAuth(ctx context.Context, args []string) (int, bool) {
	if len(args) == 0 || args[0] != "ntlm-auth" || wantsHelp(args[1:]) {
		return 0, false
	}
	return c.runNTLMAuth(ctx, args[1:]), true
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--help" || a == "-h" {
			return true
		}
	}
	return false
}

func (c *cli) ntlmAuthCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ntlm-auth --username=NAME --challenge=HEX --nt-response=HEX [flags]",
		Short: "Check one MS-CHAPv2 response for FreeRADIUS mschap (its ntlm_auth option)",
		Long: `ntlm-auth is the front door for MS-CHAPv2: FreeRADIUS's mschap module runs it
once per request through its ntlm_auth option, as it would run Samba's
ntlm_auth. The request arrives as arguments only:

  --username=NAME      %{radmfa_mschap:User-Name} (without DOMAIN\)
  --challenge=HEX      %{radmfa_mschap:Challenge}: the 8-byte challenge hash
  --nt-response=HEX    %{radmfa_mschap:NT-Response}: 24 bytes
  --client-name=NAME   %{client:shortname}, for profiles and events
  --client-ip=ADDR     %{Packet-Src-IP-Address}
  --config, --db       as for every command

Samba flags radmfa does not use (--request-nt-key, --allow-mschapv2,
--domain, --helper-protocol, …) are ignored.

radmfa tries every passcode the user may have typed: the codes of their
TOTP and HOTP devices inside the window, a code sent to them for an
MS-CHAPv2 login, and the triggers p, s, g, e and space. Only a code succeeds:
radmfa prints "NT_KEY: <hex>" and exits 0, and FreeRADIUS sends
MS-CHAP2-Success and the MPPE keys. Everything else prints an NT status line
and exits 1: s and e (and, without push here, p, g and space) first send an
SMS or e-mail code, which the user types as the password of the next login;
a push needs rlm_rest (radmfa serve), since ntlm_auth cannot wait for it.

  exit 0  NT_KEY: ...                    accept
  exit 1  Logon failure (0xc000006d)     reject, MS-CHAP error 691
  exit 1  Account locked out (...)       reject, MS-CHAP error 647
  exit 1  No logon servers (...)         radmfa could not decide (rcode fail)

radmfa ntlm-auth answers within 4 s (3 s to decide, 1 s to record a failure). Logs go to [log] file or standard error.`,
		Example: `  # mods-available/radmfa_mschap (see testdata/freeradius/)
  mschap radmfa_mschap {
      use_mppe = yes
      require_encryption = yes
      require_strong = yes
      ntlm_auth = "/usr/local/bin/radmfa ntlm-auth --config /etc/radmfa/radmfa.toml --client-name=%{client:shortname} --client-ip=%{Packet-Src-IP-Address} --request-nt-key --username=%{radmfa_mschap:User-Name} --challenge=%{%{radmfa_mschap:Challenge}:-00} --nt-response=%{%{radmfa_mschap:NT-Response}:-00}"
      ntlm_auth_timeout = 5
  }`,
		// The arguments are ntlm_auth's, not radmfa's: runNTLMAuth reads
		// them all, global flags included.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if wantsHelp(args) {
				return cmd.Help()
			}
			c.exitCode = c.runNTLMAuth(cmd.Context(), args)
			return nil
		},
	}
}

// runNTLMAuth decides one MS-CHAPv2 request and returns the exit code. It
// writes nothing to stdout but the NT_KEY or failure line.
func (c *cli) runNTLMAuth(ctx context.Context, args []string) int {
	start := time.Now()
	parsed, parseErr := ntlmauth.Parse(args)
	req := mfa.Request{FrontDoor: mfa.FrontDoorNTLMAuth, UserName: parsed.UserName,
		MSCHAP: &mfa.MSCHAPv2{ChallengeHash: parsed.Challenge, NTResponse: parsed.NTResponse}}
	for _, f := range parsed.Ignored {
		if !ntlmAuthFlags[f.Name] {
			continue
		}
		switch {
		case f.Name == "config" && c.configPath == "":
			c.configPath = f.Value
		case f.Name == "db" && c.dbPath == "":
			c.dbPath = f.Value
		case f.Name == "client-name":
			req.NAS.ClientName = f.Value
		case f.Name == "client-ip":
			req.NAS.ClientIP = f.Value
		}
	}

	cfg, err := c.config()
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa ntlm-auth: %v\n", err)
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}
	log, closeLog, err := newLogger(cfg.Log, c.stderr, "ntlm-auth")
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa ntlm-auth: %v\n", err)
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}
	defer closeLog()
	user := mfa.Printable(req.UserName)

	ctx, cancel := context.WithTimeout(ctx, NTLMAuthTimeout)
	defer cancel()
	store, err := sqlite.Open(ctx, cfg.Store, sqlite.Options{Create: true})
	if err != nil {
		log.Error().Err(err).Str("user", user).Msg("could not decide: store unavailable")
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}
	// Not closed, only trimmed: see runExec.
	defer store.TrimWAL(context.WithoutCancel(ctx))
	// Notifiers start only if a code is sent; the directory connects
	// only when the engine asks it.
	opts, release, err := oneShotOptions(cfg, log)
	defer release()
	if err != nil {
		log.Error().Err(err).Msg("could not decide: notifier or directory config")
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}
	engine, err := mfa.New(store, cfg.engineConfig(), opts...)
	if err != nil {
		log.Error().Err(err).Msg("could not decide: engine config")
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}

	var d mfa.Decision
	if parseErr != nil {
		d, err = engine.Refuse(ctx, req, "malformed ntlm_auth request: "+parseErr.Error())
	} else {
		d, err = engine.Decide(ctx, req)
	}
	if err != nil {
		cause := err.Error()
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			cause = fmt.Sprintf("no decision within %s (ntlm-auth's limit)", NTLMAuthTimeout)
		case ctx.Err() != nil:
			cause = "terminated (by FreeRADIUS: its ntlm_auth_timeout passed?)"
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), ntlmRecordTimeout)
		defer rcancel()
		if rerr := engine.RecordError(rctx, req, d.TxID, cause); rerr != nil {
			log.Error().Err(rerr).Msg("event not recorded")
		}
		log.Error().Err(err).Str("tx", d.TxID).Str("user", user).Str("cause", cause).Msg("could not decide")
		return c.ntlmFailure(ntlmauth.NoLogonServers)
	}
	ev := log.Info().Str("tx", d.TxID).Str("user", user).Stringer("action", d.Action).Str("reason", d.Reason).
		Dur("duration", time.Since(start))
	switch {
	case d.Action == mfa.ActionAccept && d.MSCHAP != nil:
		ev.Msg("decision")
		var b bytes.Buffer
		code, err := ntlmauth.WriteSuccess(&b, d.MSCHAP.NTKey())
		if err != nil {
			return c.ntlmFailure(ntlmauth.NoLogonServers)
		}
		c.stdout.Write(b.Bytes())
		return code
	case d.Action == mfa.ActionAccept:
		// Accepted by policy (unknown_user = accept, fail mode open)
		// without a passcode to derive the NT_KEY from: MS-CHAPv2 cannot
		// complete without one.
		ev.Msg("decision: accepted, but MS-CHAPv2 needs the passcode: answering logon failure")
		return c.ntlmFailure(ntlmauth.WrongPassword)
	case d.Message == mfa.MsgLocked:
		ev.Msg("decision")
		return c.ntlmFailure(ntlmauth.AccountLockedOut)
	}
	ev.Msg("decision")
	return c.ntlmFailure(ntlmauth.WrongPassword)
}

// ntlmFailure writes the failure line and returns the exit code.
func (c *cli) ntlmFailure(f ntlmauth.Failure) int {
	code, err := ntlmauth.WriteFailure(c.stdout, f)
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa ntlm-auth: %v\n", err)
	}
	return code
}
