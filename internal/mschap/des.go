package mschap

import "crypto/des"

// desKey expands a 56-bit key given as 7 bytes into the 8-byte form DES
// takes: each output byte carries the next 7 key bits in its high bits and
// an odd-parity bit in its low bit (DES ignores the parity bits; they are
// set so the key is a well-formed DES key).
func desKey(k *[7]byte) [8]byte {
	var out [8]byte
	out[0] = k[0]
	out[1] = k[0]<<7 | k[1]>>1
	out[2] = k[1]<<6 | k[2]>>2
	out[3] = k[2]<<5 | k[3]>>3
	out[4] = k[3]<<4 | k[4]>>4
	out[5] = k[4]<<3 | k[5]>>5
	out[6] = k[5]<<2 | k[6]>>6
	out[7] = k[6] << 1
	for i, b := range out {
		b &^= 1
		// Odd parity: the low bit makes the number of set bits odd.
		p := b ^ b>>4
		p ^= p >> 2
		p ^= p >> 1
		out[i] = b | (^p & 1)
	}
	return out
}

// desEncrypt encrypts the 8-byte block in under the 7-byte key k into dst.
func desEncrypt(dst []byte, in *[8]byte, k *[7]byte) {
	key := desKey(k)
	c, err := des.NewCipher(key[:])
	if err != nil {
		// des.NewCipher fails only for a key that is not 8 bytes.
		panic("mschap: " + err.Error())
	}
	c.Encrypt(dst, in[:])
	clear(key[:])
}
