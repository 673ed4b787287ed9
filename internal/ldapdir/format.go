package ldapdir

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/otpauth"
)

// Format is how OTP secrets are written in the secret attribute.
type Format uint8

// Secret formats. The zero value is invalid.
const (
	FormatInvalid Format = iota
	// FormatBase32 is one base32 secret per attribute value
	// ("GEZDGNBVGY3TQOJQ…"), each a TOTP device with SHA1, 6 digits and a
	// 30 s period. Devices are named ldap1, ldap2, … in value order.
	FormatBase32
	// FormatOTPAuth is one otpauth://totp/… URI per attribute value, with
	// the parameters the URI gives. Devices are named ldap1, ldap2, ….
	FormatOTPAuth
	// FormatCitrix is the Citrix ADC native OTP format: one attribute
	// value (usually userParameters) holding
	// "#@Name1=SECRET&,Name2=SECRET&tag=…&," among other text. Each entry
	// is a SHA1, 6-digit, 30 s TOTP device named by the entry. Citrix's
	// encrypted format (JSON with "otpdata") cannot be read.
	FormatCitrix
)

var formatNames = [...]string{"invalid", "base32", "otpauth", "citrix"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", f)
}

// ParseFormat is the inverse of Format.String.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if i > 0 && n == s {
			return Format(i), nil
		}
	}
	return FormatInvalid, fmt.Errorf("ldapdir: secret format %q: want base32, otpauth or citrix", s)
}

// Limits on directory data. Anything larger is unusable data, not a crash.
const (
	// MaxValueBytes bounds one attribute value. Active Directory's
	// userParameters holds at most 32 KiB; OTP data needs far less.
	MaxValueBytes = 32 << 10
	// MaxDeviceNameBytes bounds a Citrix device name.
	MaxDeviceNameBytes = 64
	maxParamBytes      = 1024
)

// DataError is directory data that radmfa cannot use: a malformed secret,
// too many devices, an oversized value. It matches mfa.ErrDirectoryData
// with errors.Is, and never contains a secret.
type DataError struct {
	Msg string // what is wrong, without the "ldapdir: " prefix
}

func (e *DataError) Error() string { return "ldapdir: " + e.Msg }

// Is makes errors.Is(err, mfa.ErrDirectoryData) true.
func (e *DataError) Is(target error) bool { return target == mfa.ErrDirectoryData }

func dataErrorf(format string, args ...any) error {
	return &DataError{Msg: fmt.Sprintf(format, args...)}
}

// StoredDevice is one OTP device as the directory stores it.
type StoredDevice struct {
	// Device holds the parameters: Name, Kind, Algorithm, Digits, Period
	// and Secret. ID and UserID are zero.
	Device mfa.Device
	// raw is the device's text as it was read: the base32 or otpauth
	// value, or the Citrix entry "Name=SECRET&tag=…". EncodeSecrets writes
	// it back unchanged, so that what radmfa does not use (otpauth labels,
	// Citrix push tags) survives an edit of the other devices.
	raw string
}

// DecodeSecrets reads the values of the secret attribute in format f. It
// is strict: any value it cannot use exactly, more than maxDevices devices
// (0 means DefaultMaxDevices), two devices with one name, or an oversized
// value is a *DataError saying which value and why. No values means no
// devices.
func DecodeSecrets(f Format, values []string, maxDevices int) ([]StoredDevice, error) {
	if maxDevices <= 0 {
		maxDevices = DefaultMaxDevices
	}
	for i, v := range values {
		if len(v) > MaxValueBytes {
			return nil, dataErrorf("value %d is %d bytes, more than %d", i+1, len(v), MaxValueBytes)
		}
	}
	var devs []StoredDevice
	switch f {
	case FormatBase32, FormatOTPAuth:
		if len(values) > maxDevices {
			return nil, dataErrorf("%d devices, more than max_devices (%d)", len(values), maxDevices)
		}
		for i, v := range values {
			d, err := decodeValue(f, v, "ldap"+strconv.Itoa(i+1))
			if err != nil {
				return nil, dataErrorf("value %d: %s", i+1, err)
			}
			devs = append(devs, d)
		}
	case FormatCitrix:
		if len(values) > 1 {
			return nil, dataErrorf("citrix: %d values: the format keeps all devices in one value", len(values))
		}
		if len(values) == 0 {
			return nil, nil
		}
		b, err := parseCitrix(values[0])
		if err != nil {
			return nil, err
		}
		if len(b.entries) > maxDevices {
			return nil, dataErrorf("citrix: %d devices, more than max_devices (%d)", len(b.entries), maxDevices)
		}
		seen := map[string]bool{}
		for _, e := range b.entries {
			d, err := citrixDevice(e)
			if err != nil {
				return nil, err
			}
			key := strings.ToLower(d.Device.Name)
			if seen[key] {
				return nil, dataErrorf("citrix: two devices named %q", d.Device.Name)
			}
			seen[key] = true
			devs = append(devs, d)
		}
	default:
		return nil, fmt.Errorf("ldapdir: secret format %v is not supported", f)
	}
	return devs, nil
}

// decodeValue reads one base32 or otpauth value.
func decodeValue(f Format, v, name string) (StoredDevice, error) {
	var d mfa.Device
	switch f {
	case FormatBase32:
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "otpauth:") {
			return StoredDevice{}, fmt.Errorf("an otpauth:// URI, but secret_format is base32")
		}
		secret, err := otpauth.DecodeSecret(v)
		if err != nil {
			return StoredDevice{}, err
		}
		d = totpDefaults(name, secret)
	case FormatOTPAuth:
		k, err := otpauth.Parse(v)
		if err != nil {
			return StoredDevice{}, err
		}
		if k.Kind != mfa.DeviceTOTP {
			return StoredDevice{}, fmt.Errorf("%v keys are not supported from the directory, only totp", k.Kind)
		}
		d = k.Device(name)
	}
	if err := mfa.ValidateDevice(d); err != nil {
		return StoredDevice{}, err
	}
	return StoredDevice{Device: d, raw: v}, nil
}

func totpDefaults(name string, secret mfa.Secret) mfa.Device {
	return mfa.Device{Name: name, Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: secret}
}

// isTOTPDefault reports whether d is what the base32 and Citrix formats can
// hold: a SHA1, 6-digit, 30 s TOTP device.
func isTOTPDefault(d mfa.Device) bool {
	return d.Kind == mfa.DeviceTOTP && d.Algorithm == "SHA1" && d.Digits == 6 && d.Period == 30
}

// EncodeSecrets writes devices as values of the secret attribute in
// format f, the inverse of DecodeSecrets. Devices that DecodeSecrets
// returned are written back exactly as they were read; others are encoded
// from their fields (base32 and citrix hold only SHA1, 6-digit, 30 s TOTP
// devices; otpauth URIs are labelled with the device name). For citrix,
// old are the attribute's current values: the text around the "#@…" block
// is kept, since userParameters may hold other data. No devices (and no
// other text) gives no values, which means "delete the attribute".
func EncodeSecrets(f Format, devices []StoredDevice, old []string) ([]string, error) {
	var vals []string
	switch f {
	case FormatBase32, FormatOTPAuth:
		for i, sd := range devices {
			if sd.raw != "" {
				vals = append(vals, sd.raw)
				continue
			}
			d := sd.Device
			if d.Kind != mfa.DeviceTOTP {
				return nil, fmt.Errorf("ldapdir: device %d: %v devices are not supported in the directory, only totp", i+1, d.Kind)
			}
			if err := mfa.ValidateDevice(d); err != nil {
				return nil, fmt.Errorf("ldapdir: device %d: %w", i+1, err)
			}
			if f == FormatBase32 {
				if !isTOTPDefault(d) {
					return nil, fmt.Errorf("ldapdir: device %d: the base32 format holds only SHA1, 6-digit, 30 s TOTP devices", i+1)
				}
				vals = append(vals, otpauth.EncodeSecret(d.Secret))
				continue
			}
			k := otpauth.Key{Kind: d.Kind, Account: d.Name, Secret: d.Secret, Algorithm: d.Algorithm, Digits: d.Digits, Period: d.Period}
			vals = append(vals, k.URI())
		}
	case FormatCitrix:
		if len(old) > 1 {
			return nil, dataErrorf("citrix: %d values: the format keeps all devices in one value", len(old))
		}
		var b citrixBlock
		if len(old) == 1 {
			var err error
			if b, err = parseCitrix(old[0]); err != nil {
				return nil, err
			}
		}
		var sb strings.Builder
		sb.WriteString(b.prefix)
		if len(devices) > 0 {
			sb.WriteString("#@")
		}
		seen := map[string]bool{}
		for i, sd := range devices {
			d := sd.Device
			if err := checkCitrixName(d.Name); err != nil {
				return nil, fmt.Errorf("ldapdir: device %d: %w", i+1, err)
			}
			key := strings.ToLower(d.Name)
			if seen[key] {
				return nil, fmt.Errorf("ldapdir: two devices named %q", d.Name)
			}
			seen[key] = true
			if sd.raw != "" {
				sb.WriteString(sd.raw)
			} else {
				if err := mfa.ValidateDevice(d); err != nil {
					return nil, fmt.Errorf("ldapdir: device %q: %w", d.Name, err)
				}
				if !isTOTPDefault(d) {
					return nil, fmt.Errorf("ldapdir: device %q: the citrix format holds only SHA1, 6-digit, 30 s TOTP devices", d.Name)
				}
				sb.WriteString(d.Name + "=" + otpauth.EncodeSecret(d.Secret))
			}
			sb.WriteString("&,")
		}
		sb.WriteString(b.suffix)
		if v := sb.String(); v != "" {
			if len(v) > MaxValueBytes {
				return nil, fmt.Errorf("ldapdir: citrix value would be %d bytes, more than %d", len(v), MaxValueBytes)
			}
			vals = append(vals, v)
		}
	default:
		return nil, fmt.Errorf("ldapdir: secret format %v is not supported", f)
	}
	return vals, nil
}

// citrixBlock is a Citrix value split into the OTP block's entries and the
// text around it.
type citrixBlock struct {
	prefix  string   // text before "#@"
	entries []string // "Name=SECRET" or "Name=SECRET&key=value…", without "&,"
	suffix  string   // text after the last "&,"
}

// parseCitrix splits a Citrix ADC OTP value:
//
//	[other text] "#@" entry "&," [entry "&," …] [other text]
//	entry = name "=" base32-secret *( "&" key "=" value )
//
// Everything between "#@" and the last "&," must be entries; the text
// around the block is kept as it is. A value without "#@" holds no
// devices. The entries themselves are checked by citrixDevice.
func parseCitrix(v string) (citrixBlock, error) {
	if !utf8.ValidString(v) {
		return citrixBlock{}, dataErrorf("citrix: value is not valid UTF-8")
	}
	start := strings.Index(v, "#@")
	if start < 0 {
		if strings.Contains(v, `"otpdata"`) {
			return citrixBlock{}, dataErrorf(`citrix: the value holds encrypted OTP data ("otpdata" JSON), which needs the ADC's key: ` +
				`turn Citrix OTP encryption off and decrypt the attribute, or enrol the users again`)
		}
		return citrixBlock{prefix: v}, nil
	}
	if strings.Contains(v[start+2:], "#@") {
		return citrixBlock{}, dataErrorf("citrix: more than one #@ block")
	}
	b := citrixBlock{prefix: v[:start]}
	body := v[start+2:]
	end := strings.LastIndex(body, "&,")
	if end < 0 {
		if looksLikeEntry(body) {
			return citrixBlock{}, dataErrorf("citrix: device entry without the closing &,")
		}
		b.suffix = body
		return b, nil
	}
	b.suffix = body[end+2:]
	if looksLikeEntry(b.suffix) {
		return citrixBlock{}, dataErrorf("citrix: device entry without the closing &,")
	}
	b.entries = strings.Split(body[:end], "&,")
	return b, nil
}

// looksLikeEntry reports whether s starts like an unterminated device entry
// ("Name=…"), which would otherwise be kept silently as other text.
func looksLikeEntry(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && checkCitrixName(name) == nil
}

// citrixDevice checks one entry and returns its device.
func citrixDevice(entry string) (StoredDevice, error) {
	if entry == "" {
		return StoredDevice{}, dataErrorf("citrix: empty device entry")
	}
	name, rest, ok := strings.Cut(entry, "=")
	if !ok {
		return StoredDevice{}, dataErrorf("citrix: device entry without =")
	}
	if err := checkCitrixName(name); err != nil {
		return StoredDevice{}, dataErrorf("citrix: %s", err)
	}
	secret, params, _ := strings.Cut(rest, "&")
	if secret == "" {
		return StoredDevice{}, dataErrorf("citrix: device %q: empty secret", name)
	}
	for _, r := range secret {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '2' && r <= '7' || r == '=') {
			return StoredDevice{}, dataErrorf("citrix: device %q: secret is not base32 (letters A-Z and digits 2-7)", name)
		}
	}
	s, err := otpauth.DecodeSecret(secret)
	if err != nil {
		return StoredDevice{}, dataErrorf("citrix: device %q: %s", name, err)
	}
	if params != "" {
		if len(params) > maxParamBytes {
			return StoredDevice{}, dataErrorf("citrix: device %q: parameters are %d bytes, more than %d", name, len(params), maxParamBytes)
		}
		seen := map[string]bool{}
		for _, p := range strings.Split(params, "&") {
			k, _, ok := strings.Cut(p, "=")
			if !ok || !isParamKey(k) {
				return StoredDevice{}, dataErrorf("citrix: device %q: malformed parameter after the secret (want &key=value)", name)
			}
			if seen[k] {
				return StoredDevice{}, dataErrorf("citrix: device %q: parameter %q given twice", name, k)
			}
			seen[k] = true
			for _, r := range p {
				if unicode.IsControl(r) {
					return StoredDevice{}, dataErrorf("citrix: device %q: control character in parameter %q", name, k)
				}
			}
		}
	}
	d := totpDefaults(name, s)
	if err := mfa.ValidateDevice(d); err != nil {
		return StoredDevice{}, dataErrorf("citrix: device %q: %s", name, err)
	}
	return StoredDevice{Device: d, raw: entry}, nil
}

func isParamKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// CheckDeviceName reports whether name can name a new device in every
// format (the Citrix format's rules, the strictest).
func CheckDeviceName(name string) error {
	if err := checkCitrixName(name); err != nil {
		return fmt.Errorf("ldapdir: %w", err)
	}
	return nil
}

// checkCitrixName reports whether name can be a device name in the Citrix
// format: 1 to MaxDeviceNameBytes bytes of UTF-8 text without the format's
// delimiters (= & , and #@), control characters or surrounding spaces.
func checkCitrixName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty device name")
	case len(name) > MaxDeviceNameBytes:
		return fmt.Errorf("device name is %d bytes, more than %d", len(name), MaxDeviceNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("device name is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("device name %q starts or ends with a space", name)
	case strings.Contains(name, "#@"):
		return fmt.Errorf("device name %q contains #@", name)
	}
	for _, r := range name {
		if r == '=' || r == '&' || r == ',' || unicode.IsControl(r) {
			return fmt.Errorf("device name %q contains %q", name, r)
		}
	}
	return nil
}
