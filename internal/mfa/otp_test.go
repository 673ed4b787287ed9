package mfa

import (
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B test vectors: the seeds are the ASCII strings below,
// 8-digit codes.
var (
	rfcSeedSHA1   = Secret("12345678901234567890")
	rfcSeedSHA256 = Secret("12345678901234567890123456789012")
	rfcSeedSHA512 = Secret("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestCodeRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		alg  string
		want string
	}{
		{59, "SHA1", "94287082"},
		{59, "SHA256", "46119246"},
		{59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"},
		{1111111109, "SHA256", "68084774"},
		{1111111109, "SHA512", "25091201"},
		{1234567890, "SHA1", "89005924"},
		{1234567890, "SHA256", "91819424"},
		{1234567890, "SHA512", "93441116"},
		{20000000000, "SHA1", "65353130"},
		{20000000000, "SHA256", "77737706"},
		{20000000000, "SHA512", "47863826"},
	}
	seeds := map[string]Secret{"SHA1": rfcSeedSHA1, "SHA256": rfcSeedSHA256, "SHA512": rfcSeedSHA512}
	for _, tt := range tests {
		t.Run(tt.alg+"/"+time.Unix(tt.unix, 0).UTC().Format(time.RFC3339), func(t *testing.T) {
			d := Device{Kind: DeviceTOTP, Algorithm: tt.alg, Digits: 8, Period: 30, Secret: seeds[tt.alg]}
			got, err := Code(d, Step(d, time.Unix(tt.unix, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCodeRFC4226(t *testing.T) {
	// RFC 4226 Appendix D: HOTP values for counters 0..9, 6 digits.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	d := Device{Kind: DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: rfcSeedSHA1}
	for c, w := range want {
		got, err := Code(d, int64(c))
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("counter %d: got %s, want %s", c, got, w)
		}
	}
}

func TestMatch(t *testing.T) {
	d := Device{Kind: DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: rfcSeedSHA1}
	tests := []struct {
		name     string
		code     string
		from, to int64
		want     int64
		ok       bool
	}{
		{"exact", "969429", 3, 3, 3, true},
		{"in window", "969429", 2, 4, 3, true},
		{"outside window", "969429", 4, 6, 0, false},
		{"negative from clamped", "755224", -1, 1, 0, true},
		{"wrong code", "000000", 0, 9, 0, false},
		{"wrong length", "96942", 0, 9, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := match(d, tt.code, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || got != tt.want {
				t.Fatalf("match = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestValidateDevice(t *testing.T) {
	good := Device{Kind: DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: rfcSeedSHA1}
	tests := []struct {
		name string
		mod  func(*Device)
		ok   bool
	}{
		{"good", func(*Device) {}, true},
		{"sha256 8 digits", func(d *Device) { d.Algorithm, d.Digits = "SHA256", 8 }, true},
		{"md5", func(d *Device) { d.Algorithm = "MD5" }, false},
		{"lowercase alg", func(d *Device) { d.Algorithm = "sha1" }, false},
		{"7 digits", func(d *Device) { d.Digits = 7 }, false},
		{"period 0", func(d *Device) { d.Period = 0 }, false},
		{"period huge", func(d *Device) { d.Period = 3600 }, false},
		{"short secret", func(d *Device) { d.Secret = Secret("short") }, false},
		{"hotp", func(d *Device) { d.Kind, d.Period = DeviceHOTP, 0 }, true},
		{"push without address", func(d *Device) { d.Kind = DevicePush }, false},
		{"sms with address", func(d *Device) { d.Kind, d.Address = DeviceSMS, "+441234567" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.mod(&d)
			if err := ValidateDevice(d); (err == nil) != tt.ok {
				t.Fatalf("ValidateDevice: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestValidateDeliveryAddress(t *testing.T) {
	tests := []struct {
		name string
		kind DeviceKind
		addr string
		ok   bool
	}{
		{"e164", DeviceSMS, "+4915112345678", true},
		{"national with spaces", DeviceSMS, "0151 123-456.78", true},
		{"too short", DeviceSMS, "+12345", false},
		{"too long", DeviceSMS, "+123456789012345678901", false},
		{"letters", DeviceSMS, "+49 call me", false},
		{"plus inside", DeviceSMS, "49+151123456", false},
		{"leading space", DeviceSMS, " 4915112345678", false},
		{"empty sms", DeviceSMS, "", false},
		{"email", DeviceEmail, "alice@example.com", true},
		{"email localhost", DeviceEmail, "root@localhost", true},
		{"no at", DeviceEmail, "alice", false},
		{"two ats", DeviceEmail, "a@b@c", false},
		{"display name", DeviceEmail, "Alice <alice@example.com>", false},
		{"two recipients", DeviceEmail, "a@example.com,b@example.com", false},
		{"header injection", DeviceEmail, "a@example.com\r\nBcc: x@evil", false},
		{"empty local", DeviceEmail, "@example.com", false},
		{"too long", DeviceEmail, strings.Repeat("a", 250) + "@x.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDevice(Device{Kind: tt.kind, Address: tt.addr})
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateDevice(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
		})
	}
}
