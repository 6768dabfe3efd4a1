package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/labstack/echo/v4"
)

// getCheckpoint serves the latest signed checkpoint of the log as the
// C2SP tlog-checkpoint note, with any witness's cosignatures.
func (s *Server) getCheckpoint(c echo.Context) error {
	latest, ok, err := s.Views.Tree.Latest(c.Request().Context())
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.NotFound, "no checkpoint has been signed: the server signs them when started with --checkpoint-key")
	}
	c.Response().Header().Set("Last-Modified", latest.SignedAt.Format(http.TimeFormat))
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", latest.Note)
}

// getProof serves the inclusion proofs of a case's events in the tree of
// ?checkpoint=SIZE, by default the latest signed checkpoint's, for an
// auditor to check offline with `ehcledger verify-case`.
func (s *Server) getProof(c echo.Context) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	var size int64
	if q := c.QueryParam("checkpoint"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 1 {
			return domain.FieldErrorf("checkpoint", "must be the size of a checkpoint, a whole number of events")
		}
		size = n
	}
	if err := s.readCase(c, id); err != nil {
		return err
	}
	if have, _ := s.Views.Tree.Head(); size > have {
		return domain.FieldErrorf("checkpoint", "the log has %d events in its tree, fewer than %d", have, size)
	}
	if size == 0 {
		latest, ok, err := s.Views.Tree.Latest(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.NotFound, "no checkpoint has been signed yet: name a size with ?checkpoint=")
		}
		size = latest.Size
	}
	proof, err := s.Views.Tree.ProveStream(ctx, s.Store, domain.CaseStream(id), size)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, proof)
}

// CaseCheck is what the case page says of a case's events against the
// latest signed checkpoint.
type CaseCheck struct {
	// Size and SignedAt are the checkpoint's.
	Size     int64
	SignedAt time.Time
	// Verified counts the case's events found in the checkpoint's tree;
	// Later those recorded since, which the next checkpoint will cover.
	Verified, Later int
	// Problem says why the case did not verify; empty when it did.
	Problem string
	// Unavailable says the check could not be made (the store or the tree
	// could not be read): not a sign of alteration.
	Unavailable bool
}

// checkCase verifies a case's events against the latest signed checkpoint
// with the server's public key, as an auditor would with verify-case, and
// checks that the store still holds every event of the case the views have
// recorded (Runner.RecordedVersion, written with the tree): events removed
// from the store after the views read them are found even when the rest of
// the stream still verifies, and even after the views are rebuilt. It
// returns nil when no key is configured or nothing is signed yet.
func (s *Server) checkCase(ctx context.Context, id string) *CaseCheck {
	if s.CheckpointKey == "" {
		return nil
	}
	latest, ok, err := s.Views.Tree.Latest(ctx)
	if err != nil || !ok {
		return nil
	}
	check := &CaseCheck{Size: latest.Size, SignedAt: latest.SignedAt}
	unavailable := func(what string, err error) *CaseCheck {
		s.Logger.Error("case check against the checkpoint", "case", id, "step", what, "error", err)
		check.Unavailable = true
		return check
	}
	cp, err := tlog.Open(latest.Note, s.CheckpointKey)
	if err != nil {
		check.Problem = "the checkpoint kept does not verify with the log's key"
		return check
	}
	stream := domain.CaseStream(id)
	// The views' version is read before the store, which only grows, so an
	// event appended in between cannot look missing.
	recorded, err := s.Views.RecordedVersion(ctx, id)
	if err != nil {
		return unavailable("recorded version", err)
	}
	events, err := s.Store.ReadStream(ctx, stream, 1)
	if err != nil {
		return unavailable("read", err)
	}
	p, err := s.Views.Tree.ProveEvents(ctx, stream, events, cp.Size)
	if err != nil {
		return unavailable("proof", err)
	}
	check.Later = p.Later
	check.Verified, err = tlog.VerifyCaseProof(p, stream, cp)
	switch {
	case err != nil:
		check.Problem = err.Error()
	case heldUpTo(events, recorded) < recorded:
		check.Problem = fmt.Sprintf("the store holds %d of the %d events of the case the views recorded: events were removed", heldUpTo(events, recorded), recorded)
	}
	if check.Problem != "" {
		s.Logger.Error("CASE DOES NOT MATCH THE SIGNED CHECKPOINT", "case", id, "checkpoint", cp.Size, "problem", check.Problem)
	}
	return check
}

// heldUpTo counts the events of a stream, read in version order, that
// carry versions 1 to version without a gap.
func heldUpTo(events []eventstore.RecordedEvent, version int64) int64 {
	var n int64
	for _, e := range events {
		if e.Version != n+1 || n == version {
			break
		}
		n++
	}
	return n
}
