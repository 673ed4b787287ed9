package mschap

import (
	"crypto/subtle"
	"fmt"
)

// Match reports which candidate password produced ntResponse for the
// challenge hash: the index of the first candidate whose NT-Response equals
// it, and ok; or -1 and false when none does.
//
// Every candidate's response is computed and compared with crypto/subtle,
// without an early exit, so the time taken depends on the number and
// lengths of the candidates and not on which one, if any, matched. The
// caller chooses the candidates (OTP codes inside the window, the
// triggers); two equal candidates match the same response, and the first
// wins.
//
// challengeHash is the 8-byte value ntlm_auth gets as --challenge
// (ChallengeHash computes it from the two challenges and the user name);
// ntResponse is the 24-byte NT-Response. An error means the input was
// malformed or a candidate could not be hashed (not UTF-8, too long); it
// names the candidate's index, never its value.
func Match[S ~[]byte](challengeHash, ntResponse []byte, candidates []S) (index int, ok bool, err error) {
	if len(challengeHash) != ChallengeHashLen {
		return -1, false, fmt.Errorf("mschap: challenge hash is %d bytes, want %d", len(challengeHash), ChallengeHashLen)
	}
	if len(ntResponse) != NTResponseLen {
		return -1, false, fmt.Errorf("mschap: NT-Response is %d bytes, want %d", len(ntResponse), NTResponseLen)
	}
	challenge := (*[ChallengeHashLen]byte)(challengeHash)
	found := 0
	for i, c := range candidates {
		h, err := NTPasswordHash(c)
		if err != nil {
			return -1, false, fmt.Errorf("mschap: candidate %d: %w", i, err)
		}
		r := challengeResponse(challenge, &h)
		eq := subtle.ConstantTimeCompare(r[:], ntResponse)
		index = subtle.ConstantTimeSelect(eq&^found, i, index)
		found |= eq
		clear(h[:])
	}
	if found == 0 {
		return -1, false, nil
	}
	return index, true, nil
}
