package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
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
	if d.Kind != DeviceTOTP {
		return fmt.Errorf("mfa: device kind %v is not supported", d.Kind)
	}
	if _, ok := algorithms[d.Algorithm]; !ok {
		return fmt.Errorf("mfa: algorithm %q: want SHA1, SHA256 or SHA512", d.Algorithm)
	}
	if d.Digits != 6 && d.Digits != 8 {
		return fmt.Errorf("mfa: digits %d: want 6 or 8", d.Digits)
	}
	if d.Period < 1 || d.Period > 300 {
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
