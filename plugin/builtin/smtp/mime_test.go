package smtp

import "mime"

// mimeDecoder decodes RFC 2047 headers for the tests.
type mimeDecoder struct{ mime.WordDecoder }

func (d *mimeDecoder) header(s string) string {
	out, err := d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}
