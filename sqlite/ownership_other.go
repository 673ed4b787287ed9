//go:build !unix

package sqlite

func fixOwnership(...string) {}
