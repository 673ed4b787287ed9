package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// Algorithms accepted for OTP devices.
var algorithms = map[string]otp.Algorithm{
	"SHA1":   otp.AlgorithmSHA1,
	"SHA256": otp.AlgorithmSHA256,
	"SHA512": otp.AlgorithmSHA512,
}

// ValidateDevice reports whether the device parameters are usable.
func ValidateDevice(d Device) error {
	if d.Kind == DevicePush {
		if d.Address == "" || len(d.Address) > 512 {
			return fmt.Errorf("mfa: a push device needs an address (an ntfy topic, a phone number) of at most 512 bytes")
		}
		return nil
	}
	if d.Kind == DeviceSMS || d.Kind == DeviceEmail {
		if d.Address == "" || len(d.Address) > 254 {
			return fmt.Errorf("mfa: an %s device needs an address of at most 254 bytes", d.Kind)
		}
		if d.Kind == DeviceSMS {
			return validatePhone(d.Address)
		}
		return validateEmail(d.Address)
	}
	if d.Kind != DeviceTOTP && d.Kind != DeviceHOTP {
		return fmt.Errorf("mfa: device kind %v is not supported", d.Kind)
	}
	if _, ok := algorithms[d.Algorithm]; !ok {
		return fmt.Errorf("mfa: algorithm %q: want SHA1, SHA256 or SHA512", d.Algorithm)
	}
	if d.Digits != 6 && d.Digits != 8 {
		return fmt.Errorf("mfa: digits %d: want 6 or 8", d.Digits)
	}
	if d.Kind == DeviceTOTP && (d.Period < 1 || d.Period > 300) {
		return fmt.Errorf("mfa: period %d: want 1 to 300 seconds", d.Period)
	}
	if len(d.Secret) < 10 {
		return fmt.Errorf("mfa: secret is %d bytes: want at least 10 (80 bits), better 20", len(d.Secret))
	}
	if len(d.Secret) > 128 {
		return fmt.Errorf("mfa: secret is %d bytes: want at most 128", len(d.Secret))
	}
	return nil
}

// validatePhone accepts a phone number as SMS gateways take it: an
// optional "+", then 6 to 20 digits, spaces, dashes or dots between them.
func validatePhone(a string) error {
	digits := 0
	for i, r := range a {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case (r == ' ' || r == '-' || r == '.') && i > 0:
		default:
			return fmt.Errorf("mfa: sms address %q: want a phone number such as +4915112345678", a)
		}
	}
	if digits < 6 || digits > 20 {
		return fmt.Errorf("mfa: sms address %q: want a phone number with 6 to 20 digits", a)
	}
	return nil
}

// validateEmail accepts a bare e-mail address (local@domain), without a
// display name or anything that would let it name more recipients.
func validateEmail(a string) error {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") ||
		strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("<>,;:\"()[]\\", r) }) {
		return fmt.Errorf("mfa: email address %q: want a bare address such as alice@example.com", a)
	}
	return nil
}

// Code returns the code a device shows for the counter (a TOTP time step or
// an HOTP counter).
func Code(d Device, counter int64) (string, error) {
	alg, ok := algorithms[d.Algorithm]
	if !ok {
		return "", fmt.Errorf("mfa: algorithm %q: want SHA1, SHA256 or SHA512", d.Algorithm)
	}
	digits := otp.DigitsSix
	if d.Digits == 8 {
		digits = otp.DigitsEight
	}
	return hotp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(d.Secret), uint64(counter), hotp.ValidateOpts{
		Digits:    digits,
		Algorithm: alg,
	})
}

// Step returns the TOTP time step of the device at t.
func Step(d Device, t time.Time) int64 {
	return t.Unix() / int64(d.Period)
}

// match compares code with the codes of every counter in [from, to] and
// returns the counter that matched. Every candidate is computed and compared
// in constant time, so the time taken does not reveal which one matched.
func match(d Device, code string, from, to int64) (counter int64, ok bool, err error) {
	if from < 0 {
		from = 0
	}
	found := 0
	for c := from; c <= to; c++ {
		want, err := Code(d, c)
		if err != nil {
			return 0, false, err
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		if eq == 1 && found == 0 {
			counter = c
		}
		found |= eq
	}
	return counter, found == 1, nil
}
