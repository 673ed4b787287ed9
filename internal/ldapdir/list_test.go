package ldapdir

import (
	"strings"
	"testing"
)

func TestListUsers(t *testing.T) {
	s := testSlapd(t)
	d := newTestDirectory(t, s.testConfig(t, nil))
	users, err := d.ListUsers(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ListedUser{}
	for _, u := range users {
		byName[u.Name] = u
	}
	for _, tt := range []struct {
		name    string
		devices int
		err     string
	}{
		{"alice", 1, ""},
		{"bob", 2, ""},
		{"frank", 0, ""},
		{"star*", 0, ""},
		{"bad-b32", 0, "value 1"},
	} {
		u, ok := byName[tt.name]
		if !ok {
			t.Errorf("%s not listed (got %d users)", tt.name, len(users))
			continue
		}
		if len(u.Devices) != tt.devices || !strings.Contains(u.Err, tt.err) || (tt.err == "") != (u.Err == "") {
			t.Errorf("%s: %d devices, error %q; want %d, %q", tt.name, len(u.Devices), u.Err, tt.devices, tt.err)
		}
		if u.DN != userDN(tt.name) {
			t.Errorf("%s: DN %q", tt.name, u.DN)
		}
	}
	for i := 1; i < len(users); i++ {
		if strings.ToLower(users[i-1].Name) > strings.ToLower(users[i].Name) {
			t.Fatalf("not sorted: %q before %q", users[i-1].Name, users[i].Name)
		}
	}
	if few, err := d.ListUsers(ctx, 3); err != nil || len(few) != 3 {
		t.Fatalf("limit 3: %d users, %v", len(few), err)
	}
	odd := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.UserFilter = "(&(objectClass=person)(|(uid=%s)(mail=x)))" }))
	if _, err := odd.ListUsers(ctx, 0); err != nil {
		t.Fatalf("a name attribute inside an OR: %v", err)
	}
	bad := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.UserFilter = "(uid=x%s)" }))
	if _, err := bad.ListUsers(ctx, 0); err == nil || !strings.Contains(err.Error(), "cannot tell which attribute") {
		t.Fatalf("got %v", err)
	}
}
