package mfa

import "testing"

func TestClassifyPasscode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Trigger
	}{
		{"empty", "", TriggerEmpty},
		{"p", "p", TriggerOneChar},
		{"P upper", "P", TriggerOneChar},
		{"space", " ", TriggerOneChar},
		{"single digit", "7", TriggerOneChar},
		{"multibyte char", "é", TriggerOneChar},
		{"emoji", "🔑", TriggerOneChar},
		{"s", "s", TriggerSMS},
		{"S upper", "S", TriggerSMS},
		{"e", "e", TriggerEmail},
		{"E upper", "E", TriggerEmail},
		{"g", "g", TriggerGrid},
		{"G upper", "G", TriggerGrid},
		{"six digits", "123456", TriggerCode},
		{"eight digits", "12345678", TriggerCode},
		{"seven digits", "1234567", TriggerCode},
		{"two digits", "12", TriggerCode},
		{"digits with space", "123 456", TriggerOther},
		{"password", "hunter2", TriggerOther},
		{"two letters", "ss", TriggerOther},
		{"fullwidth digits", "１２３４５６", TriggerOther},
		{"invalid utf8 byte", "\xff", TriggerOther},
		{"nul", "\x00", TriggerOneChar},
		{"digits then nul", "123456\x00", TriggerOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassifyPasscode(tt.in); got != tt.want {
				t.Fatalf("ClassifyPasscode(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTriggerStringRoundTrip(t *testing.T) {
	for tr := TriggerEmpty; tr <= TriggerOther; tr++ {
		t.Run(tr.String(), func(t *testing.T) {
			got, err := ParseTrigger(tr.String())
			if err != nil || got != tr {
				t.Fatalf("ParseTrigger(%q) = %v, %v; want %v", tr.String(), got, err, tr)
			}
		})
	}
	if _, err := ParseTrigger("invalid"); err == nil {
		t.Fatal("ParseTrigger(invalid): want error")
	}
}

func FuzzClassifyPasscode(f *testing.F) {
	for _, s := range []string{"", "p", "s", "E", "123456", "12345678", "é", "\xff", "12a456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := ClassifyPasscode(p)
		if got == TriggerInvalid || got > TriggerOther {
			t.Fatalf("ClassifyPasscode(%q) = %v: not a class", p, got)
		}
		if got == TriggerCode {
			for i := 0; i < len(p); i++ {
				if p[i] < '0' || p[i] > '9' {
					t.Fatalf("ClassifyPasscode(%q) = code but it has a non-digit", p)
				}
			}
		}
		if (p == "") != (got == TriggerEmpty) {
			t.Fatalf("ClassifyPasscode(%q) = %v", p, got)
		}
	})
}
