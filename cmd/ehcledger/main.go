// Command ehcledger is the EHC Ledger server and tool. All the work is in
// package cli, so tests can run it in-process.
package main

import (
	"os"
	_ "time/tzdata" // statutory dates are Europe/London wherever the binary runs

	"github.com/ehcledger/ehcledger/cli"
)

func main() {
	private()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
