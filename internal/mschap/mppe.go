package mschap

import (
	"crypto/sha1"
	"fmt"
	"log/slog"
)

// Magic constants of RFC 3079 §3.4.
const (
	mppeMagic1 = "This is the MPPE Master Key"
	mppeMagic2 = "On the client side, this is the send key; on the server side, it is the receive key."
	mppeMagic3 = "On the client side, this is the receive key; on the server side, it is the send key."
)

// Key is a 128-bit MPPE start key. Like Hash it never prints its value.
type Key [KeyLen]byte

// String implements fmt.Stringer.
func (Key) String() string { return redacted }

// GoString implements fmt.GoStringer so %#v stays redacted too.
func (Key) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb is redacted.
func (Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by TOML, zerolog).
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// Octets returns the key as "0x" followed by 32 lowercase hex digits, the
// way FreeRADIUS tools print MS-MPPE-Send-Key and MS-MPPE-Recv-Key.
func (k Key) Octets() string { return hexString(k[:], lowerHex, "0x") }

// MasterKey returns the MPPE master key (RFC 3079 §3.4, GetMasterKey): the
// first 16 bytes of SHA-1(NT_KEY ‖ NT-Response ‖ Magic1).
func MasterKey(ntKey Hash, ntResponse []byte) (Key, error) {
	if len(ntResponse) != NTResponseLen {
		return Key{}, fmt.Errorf("mschap: NT-Response is %d bytes, want %d", len(ntResponse), NTResponseLen)
	}
	d := sha1.New()
	d.Write(ntKey[:])
	d.Write(ntResponse)
	d.Write([]byte(mppeMagic1))
	var sum [sha1.Size]byte
	d.Sum(sum[:0])
	var k Key
	copy(k[:], sum[:])
	return k, nil
}

// startKey is GetAsymmetricStartKey of RFC 3079 §3.4 for 128-bit keys.
func startKey(master Key, magic string) Key {
	var pad1, pad2 [40]byte
	for i := range pad2 {
		pad2[i] = 0xf2
	}
	d := sha1.New()
	d.Write(master[:])
	d.Write(pad1[:])
	d.Write([]byte(magic))
	d.Write(pad2[:])
	var sum [sha1.Size]byte
	d.Sum(sum[:0])
	var k Key
	copy(k[:], sum[:])
	return k
}

// ServerKeys returns the 128-bit MPPE start keys of the server (the NAS)
// for an MS-CHAPv2 exchange (RFC 3079 §3.3–3.4): send is what RADIUS
// carries as MS-MPPE-Send-Key (the server's send key, Magic3) and recv what
// it carries as MS-MPPE-Recv-Key (Magic2). The client's keys are the same
// two, swapped.
func ServerKeys(ntKey Hash, ntResponse []byte) (send, recv Key, err error) {
	master, err := MasterKey(ntKey, ntResponse)
	if err != nil {
		return Key{}, Key{}, err
	}
	return startKey(master, mppeMagic3), startKey(master, mppeMagic2), nil
}
