package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Secret sizes the Standard Webhooks scheme allows, in bytes.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// DefaultTolerance is how far a timestamp may be from the receiver's
// clock, the replay window Standard Webhooks recommends.
const DefaultTolerance = 5 * time.Minute

// ParseSecret decodes a signing secret "whsec_<base64>" into the HMAC key.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, errors.New(`signing secret must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("signing secret: the part after whsec_ is not valid base64")
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("signing secret is %d bytes: want %d to %d (openssl rand -base64 32)", len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// Sign returns the webhook-signature value "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body".
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is one entry of a webhook-signature header.
type Signature struct {
	Version string // "v1" (HMAC-SHA256) or "v1a" (ed25519), or another
	Value   []byte // the decoded signature
}

// maxSignatures bounds the entries ParseSignatureHeader accepts.
const maxSignatures = 16

// ParseSignatureHeader parses a webhook-signature header: space-delimited
// "version,base64" entries. Entries of unknown versions are kept (a
// receiver skips them); malformed ones are an error.
func ParseSignatureHeader(h string) ([]Signature, error) {
	var sigs []Signature
	for _, f := range strings.Fields(h) {
		if len(sigs) == maxSignatures {
			return nil, fmt.Errorf("webhook-signature: more than %d signatures", maxSignatures)
		}
		version, b64, ok := strings.Cut(f, ",")
		if !ok || version == "" || b64 == "" {
			return nil, errors.New(`webhook-signature: want "version,base64" entries separated by spaces`)
		}
		v, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("webhook-signature: %s entry is not valid base64", version)
		}
		sigs = append(sigs, Signature{Version: version, Value: v})
	}
	if len(sigs) == 0 {
		return nil, errors.New("webhook-signature: no signature")
	}
	return sigs, nil
}

// Verify checks a received webhook: the three headers are present, the
// timestamp is within tolerance of now (DefaultTolerance when 0), and one
// v1 signature matches body under key (compared in constant time).
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	}
	if strings.Contains(id, ".") {
		return errors.New("webhook: webhook-id contains a full stop")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts[0] == '+' || ts[0] == '-' {
		return fmt.Errorf("webhook: webhook-timestamp %q is not Unix seconds", ts)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp is %v away from now (tolerance %v)", d.Round(time.Second), tolerance)
	}
	sigs, err := ParseSignatureHeader(sig)
	if err != nil {
		return err
	}
	want := mac(key, id, ts, body)
	for _, s := range sigs {
		if s.Version == "v1" && hmac.Equal(s.Value, want) {
			return nil
		}
	}
	return errors.New("webhook: no matching v1 signature")
}
