package mschap_test

import (
	"encoding/hex"
	"fmt"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// Checking an MS-CHAPv2 response from rlm_rest (MS-CHAP-Challenge and
// MS-CHAP2-Response in the request) against candidate passcodes, then
// handing the match to rlm_mschap as control:NT-Password. The values are
// the RFC 2759 §9.2 example.
func ExampleMatch() {
	authChallenge, _ := hex.DecodeString("5b5d7c7d7b3f2f3e3c2c602132262628")
	// MS-CHAP2-Response: ident, flags, peer challenge, 8 zeros, NT-Response.
	response, _ := hex.DecodeString("0100" + "21402324255e262a28295f2b3a337c7e" + "0000000000000000" +
		"82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df")
	peerChallenge, ntResponse := response[2:18], response[26:50]

	challengeHash, err := mschap.ChallengeHash(peerChallenge, authChallenge, "User")
	if err != nil {
		fmt.Println(err)
		return
	}
	candidates := []mfa.Secret{mfa.Secret("123456"), mfa.Secret("clientPass"), mfa.Secret("p")}
	i, ok, err := mschap.Match(challengeHash[:], ntResponse, candidates)
	fmt.Println(i, ok, err)

	ntPassword, err := mschap.NTPasswordValue(candidates[i])
	fmt.Println(ntPassword, err)
	// Output:
	// 1 true <nil>
	// 0x44ebba8d5312b8d611474411f56989ae <nil>
}
