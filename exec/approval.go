package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// approvalConfig is the [approval] section: the public listener of the
// push approval page. It is off until listen is set.
type approvalConfig struct {
	// Listen is the address of the approval page ("0.0.0.0:8443"). Phones
	// reach it, so put it behind TLS: serve it with tls_cert/tls_key, or
	// behind a reverse proxy that does. Default: off.
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// APIKeyFile holds the shared key of the JSON approval API for app
	// integrations (HMAC-SHA256). Default: the API is off.
	APIKeyFile string `toml:"api_key_file"`
}

func (a approvalConfig) validate() error {
	var errs []error
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			errs = append(errs, fmt.Errorf("approval.listen %q: want host:port", a.Listen))
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		errs = append(errs, errors.New("approval.tls_cert and approval.tls_key go together"))
	}
	return errors.Join(errs...)
}

// apiKey reads the API key file: at least 32 bytes, mode 0600.
func (a approvalConfig) apiKey() ([]byte, error) {
	if a.APIKeyFile == "" {
		return nil, nil
	}
	st, err := os.Stat(a.APIKeyFile)
	if err != nil {
		return nil, fmt.Errorf("approval.api_key_file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("approval.api_key_file %s is readable by others (mode %04o); chmod 600", a.APIKeyFile, st.Mode().Perm())
	}
	b, err := os.ReadFile(a.APIKeyFile)
	if err != nil {
		return nil, fmt.Errorf("approval.api_key_file: %w", err)
	}
	key := bytes.TrimSpace(b)
	if len(strings.TrimSpace(string(key))) < 32 {
		return nil, fmt.Errorf("approval.api_key_file %s: the key must be at least 32 characters", a.APIKeyFile)
	}
	return key, nil
}
