package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
)

// export writes data out: a case's history (export case ID) or the SEN2
// annual return (export sen2 --year YYYY).
func export(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("export: say what to export: case ID, or sen2 --year YYYY")
	}
	switch args[0] {
	case "case":
		return exportCase(ctx, args[1:], stdout)
	case "sen2":
		return exportSEN2(ctx, args[1:], stdout)
	}
	return usageError("export: unknown export " + args[0] + " (case, sen2)")
}

func exportCase(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("export case")
	db, storeFlag := storeFlags(fs)
	format := fs.String("format", "json", "json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("export case: give one case ID")
	}
	if *format != "json" && *format != "csv" {
		return usageError("--format: json or csv")
	}
	s, _, err := openExisting(*db, *storeFlag)
	if err != nil {
		return err
	}
	defer s.Close()
	l := &app.Ledger{Store: s, Now: time.Now}
	// The timeline shows personal details only sealed, so an operator's
	// export of it is not a read of them for the access log.
	entries, err := l.Timeline(ctx, fs.Arg(0), nil)
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	if *format == "csv" {
		return app.WriteTimelineCSV(stdout, fs.Arg(0), entries)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"case": fs.Arg(0), "timeline": entries})
}
