package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"

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
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, use the development one beside the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("export case: give one case ID")
	}
	if *format != "json" && *format != "csv" {
		return usageError("--format: json or csv")
	}
	ss, err := existingStore(*db, *storeFlag)
	if err != nil {
		return err
	}
	// The timeline's reasons are sealed with the case's key, as the API
	// shows them opened, so the export opens the keys like any reader of
	// personal data.
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	master, _, err := kf.master(ctx, "export case", dataFiles(ss, views, keysPath), keysPath, *demo)
	if err != nil {
		return err
	}
	s, _, err := openExisting(*db, *storeFlag, false)
	if err != nil {
		return err
	}
	defer s.Close()
	l, ks, err := operatorLedger(s, keysPath, master)
	if err != nil {
		return err
	}
	defer ks.Close()
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
