// Package settings reads and checks what the built-in notifiers' settings
// point to: secret files and destination URLs.
package settings

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxSecretFile bounds what ReadSecretFile reads.
const maxSecretFile = 64 << 10

// ReadSecretFile returns the first line of the file at path, trimmed: a
// token, a password, a signing secret. Errors name the file, never its
// content.
func ReadSecretFile(name, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	b := make([]byte, maxSecretFile+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", fmt.Errorf("%s: reading %s: %w", name, path, err)
	}
	if n > maxSecretFile {
		return "", fmt.Errorf("%s: %s is larger than %d bytes: not a secret file", name, path, maxSecretFile)
	}
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("%s: %s is empty", name, path)
	}
	return line, nil
}

// CheckURL checks a destination URL: absolute, https, or http only to a
// loopback address (which never leaves the machine).
func CheckURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s = %q: %w", name, raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s = %q: want an absolute URL such as https://host/path", name, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: put no credentials in the URL; use a token or secret file", name)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s = %q: http is allowed only to a loopback address; use https", name, raw)
		}
	default:
		return nil, fmt.Errorf("%s = %q: want https", name, raw)
	}
	return u, nil
}

// IsLoopback says whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckTimeout checks a timeout setting: 0 (the default) up to 5 minutes.
func CheckTimeout(name string, d time.Duration) error {
	if d < 0 || d > 5*time.Minute {
		return fmt.Errorf("%s = %v: want 0 (default) to 5m", name, d)
	}
	return nil
}

// ErrNotConfigured is returned by Notify before a successful Configure.
var ErrNotConfigured = errors.New("not configured")
