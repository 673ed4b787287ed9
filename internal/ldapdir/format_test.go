package ldapdir

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// RFC 6238 seeds and their base32 forms.
const (
	seedSHA1   = "12345678901234567890"
	seedSHA256 = "12345678901234567890123456789012"
	seedSHA512 = "1234567890123456789012345678901234567890123456789012345678901234"
	b32SHA1    = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	b32SHA256  = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
	b32SHA512  = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"
	b32Two     = "OJQWI3LGMEWXIZLTOQWXGZLDOJSXILJS" // "radmfa-test-secret-2"
	b32Three   = "OJQWI3LGMEWXIZLTOQWXGZLDOJSXILJT" // "radmfa-test-secret-3"
)

// checkCode checks that device d shows want at T = 59 s (RFC 6238's first
// test time), trimmed to the device's digits.
func checkCode(t *testing.T, d mfa.Device, want8 string) {
	t.Helper()
	got, err := mfa.Code(d, mfa.Step(d, time.Unix(59, 0)))
	if err != nil {
		t.Fatal(err)
	}
	want := want8[len(want8)-d.Digits:]
	if got != want {
		t.Errorf("device %q: code at T=59 is %s, want %s", d.Name, got, want)
	}
}

func TestDecodeSecrets(t *testing.T) {
	type dev struct {
		name, alg    string
		digits       int
		secret, code string // code: RFC 6238 8-digit vector, or "" to skip
	}
	tests := []struct {
		name   string
		format Format
		values []string
		want   []dev
	}{
		{"base32 one", FormatBase32, []string{b32SHA1},
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}}},
		{"base32 lower case, spaces, padding", FormatBase32, []string{"gezd gnbv gy3t qojq gezd gnbv gy3t qojq===="},
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}}},
		{"base32 two values", FormatBase32, []string{b32SHA1, b32Two},
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}, {"ldap2", "SHA1", 6, "radmfa-test-secret-2", ""}}},
		{"no values", FormatBase32, nil, nil},
		{"otpauth sha256 8 digits", FormatOTPAuth, []string{"otpauth://totp/Example:carol?secret=" + b32SHA256 + "&issuer=Example&algorithm=SHA256&digits=8"},
			[]dev{{"ldap1", "SHA256", 8, seedSHA256, "46119246"}}},
		{"otpauth defaults and sha512", FormatOTPAuth, []string{"otpauth://totp/x?secret=" + b32SHA1, "otpauth://totp/y?secret=" + b32SHA512 + "&algorithm=SHA512&digits=8"},
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}, {"ldap2", "SHA512", 8, seedSHA512, "90693936"}}},
		{"citrix one", FormatCitrix, []string{"#@Phone=" + b32SHA1 + "&,"},
			[]dev{{"Phone", "SHA1", 6, seedSHA1, "94287082"}}},
		{"citrix two with push tag", FormatCitrix, []string{"#@My iPhone=" + b32SHA1 + "&,Tablet=" + b32Two + "&tag=0123456789abcdef&,"},
			[]dev{{"My iPhone", "SHA1", 6, seedSHA1, "94287082"}, {"Tablet", "SHA1", 6, "radmfa-test-secret-2", ""}}},
		{"citrix inside other text", FormatCitrix, []string{"PCtxCfgPresent551e0bb0 #@Phone=" + b32SHA1 + "&, trailing data"},
			[]dev{{"Phone", "SHA1", 6, seedSHA1, "94287082"}}},
		{"citrix no block", FormatCitrix, []string{"PCtxCfgPresent551e0bb0"}, nil},
		{"citrix empty block", FormatCitrix, []string{"#@"}, nil},
		{"citrix unicode name", FormatCitrix, []string{"#@Jörgs Handy=" + b32SHA1 + "&,"},
			[]dev{{"Jörgs Handy", "SHA1", 6, seedSHA1, "94287082"}}},
		{"citrix four devices is the default max", FormatCitrix, []string{"#@a=" + b32SHA1 + "&,b=" + b32Two + "&,c=" + b32Three + "&,d=" + b32SHA256 + "&,"},
			[]dev{{"a", "SHA1", 6, seedSHA1, ""}, {"b", "SHA1", 6, "radmfa-test-secret-2", ""}, {"c", "SHA1", 6, "radmfa-test-secret-3", ""}, {"d", "SHA1", 6, seedSHA256, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecrets(tt.format, tt.values, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d devices, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				d := got[i].Device
				if d.Name != w.name || d.Kind != mfa.DeviceTOTP || d.Algorithm != w.alg || d.Digits != w.digits || d.Period != 30 {
					t.Errorf("device %d: got %s %v %s/%d/%d, want %s totp %s/%d/30", i, d.Name, d.Kind, d.Algorithm, d.Digits, d.Period, w.name, w.alg, w.digits)
				}
				if string(d.Secret) != w.secret {
					t.Errorf("device %d: wrong secret", i)
				}
				if w.code != "" {
					checkCode(t, d, w.code)
				}
			}
		})
	}
}

func TestDecodeSecretsErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		values []string
		max    int
		want   string
	}{
		{"base32 garbage", FormatBase32, []string{"not base32!!"}, 0, "value 1: otpauth: secret is not valid base32"},
		{"base32 short", FormatBase32, []string{"GEZDGNBV"}, 0, "at least 80"},
		{"base32 empty value", FormatBase32, []string{""}, 0, "at least 80"},
		{"base32 second value bad", FormatBase32, []string{b32SHA1, "x"}, 0, "value 2"},
		{"base32 given a URI", FormatBase32, []string{"otpauth://totp/x?secret=" + b32SHA1}, 0, "secret_format is base32"},
		{"base32 too many", FormatBase32, []string{b32SHA1, b32Two, b32Three}, 2, "3 devices, more than max_devices (2)"},
		{"base32 oversized", FormatBase32, []string{strings.Repeat("A", MaxValueBytes+1)}, 0, "more than 32768"},
		{"otpauth not a URI", FormatOTPAuth, []string{b32SHA1}, 0, "scheme"},
		{"otpauth https", FormatOTPAuth, []string{"https://example.test/?secret=" + b32SHA1}, 0, "scheme"},
		{"otpauth hotp", FormatOTPAuth, []string{"otpauth://hotp/x?secret=" + b32SHA1 + "&counter=1"}, 0, "hotp keys are not supported"},
		{"otpauth 7 digits", FormatOTPAuth, []string{"otpauth://totp/x?secret=" + b32SHA1 + "&digits=7"}, 0, "digits"},
		{"otpauth no secret", FormatOTPAuth, []string{"otpauth://totp/x"}, 0, "no secret"},
		{"citrix empty secret", FormatCitrix, []string{"#@Phone=&,"}, 0, `device "Phone": empty secret`},
		{"citrix short secret", FormatCitrix, []string{"#@Phone=GEZDGNBV&,"}, 0, "at least 80"},
		{"citrix bad secret", FormatCitrix, []string{"#@Phone=GEZD-GNBV GY3T QOJQ GEZD&,"}, 0, "not base32"},
		{"citrix empty name", FormatCitrix, []string{"#@=" + b32SHA1 + "&,"}, 0, "empty device name"},
		{"citrix no =", FormatCitrix, []string{"#@Phone&,"}, 0, "without ="},
		{"citrix empty entry", FormatCitrix, []string{"#@&,"}, 0, "empty device entry"},
		{"citrix double separator", FormatCitrix, []string{"#@a=" + b32SHA1 + "&,&,"}, 0, "empty device entry"},
		{"citrix duplicate names", FormatCitrix, []string{"#@Phone=" + b32SHA1 + "&,phone=" + b32Two + "&,"}, 0, `two devices named "phone"`},
		{"citrix unterminated", FormatCitrix, []string{"#@Phone=" + b32SHA1}, 0, "without the closing &,"},
		{"citrix last unterminated", FormatCitrix, []string{"#@Phone=" + b32SHA1 + "&,Tablet=" + b32Two}, 0, "without the closing &,"},
		{"citrix two blocks", FormatCitrix, []string{"#@a=" + b32SHA1 + "&, #@b=" + b32Two + "&,"}, 0, "more than one #@"},
		{"citrix encrypted", FormatCitrix, []string{`{"otpdata":{"devices":{"Phone":"a2lk.aXY=.Y2lwaGVy"}}}`}, 0, "encrypted OTP data"},
		{"citrix too many", FormatCitrix, []string{"#@a=" + b32SHA1 + "&,b=" + b32Two + "&,c=" + b32Three + "&,"}, 2, "3 devices, more than max_devices (2)"},
		{"citrix two values", FormatCitrix, []string{"#@a=" + b32SHA1 + "&,", "#@b=" + b32Two + "&,"}, 0, "2 values"},
		{"citrix bad parameter", FormatCitrix, []string{"#@a=" + b32SHA1 + "&tag&,"}, 0, "malformed parameter"},
		{"citrix duplicate parameter", FormatCitrix, []string{"#@a=" + b32SHA1 + "&tag=1&tag=2&,"}, 0, "given twice"},
		{"citrix control in name", FormatCitrix, []string{"#@a\x00b=" + b32SHA1 + "&,"}, 0, "contains"},
		{"citrix invalid utf-8", FormatCitrix, []string{"#@a\xff=" + b32SHA1 + "&,"}, 0, "UTF-8"},
		{"citrix long name", FormatCitrix, []string{"#@" + strings.Repeat("n", 65) + "=" + b32SHA1 + "&,"}, 0, "more than 64"},
		{"citrix oversized", FormatCitrix, []string{"#@a=" + b32SHA1 + "&," + strings.Repeat(" ", MaxValueBytes)}, 0, "more than 32768"},
		{"invalid format", FormatInvalid, []string{b32SHA1}, 0, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSecrets(tt.format, tt.values, tt.max)
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.format != FormatInvalid && !errors.Is(err, mfa.ErrDirectoryData) {
				t.Errorf("error %q does not wrap mfa.ErrDirectoryData", err)
			}
			for _, s := range []string{b32SHA1, b32Two, b32Three} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestEncodeSecretsRoundTrip(t *testing.T) {
	fresh := func(name, secret string) StoredDevice {
		return StoredDevice{Device: totpDefaults(name, mfa.Secret(secret))}
	}
	tests := []struct {
		name    string
		format  Format
		old     []string
		devices []StoredDevice
		want    []string
	}{
		{"base32 fresh", FormatBase32, nil, []StoredDevice{fresh("x", seedSHA1), fresh("y", "radmfa-test-secret-2")},
			[]string{b32SHA1, b32Two}},
		{"otpauth fresh", FormatOTPAuth, nil, []StoredDevice{fresh("Phone", seedSHA1)},
			[]string{"otpauth://totp/Phone?algorithm=SHA1&digits=6&period=30&secret=" + b32SHA1}},
		{"citrix fresh", FormatCitrix, nil, []StoredDevice{fresh("Phone", seedSHA1), fresh("Tablet", "radmfa-test-secret-2")},
			[]string{"#@Phone=" + b32SHA1 + "&,Tablet=" + b32Two + "&,"}},
		{"citrix keeps the text around", FormatCitrix, []string{"P #@Old=" + b32Three + "&, tail"}, []StoredDevice{fresh("Phone", seedSHA1)},
			[]string{"P #@Phone=" + b32SHA1 + "&, tail"}},
		{"citrix keeps text without a block", FormatCitrix, []string{"PCtxCfg"}, []StoredDevice{fresh("Phone", seedSHA1)},
			[]string{"PCtxCfg#@Phone=" + b32SHA1 + "&,"}},
		{"citrix no devices left", FormatCitrix, []string{"#@Old=" + b32Three + "&,"}, nil, nil},
		{"citrix no devices, other text stays", FormatCitrix, []string{"P #@Old=" + b32Three + "&, tail"}, nil, []string{"P  tail"}},
		{"base32 none", FormatBase32, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeSecrets(tt.format, tt.devices, tt.old)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			back, err := DecodeSecrets(tt.format, got, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(tt.devices) {
				t.Fatalf("decoded %d devices, want %d", len(back), len(tt.devices))
			}
			for i := range back {
				if string(back[i].Device.Secret) != string(tt.devices[i].Device.Secret) {
					t.Errorf("device %d: secret changed in the round trip", i)
				}
				if tt.format == FormatCitrix && back[i].Device.Name != tt.devices[i].Device.Name {
					t.Errorf("device %d: name %q, want %q", i, back[i].Device.Name, tt.devices[i].Device.Name)
				}
			}
		})
	}
}

// TestEncodeKeepsWhatItRead: devices read from the directory are written
// back byte for byte (Citrix push tags, otpauth labels), new ones appended.
func TestEncodeKeepsWhatItRead(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		old    []string
		want   []string
	}{
		{"citrix tag", FormatCitrix, []string{"x #@Tablet=" + b32Two + "&tag=abc&, y"},
			[]string{"x #@Tablet=" + b32Two + "&tag=abc&,New=" + b32SHA1 + "&, y"}},
		{"otpauth label", FormatOTPAuth, []string{"otpauth://totp/ACME:carol?secret=" + b32Two + "&issuer=ACME"},
			[]string{"otpauth://totp/ACME:carol?secret=" + b32Two + "&issuer=ACME", "otpauth://totp/New?algorithm=SHA1&digits=6&period=30&secret=" + b32SHA1}},
		{"base32 spacing", FormatBase32, []string{"ojqw i3lg mewx izlt oqwx gzld ojsx iljs"},
			[]string{"ojqw i3lg mewx izlt oqwx gzld ojsx iljs", b32SHA1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs, err := DecodeSecrets(tt.format, tt.old, 0)
			if err != nil {
				t.Fatal(err)
			}
			devs = append(devs, StoredDevice{Device: totpDefaults("New", mfa.Secret(seedSHA1))})
			got, err := EncodeSecrets(tt.format, devs, tt.old)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncodeSecretsErrors(t *testing.T) {
	sha256 := totpDefaults("x", mfa.Secret(seedSHA1))
	sha256.Algorithm = "SHA256"
	tests := []struct {
		name    string
		format  Format
		devices []StoredDevice
		old     []string
		want    string
	}{
		{"base32 sha256", FormatBase32, []StoredDevice{{Device: sha256}}, nil, "only SHA1"},
		{"citrix sha256", FormatCitrix, []StoredDevice{{Device: sha256}}, nil, "only SHA1"},
		{"citrix bad name", FormatCitrix, []StoredDevice{{Device: totpDefaults("a=b", mfa.Secret(seedSHA1))}}, nil, `contains '='`},
		{"citrix #@ in name", FormatCitrix, []StoredDevice{{Device: totpDefaults("a#@b", mfa.Secret(seedSHA1))}}, nil, "contains #@"},
		{"citrix duplicate", FormatCitrix, []StoredDevice{{Device: totpDefaults("A", mfa.Secret(seedSHA1))}, {Device: totpDefaults("a", mfa.Secret(seedSHA1))}}, nil, "two devices"},
		{"citrix broken old value", FormatCitrix, []StoredDevice{{Device: totpDefaults("A", mfa.Secret(seedSHA1))}}, []string{"#@x=y"}, "closing"},
		{"short secret", FormatOTPAuth, []StoredDevice{{Device: totpDefaults("A", mfa.Secret("short"))}}, nil, "at least 10"},
		{"hotp", FormatOTPAuth, []StoredDevice{{Device: mfa.Device{Name: "h", Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret(seedSHA1)}}}, nil, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeSecrets(tt.format, tt.devices, tt.old)
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{FormatBase32, FormatOTPAuth, FormatCitrix} {
		t.Run(f.String(), func(t *testing.T) {
			got, err := ParseFormat(f.String())
			if err != nil || got != f {
				t.Fatalf("ParseFormat(%q) = %v, %v", f.String(), got, err)
			}
		})
	}
	for _, s := range []string{"", "invalid", "Base32", "hex"} {
		t.Run("bad "+s, func(t *testing.T) {
			if _, err := ParseFormat(s); err == nil {
				t.Fatalf("ParseFormat(%q) succeeded", s)
			}
		})
	}
	if s := Format(9).String(); s != "Format(9)" {
		t.Errorf("Format(9).String() = %q", s)
	}
}

// fuzzDecode checks what every decoder promises: no panic, errors are
// DataErrors without the input's secrets, devices are valid and within
// the limit, and what decodes encodes back to the same values.
func fuzzDecode(t *testing.T, f Format, values []string) {
	devs, err := DecodeSecrets(f, values, 0)
	if err != nil {
		if !errors.Is(err, mfa.ErrDirectoryData) {
			t.Fatalf("error %q does not wrap mfa.ErrDirectoryData", err)
		}
		return
	}
	if len(devs) > DefaultMaxDevices {
		t.Fatalf("%d devices, more than %d", len(devs), DefaultMaxDevices)
	}
	for _, d := range devs {
		if err := mfa.ValidateDevice(d.Device); err != nil {
			t.Fatalf("decoded an invalid device: %v", err)
		}
	}
	enc, err := EncodeSecrets(f, devs, values)
	if err != nil {
		t.Fatalf("re-encoding what decoded: %v", err)
	}
	if f == FormatCitrix && len(devs) == 0 {
		return // "#@" alone is dropped; the text around it stays
	}
	if strings.Join(enc, "\x00") != strings.Join(values, "\x00") {
		t.Fatalf("round trip changed the values: %q → %q", values, enc)
	}
	// Fresh encoding (as the enrollment page does) decodes to the same devices.
	fresh := make([]StoredDevice, len(devs))
	for i, d := range devs {
		fresh[i] = StoredDevice{Device: d.Device}
	}
	enc, err = EncodeSecrets(f, fresh, values)
	if err != nil {
		t.Fatalf("encoding fresh devices: %v", err)
	}
	back, err := DecodeSecrets(f, enc, 0)
	if err != nil {
		t.Fatalf("decoding %q: %v", enc, err)
	}
	if len(back) != len(devs) {
		t.Fatalf("fresh round trip: %d devices, want %d", len(back), len(devs))
	}
	for i := range back {
		a, b := back[i].Device, devs[i].Device
		if string(a.Secret) != string(b.Secret) || a.Algorithm != b.Algorithm || a.Digits != b.Digits || a.Period != b.Period {
			t.Fatalf("fresh round trip changed device %d", i)
		}
		if f == FormatCitrix && a.Name != b.Name {
			t.Fatalf("fresh round trip renamed %q to %q", b.Name, a.Name)
		}
	}
}

func FuzzDecodeBase32(f *testing.F) {
	for _, s := range []string{b32SHA1, b32SHA1 + "\n" + b32Two, "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", "GEZDGNBV", "", "not base32", b32SHA1 + "===="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzDecode(t, FormatBase32, strings.Split(s, "\n"))
	})
}

func FuzzDecodeOTPAuth(f *testing.F) {
	for _, s := range []string{
		"otpauth://totp/x?secret=" + b32SHA1,
		"otpauth://totp/A:b?secret=" + b32SHA256 + "&issuer=A&algorithm=SHA256&digits=8&period=60",
		"otpauth://hotp/x?secret=" + b32SHA1 + "&counter=3",
		"otpauth://totp/x?secret=" + b32SHA1 + "\notpauth://totp/y?secret=" + b32Two,
		"otpauth://totp/%zz?secret=" + b32SHA1,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzDecode(t, FormatOTPAuth, strings.Split(s, "\n"))
	})
}

func FuzzDecodeCitrix(f *testing.F) {
	for _, s := range []string{
		"#@Phone=" + b32SHA1 + "&,",
		"#@My iPhone=" + b32SHA1 + "&,Tablet=" + b32Two + "&tag=0123&,",
		"PCtx #@Phone=" + b32SHA1 + "&, tail",
		"#@", "#@&,", "#@a=&,", "#@a=" + b32SHA1, "no block", `{"otpdata":{}}`,
		"#@a=" + b32SHA1 + "&,#@b=" + b32Two + "&,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzDecode(t, FormatCitrix, []string{s})
	})
}
