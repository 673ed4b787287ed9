// Package mschap implements the MS-CHAPv2 computations of RFC 2759 and the
// MPPE key derivation of RFC 3079 that radmfa needs to check an MS-CHAPv2
// response against candidate passcodes: the NT password hash, the
// challenge hash, the 24-byte NT-Response, the authenticator response and
// the NT_KEY that an ntlm_auth helper prints.
//
// It is pure computation: no I/O, no state, nothing at package init. Values
// derived from a password (Hash) never print their contents. Passwords are
// taken as any byte-slice type, so mfa.Secret values pass straight in and
// this package does not depend on the engine (the engine may depend on it).
//
// MD4 and single DES are what the protocol requires; they are broken
// primitives, and an MS-CHAPv2 exchange recorded by an attacker can be
// brute-forced offline. For a short passcode such as a 6-digit OTP that
// takes no time at all: treat MPPE keys derived from a passcode as weak.
package mschap

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/md4" //lint:ignore SA1019 MS-CHAPv2 (RFC 2759) is defined with MD4; there is no choice.
)

// Sizes of the MS-CHAPv2 values, in bytes.
const (
	ChallengeLen     = 16 // Authenticator-Challenge and Peer-Challenge
	ChallengeHashLen = 8  // the challenge hash DES encrypts (ntlm_auth --challenge)
	NTResponseLen    = 24 // NT-Response (ntlm_auth --nt-response)
	HashLen          = 16 // an MD4 digest: the NT hash, the NT_KEY
	KeyLen           = 16 // an MPPE start key (128-bit)
)

// MaxPasswordLen is the longest password, in UTF-16 code units, that
// MS-CHAPv2 allows (RFC 2759 §8.1: "0-to-256-unicode-char Password").
const MaxPasswordLen = 256

// Errors returned for malformed input. They never contain the input.
var (
	ErrPasswordEncoding = errors.New("mschap: password is not valid UTF-8")
	ErrPasswordLength   = errors.New("mschap: password is longer than 256 UTF-16 code units") // MaxPasswordLen
)

const redacted = "[redacted]"

// Hash is a 16-byte MD4 digest derived from a password: the NT hash
// (NTPasswordHash) or the hash of it (the NT_KEY, HashNTPasswordHash). Both
// are password equivalents for MS-CHAP, so a Hash never prints its value:
// fmt verbs, JSON, text and slog all show "[redacted]". Use Bytes, Hex or
// Octets where the value is really needed.
type Hash [HashLen]byte

// String implements fmt.Stringer.
func (Hash) String() string { return redacted }

// GoString implements fmt.GoStringer so %#v stays redacted too.
func (Hash) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb is redacted.
func (Hash) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (Hash) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by TOML, zerolog).
func (Hash) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (Hash) LogValue() slog.Value { return slog.StringValue(redacted) }

// Bytes returns a copy of the hash's bytes.
func (h Hash) Bytes() []byte { return append([]byte(nil), h[:]...) }

// Hex returns the hash as 32 uppercase hex digits, the form Samba's
// ntlm_auth prints after "NT_KEY: ".
func (h Hash) Hex() string { return hexString(h[:], upperHex, "") }

// Octets returns the hash as the value of a FreeRADIUS octets attribute:
// "0x" followed by 32 lowercase hex digits. For an NT hash this is the
// value of control:NT-Password.
func (h Hash) Octets() string { return hexString(h[:], lowerHex, "0x") }

const (
	upperHex = "0123456789ABCDEF"
	lowerHex = "0123456789abcdef"
)

func hexString(b []byte, digits, prefix string) string {
	out := make([]byte, len(prefix), len(prefix)+2*len(b))
	copy(out, prefix)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0x0f])
	}
	return string(out)
}

// NTPasswordHash returns the NT hash of a password, MD4 of its UTF-16LE
// encoding (RFC 2759 §8.3). The password must be valid UTF-8 of at most
// MaxPasswordLen UTF-16 code units; characters outside the Basic
// Multilingual Plane are encoded as surrogate pairs, as Windows does.
func NTPasswordHash[S ~[]byte](password S) (Hash, error) {
	var buf [2 * MaxPasswordLen]byte
	u, err := utf16LE(buf[:0], password)
	if err != nil {
		return Hash{}, err
	}
	h := md4Sum(u)
	clear(buf[:])
	return h, nil
}

// utf16LE appends the UTF-16LE encoding of the UTF-8 password p to dst.
func utf16LE[S ~[]byte](dst []byte, p S) ([]byte, error) {
	units := 0
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, ErrPasswordEncoding
		}
		i += size
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = append(dst, byte(r1), byte(r1>>8), byte(r2), byte(r2>>8))
			units += 2
		} else {
			dst = append(dst, byte(r), byte(r>>8))
			units++
		}
		if units > MaxPasswordLen {
			return nil, ErrPasswordLength
		}
	}
	return dst, nil
}

func md4Sum(b []byte) Hash {
	d := md4.New()
	d.Write(b)
	var h Hash
	d.Sum(h[:0])
	return h
}

// HashNTPasswordHash returns MD4 of the NT hash (RFC 2759 §8.4,
// PasswordHashHash). It is the NT_KEY an ntlm_auth helper prints on success
// and what rlm_mschap derives MS-CHAP2-Success and the MPPE keys from.
func HashNTPasswordHash(ntHash Hash) Hash { return md4Sum(ntHash[:]) }

// NTKey returns the NT_KEY for a password: HashNTPasswordHash of its NT hash.
func NTKey[S ~[]byte](password S) (Hash, error) {
	h, err := NTPasswordHash(password)
	if err != nil {
		return Hash{}, err
	}
	return HashNTPasswordHash(h), nil
}

// NTPasswordValue returns the value to set as control:NT-Password so that
// rlm_mschap verifies the MS-CHAPv2 response and derives the MPPE keys
// itself: the password's NT hash as "0x" and 32 lowercase hex digits
// (freeradius-notes §9: also set control:MS-CHAP-Use-NTLM-Auth := No). The
// value is a password equivalent: never log it.
func NTPasswordValue[S ~[]byte](password S) (string, error) {
	h, err := NTPasswordHash(password)
	if err != nil {
		return "", err
	}
	return h.Octets(), nil
}

// ChallengeHash returns the 8-byte challenge that the NT-Response encrypts
// (RFC 2759 §8.2): the first 8 bytes of SHA-1(peer challenge ‖
// authenticator challenge ‖ user name). userName is the name without any
// DOMAIN\ prefix, as the client used it. rlm_mschap passes this value to an
// ntlm_auth helper as --challenge.
func ChallengeHash(peerChallenge, authenticatorChallenge []byte, userName string) ([ChallengeHashLen]byte, error) {
	var c [ChallengeHashLen]byte
	if len(peerChallenge) != ChallengeLen {
		return c, fmt.Errorf("mschap: peer challenge is %d bytes, want %d", len(peerChallenge), ChallengeLen)
	}
	if len(authenticatorChallenge) != ChallengeLen {
		return c, fmt.Errorf("mschap: authenticator challenge is %d bytes, want %d", len(authenticatorChallenge), ChallengeLen)
	}
	d := sha1.New()
	d.Write(peerChallenge)
	d.Write(authenticatorChallenge)
	d.Write([]byte(userName))
	var sum [sha1.Size]byte
	d.Sum(sum[:0])
	copy(c[:], sum[:])
	return c, nil
}

// ChallengeResponse returns the 24-byte response to an 8-byte challenge
// hash under an NT hash (RFC 2759 §8.5): the challenge DES-encrypted with
// each of three 7-byte keys cut from the hash zero-padded to 21 bytes.
func ChallengeResponse(challengeHash []byte, ntHash Hash) ([NTResponseLen]byte, error) {
	if len(challengeHash) != ChallengeHashLen {
		return [NTResponseLen]byte{}, fmt.Errorf("mschap: challenge hash is %d bytes, want %d", len(challengeHash), ChallengeHashLen)
	}
	return challengeResponse((*[ChallengeHashLen]byte)(challengeHash), &ntHash), nil
}

func challengeResponse(challenge *[ChallengeHashLen]byte, ntHash *Hash) [NTResponseLen]byte {
	var z [21]byte
	copy(z[:], ntHash[:])
	var r [NTResponseLen]byte
	desEncrypt(r[0:8], challenge, (*[7]byte)(z[0:7]))
	desEncrypt(r[8:16], challenge, (*[7]byte)(z[7:14]))
	desEncrypt(r[16:24], challenge, (*[7]byte)(z[14:21]))
	clear(z[:])
	return r
}

// GenerateNTResponse returns the NT-Response a client sends for password
// (RFC 2759 §8.1), as the MS-CHAP2-Response attribute carries it.
func GenerateNTResponse[S ~[]byte](authenticatorChallenge, peerChallenge []byte, userName string, password S) ([NTResponseLen]byte, error) {
	c, err := ChallengeHash(peerChallenge, authenticatorChallenge, userName)
	if err != nil {
		return [NTResponseLen]byte{}, err
	}
	h, err := NTPasswordHash(password)
	if err != nil {
		return [NTResponseLen]byte{}, err
	}
	return challengeResponse(&c, &h), nil
}

// Magic constants of RFC 2759 §8.7.
const (
	authMagic1 = "Magic server to client signing constant"
	authMagic2 = "Pad to make it do more than one iteration"
)

// AuthenticatorResponse returns the authenticator response that proves to
// the client that the server knew the password (RFC 2759 §8.7): "S="
// followed by 40 uppercase hex digits. FreeRADIUS sends it in
// MS-CHAP2-Success after the one-byte identifier. ntKey is the NT_KEY
// (HashNTPasswordHash of the NT hash).
func AuthenticatorResponse(ntKey Hash, ntResponse, peerChallenge, authenticatorChallenge []byte, userName string) (string, error) {
	if len(ntResponse) != NTResponseLen {
		return "", fmt.Errorf("mschap: NT-Response is %d bytes, want %d", len(ntResponse), NTResponseLen)
	}
	c, err := ChallengeHash(peerChallenge, authenticatorChallenge, userName)
	if err != nil {
		return "", err
	}
	d := sha1.New()
	d.Write(ntKey[:])
	d.Write(ntResponse)
	d.Write([]byte(authMagic1))
	var digest [sha1.Size]byte
	d.Sum(digest[:0])
	d.Reset()
	d.Write(digest[:])
	d.Write(c[:])
	d.Write([]byte(authMagic2))
	d.Sum(digest[:0])
	return hexString(digest[:], upperHex, "S="), nil
}
