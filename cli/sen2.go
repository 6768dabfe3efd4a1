package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
)

// exportSEN2 writes the SEN2 person-level return for a census year as CSV.
func exportSEN2(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("export sen2")
	db, storeFlag := storeFlags(fs)
	year := fs.Int("year", 0, "census year: activity in the calendar year before it, plans in force on 1 January of it")
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, use the development one beside the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *year < 2015 || *year > time.Now().Year()+1 {
		return usageError(fmt.Sprintf("--year: give a census year from 2015 to %d", time.Now().Year()+1))
	}
	ss, err := existingStore(*db, *storeFlag)
	if err != nil {
		return err
	}
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	master, _, err := kf.master(ctx, "export sen2", dataFiles(ss, views, keysPath), keysPath, *demo)
	if err != nil {
		return err
	}
	s, _, err := openExisting(*db, *storeFlag, false)
	if err != nil {
		return err
	}
	defer s.Close()
	ks, err := keysAt{path: keysPath, master: master}.open(time.Now)
	if err != nil {
		return err
	}
	defer ks.Close()
	l := &app.Ledger{Store: s, Now: time.Now}
	who := operator()
	n, err := app.WriteSEN2(ctx, s, ks, calendar.NewEnglandWales(), *year, stdout, func(la string, cases []string) error {
		return l.RecordAccesses(ctx, la, cases, "cli export sen2", "operator", who)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %d SEN2 rows for census year %d\n", n, *year)
	return nil
}
