package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
)

// demoOutput is what `serve --demo` prints after its address: a token per
// role and the development secret's file.
type demoOutput struct {
	tokens     map[auth.Role]string
	secretFile string
}

// readDemoOutput reads what `serve --demo` printed after its address.
func readDemoOutput(t *testing.T, s *server) demoOutput {
	t.Helper()
	if _, err := s.out.ReadString('\n'); err != nil { // the heading
		t.Fatal(err)
	}
	d := demoOutput{tokens: map[auth.Role]string{}}
	for range auth.Roles {
		line, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("token line %q", line)
		}
		d.tokens[auth.Role(f[0])] = f[1]
	}
	warning, err := s.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(warning, "DEVELOPMENT SETTING:") {
		t.Fatalf("no development warning: %q %v", warning, err)
	}
	more, err := s.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(more)
	if len(f) < 5 || strings.Join(f[:4], " ") != "more tokens: ehcledger token" || f[4] != "--auth-secret-file" {
		t.Fatalf("no way to make more tokens: %q", more)
	}
	d.secretFile = f[5]
	return d
}

// TestTheDemoSecretOutlivesARestartAndSignsMoreTokens follows what the
// README tells a new user: `make run` prints tokens and how to make more;
// both keep working when the server starts again on the same database.
func TestTheDemoSecretOutlivesARestartAndSignsMoreTokens(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	first := startServerAsIs(t, db, "--demo")
	printed := readDemoOutput(t, first)
	if printed.secretFile != db+".dev-secret" {
		t.Fatalf("the secret is in %s, want beside the database", printed.secretFile)
	}
	st, err := os.Stat(printed.secretFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("the development secret has mode %v, want 0600", st.Mode().Perm())
	}
	first.stop()

	out, err := exec.Command(binary, "token", "--auth-secret-file", printed.secretFile, "--role", "caseworker", "--las", "E09999999").CombinedOutput()
	if err != nil {
		t.Fatalf("ehcledger token: %v\n%s", err, out)
	}
	made := strings.TrimSpace(string(out))

	again := startServerAsIs(t, db, "--demo")
	if reprinted := readDemoOutput(t, again); reprinted.secretFile != printed.secretFile {
		t.Fatalf("the second start uses %s, the first %s", reprinted.secretFile, printed.secretFile)
	}
	t.Run("a token the first start printed is accepted after the restart", func(t *testing.T) {
		again.must(200, "GET", "/v1/worklist", "", "Authorization", "Bearer "+printed.tokens[auth.Caseworker])
	})
	t.Run("a token made with ehcledger token is accepted", func(t *testing.T) {
		again.must(200, "GET", "/v1/worklist", "", "Authorization", "Bearer "+made)
	})
	t.Run("a token signed with another secret is refused", func(t *testing.T) {
		again.must(401, "GET", "/v1/worklist", "", "Authorization", "Bearer "+tokenFor(t, auth.Caseworker, "E09999999"))
	})
}
