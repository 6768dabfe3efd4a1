//go:build !unix

package cli

import "os"

// readPrivateFile reads a file; off Unix the owner and mode checks are the
// operating system's (access control lists) and are not repeated here.
func readPrivateFile(path string) ([]byte, error) {
	return os.ReadFile(path)
}
