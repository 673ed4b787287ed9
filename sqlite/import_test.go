package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestImportUsers(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	var names []string
	var devs []mfa.Device
	for i := 0; i < 500; i++ {
		names = append(names, fmt.Sprintf("u%d", i))
		devs = append(devs, testDevice("totp1"))
	}
	if err := s.ImportUsers(ctx, "test", names, devs); err != nil {
		t.Fatal(err)
	}
	users, _ := s.Users(ctx)
	if len(users) != 500 {
		t.Fatalf("%d users", len(users))
	}
	if err := s.ImportUsers(ctx, "test", []string{"new", "u7"}, devs[:2]); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := s.User(ctx, "new"); err == nil {
		t.Fatal("a failed import left a user behind")
	}
	audit, _ := s.Audit(ctx, 10)
	if len(audit) != 1 || audit[0].Action != "user.import" || audit[0].Target != "500 users" {
		t.Fatalf("audit %+v", audit)
	}
}
