package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/plugin/host"
)

// DefaultNotifier is the name of the notifier that devices without
// --notifier use, when more than one [notifiers.NAME] section exists.
const DefaultNotifier = "default"

// notifiers routes each notification to the notifier its device names
// ([notifiers.NAME] in the config): the plugin host runs each one as a
// process. A device without a notifier name uses [notifiers.default], or
// the only notifier when there is just one.
//
// serve starts every notifier at start-up, so a broken plugin stops it
// with a clear error; exec starts one only when a notification needs it
// (an SMS or e-mail code), since most exec runs send none.
type notifiers struct {
	group *host.Group
	lazy  bool

	mu      sync.Mutex
	started map[string]error // lazy: the result of starting each notifier
}

// newNotifiers checks the [notifiers] sections and returns their router,
// or nil when there are none. Nothing starts yet.
func newNotifiers(cfg *config, log zerolog.Logger, lazy bool) (*notifiers, error) {
	if len(cfg.Notifiers) == 0 {
		return nil, nil
	}
	dir := "."
	if cfg.file != "" {
		dir = filepath.Dir(cfg.file)
	}
	g, err := host.NewGroup(cfg.Notifiers, host.Options{Logger: log, Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("config: notifiers: %w", err)
	}
	return &notifiers{group: g, lazy: lazy, started: map[string]error{}}, nil
}

// Start starts every notifier (serve). For a lazy router it does nothing.
func (n *notifiers) Start(ctx context.Context) error {
	if n.lazy {
		return nil
	}
	return n.group.Start(ctx)
}

// Close stops the notifiers' processes.
func (n *notifiers) Close() error { return n.group.Close() }

// resolve names the notifier for a device's notifier field.
func (n *notifiers) resolve(name string) (string, error) {
	if name != "" {
		if _, ok := n.group.Get(name); !ok {
			return "", fmt.Errorf("notifier %q is not configured (notifiers: %s)", name, strings.Join(n.group.Names(), ", "))
		}
		return name, nil
	}
	return defaultNotifier(n.group.Names())
}

// defaultNotifier picks the notifier for devices that name none.
func defaultNotifier(names []string) (string, error) {
	for _, name := range names {
		if name == DefaultNotifier {
			return name, nil
		}
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", fmt.Errorf("no default notifier: name one per device (radmfa device add --notifier) or call one [notifiers.%s] (notifiers: %s)",
		DefaultNotifier, strings.Join(names, ", "))
}

// Notify delivers n through the notifier its device names.
func (n *notifiers) Notify(ctx context.Context, note mfa.Notification) (mfa.Delivery, error) {
	name, err := n.resolve(note.Notifier)
	if err != nil {
		return mfa.Delivery{Status: "failed", Detail: err.Error()}, err
	}
	p, _ := n.group.Get(name)
	if n.lazy {
		if err := n.start(ctx, name, p); err != nil {
			return mfa.Delivery{Status: "failed", Detail: err.Error()}, err
		}
	}
	return p.Notify(ctx, note)
}

// start starts one notifier once (exec).
func (n *notifiers) start(ctx context.Context, name string, p *host.Notifier) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err, ok := n.started[name]; ok {
		return err
	}
	err := p.Start(ctx)
	n.started[name] = err
	return err
}

// checkNotifiers checks every [notifiers.NAME] section (settings of the
// built-ins included) and that push, SMS and e-mail devices without a
// notifier name will find a default one.
func checkNotifiers(cfg *config) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Notifiers)) {
		if err := cfg.Notifiers[name].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("notifiers.%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
