package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/radmfa/radmfa/internal/mfa"
)

// ImportUsers adds many users, each with one device, in one transaction,
// recording one audit entry for the lot. Names must be normalised; a name
// that exists already fails the whole import.
func (s *Store) ImportUsers(ctx context.Context, actor string, names []string, devices []mfa.Device) error {
	if len(names) != len(devices) {
		return fmt.Errorf("sqlite: import: %d names for %d devices", len(names), len(devices))
	}
	details := fmt.Sprintf("%d users", len(names))
	return s.admin(ctx, actor, "user.import", details, "", func(t *sql.Tx) error {
		userStmt, err := t.PrepareContext(quiet(ctx), `INSERT INTO users (name, created_at) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer userStmt.Close()
		for i, name := range names {
			res, err := userStmt.ExecContext(quiet(ctx), name, ms(s.now()))
			if isUnique(err) {
				return fmt.Errorf("user %q %w", name, ErrExists)
			}
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if err := s.insertDevice(ctx, t, id, name, devices[i]); err != nil {
				return err
			}
		}
		return nil
	})
}
