// Package otpauth reads and writes otpauth:// key URIs, the format
// authenticator apps scan from QR codes
// (https://github.com/google/google-authenticator/wiki/Key-Uri-Format), and
// base32 secrets typed by hand. It is strict: anything it cannot use
// exactly is an error that says what is wrong, never a guess.
package otpauth

import (
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Key is an OTP key with its parameters.
type Key struct {
	Kind      mfa.DeviceKind // TOTP or HOTP
	Issuer    string         // who issued it ("radmfa", "Example Corp")
	Account   string         // the user name shown in the app
	Secret    mfa.Secret     // raw key bytes
	Algorithm string         // "SHA1", "SHA256" or "SHA512"
	Digits    int            // 6 or 8
	Period    int            // TOTP step in seconds
	Counter   uint64         // HOTP initial counter
}

// Limits on what is accepted.
const (
	MinSecretBytes = 10  // 80 bits; RFC 4226 asks for at least 128, recommends 160
	MaxSecretBytes = 128 // longer than any real token
	maxURILen      = 2048
)

// Parse reads an otpauth:// URI.
func Parse(s string) (Key, error) {
	if len(s) > maxURILen {
		return Key{}, fmt.Errorf("otpauth: URI is %d bytes, more than %d", len(s), maxURILen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Key{}, fmt.Errorf("otpauth: not a URI: %w", stripURLError(err))
	}
	if !strings.EqualFold(u.Scheme, "otpauth") {
		return Key{}, fmt.Errorf("otpauth: scheme is %q, want otpauth://", u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || u.Port() != "" || u.Fragment != "" {
		return Key{}, errors.New("otpauth: want otpauth://totp/LABEL?secret=…")
	}
	k := Key{Algorithm: "SHA1", Digits: 6, Period: 30}
	switch strings.ToLower(u.Host) {
	case "totp":
		k.Kind = mfa.DeviceTOTP
	case "hotp":
		k.Kind = mfa.DeviceHOTP
	default:
		return Key{}, fmt.Errorf("otpauth: type %q: want totp or hotp", u.Host)
	}
	label := strings.TrimPrefix(u.Path, "/")
	if issuer, account, ok := strings.Cut(label, ":"); ok {
		k.Issuer, k.Account = strings.TrimSpace(issuer), strings.TrimSpace(account)
	} else {
		k.Account = strings.TrimSpace(label)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Key{}, fmt.Errorf("otpauth: query: %w", stripURLError(err))
	}
	for name, vals := range q {
		if len(vals) > 1 {
			return Key{}, fmt.Errorf("otpauth: parameter %q given %d times", name, len(vals))
		}
	}
	secret := q.Get("secret")
	if secret == "" {
		return Key{}, errors.New("otpauth: no secret parameter")
	}
	if k.Secret, err = DecodeSecret(secret); err != nil {
		return Key{}, err
	}
	if issuer := q.Get("issuer"); issuer != "" {
		if k.Issuer != "" && k.Issuer != issuer {
			return Key{}, fmt.Errorf("otpauth: label issuer %q differs from issuer parameter %q", k.Issuer, issuer)
		}
		k.Issuer = issuer
	}
	if a := q.Get("algorithm"); a != "" {
		switch strings.ToUpper(a) {
		case "SHA1", "SHA256", "SHA512":
			k.Algorithm = strings.ToUpper(a)
		default:
			return Key{}, fmt.Errorf("otpauth: algorithm %q: want SHA1, SHA256 or SHA512", a)
		}
	}
	if d := q.Get("digits"); d != "" {
		switch d {
		case "6", "8":
			k.Digits = int(d[0] - '0')
		default:
			return Key{}, fmt.Errorf("otpauth: digits %q: want 6 or 8", d)
		}
	}
	if p := q.Get("period"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 300 {
			return Key{}, fmt.Errorf("otpauth: period %q: want 1 to 300 seconds", p)
		}
		k.Period = n
	}
	if c := q.Get("counter"); c != "" {
		if k.Kind != mfa.DeviceHOTP {
			return Key{}, errors.New("otpauth: counter is only for hotp")
		}
		if k.Counter, err = strconv.ParseUint(c, 10, 63); err != nil {
			return Key{}, fmt.Errorf("otpauth: counter %q: want a whole number", c)
		}
	} else if k.Kind == mfa.DeviceHOTP {
		return Key{}, errors.New("otpauth: hotp needs a counter parameter")
	}
	return k, nil
}

// stripURLError removes the input from net/url errors: the input holds the
// secret, which must not reach logs.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return errors.New("invalid %-escape")
	}
	return errors.New("malformed")
}

// DecodeSecret decodes a base32 secret as people type it: any case, with or
// without padding, spaces or dashes between groups.
func DecodeSecret(s string) (mfa.Secret, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
	s = strings.TrimRight(s, "=")
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, errors.New("otpauth: secret is not valid base32 (letters A-Z and digits 2-7)")
	}
	if len(b) < MinSecretBytes {
		return nil, fmt.Errorf("otpauth: secret is %d bits, want at least %d", len(b)*8, MinSecretBytes*8)
	}
	if len(b) > MaxSecretBytes {
		return nil, fmt.Errorf("otpauth: secret is %d bytes, want at most %d", len(b), MaxSecretBytes)
	}
	return mfa.Secret(b), nil
}

// EncodeSecret returns the unpadded upper-case base32 form of a secret, as
// apps and oathtool expect it.
func EncodeSecret(s mfa.Secret) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(s.Bytes())
}

// URI returns the otpauth:// URI of the key. It contains the secret.
func (k Key) URI() string {
	label := k.Account
	if k.Issuer != "" {
		label = k.Issuer + ":" + k.Account
	}
	q := url.Values{}
	q.Set("secret", EncodeSecret(k.Secret))
	if k.Issuer != "" {
		q.Set("issuer", k.Issuer)
	}
	q.Set("algorithm", k.Algorithm)
	q.Set("digits", strconv.Itoa(k.Digits))
	if k.Kind == mfa.DeviceHOTP {
		q.Set("counter", strconv.FormatUint(k.Counter, 10))
	} else {
		q.Set("period", strconv.Itoa(k.Period))
	}
	u := url.URL{Scheme: "otpauth", Host: k.Kind.String(), Path: "/" + label, RawQuery: q.Encode()}
	return u.String()
}

// Device returns the key as a device of the engine. An HOTP key's counter
// is the next one it will show.
func (k Key) Device(name string) mfa.Device {
	d := mfa.Device{Name: name, Kind: k.Kind, Algorithm: k.Algorithm, Digits: k.Digits, Period: k.Period, Secret: k.Secret, LastStep: -1}
	if k.Kind == mfa.DeviceHOTP {
		d.Period, d.LastStep = 0, int64(k.Counter)-1
	}
	return d
}
