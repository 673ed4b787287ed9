package ldapdir

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Config is the [ldap] section of radmfa.toml. Zero values are the
// documented defaults; a Config whose url is empty means "no directory".
//
// A sample for Active Directory:
//
//	[ldap]
//	url = "ldaps://dc1.example.com ldaps://dc2.example.com"
//	ca_file = "/etc/radmfa/ad-ca.pem"
//	bind_dn = "CN=svc-radmfa,OU=Service Accounts,DC=example,DC=com"
//	bind_password_file = "/etc/radmfa/ldap-password"
//	base_dn = "DC=example,DC=com"
//	user_filter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s))"
//	secret_attribute = "userParameters"
//	secret_format = "citrix"
type Config struct {
	// URL is one or more ldap:// or ldaps:// URLs separated by spaces, as
	// in ldap.conf's URI; they are tried in order, and a server that
	// failed is skipped for 30 s while another works. Plain ldap:// needs
	// start_tls unless the host is loopback, since the bind passwords and
	// the OTP secrets would cross the network in clear.
	URL string `toml:"url"`
	// StartTLS upgrades ldap:// connections with the StartTLS operation.
	// Default false.
	StartTLS bool `toml:"start_tls"`
	// CAFile is a PEM file with the CA certificates that sign the
	// directory's certificate. Default: the system's CA pool.
	CAFile string `toml:"ca_file"`
	// InsecureSkipVerify accepts any server certificate. DANGEROUS: anyone
	// on the path can then read the service password, the users' passwords
	// and their OTP secrets. For a first test only. Default false.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`
	// BindDN is the service account that searches for users (and, for the
	// enrollment page, writes the secret attribute). Default: anonymous
	// search, which Active Directory refuses.
	BindDN string `toml:"bind_dn"`
	// BindPasswordFile holds the service account's password (one line;
	// a final newline is ignored). Required with bind_dn. It is read once
	// at start and never logged.
	BindPasswordFile string `toml:"bind_password_file"`
	// BaseDN is where users are searched (whole subtree). Required.
	BaseDN string `toml:"base_dn"`
	// UserFilter finds a user's entry; its one %s is replaced by the
	// normalised user name, escaped as RFC 4515 requires. Default
	// DefaultUserFilter, "(&(objectClass=person)(uid=%s))", for OpenLDAP;
	// for Active Directory use ADUserFilter,
	// "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s))",
	// or userPrincipalName=%s for name@domain logins.
	UserFilter string `toml:"user_filter"`
	// SecretAttribute holds the users' OTP secrets, e.g. userParameters
	// for Citrix ADC. Default: none, the directory then supplies no
	// devices (only contact details, groups and the first factor). Use an
	// attribute that ordinary users can neither read nor write: in Active
	// Directory a confidential attribute. An attribute the service account
	// may not read looks empty: its users then have no devices.
	SecretAttribute string `toml:"secret_attribute"`
	// SecretFormat is "base32" (default: one secret per value), "otpauth"
	// (one otpauth:// URI per value) or "citrix" (Citrix ADC's
	// "#@Device1=SECRET&,Device2=SECRET&," in one value).
	SecretFormat string `toml:"secret_format"`
	// PhoneAttribute is the mobile number for SMS codes, e.g. mobile.
	// Default: none. In Active Directory users can often change their own
	// mobile and telephoneNumber: a phished password then redirects the
	// SMS. Prefer an attribute only administrators write.
	PhoneAttribute string `toml:"phone_attribute"`
	// EmailAttribute is the address for e-mail codes, e.g. mail. Default:
	// none.
	EmailAttribute string `toml:"email_attribute"`
	// SMSNotifier names the notifier ([notifiers.NAME]) that sends SMS
	// codes to the numbers of phone_attribute. Default: the default
	// notifier.
	SMSNotifier string `toml:"sms_notifier"`
	// EmailNotifier names the notifier that sends e-mail codes to the
	// addresses of email_attribute, and the self-service page's notices of
	// device changes. Default: the default notifier.
	EmailNotifier string `toml:"email_notifier"`
	// GroupAttribute lists the DNs of the user's groups. Default memberOf.
	GroupAttribute string `toml:"group_attribute"`
	// MaxDevices is the most OTP devices a user may have in the
	// directory; a user with more is refused as unusable data, and the
	// enrollment page adds no more. Default 4 (Citrix ADC's default), at
	// most 16.
	MaxDevices int `toml:"max_devices"`
	// Timeout bounds each step of a directory call: connecting (with
	// TLS), binding, searching, modifying. Default 5s; 100ms to 1m. A call
	// that must connect takes several steps (CheckPassword: connect, bind
	// and search as the service account, then connect and bind as the
	// user), and each server of url may be tried: the caller's context
	// deadline bounds the whole call.
	Timeout mfa.Duration `toml:"timeout"`
	// PoolSize is how many service-account connections are kept open and
	// used at once. Default 4, at most 64.
	PoolSize int `toml:"pool_size"`
}

// Defaults and limits of Config.
const (
	DefaultUserFilter     = "(&(objectClass=person)(uid=%s))"
	ADUserFilter          = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%s))"
	DefaultGroupAttribute = "memberOf"
	DefaultMaxDevices     = 4
	MaxMaxDevices         = 16
	DefaultTimeout        = 5 * time.Second
	DefaultPoolSize       = 4
	MaxPoolSize           = 64
)

// Enabled reports whether a directory is configured.
func (c Config) Enabled() bool { return c.URL != "" }

func (c Config) userFilter() string {
	if c.UserFilter == "" {
		return DefaultUserFilter
	}
	return c.UserFilter
}

func (c Config) groupAttribute() string {
	if c.GroupAttribute == "" {
		return DefaultGroupAttribute
	}
	return c.GroupAttribute
}

func (c Config) maxDevices() int {
	if c.MaxDevices == 0 {
		return DefaultMaxDevices
	}
	return c.MaxDevices
}

func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return time.Duration(c.Timeout)
}

func (c Config) poolSize() int {
	if c.PoolSize == 0 {
		return DefaultPoolSize
	}
	return c.PoolSize
}

func (c Config) format() Format {
	if c.SecretFormat == "" {
		return FormatBase32
	}
	f, _ := ParseFormat(c.SecretFormat)
	return f
}

// server is one parsed URL of Config.URL.
type server struct {
	url   string // as configured, for messages
	addr  string // host:port to dial
	host  string // name the certificate must carry
	ldaps bool
}

// servers parses Config.URL.
func (c Config) servers() ([]server, error) {
	var out []server
	for _, s := range strings.Fields(c.URL) {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("ldap.url %q: not a URL", s)
		}
		var port string
		switch strings.ToLower(u.Scheme) {
		case "ldap":
			port = "389"
		case "ldaps":
			port = "636"
		default:
			return nil, fmt.Errorf("ldap.url %q: scheme must be ldap:// or ldaps://", s)
		}
		if u.Hostname() == "" || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("ldap.url %q: want ldap[s]://host[:port] (base, filter and attributes are separate keys)", s)
		}
		if p := u.Port(); p != "" {
			port = p
		}
		out = append(out, server{url: s, addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(), ldaps: strings.EqualFold(u.Scheme, "ldaps")})
	}
	return out, nil
}

var attrName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(?:\.[0-9]+)+)$`)
})

// Validate reports configuration errors. A Config with an empty url and
// nothing else set is valid: the directory is off.
func (c Config) Validate() error {
	if !c.Enabled() {
		if c != (Config{}) {
			return errors.New("ldap.url is empty, but other [ldap] keys are set")
		}
		return nil
	}
	srvs, err := c.servers()
	if err != nil {
		return err
	}
	if len(srvs) == 0 {
		return errors.New("ldap.url has no URL in it")
	}
	for _, s := range srvs {
		if s.ldaps && c.StartTLS {
			return fmt.Errorf("ldap.url %q: start_tls is for ldap:// URLs; ldaps:// is already TLS", s.url)
		}
		if !s.ldaps && !c.StartTLS && !isLoopback(s.host) {
			return fmt.Errorf("ldap.url %q: plain ldap:// would send passwords and OTP secrets in clear: use ldaps:// or start_tls = true", s.url)
		}
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		return errors.New("ldap.insecure_skip_verify and ldap.ca_file contradict each other")
	}
	if (c.BindDN == "") != (c.BindPasswordFile == "") {
		return errors.New("ldap.bind_dn and ldap.bind_password_file go together")
	}
	if c.BindDN != "" {
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			return fmt.Errorf("ldap.bind_dn %q: not a DN", c.BindDN)
		}
	}
	if c.BaseDN == "" {
		return errors.New("ldap.base_dn is empty")
	}
	if _, err := ldap.ParseDN(c.BaseDN); err != nil {
		return fmt.Errorf("ldap.base_dn %q: not a DN", c.BaseDN)
	}
	f := c.userFilter()
	if strings.Count(f, "%s") != 1 {
		return fmt.Errorf("ldap.user_filter %q: want exactly one %%s for the user name", f)
	}
	if _, err := ldap.CompileFilter(strings.Replace(f, "%s", "x", 1)); err != nil {
		return fmt.Errorf("ldap.user_filter %q: %v", f, err)
	}
	for _, a := range []struct{ key, val string }{
		{"secret_attribute", c.SecretAttribute},
		{"phone_attribute", c.PhoneAttribute},
		{"email_attribute", c.EmailAttribute},
		{"group_attribute", c.GroupAttribute},
	} {
		if a.val != "" && !attrName().MatchString(a.val) {
			return fmt.Errorf("ldap.%s %q: not an attribute name", a.key, a.val)
		}
	}
	if c.SMSNotifier != "" && c.PhoneAttribute == "" {
		return errors.New("ldap.sms_notifier is set but ldap.phone_attribute is empty")
	}
	if c.EmailNotifier != "" && c.EmailAttribute == "" {
		return errors.New("ldap.email_notifier is set but ldap.email_attribute is empty")
	}
	if c.SecretFormat != "" {
		if _, err := ParseFormat(c.SecretFormat); err != nil {
			return fmt.Errorf("ldap.secret_format %q: want base32, otpauth or citrix", c.SecretFormat)
		}
		if c.SecretAttribute == "" {
			return errors.New("ldap.secret_format is set but ldap.secret_attribute is empty")
		}
	}
	if n := c.maxDevices(); n < 1 || n > MaxMaxDevices {
		return fmt.Errorf("ldap.max_devices = %d: must be between 1 and %d", n, MaxMaxDevices)
	}
	if t := c.timeout(); t < 100*time.Millisecond || t > time.Minute {
		return fmt.Errorf("ldap.timeout = %s: must be between 100ms and 1m", t)
	}
	if n := c.poolSize(); n < 1 || n > MaxPoolSize {
		return fmt.Errorf("ldap.pool_size = %d: must be between 1 and %d", n, MaxPoolSize)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
