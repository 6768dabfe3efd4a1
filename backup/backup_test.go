package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/internal/s3test"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/simulate"
)

var fixed = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// options are the backup options of the tests, into loc.
func options(t *testing.T, loc backup.Location) backup.Options {
	t.Helper()
	return backup.Options{To: loc, Temp: t.TempDir(), Now: func() time.Time { return fixed }, Software: "test",
		Holidays: calendar.NewEnglandWales()}
}

// liveStore is a running store of two LAs' simulated year, its views and
// its key store, open for writing as a server holds them.
func liveStore(t *testing.T) (*cli.Env, string) {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "events.db")
	env, err := cli.OpenEnv(ctx, db, "", func() time.Time { return fixed }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	las := []string{"E09000021", "E09000022"}
	if _, err := simulate.Run(ctx, env.Store, simulate.Options{LACodes: las, LAs: len(las), CasesPerYear: 40, Years: 1, Seed: 20,
		Until: domain.NewDate(2026, 11, 19), Workers: 1, Rates: simulate.National, Now: func() time.Time { return fixed }, Keys: env.Keys}, nil); err != nil {
		t.Fatal(err)
	}
	return env, db
}

// fakeBucket is an S3 location on an in-memory S3 server for the test.
func fakeBucket(t *testing.T, prefix string) *backup.Bucket {
	t.Helper()
	b, err := backup.NewBucket(s3test.Start(t, "backups").Client, "backups", prefix)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLocations(t *testing.T) {
	for name, loc := range map[string]func(t *testing.T) backup.Location{
		"a directory":  func(t *testing.T) backup.Location { return backup.Dir{Root: filepath.Join(t.TempDir(), "root")} },
		"an S3 bucket": func(t *testing.T) backup.Location { return fakeBucket(t, "") },
		"an S3 prefix": func(t *testing.T) backup.Location { return fakeBucket(t, "la/e09") },
	} {
		t.Run(name+" keeps, lists and refuses as a location should", func(t *testing.T) {
			ctx := context.Background()
			l := loc(t)
			if names, err := l.List(ctx, "", ""); err != nil || len(names) != 0 {
				t.Fatalf("an empty location lists %v, %v", names, err)
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20) // 48 MiB: several parts
			for name, data := range map[string][]byte{"backups/a/manifest.json": []byte("{}"), "backups/a/big": big, "segments/1": nil} {
				if err := l.Put(ctx, name, bytes.NewReader(data)); err != nil {
					t.Fatalf("Put %s: %v", name, err)
				}
			}
			rc, err := l.Get(ctx, "backups/a/big")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, big) {
				t.Fatalf("Get returned %d bytes, %v; want %d", len(got), err, len(big))
			}
			if names, err := l.List(ctx, "backups/", ""); err != nil || strings.Join(names, ",") != "backups/a/big,backups/a/manifest.json" {
				t.Fatalf("List backups/: %v, %v", names, err)
			}
			if names, err := l.List(ctx, "backups/", "backups/a/big"); err != nil || strings.Join(names, ",") != "backups/a/manifest.json" {
				t.Fatalf("List backups/ after backups/a/big: %v, %v", names, err)
			}
			if _, err := l.Get(ctx, "backups/b/manifest.json"); !errors.Is(err, backup.ErrNotFound) {
				t.Fatalf("Get of nothing: %v", err)
			}
			for _, bad := range []string{"../x", "/etc/passwd", "a/../../x", ""} {
				if err := l.Put(ctx, bad, strings.NewReader("x")); err == nil {
					t.Errorf("Put %q was taken", bad)
				}
			}
		})
	}
}

func TestABackupOfALiveStoreVerifiesAndRestores(t *testing.T) {
	ctx := context.Background()
	env, db := liveStore(t)
	head, err := env.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, loc := range map[string]backup.Location{
		"a directory": backup.Dir{Root: filepath.Join(t.TempDir(), "backups")},
		"S3":          fakeBucket(t, "ehc"),
	} {
		t.Run("through "+name, func(t *testing.T) {
			o := options(t, loc)
			m, err := backup.Events(ctx, db, "", o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Head != head || m.Events != int(head) || m.TreeRoot == "" || m.Figures == nil || m.Figures.Cases != 80 || m.SchemaVersion != sqlite.Schema.Latest() {
				t.Fatalf("manifest: %+v", m)
			}
			listed, skipped, err := backup.List(ctx, loc, backup.KindEvents)
			if err != nil || len(skipped) != 0 || len(listed) != 1 || listed[0].ID != m.ID {
				t.Fatalf("List: %v, %v", listed, err)
			}
			if err := backup.Verify(ctx, loc, listed[0], "", o); err != nil {
				t.Fatalf("Verify of an intact backup: %v", err)
			}
			restored := filepath.Join(t.TempDir(), "restored.db")
			r, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Head != head || r.Cut || r.Figures != *m.Figures {
				t.Fatalf("restored: %+v", r)
			}
			if _, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, o); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("a restore over an existing store: %v", err)
			}
			cut := filepath.Join(t.TempDir(), "cut.db")
			r, err = backup.Restore(ctx, loc, &m, backup.Until{Position: head / 2}, cut, o)
			if err != nil || r.Head != head/2 || !r.Cut {
				t.Fatalf("a restore to position %d: %+v, %v", head/2, r, err)
			}
			s, err := sqlite.Open(cut, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if h, _ := s.Head(ctx); h != head/2 {
				t.Errorf("the cut store's head is %d", h)
			}
			s.Close()
		})
	}
}

func TestADamagedBackupIsRefused(t *testing.T) {
	ctx := context.Background()
	_, db := liveStore(t)
	root := filepath.Join(t.TempDir(), "backups")
	loc := backup.Dir{Root: root}
	o := options(t, loc)
	m, err := backup.Events(ctx, db, "", o)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "backups", m.ID, m.File.Name)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("an altered byte fails verification and restores nothing", func(t *testing.T) {
		altered := bytes.Clone(data)
		altered[len(altered)/2] ^= 0x40
		if err := os.WriteFile(file, altered, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(file, data, 0o600)
		if err := backup.Verify(ctx, loc, m, "", o); err == nil {
			t.Fatal("Verify passed an altered backup")
		}
		restored := filepath.Join(t.TempDir(), "restored.db")
		if _, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, o); err == nil {
			t.Fatal("Restore took an altered backup")
		}
		if left, _ := filepath.Glob(restored + "*"); len(left) != 0 {
			t.Fatalf("a failed restore left %v", left)
		}
	})
	t.Run("a manifest that lies about the events fails verification", func(t *testing.T) {
		name := filepath.Join(root, "backups", m.ID, "manifest.json")
		orig, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(name, orig, 0o600)
		lie := m
		lie.Events--
		b, _ := json.Marshal(lie)
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		read, err := backup.ReadManifest(ctx, loc, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := backup.Verify(ctx, loc, read, "", o); err == nil || !strings.Contains(err.Error(), "manifest says") {
			t.Fatalf("Verify of a manifest that lies: %v", err)
		}
	})
	t.Run("a manifest moved to another folder is left out, the others listed", func(t *testing.T) {
		other := filepath.Join(root, "backups", "20990101T000000Z-events-p1")
		if err := os.MkdirAll(other, 0o700); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(root, "backups", m.ID, "manifest.json"))
		os.WriteFile(filepath.Join(other, "manifest.json"), b, 0o600)
		defer os.RemoveAll(other)
		listed, skipped, err := backup.List(ctx, loc, backup.KindEvents)
		if err != nil || len(listed) != 1 || len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "moved or altered") {
			t.Fatalf("List with a moved manifest: %v, %v, %v", listed, skipped, err)
		}
	})
}

func TestAnErasureRecordedAfterTheKeysBackupSurvivesTheRestore(t *testing.T) {
	ctx := context.Background()
	const erased, kept = "E09000021-000003", "E09000021-000004"
	// The key store, with a master key the test knows.
	master := bytes.Repeat([]byte{1, 2, 3, 4}, 8)
	keyFile := filepath.Join(t.TempDir(), "events.db.keys")
	ks, err := keys.Open(keyFile, master, func() time.Time { return fixed })
	if err != nil {
		t.Fatal(err)
	}
	sealed := map[string][]byte{}
	for _, id := range []string{erased, kept, "E09000022-000001"} {
		if sealed[id], err = ks.Seal(id, []byte("the name of "+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	keysAt := backup.Dir{Root: filepath.Join(t.TempDir(), "keys-backups")}
	km, err := backup.Keys(ctx, keyFile, options(t, keysAt))
	if err != nil {
		t.Fatal(err)
	}
	if km.Keys != 3 || km.Erased != 0 || km.Kind != backup.KindKeys {
		t.Fatalf("keys manifest: %+v", km)
	}
	if err := backup.Verify(ctx, keysAt, km, "", options(t, keysAt)); err != nil {
		t.Fatalf("Verify of a keys backup: %v", err)
	}

	// After the keys' backup, a case is erased: the erasure is an event,
	// and reaches the event store's backup.
	env, db := liveStore(t)
	if _, err := env.Ledger.Execute(ctx, app.CommandRequest{Case: erased, Command: "erase_personal_data", On: domain.NewDate(2026, 11, 20),
		Data: json.RawMessage(`{"reason":"the young person asked"}`), Actor: "manager-1", LA: "E09000021", Expected: eventstore.Any}); err != nil {
		t.Fatal(err)
	}
	eventsAt := backup.Dir{Root: filepath.Join(t.TempDir(), "backups")}
	m, err := backup.Events(ctx, db, "", options(t, eventsAt))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	restored := filepath.Join(dir, "events.db")
	if _, err := backup.Restore(ctx, eventsAt, &m, backup.Until{}, restored, options(t, eventsAt)); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(restored, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	cases, err := backup.CasesOf(ctx, s)
	s.Close()
	ids := cases.Erased
	if err != nil || len(ids) != 1 || ids[0] != erased || len(cases.Opened) != 80 {
		t.Fatalf("erased cases in the restored store: %v, %d opened, %v", ids, len(cases.Opened), err)
	}
	if after := cases.OpenedAfter(fixed.Add(-time.Hour)); len(after) != 0 {
		t.Fatalf("cases opened in the last hour of the simulation: %v", after)
	}

	// A restore to a point before the erasure still knows of it.
	before := filepath.Join(t.TempDir(), "before.db")
	rb, err := backup.Restore(ctx, eventsAt, &m, backup.Until{Position: m.Head - 1}, before, options(t, eventsAt))
	if err != nil || !rb.Cut || len(rb.Erased) != 1 || rb.Erased[0] != erased {
		t.Fatalf("a restore to before the erasure: cut %v, erased %v, %v", rb.Cut, rb.Erased, err)
	}

	restoredKeys := filepath.Join(dir, "events.db.keys")
	if _, err := backup.RestoreKeys(ctx, eventsAt, m, restoredKeys, master, ids, options(t, keysAt)); err == nil {
		t.Fatal("RestoreKeys took a backup of an event store")
	}
	if _, err := backup.RestoreKeys(ctx, keysAt, km, restoredKeys, bytes.Repeat([]byte{9, 8}, 16), ids, options(t, keysAt)); err == nil {
		t.Fatal("RestoreKeys took a master key that does not open the keys")
	}
	if left, _ := filepath.Glob(restoredKeys + "*"); len(left) != 0 {
		t.Fatalf("a refused restore of the keys left %v", left)
	}
	if n, err := backup.RestoreKeys(ctx, keysAt, km, restoredKeys, master, ids, options(t, keysAt)); err != nil || n != 1 {
		t.Fatalf("RestoreKeys: %d, %v", n, err)
	}
	ks, err = keys.Open(restoredKeys, master, func() time.Time { return fixed })
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := ks.Open(erased, sealed[erased]); !errors.Is(err, keys.ErrErased) {
		t.Fatalf("the erased case's details after the restore: %v", err)
	}
	for _, id := range []string{kept, "E09000022-000001"} {
		if plain, err := ks.Open(id, sealed[id]); err != nil || string(plain) != "the name of "+id {
			t.Fatalf("%s's details after the restore: %q, %v", id, plain, err)
		}
	}
}

func TestChoose(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	backups := []backup.Manifest{{ID: "a", Head: 100, HeadRecordedAt: at(1)}, {ID: "b", Head: 200, HeadRecordedAt: at(2)}, {ID: "c", Head: 300, HeadRecordedAt: at(3)}}
	for _, c := range []struct {
		u    backup.Until
		want string
	}{
		{backup.Until{}, "c"},
		{backup.Until{Position: 150}, "b"},
		{backup.Until{Position: 200}, "b"},
		{backup.Until{Position: 999}, "c"},
		{backup.Until{Time: at(2).Add(-time.Minute)}, "b"},
		{backup.Until{Time: at(2)}, "c"},
		{backup.Until{Time: at(5)}, "c"},
	} {
		got, err := backup.Choose(backups, c.u)
		if err != nil || got.ID != c.want {
			t.Errorf("Choose(%+v) = %s, %v; want %s", c.u, got.ID, err, c.want)
		}
	}
	if _, err := backup.Choose(nil, backup.Until{}); err == nil {
		t.Error("Choose of no backups")
	}
}

func TestBackupsOfOneSecondAreListedInTheOrderTheyWereTaken(t *testing.T) {
	ctx := context.Background()
	env, db := liveStore(t)
	loc := backup.Dir{Root: filepath.Join(t.TempDir(), "backups")}
	o := options(t, loc)
	// The heads 10-fold apart: their IDs would sort the other way as
	// plain numbers in text.
	first, err := backup.Events(ctx, db, "", o)
	if err != nil {
		t.Fatal(err)
	}
	record(t, env, int(first.Head)*9)
	o.Now = func() time.Time { return fixed.Add(time.Millisecond) }
	second, err := backup.Events(ctx, db, "", o)
	if err != nil {
		t.Fatal(err)
	}
	listed, _, err := backup.List(ctx, loc, backup.KindEvents)
	if err != nil || len(listed) != 2 || listed[0].ID != first.ID || listed[1].ID != second.ID {
		t.Fatalf("listed %v, %v; want %s then %s", listed, err, first.ID, second.ID)
	}
	if m, err := backup.Choose(listed, backup.Until{}); err != nil || m.ID != second.ID {
		t.Fatalf("the latest: %s, %v", m.ID, err)
	}
}
