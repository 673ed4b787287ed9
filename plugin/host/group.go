package host

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Group runs the notifiers of radmfa's [notifiers] table together: it
// checks them all, starts them all (or none) and closes them all.
type Group struct {
	names  []string
	byName map[string]*Notifier
}

// NewGroup checks every section of cfgs (keyed by notifier name) and
// returns the group; it starts nothing.
func NewGroup(cfgs map[string]Config, opts Options) (*Group, error) {
	g := &Group{byName: make(map[string]*Notifier, len(cfgs))}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfgs)) {
		n, err := New(name, cfgs[name], opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.names = append(g.names, name)
		g.byName[name] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

// Names returns the notifiers' names, sorted.
func (g *Group) Names() []string { return slices.Clone(g.names) }

// Get returns the notifier called name.
func (g *Group) Get(name string) (*Notifier, bool) {
	n, ok := g.byName[name]
	return n, ok
}

// Start starts every notifier, in name order. If one cannot start, the
// ones already started are closed and the error says which failed.
func (g *Group) Start(ctx context.Context) error {
	for i, name := range g.names {
		if err := g.byName[name].Start(ctx); err != nil {
			for _, started := range g.names[:i] {
				g.byName[started].Close()
			}
			return err
		}
	}
	return nil
}

// Close closes every notifier, concurrently, and waits for them.
func (g *Group) Close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.names))
	for i, name := range g.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.byName[name].Close(); err != nil {
				errs[i] = fmt.Errorf("plugin %s: close: %w", name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
