//go:build unix

package main

import "syscall"

// private makes every file the process creates readable by its owner only,
// whatever the shell's umask: the stores, their logs and views, snapshots
// and keys hold personal data or what protects it. Files are also created
// 0600 one by one; this covers any a library makes with its own mode.
func private() { syscall.Umask(0o077) }
