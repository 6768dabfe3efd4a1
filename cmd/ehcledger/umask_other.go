//go:build !unix

package main

// private does nothing off Unix, where a new file takes the access control
// list of its directory.
func private() {}
