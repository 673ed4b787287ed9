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
	challenge, err := checkMatchInput(challengeHash, ntResponse)
	if err != nil {
		return -1, false, err
	}
	var m matcher
	for i, c := range candidates {
		h, err := NTPasswordHash(c)
		if err != nil {
			return -1, false, fmt.Errorf("mschap: candidate %d: %w", i, err)
		}
		m.try(challenge, ntResponse, &h, i)
		clear(h[:])
	}
	return m.result()
}

// MatchHashes is Match for candidates given as NT hashes (NTPasswordHash):
// for a passcode that is kept only as its NT hash, such as a one-time code
// sent by SMS, waiting to be typed as the next MS-CHAPv2 password. It is
// constant-time in the same way, and all-zero hashes are tried like any
// other.
func MatchHashes(challengeHash, ntResponse []byte, hashes []Hash) (index int, ok bool, err error) {
	challenge, err := checkMatchInput(challengeHash, ntResponse)
	if err != nil {
		return -1, false, err
	}
	var m matcher
	for i := range hashes {
		m.try(challenge, ntResponse, &hashes[i], i)
	}
	return m.result()
}

func checkMatchInput(challengeHash, ntResponse []byte) (*[ChallengeHashLen]byte, error) {
	if len(challengeHash) != ChallengeHashLen {
		return nil, fmt.Errorf("mschap: challenge hash is %d bytes, want %d", len(challengeHash), ChallengeHashLen)
	}
	if len(ntResponse) != NTResponseLen {
		return nil, fmt.Errorf("mschap: NT-Response is %d bytes, want %d", len(ntResponse), NTResponseLen)
	}
	return (*[ChallengeHashLen]byte)(challengeHash), nil
}

// matcher remembers the first matching candidate without branching on
// the comparisons.
type matcher struct {
	index, found int
}

func (m *matcher) try(challenge *[ChallengeHashLen]byte, ntResponse []byte, h *Hash, i int) {
	r := challengeResponse(challenge, h)
	eq := subtle.ConstantTimeCompare(r[:], ntResponse)
	m.index = subtle.ConstantTimeSelect(eq&^m.found, i, m.index)
	m.found |= eq
}

func (m *matcher) result() (int, bool, error) {
	if m.found == 0 {
		return -1, false, nil
	}
	return m.index, true, nil
}
