package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/pflag"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/otpauth"
)

// enrollConfig is the [enroll] section: how new TOTP devices are made.
type enrollConfig struct {
	// Issuer is the name authenticator apps show next to the code.
	// Default "radmfa".
	Issuer string `toml:"issuer"`
	// Algorithm for new devices: SHA1 (default, what every app supports),
	// SHA256 or SHA512.
	Algorithm string `toml:"algorithm"`
	// Digits for new devices: 6 (default) or 8.
	Digits int `toml:"digits"`
	// Period of new devices in seconds. Default 30.
	Period int `toml:"period"`
}

func (e enrollConfig) withDefaults() enrollConfig {
	if e.Issuer == "" {
		e.Issuer = "radmfa"
	}
	if e.Algorithm == "" {
		e.Algorithm = "SHA1"
	}
	if e.Digits == 0 {
		e.Digits = 6
	}
	if e.Period == 0 {
		e.Period = 30
	}
	return e
}

func (e enrollConfig) validate() error {
	d := e.withDefaults()
	return checkKeyParams("enroll.", d.Algorithm, d.Digits, d.Period)
}

func checkKeyParams(prefix, alg string, digits, period int) error {
	switch alg {
	case "SHA1", "SHA256", "SHA512":
	default:
		return fmt.Errorf("%salgorithm = %q: want SHA1, SHA256 or SHA512", prefix, alg)
	}
	if digits != 6 && digits != 8 {
		return fmt.Errorf("%sdigits = %d: want 6 or 8", prefix, digits)
	}
	if period < 1 || period > 300 {
		return fmt.Errorf("%speriod = %d: want 1 to 300 seconds", prefix, period)
	}
	return nil
}

// newSecretBytes is the size of generated secrets: 160 bits, as RFC 4226
// recommends.
const newSecretBytes = 20

// keyFlags are the flags that make or import a device key.
type keyFlags struct {
	device    string
	secret    string
	uri       string
	algorithm string
	digits    int
	period    int
	qrFile    string
	json      bool
	hotp      bool
	counter   uint64
}

func (k *keyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&k.device, "device", "", "device name (default totp1, totp2, …; hotp1, … with --hotp; push, sms, email for those kinds)")
	fs.StringVar(&k.secret, "secret", "", "import this base32 secret instead of generating one (- reads it from stdin)")
	fs.StringVar(&k.uri, "uri", "", "import an otpauth:// URI (- reads it from stdin)")
	fs.StringVar(&k.algorithm, "algorithm", "", "SHA1, SHA256 or SHA512 (default from [enroll], SHA1)")
	fs.IntVar(&k.digits, "digits", 0, "6 or 8 (default from [enroll], 6)")
	fs.IntVar(&k.period, "period", 0, "seconds per code (default from [enroll], 30)")
	fs.StringVar(&k.qrFile, "qr", "", "also write the QR code to this .png or .svg file (mode 0600: it holds the secret)")
	fs.BoolVar(&k.json, "json", false, "print the result as JSON (no terminal QR code)")
	fs.BoolVar(&k.hotp, "hotp", false, "an HOTP (counter-based, RFC 4226) token instead of TOTP")
	fs.Uint64Var(&k.counter, "counter", 0, "HOTP: the counter of the next code the token will show")
}

// validDeviceName reports whether a device name is 1 to 64 letters,
// digits, '.', '_' or '-', starting with a letter or digit. (A loop rather
// than a regexp: package-level regexps are compiled at start-up, which
// every radmfa exec would pay for.)
func validDeviceName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// key builds the device key from the flags: imported, or generated with the
// [enroll] defaults.
func (k *keyFlags) key(fs *pflag.FlagSet, stdin io.Reader, cfg *config, account string) (otpauth.Key, bool, error) {
	if k.secret != "" && k.uri != "" {
		return otpauth.Key{}, false, usagef("--secret and --uri cannot be used together")
	}
	e := cfg.Enroll.withDefaults()
	key := otpauth.Key{Kind: mfa.DeviceTOTP, Issuer: e.Issuer, Account: account, Algorithm: e.Algorithm, Digits: e.Digits, Period: e.Period}
	if k.hotp {
		key.Kind, key.Counter = mfa.DeviceHOTP, k.counter
	}
	if fs.Changed("counter") && !k.hotp && k.uri == "" {
		return otpauth.Key{}, false, usagef("--counter is for HOTP tokens (--hotp)")
	}
	imported := false
	switch {
	case k.uri != "":
		for _, f := range []string{"algorithm", "digits", "period"} {
			if fs.Changed(f) {
				return otpauth.Key{}, false, usagef("--%s cannot be used with --uri: the URI sets it", f)
			}
		}
		uri, err := readArg(k.uri, stdin)
		if err != nil {
			return otpauth.Key{}, false, err
		}
		if key, err = otpauth.Parse(uri); err != nil {
			return otpauth.Key{}, false, usageError{err}
		}
		if k.hotp && key.Kind != mfa.DeviceHOTP {
			return otpauth.Key{}, false, usagef("--hotp: the URI is a %s key", key.Kind)
		}
		imported = true
	case k.secret != "":
		s, err := readArg(k.secret, stdin)
		if err != nil {
			return otpauth.Key{}, false, err
		}
		if key.Secret, err = otpauth.DecodeSecret(s); err != nil {
			return otpauth.Key{}, false, usageError{err}
		}
		imported = true
	default:
		key.Secret = make(mfa.Secret, newSecretBytes)
		if _, err := io.ReadFull(rand.Reader, key.Secret); err != nil {
			return otpauth.Key{}, false, fmt.Errorf("random secret: %w", err)
		}
	}
	if k.algorithm != "" {
		key.Algorithm = strings.ToUpper(k.algorithm)
	}
	if k.digits != 0 {
		key.Digits = k.digits
	}
	if k.period != 0 {
		key.Period = k.period
	}
	if key.Kind == mfa.DeviceHOTP {
		key.Period = 30 // not used; keeps checkKeyParams simple
	}
	if err := checkKeyParams("--", key.Algorithm, key.Digits, key.Period); err != nil {
		return otpauth.Key{}, false, usageError{err}
	}
	return key, imported, nil
}

// readArg returns the flag value, or one line of stdin for "-".
func readArg(v string, stdin io.Reader) (string, error) {
	if v != "-" {
		return v, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// pickDeviceName returns the requested name, or the first free totpN
// (hotpN for HOTP tokens).
func pickDeviceName(requested string, hotp bool, existing []string) (string, error) {
	if requested != "" {
		if !validDeviceName(requested) {
			return "", usagef("device name %q: use 1 to 64 letters, digits, '.', '_' or '-'", requested)
		}
		return requested, nil
	}
	taken := map[string]bool{}
	for _, n := range existing {
		taken[n] = true
	}
	prefix := "totp"
	if hotp {
		prefix = "hotp"
	}
	for i := 1; ; i++ {
		if n := fmt.Sprintf("%s%d", prefix, i); !taken[n] {
			return n, nil
		}
	}
}

// enrollment is what user add / device add print.
type enrollment struct {
	User      string `json:"user"`
	Device    string `json:"device"`
	Imported  bool   `json:"imported"`
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
	URI       string `json:"uri"`
	Secret    string `json:"secret"`
	QRFile    string `json:"qr_file,omitempty"`
}

// printEnrollment shows the new device: summary, QR code, URI and secret.
func printEnrollment(w io.Writer, key otpauth.Key, user, device string, imported bool, qrFile string, asJSON bool) error {
	e := enrollment{User: user, Device: device, Imported: imported, Algorithm: key.Algorithm, Digits: key.Digits,
		Period: key.Period, URI: key.URI(), Secret: otpauth.EncodeSecret(key.Secret), QRFile: qrFile}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(e)
	}
	verb := "New"
	if imported {
		verb = "Imported"
	}
	if key.Kind == mfa.DeviceHOTP {
		fmt.Fprintf(w, "%s HOTP device %q for user %q (%s, %d digits, next counter %d).\n", verb, device, user, key.Algorithm, key.Digits, key.Counter)
	} else {
		fmt.Fprintf(w, "%s TOTP device %q for user %q (%s, %d digits, %d s).\n", verb, device, user, key.Algorithm, key.Digits, key.Period)
	}
	if !imported {
		fmt.Fprintln(w, "Scan this QR code with an authenticator app (or type the secret below):")
		fmt.Fprintln(w)
		qrterminal.GenerateWithConfig(e.URI, qrterminal.Config{
			Level: qrterminal.M, Writer: w, HalfBlocks: true, QuietZone: 2,
			BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
			WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE,
		})
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "URI:    %s\n", e.URI)
	fmt.Fprintf(w, "Secret: %s\n", e.Secret)
	if qrFile != "" {
		fmt.Fprintf(w, "QR code written to %s\n", qrFile)
	}
	switch {
	case key.Kind == mfa.DeviceHOTP && key.Algorithm == "SHA1":
		fmt.Fprintf(w, "Check:  oathtool --hotp -b -c %d %s\n", key.Counter, e.Secret)
	case key.Algorithm == "SHA1" && key.Digits == 6 && key.Period == 30:
		fmt.Fprintf(w, "Check:  oathtool --totp -b %s\n", e.Secret)
	}
	fmt.Fprintln(w, "Keep this output private: anyone with the secret can generate codes.")
	return nil
}

// writeQR writes the key's QR code as PNG or SVG (by extension), mode 0600,
// replacing the file atomically.
func writeQR(path, uri string) error {
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".radmfa-qr-*")
	if err != nil {
		return fmt.Errorf("QR file: %w", err)
	}
	defer os.Remove(tmp.Name())
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		scaled, err := barcode.Scale(code, 320, 320)
		if err == nil {
			err = png.Encode(tmp, scaled)
		}
		if err != nil {
			tmp.Close()
			return fmt.Errorf("QR file: %w", err)
		}
	case ".svg":
		writeSVG(tmp, code)
	default:
		tmp.Close()
		return usagef("--qr %s: the file name must end in .png or .svg", path)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("QR file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// writeSVG draws the QR modules as one path, with a 4-module quiet zone.
func writeSVG(w io.Writer, code barcode.Barcode) {
	b := code.Bounds()
	n := b.Dx() + 8
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				fmt.Fprintf(w, "M%d %dh1v1h-1z", x-b.Min.X+4, y-b.Min.Y+4)
			}
		}
	}
	fmt.Fprintln(w, `"/></svg>`)
}
