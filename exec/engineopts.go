package main

import (
	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// oneShotOptions are the engine options of a one-request process (radmfa
// exec, radmfa ntlm-auth): notifiers that start only when a code is sent,
// and the directory of [ldap]. The returned func releases them.
func oneShotOptions(cfg *config, log zerolog.Logger) ([]mfa.Option, func(), error) {
	var opts []mfa.Option
	var closers []func()
	release := func() {
		for _, c := range closers {
			c()
		}
	}
	nf, err := newNotifiers(cfg, log, true)
	if err != nil {
		return nil, release, err
	}
	if nf != nil {
		closers = append(closers, func() { nf.Close() })
		opts = append(opts, mfa.WithNotifier(nf))
	}
	d, err := openDirectory(cfg)
	if err != nil {
		return nil, release, err
	}
	if d != nil {
		closers = append(closers, func() { d.Close() })
		opts = append(opts, directoryOptions(cfg, d)...)
	}
	return opts, release, nil
}
