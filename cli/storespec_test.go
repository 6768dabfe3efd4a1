package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/cli"
)

func TestParseStoreSpecReadsEveryKindOfStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flag   string
		value  string
		pathOK bool
		want   cli.StoreSpec
	}{
		{"sqlite with a path is the embedded store", "--store", "sqlite:/var/lib/ehc/ehcledger.db", false, cli.StoreSpec{Path: "/var/lib/ehc/ehcledger.db"}},
		{"sqlite with a relative path is the embedded store", "--from", "sqlite:ehcledger.db", false, cli.StoreSpec{Path: "ehcledger.db"}},
		{"esdb is a connection", "--to", "esdb://127.0.0.1:2113?tls=false", false, cli.StoreSpec{Connection: "esdb://127.0.0.1:2113?tls=false"}},
		{"esdb+discover with a cluster is a connection", "--store", "esdb+discover://admin:changeit@node1:2113,node2:2113?tls=true",
			false, cli.StoreSpec{Connection: "esdb+discover://admin:changeit@node1:2113,node2:2113?tls=true"}},
		{"a plain path is the embedded store where paths are allowed", "--db", "data/ehcledger.db", true, cli.StoreSpec{Path: "data/ehcledger.db"}},
		{"sqlite is read where paths are allowed", "--db", "sqlite:x.db", true, cli.StoreSpec{Path: "x.db"}},
		{"a scheme in capitals is the same scheme", "--store", "SQLite:x.db", false, cli.StoreSpec{Path: "x.db"}},
		{"a Windows drive is a path", "--db", `C:\data\x.db`, true, cli.StoreSpec{Path: `C:\data\x.db`}},
		{"a colon inside a path is a path", "--db", "/var/lib/ehc:2024/x.db", true, cli.StoreSpec{Path: "/var/lib/ehc:2024/x.db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cli.ParseStoreSpec(tc.flag, tc.value, tc.pathOK)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseStoreSpecRefusesABadSpecNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flag   string
		value  string
		pathOK bool
		says   string
	}{
		{"nothing is refused", "--store", "", false, "no store given"},
		{"blank is refused", "--db", "  ", true, "no store given"},
		{"sqlite without a path is refused", "--from", "sqlite:", false, "takes a file path"},
		{"sqlite with a URL is refused", "--store", "sqlite:///var/x.db", false, "takes a file path"},
		{"another scheme is refused", "--to", "postgres://db.example/ehc", false, "postgres:// is not a store"},
		{"another scheme is refused even where paths are allowed", "--db", "kurrentdb://host:2113", true, "kurrentdb:// is not a store"},
		{"a plain path is refused where a spec is needed", "--store", "ehcledger.db", false, "neither sqlite:PATH nor"},
		{"a mistyped connection string is not a file", "--db", "esdb:host:2113", true, "esdb: is not a store"},
		{"spaces around a spec are refused", "--db", " esdb://host:2113", true, "spaces before or after"},
		{"a connection string without a host is refused", "--to", "esdb://", false, "doesn't have an host"},
		{"a connection string with a bad setting is refused", "--store", "esdb://host:2113?tls=maybe", false, "'tls' must be either true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli.ParseStoreSpec(tc.flag, tc.value, tc.pathOK)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.flag+": ") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not start with %s and say %q", err, tc.flag, tc.says)
			}
		})
	}
	t.Run("a bad connection string's password is not repeated", func(t *testing.T) {
		_, err := cli.ParseStoreSpec("--store", "esdb://admin:s3cret@host:notaport?tls=false", false)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestAStoreSpecDescribesItselfWithoutItsPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec cli.StoreSpec
		want string
	}{
		{"a file is its sqlite spec", cli.StoreSpec{Path: "/data/e.db"}, "sqlite:/data/e.db"},
		{"a connection without credentials is itself", cli.StoreSpec{Connection: "esdb://h:2113?tls=false"}, "esdb://h:2113?tls=false"},
		{"a cluster's password is hidden", cli.StoreSpec{Connection: "esdb+discover://admin:s3cret@h1:2113,h2:2113?tls=true"},
			"esdb+discover://admin:xxxxx@h1:2113,h2:2113?tls=true"},
		{"a user without a password is shown", cli.StoreSpec{Connection: "esdb://admin@h:2113"}, "esdb://admin@h:2113"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.spec.String(); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

func TestAStoresViewsLiveBesideItsFileOrLocally(t *testing.T) {
	if got := (cli.StoreSpec{Path: filepath.Join("d", "e.db")}).DefaultViews(); got != filepath.Join("d", "e.db.views") {
		t.Fatalf("views of a file: %s", got)
	}
	if got := (cli.StoreSpec{Connection: "esdb://h:2113"}).DefaultViews(); got != cli.DefaultESDBViews {
		t.Fatalf("views of a connection: %s", got)
	}
}
