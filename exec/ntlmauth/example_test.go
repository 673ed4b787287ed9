package ntlmauth_test

import (
	"fmt"
	"os"

	"github.com/radmfa/radmfa/exec/ntlmauth"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// A whole ntlm_auth helper: parse what rlm_mschap passes, match the
// NT-Response against the candidates, answer. The arguments are the
// RFC 2759 §9.2 example (user "User", password "clientPass").
func Example() {
	args := []string{
		"--request-nt-key", "--allow-mschapv2", "--username=User", "--domain=NONE",
		"--challenge=d02e4386bce91226",
		"--nt-response=82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df",
	}
	req, err := ntlmauth.Parse(args)
	if err != nil {
		code, _ := ntlmauth.WriteFailure(os.Stdout, ntlmauth.NoLogonServers)
		fmt.Println("exit", code)
		return
	}
	candidates := []mfa.Secret{mfa.Secret("123456"), mfa.Secret("clientPass"), mfa.Secret("p")}
	i, ok, err := mschap.Match(req.Challenge[:], req.NTResponse[:], candidates)
	if err != nil || !ok {
		code, _ := ntlmauth.WriteFailure(os.Stdout, ntlmauth.WrongPassword)
		fmt.Println("exit", code)
		return
	}
	key, err := mschap.NTKey(candidates[i])
	if err != nil {
		return
	}
	code, _ := ntlmauth.WriteSuccess(os.Stdout, key)
	fmt.Println("exit", code)
	// Output:
	// NT_KEY: 41C00C584BD2D91C4017A2A12FA59F3F
	// exit 0
}
