package sqlite

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key file errors.
var (
	// ErrKeyMissing means the database holds encrypted secrets but the key
	// file is gone.
	ErrKeyMissing = errors.New("sqlite: key file missing")
	// ErrWrongKey means the key file does not belong to the database.
	ErrWrongKey = errors.New("sqlite: key file does not match the database")
)

const (
	keyLen       = 32 // AES-256
	keyCheckInfo = "radmfa key check v1"
	keyHeader    = "# radmfa secret key: it decrypts the OTP secrets in the database.\n" +
		"# Keep it with the database (back both up), readable only by radmfa (mode 0600).\n"
)

// keyCheck is the value stored in the database to recognise its key without
// revealing it.
func keyCheck(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(keyCheckInfo))
	return m.Sum(nil)[:16]
}

// readKey reads a key file. A missing file gives an error wrapping
// fs.ErrNotExist.
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("sqlite: key file %s is accessible to every user (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	sc := bufio.NewScanner(io.LimitReader(f, 4096))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(key) != keyLen {
			break
		}
		return key, nil
	}
	return nil, fmt.Errorf("sqlite: key file %s: not a radmfa key (want one line of base64 with %d bytes)", path, keyLen)
}

// createKey writes a new random key to path, or returns the key that is
// already there. The file is written in full under a temporary name
// (created with O_EXCL and mode 0600) and then hard-linked into place, which
// fails if path exists: of several processes racing to create the key,
// exactly one wins and the others read the winner's complete file.
func createKey(path string, random io.Reader) ([]byte, error) {
	key := make([]byte, keyLen)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, fmt.Errorf("sqlite: key: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(keyHeader)
	buf.WriteString(base64.StdEncoding.EncodeToString(key))
	buf.WriteByte('\n')

	tmp, err := os.CreateTemp(filepath.Dir(path), ".radmfa-key-*")
	if err != nil {
		return nil, fmt.Errorf("sqlite: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sqlite: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sqlite: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: write key file: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return key, nil
	case errors.Is(err, fs.ErrExist):
		return readKey(path)
	}
	// No hard links on this file system: fall back to O_EXCL on the
	// final name.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: create key file: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: write key file: %w", err)
	}
	return key, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key: %w", err)
	}
	return cipher.NewGCM(block)
}
