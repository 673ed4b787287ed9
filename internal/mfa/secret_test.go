package mfa

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("JBSWY3DPEHPK3PXP")
	type wrapper struct {
		Name string
		Key  Secret
	}
	w := wrapper{"bob", s}
	js, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%s":   fmt.Sprintf("%s", s),
		"%v":   fmt.Sprintf("%v", s),
		"%x":   fmt.Sprintf("%x", s),
		"%q":   fmt.Sprintf("%q", s),
		"%+v":  fmt.Sprintf("%+v", w),
		"%#v":  fmt.Sprintf("%#v", w),
		"json": string(js),
		"err":  fmt.Errorf("wrap: %v", s).Error(),
	}
	for name, got := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(got, "JBSWY3DP") || strings.Contains(strings.ToUpper(got), "4A4253") {
				t.Fatalf("secret leaked: %s", got)
			}
			if !strings.Contains(got, "[redacted]") {
				t.Fatalf("got %q, want it to contain [redacted]", got)
			}
		})
	}
	if s.Reveal() != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Reveal: got %q", s.Reveal())
	}
}
