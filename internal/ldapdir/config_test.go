package ldapdir

import (
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestConfigValidate(t *testing.T) {
	good := Config{
		URL:              "ldaps://dc1.example.com ldaps://dc2.example.com:3269",
		BindDN:           "CN=svc-radmfa,OU=Service Accounts,DC=example,DC=com",
		BindPasswordFile: "/etc/radmfa/ldap-password",
		BaseDN:           "DC=example,DC=com",
		UserFilter:       ADUserFilter,
		SecretAttribute:  "userParameters",
		SecretFormat:     "citrix",
	}
	tests := []struct {
		name string
		mut  func(*Config)
		want string // "" means valid
	}{
		{"good", func(*Config) {}, ""},
		{"off", func(c *Config) { *c = Config{} }, ""},
		{"only defaults", func(c *Config) { *c = Config{URL: "ldap://127.0.0.1", BaseDN: "dc=x"} }, ""},
		{"start_tls", func(c *Config) { c.URL, c.StartTLS = "ldap://dc1.example.com", true }, ""},
		{"localhost plain", func(c *Config) { c.URL = "ldap://localhost:389/" }, ""},
		{"ipv6 loopback plain", func(c *Config) { c.URL = "ldap://[::1]:389" }, ""},
		{"oid attribute", func(c *Config) { c.SecretAttribute = "1.2.840.113556.1.4.138" }, ""},
		{"url empty, other keys", func(c *Config) { c.URL = "" }, "ldap.url is empty"},
		{"url only spaces", func(c *Config) { c.URL = "  " }, "no URL"},
		{"plain ldap remote", func(c *Config) { c.URL = "ldap://dc1.example.com" }, "in clear"},
		{"plain second url", func(c *Config) { c.URL = "ldaps://dc1.example.com ldap://dc2.example.com" }, "in clear"},
		{"start_tls with ldaps", func(c *Config) { c.StartTLS = true }, "already TLS"},
		{"http", func(c *Config) { c.URL = "https://dc1.example.com" }, "scheme"},
		{"ldapi", func(c *Config) { c.URL = "ldapi:///var/run/slapd/ldapi" }, "scheme"},
		{"url with base", func(c *Config) { c.URL = "ldaps://dc1.example.com/dc=example,dc=com" }, "separate keys"},
		{"url with user", func(c *Config) { c.URL = "ldaps://admin:pw@dc1.example.com" }, "separate keys"},
		{"no host", func(c *Config) { c.URL = "ldaps://" }, "separate keys"},
		{"skip verify and ca", func(c *Config) { c.InsecureSkipVerify, c.CAFile = true, "/ca.pem" }, "contradict"},
		{"bind dn without password", func(c *Config) { c.BindPasswordFile = "" }, "go together"},
		{"password without bind dn", func(c *Config) { c.BindDN = "" }, "go together"},
		{"bad bind dn", func(c *Config) { c.BindDN = "svc-radmfa" }, "not a DN"},
		{"no base", func(c *Config) { c.BaseDN = "" }, "base_dn is empty"},
		{"bad base", func(c *Config) { c.BaseDN = "example.com" }, "not a DN"},
		{"filter without %s", func(c *Config) { c.UserFilter = "(uid=alice)" }, "exactly one %s"},
		{"filter with two %s", func(c *Config) { c.UserFilter = "(|(uid=%s)(mail=%s))" }, "exactly one %s"},
		{"filter unbalanced", func(c *Config) { c.UserFilter = "(&(uid=%s)" }, "user_filter"},
		{"bad attribute", func(c *Config) { c.PhoneAttribute = "mobile;binary" }, "not an attribute name"},
		{"bad group attribute", func(c *Config) { c.GroupAttribute = "member Of" }, "not an attribute name"},
		{"bad format", func(c *Config) { c.SecretFormat = "hex" }, "secret_format"},
		{"format without attribute", func(c *Config) { c.SecretAttribute = "" }, "secret_attribute is empty"},
		{"max devices 17", func(c *Config) { c.MaxDevices = 17 }, "max_devices"},
		{"max devices negative", func(c *Config) { c.MaxDevices = -1 }, "max_devices"},
		{"timeout tiny", func(c *Config) { c.Timeout = mfa.Duration(time.Millisecond) }, "timeout"},
		{"timeout huge", func(c *Config) { c.Timeout = mfa.Duration(time.Hour) }, "timeout"},
		{"pool huge", func(c *Config) { c.PoolSize = 65 }, "pool_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mut(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got valid, want an error saying %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{URL: "ldaps://dc.example.com", BaseDN: "dc=example,dc=com"}
	if got := c.userFilter(); got != DefaultUserFilter {
		t.Errorf("user filter %q, want %q", got, DefaultUserFilter)
	}
	if got := c.groupAttribute(); got != "memberOf" {
		t.Errorf("group attribute %q, want memberOf", got)
	}
	if got := c.maxDevices(); got != 4 {
		t.Errorf("max devices %d, want 4", got)
	}
	if got := c.timeout(); got != 5*time.Second {
		t.Errorf("timeout %s, want 5s", got)
	}
	if got := c.poolSize(); got != 4 {
		t.Errorf("pool size %d, want 4", got)
	}
	if got := c.format(); got != FormatBase32 {
		t.Errorf("format %v, want base32", got)
	}
	srvs, err := Config{URL: "ldap://a ldaps://b ldaps://[::1]:1636"}.servers()
	if err != nil {
		t.Fatal(err)
	}
	want := []server{{"ldap://a", "a:389", "a", false}, {"ldaps://b", "b:636", "b", true}, {"ldaps://[::1]:1636", "[::1]:1636", "::1", true}}
	for i := range want {
		if srvs[i] != want[i] {
			t.Errorf("server %d: got %+v, want %+v", i, srvs[i], want[i])
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	base := Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=example,dc=test"}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"off", func(c *Config) { *c = Config{} }, "url is empty"},
		{"invalid", func(c *Config) { c.BaseDN = "" }, "base_dn is empty"},
		{"missing password file", func(c *Config) { c.BindDN, c.BindPasswordFile = "cn=x", dir+"/nope" }, "bind password"},
		{"empty password file", func(c *Config) { c.BindDN, c.BindPasswordFile = "cn=x", writeFile(t, "pw", []byte("\n")) }, "is empty"},
		{"missing ca file", func(c *Config) { c.CAFile = dir + "/nope" }, "ca_file"},
		{"ca file without pem", func(c *Config) { c.CAFile = writeFile(t, "ca.pem", []byte("hello")) }, "no PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mut(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestConfigTOML decodes a full [ldap] section the way radmfa.toml is read
// (strict go-toml): every key has its tag, durations read as text.
func TestConfigTOML(t *testing.T) {
	const sample = `
[ldap]
url = "ldaps://dc1.example.com ldaps://dc2.example.com"
ca_file = "/etc/radmfa/ad-ca.pem"
bind_dn = "CN=svc-radmfa,OU=Service Accounts,DC=example,DC=com"
bind_password_file = "/etc/radmfa/ldap-password"
base_dn = "DC=example,DC=com"
user_filter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s))"
secret_attribute = "userParameters"
secret_format = "citrix"
phone_attribute = "mobile"
email_attribute = "mail"
group_attribute = "memberOf"
max_devices = 4
timeout = "3s"
pool_size = 2
start_tls = false
insecure_skip_verify = false
`
	var file struct {
		LDAP Config `toml:"ldap"`
	}
	dec := toml.NewDecoder(strings.NewReader(sample))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	c := file.LDAP
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.timeout() != 3*time.Second || c.PoolSize != 2 || c.format() != FormatCitrix || c.UserFilter != ADUserFilter {
		t.Errorf("decoded %+v", c)
	}
}
