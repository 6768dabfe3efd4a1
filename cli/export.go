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
	s, _, err := openExisting(*db, *storeFlag, false)
	if err != nil {
		return err
	}
	defer s.Close()
	l := &app.Ledger{Store: s, Now: time.Now}
	// The timeline is the case's whole record: the export goes into the
	// LA's access log like a read of the timeline through the API, by the
	// operating-system user, before anything is written out.
	id := fs.Arg(0)
	entries, err := l.Timeline(ctx, id, func(la, _ string) error {
		return l.RecordAccess(ctx, la, id, "cli export case", "operator", operator())
	})
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	if *format == "csv" {
		return app.WriteTimelineCSV(stdout, id, entries)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"case": id, "timeline": entries})
}
