//go:build !unix

package sqlite

func FixOwnership(...string) {}
