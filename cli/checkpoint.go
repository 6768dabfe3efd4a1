package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/tlog"
	"golang.org/x/mod/sumdb/note"
)

// checkpointCmd runs `checkpoint keygen` and `checkpoint sign`: the key
// that signs the log's checkpoints, and a checkpoint of the log as it
// stands (docs/ledger.md).
func checkpointCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("checkpoint: keygen --origin NAME --out PREFIX, or sign --key PREFIX.key")
	}
	switch args[0] {
	case "keygen":
		return checkpointKeygen(args[1:], stdout)
	case "sign":
		return checkpointSign(ctx, args[1:], stdout)
	}
	return usageError("checkpoint: unknown subcommand " + args[0] + " (keygen, sign)")
}

func checkpointKeygen(args []string, stdout io.Writer) error {
	fs := newFlags("checkpoint keygen")
	origin := fs.String("origin", "", "the log's name in its checkpoints, such as ehcledger.example-la.gov.uk/log")
	out := fs.String("out", "", "where to write PREFIX.key (the signing key, mode 0600) and PREFIX.pub")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *origin == "" || strings.ContainsAny(*origin, " +\n") {
		return usageError("--origin: give the log's name, without spaces or '+'")
	}
	if *out == "" {
		return usageError("--out: give the prefix of the key files")
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, *origin)
	if err != nil {
		return err
	}
	// The signing key is written only if it does not exist, never over a
	// key that signed earlier checkpoints.
	f, err := os.OpenFile(*out+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageError("--out: " + err.Error())
	}
	if _, err := fmt.Fprintln(f, skey); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.key (keep it away from the store) and %s.pub\n", *out, *out)
	return nil
}

func checkpointSign(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("checkpoint sign")
	db, storeFlag := storeFlags(fs)
	keyFile := fs.String("key", "", "the signing key (PREFIX.key from checkpoint keygen)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" {
		return usageError("--key: give the signing key's file")
	}
	skey, err := readPrivateFile(*keyFile)
	if err != nil {
		return usageError("--key: " + err.Error())
	}
	s, _, err := openExisting(*db, *storeFlag, true)
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := tlog.Build(ctx, s, 0)
	if err != nil {
		return err
	}
	if len(t.Gaps) > 0 {
		return fmt.Errorf("the global log has %d gap(s), the first at position %d: run verify; a checkpoint is not signed over it", len(t.Gaps), t.Gaps[0].Want)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return usageError("--key: not a signing key written by checkpoint keygen")
	}
	signed, err := tlog.Sign(tlog.Checkpoint{Origin: signer.Name(), Size: t.Size, Root: t.Root}, string(skey))
	if err != nil {
		return usageError("--key: " + err.Error())
	}
	_, err = stdout.Write(signed)
	return err
}

// checkpointFlags are serve's flags for signing checkpoints as the log
// grows.
type checkpointFlags struct {
	key       *string
	every     *time.Duration
	witnesses []string
}

func addCheckpointFlags(fs *flag.FlagSet) *checkpointFlags {
	f := &checkpointFlags{
		key: fs.String("checkpoint-key", envOr("EHC_CHECKPOINT_KEY", ""), "sign a checkpoint of the log with this key (PREFIX.key from checkpoint keygen) "+
			"at every --checkpoint-every, and serve the latest at GET /v1/checkpoint"),
		every: fs.Duration("checkpoint-every", time.Minute, "how often to sign a checkpoint when the log has grown"),
	}
	fs.Func("witness", "also hand each checkpoint to this witness: a file to append it to, or the URL of a C2SP tlog-witness (repeatable)", func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("give a file or a URL")
		}
		f.witnesses = append(f.witnesses, v)
		return nil
	})
	return f
}

// publisher returns the checkpoint publisher of --checkpoint-key and
// the key's public half, or nil when no key is given.
func (f *checkpointFlags) publisher(log *tlog.Log) (*tlog.Publisher, string, error) {
	if *f.key == "" {
		if len(f.witnesses) > 0 {
			return nil, "", usageError("--witness: give --checkpoint-key, the key that signs what the witness keeps")
		}
		return nil, "", nil
	}
	if *f.every < time.Second {
		return nil, "", usageError("--checkpoint-every: at least 1s")
	}
	skey, err := readPrivateFile(*f.key)
	if err != nil {
		return nil, "", usageError("--checkpoint-key: " + err.Error())
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", usageError("--checkpoint-key: not a signing key written by checkpoint keygen")
	}
	vkey, err := tlog.VerifierKey(string(skey))
	if err != nil {
		return nil, "", usageError("--checkpoint-key: " + err.Error())
	}
	p := &tlog.Publisher{Log: log, Signer: signer, Key: vkey, Now: time.Now}
	for _, w := range f.witnesses {
		if strings.HasPrefix(w, "https://") || strings.HasPrefix(w, "http://") {
			p.Witnesses = append(p.Witnesses, &tlog.HTTPWitness{URL: w})
		} else {
			p.Witnesses = append(p.Witnesses, tlog.FileWitness{Path: w, Key: vkey})
		}
	}
	return p, vkey, nil
}
