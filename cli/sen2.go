package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/sen2"
)

// errNotReady is the exit of an export or a validation whose return still
// has failures: the file is written, and the status says it must not be
// sent yet.
var errNotReady = errors.New("the return is not ready to send")

// exportSEN2 writes an LA's SEN2 return for a collection year: DfE's XML,
// or a readable CSV copy. It validates what it writes and fails (after
// writing) while the return has failures.
func exportSEN2(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("export sen2")
	db, storeFlag := storeFlags(fs)
	year := fs.Int("year", 0, "collection year: the census in January of it, activity in the calendar year before")
	la := fs.String("la", "", "the LA whose return it is (its ONS code, as the ledger keys LAs)")
	format := fs.String("format", "xml", "xml (the return) or csv (a readable copy)")
	serial := fs.Int("serial", 1, "the return's serial number: one more for each file sent for the same year")
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, use the development one beside the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := sen2.Lookup(*year)
	if err != nil {
		return usageError("--year: " + domain.ErrorMessage(err))
	}
	if err := domain.ValidateID("la", *la); err != nil || *la == "" {
		return usageError("--la: give the LA's code, such as E09000001")
	}
	if *format != "xml" && *format != "csv" {
		return usageError("--format: xml or csv")
	}
	if *serial < 1 || *serial > 999 {
		return usageError("--serial: a number from 1 to 999")
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
	l, ks, err := operatorLedger(s, keysPath, master)
	if err != nil {
		return err
	}
	defer ks.Close()
	res, err := l.SEN2Return(ctx, app.SEN2Options{LA: *la, Collection: c, Release: release(), SerialNo: *serial, Made: time.Now(),
		Record: operatorReads(ctx, l, *la, "cli export sen2")})
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	if *format == "csv" {
		err = sen2.WriteCSV(stdout, res.Message)
	} else {
		err = res.Message.Write(stdout)
	}
	if err != nil {
		return err
	}
	requests := 0
	for _, p := range res.Message.Persons {
		requests += len(p.Requests)
	}
	fmt.Fprintf(os.Stderr, "wrote the SEN2 return of %s (DfE %s) for %d: %d people, %d requests\n", *la, res.Message.Header.LEA, *year, len(res.Message.Persons), requests)
	for _, note := range res.Notes {
		fmt.Fprintf(os.Stderr, "note: %s\n", note)
	}
	return reportFailures(os.Stderr, sen2.Validate(res.Message, c), 50)
}

// reportFailures lists a return's failures (at most shown of them, when
// shown > 0): none means the return is ready to send.
func reportFailures(w io.Writer, failures []sen2.Failure, shown int) error {
	if len(failures) == 0 {
		fmt.Fprintln(w, "valid: the return is ready to send")
		return nil
	}
	for i, f := range failures {
		if shown > 0 && i == shown {
			fmt.Fprintf(w, "... and %d more (ehcledger sen2 validate FILE lists them all)\n", len(failures)-shown)
			break
		}
		fmt.Fprintln(w, f.String())
	}
	fmt.Fprintf(w, "%d failures: the return is not ready to send\n", len(failures))
	return errNotReady
}

// sen2Command runs `sen2 validate FILE`: the collection's rules applied
// to a return, each failure with its person and item.
func sen2Command(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "validate" {
		return usageError("sen2: validate FILE")
	}
	fs := newFlags("sen2 validate")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("sen2 validate: give one file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return usageError("sen2 validate: " + err.Error())
	}
	defer f.Close()
	m, err := sen2.Read(f)
	if err != nil {
		return errors.New(fs.Arg(0) + ": " + domain.ErrorMessage(err))
	}
	var year int
	if _, err := fmt.Sscan(m.Header.Year, &year); err != nil {
		return errors.New(fs.Arg(0) + ": the header gives no collection year (Year)")
	}
	c, err := sen2.Lookup(year)
	if err != nil {
		return errors.New(fs.Arg(0) + ": " + domain.ErrorMessage(err))
	}
	requests := 0
	for _, p := range m.Persons {
		requests += len(p.Requests)
	}
	fmt.Fprintf(stdout, "%s: SEN2 %d, LA %s, %d people, %d requests\n", fs.Arg(0), year, m.Header.LEA, len(m.Persons), requests)
	return reportFailures(stdout, sen2.Validate(m, c), 0)
}

// release is this build's version, for the return's header.
func release() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "dev"
}

// importCmd runs `import sen2 FILE --la LA`: an LA's earlier return
// becomes cases, each step marked as imported.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "sen2" {
		return usageError("import: the only import is sen2: ehcledger import sen2 FILE --la LA")
	}
	fs := newFlags("import sen2")
	db, storeFlag := storeFlags(fs)
	la := fs.String("la", "", "the LA whose return the file is (its ONS code)")
	fresh := fs.Bool("new", false, "make a new, empty store for the import (an LA starting with its return); without it the store must exist")
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, use the development one beside the key store")
	// The file may come before the flags, as the usage shows it.
	rest := args[1:]
	var file string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usageError("import sen2: give the return's file")
	}
	if err := domain.ValidateID("la", *la); err != nil || *la == "" {
		return usageError("--la: give the LA's code, such as E09000001")
	}
	data, err := readReturn(file)
	if err != nil {
		return usageError("import sen2: " + err.Error())
	}
	// An LA starting out imports into a new store (--new); otherwise the
	// store must exist, so that a mistyped --db makes nothing.
	var ss StoreSpec
	if *fresh {
		ss, err = storeOf(*db, *storeFlag)
	} else {
		ss, err = existingStore(*db, *storeFlag)
	}
	if err != nil {
		return err
	}
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	master, _, err := kf.master(ctx, "import sen2", dataFiles(ss, views, keysPath), keysPath, *demo)
	if err != nil {
		return err
	}
	s, err := ss.Open()
	if err != nil {
		return storeError(storeFlagOf(*storeFlag), err)
	}
	defer s.Close()
	if *fresh {
		if head, err := s.Head(ctx); err != nil {
			return err
		} else if head > 0 {
			return usageError(fmt.Sprintf("--new: %s already holds %d events: leave --new out to import into it", ss, head))
		}
	}
	l, ks, err := operatorLedger(s, keysPath, master)
	if err != nil {
		return err
	}
	defer ks.Close()
	p := newProgress(stderr, "import")
	res, err := l.ImportSEN2(ctx, app.SEN2Import{LA: *la, Name: filepath.Base(file), Data: data, Actor: "import:sen2:" + operator(),
		Record: operatorReads(ctx, l, *la, "cli import sen2"),
		Progress: func(done, total int) {
			p.report(backup.Progress{Stage: "recording the cases", Done: int64(done), Total: int64(total), Unit: "cases"})
		}})
	p.close()
	var bad app.ImportFailures
	if errors.As(err, &bad) {
		fmt.Fprintln(stdout, bad.Error())
		return fmt.Errorf("%d requests cannot be imported: nothing was imported", len(bad))
	}
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "imported %d cases from %s; %d were imported before and are left as they are\n", len(res.Cases), filepath.Base(file), len(res.Already))
	return nil
}

// readReturn reads a return's file whole, refusing one larger than a
// return can be.
func readReturn(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const limit = 64 << 20
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	return data, nil
}

// operatorLedger opens the key store at keysPath and a ledger over s, for
// a command an operator runs from the shell; close the key store after.
func operatorLedger(s eventstore.Store, keysPath string, master []byte) (*app.Ledger, *keys.Store, error) {
	ks, err := keysAt{path: keysPath, master: master}.open(time.Now)
	if err != nil {
		return nil, nil, err
	}
	return &app.Ledger{Store: s, Now: time.Now, Keys: ks, Holidays: calendar.NewEnglandWales()}, ks, nil
}

// operatorReads records the cases a shell command reads of an LA in its
// access log, by the operating-system user, as the API records a reader.
func operatorReads(ctx context.Context, l *app.Ledger, la, route string) func(cases []string) error {
	who := operator()
	return func(cases []string) error { return l.RecordAccesses(ctx, la, cases, route, "operator", who) }
}
