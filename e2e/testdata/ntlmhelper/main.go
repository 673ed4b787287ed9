// Command ntlmhelper is a stand-in for radmfa ntlm-auth in the MS-CHAPv2
// e2e tests: an ntlm_auth-style helper for FreeRADIUS's mschap module,
// built from exec/ntlmauth and internal/mschap, that knows one fixed
// password for every user. It proves the argument parsing and the NT_KEY
// and failure output against the real module.
//
// Some user names choose a canned answer instead of checking the password:
// "locked", "expired", "disabled" and "nologon" print the matching failure
// line; "lowercase" prints the NT_KEY in lowercase hex when the password
// matches. With --test-log=FILE (ignored by the parser like any unknown
// flag) it appends one JSON line per call to FILE: the arguments and what
// the parser made of them.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/radmfa/radmfa/exec/ntlmauth"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// Password is the one password the helper accepts.
const Password = "Helper pässword 1"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	req, perr := ntlmauth.Parse(args)
	logCall(args, req, perr)
	if perr != nil {
		fmt.Fprintln(stderr, perr)
		code, _ := ntlmauth.WriteFailure(stdout, ntlmauth.NoLogonServers)
		return code
	}
	canned := map[string]ntlmauth.Failure{
		"locked":   ntlmauth.AccountLockedOut,
		"expired":  ntlmauth.PasswordExpired,
		"disabled": ntlmauth.AccountDisabled,
		"nologon":  ntlmauth.NoLogonServers,
	}
	if f, ok := canned[req.UserName]; ok {
		code, _ := ntlmauth.WriteFailure(stdout, f)
		return code
	}
	candidates := []mfa.Secret{mfa.Secret("p"), mfa.Secret(Password), mfa.Secret(" ")}
	i, ok, err := mschap.Match(req.Challenge[:], req.NTResponse[:], candidates)
	if err != nil {
		fmt.Fprintln(stderr, err)
		code, _ := ntlmauth.WriteFailure(stdout, ntlmauth.NoLogonServers)
		return code
	}
	if !ok || i != 1 { // a trigger match fails, as radmfa's must
		code, _ := ntlmauth.WriteFailure(stdout, ntlmauth.WrongPassword)
		return code
	}
	key, err := mschap.NTKey(candidates[i])
	if err != nil {
		fmt.Fprintln(stderr, err)
		code, _ := ntlmauth.WriteFailure(stdout, ntlmauth.NoLogonServers)
		return code
	}
	if req.UserName == "lowercase" {
		fmt.Fprintf(stdout, "NT_KEY: %s\n", strings.ToLower(key.Hex()))
		return ntlmauth.ExitSuccess
	}
	code, _ := ntlmauth.WriteSuccess(stdout, key)
	return code
}

// Call is one line of the --test-log file.
type Call struct {
	Args     []string
	UserName string
	Domain   string
	Ignored  []ntlmauth.Flag
	Error    string
	Environ  []string
}

func logCall(args []string, req ntlmauth.Request, perr error) {
	path := ""
	for _, f := range req.Ignored {
		if f.Name == "test-log" {
			path = f.Value
		}
	}
	if path == "" {
		return
	}
	c := Call{Args: args, UserName: req.UserName, Domain: req.Domain, Ignored: req.Ignored, Environ: os.Environ()}
	if perr != nil {
		c.Error = perr.Error()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}
