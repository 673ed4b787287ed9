package mfa

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitPassword(t *testing.T) {
	tests := []struct {
		name     string
		g        Grammar
		delim    string
		digits   int
		typed    string
		password string // "<nil>" for none
		passcode string
	}{
		{"safenet code", GrammarSafeNet, "", 0, "123456", "<nil>", "123456"},
		{"safenet default", "", "", 0, "p", "<nil>", "p"},
		{"safenet keeps everything", GrammarSafeNet, "", 0, "pw,123456", "<nil>", "pw,123456"},

		{"suffix code", GrammarSuffix, "", 0, "hunter2,123456", "hunter2", "123456"},
		{"suffix 8-digit code", GrammarSuffix, "", 0, "hunter2,12345678", "hunter2", "12345678"},
		{"suffix push", GrammarSuffix, "", 0, "hunter2,push", "hunter2", ""},
		{"suffix PUSH any case", GrammarSuffix, "", 0, "hunter2,PuSh", "hunter2", ""},
		{"suffix p", GrammarSuffix, "", 0, "hunter2,p", "hunter2", ""},
		{"suffix sms", GrammarSuffix, "", 0, "hunter2,sms", "hunter2", "s"},
		{"suffix s", GrammarSuffix, "", 0, "hunter2,S", "hunter2", "s"},
		{"suffix email", GrammarSuffix, "", 0, "hunter2,email", "hunter2", "e"},
		{"suffix empty factor", GrammarSuffix, "", 0, "hunter2,", "hunter2", ""},
		{"suffix no delimiter", GrammarSuffix, "", 0, "hunter2", "hunter2", ""},
		{"suffix last delimiter", GrammarSuffix, "", 0, "pa,ss,123456", "pa,ss", "123456"},
		{"suffix delimiter inside password", GrammarSuffix, "", 0, "pa,ss", "pa,ss", ""},
		{"suffix short digits are password", GrammarSuffix, "", 0, "pa,2024", "pa,2024", ""},
		{"suffix nine digits are password", GrammarSuffix, "", 0, "pa,123456789", "pa,123456789", ""},
		{"suffix only the code", GrammarSuffix, "", 0, ",123456", "", "123456"},
		{"suffix nothing", GrammarSuffix, "", 0, "", "", ""},
		{"suffix other delimiter", GrammarSuffix, "|", 0, "pw,x|123456", "pw,x", "123456"},
		{"suffix multi-byte delimiter", GrammarSuffix, "§§", 0, "pw§§sms", "pw", "s"},
		{"suffix unknown word is password", GrammarSuffix, "", 0, "pw,phone", "pw,phone", ""},
		{"suffix non-ASCII password", GrammarSuffix, "", 0, "pässwörd,123456", "pässwörd", "123456"},

		{"append code", GrammarAppend, "", 0, "hunter2123456", "hunter2", "123456"},
		{"append 8 digits", GrammarAppend, "", 8, "hunter212345678", "hunter2", "12345678"},
		{"append password only", GrammarAppend, "", 0, "hunter2", "hunter2", ""},
		{"append password ending in digits and code", GrammarAppend, "", 0, "pass1234123456", "pass1234", "123456"},
		{"append code only", GrammarAppend, "", 0, "123456", "", "123456"},
		{"append too short", GrammarAppend, "", 0, "12345", "12345", ""},
		{"append empty", GrammarAppend, "", 0, "", "", ""},
		{"append letter at the end", GrammarAppend, "", 0, "123456x", "123456x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SplitPassword(tt.g, tt.delim, tt.digits, Secret(tt.typed))
			pw := string(s.Password)
			if s.Password == nil {
				pw = "<nil>"
			}
			if pw != tt.password || string(s.Passcode) != tt.passcode {
				t.Fatalf("got password %q, passcode %q; want %q, %q", pw, s.Passcode.Reveal(), tt.password, tt.passcode)
			}
		})
	}
}

func TestProfileGrammarValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		want string // "" valid
	}{
		{"default", Profile{}, ""},
		{"suffix with delimiter", Profile{Grammar: GrammarSuffix, Delimiter: "|"}, ""},
		{"append 8", Profile{Grammar: GrammarAppend, CodeDigits: 8}, ""},
		{"unknown grammar", Profile{Grammar: "duo"}, `grammar "duo": want safenet, suffix or append`},
		{"letter delimiter", Profile{Grammar: GrammarSuffix, Delimiter: "x"}, "use punctuation"},
		{"digit delimiter", Profile{Grammar: GrammarSuffix, Delimiter: "1"}, "use punctuation"},
		{"space delimiter", Profile{Grammar: GrammarSuffix, Delimiter: " "}, "use punctuation"},
		{"control delimiter", Profile{Grammar: GrammarSuffix, Delimiter: "\x00"}, "use punctuation"},
		{"long delimiter", Profile{Grammar: GrammarSuffix, Delimiter: ",,,,,,,,,"}, "1 to 8 characters"},
		{"invalid UTF-8 delimiter", Profile{Grammar: GrammarSuffix, Delimiter: "\xff"}, "1 to 8 characters"},
		{"delimiter without suffix", Profile{Grammar: GrammarAppend, Delimiter: ","}, `delimiter is for grammar = "suffix"`},
		{"code digits 7", Profile{Grammar: GrammarAppend, CodeDigits: 7}, "code_digits = 7"},
		{"code digits without append", Profile{CodeDigits: 6}, `code_digits is for grammar = "append"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Name = "p"
			err := tt.p.validateGrammar()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzSplitPassword: any input under any grammar splits without a panic
// into a password and a passcode that the SafeNet grammar reads as a
// trigger or a code, and nothing typed is lost or invented.
func FuzzSplitPassword(f *testing.F) {
	f.Add(uint8(1), ",", uint8(6), "hunter2,123456")
	f.Add(uint8(1), "|", uint8(6), "pa|ss|sms")
	f.Add(uint8(2), "", uint8(8), "pw12345678")
	f.Add(uint8(2), "", uint8(6), "123456")
	f.Add(uint8(0), "", uint8(0), "s")
	f.Add(uint8(1), "§", uint8(0), "\xffpw§push")
	f.Fuzz(func(t *testing.T, gi uint8, delim string, di uint8, typed string) {
		g := []Grammar{GrammarSafeNet, GrammarSuffix, GrammarAppend}[int(gi)%3]
		digits := []int{0, 6, 8}[int(di)%3]
		if validateDelimiter(delim) != nil {
			delim = ""
		}
		s := SplitPassword(g, delim, digits, Secret(typed))
		if g == GrammarSafeNet {
			if s.Password != nil || string(s.Passcode) != typed {
				t.Fatalf("safenet changed the passcode: %q", s.Passcode.Reveal())
			}
			return
		}
		if s.Password == nil {
			t.Fatal("no password for a grammar that carries one")
		}
		switch c := ClassifyPasscode(s.Passcode.Reveal()); c {
		case TriggerEmpty, TriggerSMS, TriggerEmail:
		case TriggerCode:
			if n := len(s.Passcode); n < 6 || n > 8 {
				t.Fatalf("code of %d digits", n)
			}
		default:
			t.Fatalf("passcode %q reads as %v", s.Passcode.Reveal(), c)
		}
		if !bytes.HasPrefix([]byte(typed), s.Password) || len(s.Password) > len(typed) {
			t.Fatalf("password %q is not the start of %q", s.Password.Reveal(), typed)
		}
		if len(s.Password) == len(typed) {
			return // all password, the factor a push
		}
		rest := typed[len(s.Password):]
		if g == GrammarSuffix {
			d := delim
			if d == "" {
				d = DefaultDelimiter
			}
			if !strings.HasPrefix(rest, d) {
				t.Fatalf("split %q at %q, not at the delimiter", typed, rest)
			}
			rest = rest[len(d):]
			if !strings.EqualFold(rest, s.Passcode.Reveal()) && !isWord(rest) {
				t.Fatalf("factor %q read as %q", rest, s.Passcode.Reveal())
			}
			return
		}
		if rest != s.Passcode.Reveal() || !utf8.ValidString(rest) {
			t.Fatalf("append: the code %q is not what followed the password (%q)", s.Passcode.Reveal(), rest)
		}
	})
}

func isWord(s string) bool {
	_, ok := suffixWords[strings.ToLower(s)]
	return ok
}
