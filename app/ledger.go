// Package app is the application layer: it loads a case from the event store,
// asks the domain to decide a command, and appends the resulting events with
// their envelope (IDs, actor, LA, correlation, causation, times).
package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/notify"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/google/uuid"
)

// Ledger executes commands against the store.
type Ledger struct {
	Store    eventstore.Store
	Holidays domain.Holidays
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time
	// Keys seals and opens personal details, and erases them.
	Keys Keys
	// InvitationTTL is how long an invitation's link opens after it is
	// recorded; DefaultInvitationTTL when zero.
	InvitationTTL time.Duration
	// Notifier sends invitations' links; without one, no invitation is
	// recorded. PortalURL is the portal's address as people reach it (such
	// as https://ehc.example.gov.uk), which links start with.
	Notifier  notify.Notifier
	PortalURL string
	// Documents keeps the documents sent for cases; without it none are
	// taken.
	Documents Documents

	laCache laCache
}

// CommandRequest is one command with its envelope.
type CommandRequest struct {
	Case    string
	Command string
	On      domain.Date
	Data    json.RawMessage
	Actor   string
	// LA is required to open a case; for other commands it must match the
	// case's LA when given.
	LA string
	// Expected is the case version the caller saw (If-Match); Any skips the
	// check.
	Expected eventstore.ExpectedVersion
	// IdempotencyKey makes a retried command safe: a command whose key is
	// already recorded on the case returns the original result.
	IdempotencyKey string
	CorrelationID  string
	// Reason explains a step recorded after the day it happened; it is
	// required then, and kept on the events.
	Reason string
	// RecordedAt, when set, is the instant the step counts as recorded (an
	// import or scenario replaying history as it happened); otherwise Now.
	RecordedAt time.Time
	// Authorize, when set, is asked about an existing case's LA and the LA
	// its plan is moving to ("" when none) before anything else, so that a
	// caller can refuse another LA's case without reading it a second time.
	Authorize func(la, movingTo string) error
}

// CommandResult tells what a command recorded.
type CommandResult struct {
	Case      string   `json:"case"`
	Command   string   `json:"command"`
	Version   int64    `json:"version"`
	Position  int64    `json:"position"`
	Events    []string `json:"events"`
	Duplicate bool     `json:"duplicate"`
	// Secret is the secret the application made for a step that issues
	// one (an invitation's link), to be sent and then forgotten: the store
	// keeps only its SHA-256. A retry answered with the first result has
	// none.
	Secret string `json:"-"`
}

// loadedCase is a case folded from its stream.
type loadedCase struct {
	c       *domain.Case
	la      string
	events  []eventstore.RecordedEvent
	history []domain.Step
	rules   func(domain.Date) *domain.Rulebook
}

var errUnreadable = func(err error) error {
	return &domain.Error{Code: domain.Internal, Message: "a stored event could not be read", Err: err}
}

// load reads and folds a case, applying corrections. With knownAt set, only
// events recorded by that instant count: the case as the system knew it then.
func (l *Ledger) load(ctx context.Context, id string, knownAt time.Time) (*loadedCase, error) {
	evs, steps, err := l.readCase(ctx, id)
	if err != nil {
		return nil, err
	}
	return l.fold(ctx, id, evs, steps, knownAt)
}

// readCase reads a case's stream once and decodes its events.
func (l *Ledger) readCase(ctx context.Context, id string) ([]eventstore.RecordedEvent, []domain.Step, error) {
	evs, err := l.Store.ReadStream(ctx, domain.CaseStream(id), 1)
	if err != nil {
		return nil, nil, &domain.Error{Code: domain.Internal, Message: "could not read the case", Err: err}
	}
	steps := make([]domain.Step, len(evs))
	for i, e := range evs {
		ev, on, err := projections.Decode(e)
		if err != nil {
			return nil, nil, errUnreadable(err)
		}
		steps[i] = domain.Step{Version: e.Version, On: on, Event: ev}
	}
	return evs, steps, nil
}

// fold builds the case from the events read, up to those recorded by
// knownAt when it is set.
func (l *Ledger) fold(ctx context.Context, id string, evs []eventstore.RecordedEvent, steps []domain.Step, knownAt time.Time) (*loadedCase, error) {
	n := len(evs)
	if !knownAt.IsZero() {
		// The first event recorded later ends what was known: a step
		// recorded with an earlier instant after it (an import, another
		// server's clock) was not known before it either.
		for i, e := range evs {
			if e.RecordedAt.After(knownAt) {
				n = i
				break
			}
		}
	}
	lc := &loadedCase{events: evs[:n:n], history: steps[:n:n]}
	if n > 0 {
		lc.la = evs[n-1].LA
	}
	var adoptions []domain.RulebookAdopted
	loaded := false
	lc.rules = func(d domain.Date) *domain.Rulebook {
		if !loaded {
			loaded = true
			// An unreadable LA stream leaves the current law in force; the
			// command path reads it again and reports the error.
			adoptions, _ = l.Adoptions(ctx, lc.la, knownAt)
		}
		return domain.RulebookInForce(adoptions, d)
	}
	var err error
	if lc.c, err = domain.FoldHistory(id, lc.history, lc.rules); err != nil {
		return nil, errUnreadable(err)
	}
	if lc.c.LA == "" {
		lc.c.LA = lc.la
	}
	return lc, nil
}

// Gate decides whether a read of a case may go ahead, given the LA that owns
// it now and, while its plan is being transferred, the LA it is moving to;
// it may record the read before it is served. A nil Gate lets every read
// through (an operator at the command line).
type Gate func(la, movingTo string) error

// open reads a case once for a view: it must exist, the gate is asked with
// the case as it stands now, and the case is then folded as known at knownAt
// (when set) from the same events. It returns the case as known then, and
// as it stands now.
func (l *Ledger) open(ctx context.Context, id string, knownAt time.Time, gate Gate) (then, now *loadedCase, err error) {
	if err := domain.ValidateID("case", id); err != nil {
		return nil, nil, err
	}
	evs, steps, err := l.readCase(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	now, err = l.fold(ctx, id, evs, steps, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	if !now.c.Exists() {
		return nil, nil, domain.Errorf(domain.NotFound, "there is no case %s", id)
	}
	if gate != nil {
		if err := gate(now.c.LA, now.c.MovingTo); err != nil {
			return nil, nil, err
		}
	}
	if knownAt.IsZero() {
		return now, now, nil
	}
	lc, err := l.fold(ctx, id, evs, steps, knownAt)
	if err != nil {
		return nil, nil, err
	}
	if !lc.c.Exists() {
		return nil, nil, domain.Errorf(domain.NotFound, "case %s was not known at %s", id, knownAt.UTC().Format(time.RFC3339))
	}
	return lc, now, nil
}

// CaseLAs returns the LA responsible for a case and, while its plan is being
// transferred, the LA it is moving to: whose staff may see and work on it.
// A case that does not exist gives empty LAs and no error.
func (l *Ledger) CaseLAs(ctx context.Context, id string) (la, movingTo string, err error) {
	if err := domain.ValidateID("case", id); err != nil {
		return "", "", err
	}
	lc, err := l.load(ctx, id, time.Time{})
	if err != nil || !lc.c.Exists() {
		return "", "", err
	}
	return lc.c.LA, lc.c.MovingTo, nil
}

// Execute validates and records one command.
func (l *Ledger) Execute(ctx context.Context, req CommandRequest) (CommandResult, error) {
	if err := domain.ValidateID("case", req.Case); err != nil {
		return CommandResult{}, err
	}
	if req.Actor == "" {
		return CommandResult{}, domain.FieldErrorf("actor", "is required")
	}
	for attempt := 0; ; attempt++ {
		res, err := l.execute(ctx, req)
		// Two retries of one idempotent command may race; the loser finds the
		// winner's events on its second look (the winner took the stream's
		// next version, or the event ID both derived from the request).
		if err != nil && req.IdempotencyKey != "" && attempt == 0 &&
			(errors.Is(err, eventstore.ErrWrongVersion) || errors.Is(err, eventstore.ErrIDConflict)) {
			continue
		}
		return res, err
	}
}

func (l *Ledger) execute(ctx context.Context, req CommandRequest) (CommandResult, error) {
	// An unknown command costs no read.
	spec := domain.LookupCommand(req.Command)
	if spec == nil || spec.Scope != domain.ScopeCase {
		return CommandResult{}, domain.FieldErrorf("command", "unknown command %q (known: %s)", req.Command, strings.Join(domain.CommandNames(domain.ScopeCase), ", "))
	}
	lc, err := l.load(ctx, req.Case, time.Time{})
	if err != nil {
		return CommandResult{}, err
	}
	if req.Authorize != nil && lc.c.Exists() {
		// The case must be in the caller's scope (either LA while its plan
		// moves); then the step must be the caller's LA's to take: the LA a
		// plan is moving to only accepts it (Case.Owner), and the LA it
		// leaves keeps every other step until then.
		if err := req.Authorize(lc.c.LA, lc.c.MovingTo); err != nil {
			return CommandResult{}, err
		}
		if owner := lc.c.Owner(req.Command); req.Authorize(owner, "") != nil {
			return CommandResult{}, domain.Errorf(domain.Forbidden, "%s on case %s is for LA %s to record", req.Command, req.Case, owner)
		}
	}
	if req.IdempotencyKey != "" {
		if res, found, err := replayed(l.Keys, lc, req); found || err != nil {
			return res, err
		}
	}
	if req.Expected >= 0 && int64(req.Expected) != lc.c.Version {
		return CommandResult{}, &domain.Error{Code: domain.Conflict, Field: "If-Match",
			Message: "the case has changed: it is at version " + itoa(lc.c.Version) + ", not " + itoa(int64(req.Expected))}
	}
	la := req.LA
	if lc.c.Exists() {
		current := lc.c.Owner(req.Command)
		if la != "" && la != current {
			return CommandResult{}, domain.FieldErrorf("la", "case %s belongs to LA %s, not %s", req.Case, current, la)
		}
		la = current
	} else if spec.Opens {
		if err := domain.ValidateID("la", la); err != nil {
			return CommandResult{}, err
		}
	}
	rb, err := l.rulebook(ctx, la, req.On)
	if err != nil {
		return CommandResult{}, err
	}
	cmd := domain.Command{Name: req.Command, On: req.On, Data: req.Data, Holidays: l.Holidays}
	var secret string
	if spec.IssuesSecret {
		if secret, cmd.SecretHash, err = newSecret(); err != nil {
			return CommandResult{}, err
		}
	}
	if spec.NeedsHistory {
		// The domain checks such a step against the details in the clear
		// (the person's age on a corrected request date).
		if _, err := openHistory(l.Keys, req.Case, lc.history); err != nil {
			return CommandResult{}, err
		}
		cmd.History, cmd.RulesAt = lc.history, lc.rules
	}
	events, err := lc.c.Decide(cmd, rb)
	if err != nil {
		return CommandResult{}, err
	}
	if fix, ok := events[0].(*domain.StepCorrected); ok && req.Reason == "" {
		req.Reason = fix.Reason.Plain // a correction is late by nature; its reason says why
	}
	recordedAt := req.RecordedAt
	if recordedAt.IsZero() {
		recordedAt = l.Now()
	}
	if recordedOn := domain.DateOf(recordedAt); req.On > recordedOn {
		return CommandResult{}, domain.FieldErrorf("on", "%s is in the future (today is %s): a step is recorded when it has happened", req.On, recordedOn)
	} else if req.On < recordedOn && strings.TrimSpace(req.Reason) == "" {
		return CommandResult{}, domain.FieldErrorf("reason", "the step happened on %s but is recorded on %s: say why it is recorded late", req.On, recordedOn)
	}
	commandID := req.IdempotencyKey
	if commandID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return CommandResult{}, &domain.Error{Code: domain.Internal, Message: "could not make an ID", Err: err}
		}
		commandID = id.String()
	}
	correlation := req.CorrelationID
	if correlation == "" {
		correlation = commandID
	}
	if secret != "" {
		// Sent before it is recorded: a link that could not be sent is
		// never recorded, and a recording that then fails leaves a link
		// that opens nothing.
		if err := l.deliver(ctx, req.Case, events, secret); err != nil {
			return CommandResult{}, err
		}
	}
	if err := Seal(l.Keys, req.Case, events); err != nil {
		return CommandResult{}, err
	}
	var firstID uuid.UUID
	if req.IdempotencyKey != "" && l.Keys != nil {
		// Before an erasure takes the key the fingerprint is made with.
		if firstID, err = requestID(l.Keys, req); err != nil {
			return CommandResult{}, &domain.Error{Code: domain.Internal, Message: "could not fingerprint the request", Err: err}
		}
	}
	if erases(events) {
		// The key goes first: erasure is the duty, and a failed append is
		// retried (the key store forgets a key once, harmlessly again).
		if l.Keys == nil {
			return CommandResult{}, &domain.Error{Code: domain.Internal, Message: "there is no key store to erase personal details from"}
		}
		if err := l.Keys.Erase(req.Case); err != nil {
			return CommandResult{}, &domain.Error{Code: domain.Internal, Message: "could not erase the personal details", Err: err}
		}
	}
	reason, err := sealReason(l.Keys, req.Case, req.Reason)
	if err != nil {
		return CommandResult{}, err
	}
	meta := Meta{On: req.On, RecordedAt: recordedAt, Actor: req.Actor, LA: la,
		Correlation: correlation, Causation: commandID, Reason: reason, FirstID: firstID}
	data, err := Envelope(events, meta)
	if err != nil {
		return CommandResult{}, err
	}
	expected := eventstore.NoStream
	if lc.c.Version > 0 {
		expected = eventstore.Exact(lc.c.Version)
	}
	ar, err := l.Store.Append(ctx, domain.CaseStream(req.Case), expected, data)
	if err != nil {
		return CommandResult{}, err
	}
	res := CommandResult{Case: req.Case, Command: req.Command, Version: ar.Version, Position: ar.Position, Duplicate: ar.Duplicate}
	if !ar.Duplicate {
		res.Secret = secret
	}
	for _, e := range events {
		res.Events = append(res.Events, e.EventType())
	}
	return res, nil
}

// replayed finds a command already recorded under the same idempotency key.
// A retry repeats its request: the same key with another command, another
// day or other data is another request, refused rather than answered with
// the first one's result.
func replayed(k Keys, lc *loadedCase, req CommandRequest) (CommandResult, bool, error) {
	res := CommandResult{Case: req.Case, Command: req.Command, Duplicate: true}
	for _, e := range lc.events {
		if e.CausationID != req.IdempotencyKey {
			continue
		}
		if len(res.Events) == 0 {
			if err := sameRequest(k, e, req); err != nil {
				return CommandResult{}, true, err
			}
		}
		res.Events = append(res.Events, e.Type)
		res.Version, res.Position = e.Version, e.Position
	}
	return res, len(res.Events) > 0, nil
}

// sameRequest reports, as an error, how a request differs from the one whose
// first event is first.
func sameRequest(k Keys, first eventstore.RecordedEvent, req CommandRequest) error {
	if first.Type != domain.CommandEventType(req.Command) {
		return &domain.Error{Code: domain.Conflict, Field: "Idempotency-Key",
			Message: "this key was already used for a different command (" + first.Type + ")"}
	}
	if first.OccurredOn != req.On.String() {
		return domain.FieldErrorf("Idempotency-Key",
			"this key was already used for %s on %s, not on %s", req.Command, first.OccurredOn, req.On)
	}
	if first.ID.Version() != requestIDVersion || k == nil {
		return nil // recorded before requests were fingerprinted
	}
	id, err := requestID(k, req)
	switch {
	case errors.Is(err, keys.ErrErased):
		// The fingerprint's key went with the case's personal details:
		// the command and its day are all that can be compared.
		return nil
	case err != nil:
		return &domain.Error{Code: domain.Internal, Message: "could not fingerprint the request", Err: err}
	case id != first.ID:
		return domain.FieldErrorf("Idempotency-Key",
			"this key was already used for %s on %s with other details: a new request needs a new key", req.Command, req.On)
	}
	return nil
}

// requestIDVersion marks an event ID derived from its request (RFC 9562's
// version 8, for IDs of an application's own making).
const requestIDVersion = 8

// requestID derives the ID of the first event a command sent with an
// idempotency key records, from a keyed fingerprint of the request (key,
// command, day, LA, data and reason) under the case's key. A retry derives
// the same ID, and other data under the same key another one, so the store
// holds proof of what was asked without holding the request in the clear.
func requestID(k Keys, req CommandRequest) (uuid.UUID, error) {
	data := req.Data
	var compact bytes.Buffer
	if json.Compact(&compact, data) == nil {
		data = compact.Bytes() // a retry may lay its JSON out differently
	}
	var msg []byte
	for _, f := range [][]byte{[]byte(req.IdempotencyKey), []byte(req.Command), []byte(req.On.String()),
		[]byte(req.LA), data, []byte(req.Reason)} {
		msg = binary.BigEndian.AppendUint64(msg, uint64(len(f)))
		msg = append(msg, f...)
	}
	mac, err := k.MAC(req.Case, msg)
	if err != nil {
		return uuid.UUID{}, err
	}
	var id uuid.UUID
	copy(id[:], mac)
	id[6] = id[6]&0x0f | requestIDVersion<<4
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id, nil
}

// rulebook returns the rules in force for a command: those the case's LA
// had adopted for the command's date.
func (l *Ledger) rulebook(ctx context.Context, la string, on domain.Date) (*domain.Rulebook, error) {
	if la == "" {
		return domain.LookupRulebook(domain.DefaultRulebook)
	}
	adoptions, err := l.Adoptions(ctx, la, time.Time{})
	if err != nil {
		return nil, err
	}
	return domain.RulebookInForce(adoptions, on), nil
}

// Adoptions returns an LA's rulebook adoptions in the order recorded; with
// knownAt set, only those recorded by then.
func (l *Ledger) Adoptions(ctx context.Context, la string, knownAt time.Time) ([]domain.RulebookAdopted, error) {
	s, err := l.laSettings(ctx, la, knownAt)
	return s.adoptions, err
}

// laSettings are what an LA's stream records for its cases: the rulebooks
// it adopted and its AP review interval settings.
type laSettings struct {
	adoptions  []domain.RulebookAdopted
	apInterval []domain.APReviewIntervalSet
	// dfeNumber is the LA's DfE number, "" until recorded.
	dfeNumber string
}

// laSettings reads an LA's settings as recorded by knownAt (all when zero).
func (l *Ledger) laSettings(ctx context.Context, la string, knownAt time.Time) (laSettings, error) {
	if knownAt.IsZero() {
		return l.currentLASettings(ctx, la)
	}
	var out laSettings
	evs, err := l.Store.ReadStream(ctx, domain.LAStream(la), 1)
	if err != nil {
		return out, &domain.Error{Code: domain.Internal, Message: "could not read the LA", Err: err}
	}
	for _, e := range evs {
		if e.RecordedAt.After(knownAt) {
			break
		}
		if err := out.add(e); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ExecuteLA runs an LA-level command (the catalog's LA scope), recording
// its event in the stream the domain names, on the step's date.
func (l *Ledger) ExecuteLA(ctx context.Context, la, command string, on domain.Date, data json.RawMessage, actor string) error {
	stream, events, err := domain.DecideLA(la, domain.Command{Name: command, On: on, Data: data})
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not make an ID", Err: err}
	}
	env, err := Envelope(events, Meta{On: on, RecordedAt: l.Now(), Actor: actor, LA: la, Correlation: id.String(), Causation: id.String()})
	if err != nil {
		return err
	}
	if _, err := l.Store.Append(ctx, stream, eventstore.Any, env); err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not record the step", Err: err}
	}
	return nil
}

// RecordAccess records that actor, in a role, read case caseID of LA la
// through route. The read is served only once this is stored.
func (l *Ledger) RecordAccess(ctx context.Context, la, caseID, route, role, actor string) error {
	return l.RecordAccesses(ctx, la, []string{caseID}, route, role, actor)
}

// accessesPerAppend bounds the reads one append records: an export of a
// large LA's cases is recorded in several appends, each well under the
// event stores' maximum append size (eventstore.MaxAppendBytes), and few
// enough that a retried append is found whole among the stream's latest
// events (the KurrentDB adapter searches its last 256 and the append's
// length plus 8).
const accessesPerAppend = 200

// RecordAccesses records reads of several cases of one LA at once (an
// export), in appends of at most accessesPerAppend events sharing one
// correlation ID, to a stream of the export's own (one read, to the case's
// access stream), so that no two readers append to one stream. Nothing is
// served until every append has succeeded; a failure part-way leaves
// reads recorded that were not served, never the reverse.
func (l *Ledger) RecordAccesses(ctx context.Context, la string, caseIDs []string, route, role, actor string) error {
	id, err := uuid.NewV7()
	now := l.Now()
	for start := 0; err == nil && start < len(caseIDs); start += accessesPerAppend {
		chunk := caseIDs[start:min(start+accessesPerAppend, len(caseIDs))]
		evs := make([]domain.Event, len(chunk))
		for i, c := range chunk {
			evs[i] = &domain.CaseAccessed{Case: c, Route: route, Role: role}
		}
		var data []eventstore.EventData
		data, err = Envelope(evs, Meta{On: domain.DateOf(now), RecordedAt: now, Actor: actor, LA: la, Correlation: id.String(), Causation: id.String()})
		if err == nil {
			stream := domain.ExportAccessStream(la, id.String())
			if len(caseIDs) == 1 {
				stream = domain.AccessStream(la, caseIDs[0])
			}
			_, err = l.Store.Append(ctx, stream, eventstore.Any, data)
		}
	}
	if err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not record the read of the case", Err: err}
	}
	return nil
}

func (l *Ledger) appendOne(ctx context.Context, stream string, e domain.Event, on domain.Date, actor, la string) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	data, err := Envelope([]domain.Event{e}, Meta{On: on, RecordedAt: l.Now(), Actor: actor, LA: la, Correlation: id.String(), Causation: id.String()})
	if err != nil {
		return err
	}
	_, err = l.Store.Append(ctx, stream, eventstore.Any, data)
	return err
}

// Meta is the envelope of the events of one command.
type Meta struct {
	On                     domain.Date
	RecordedAt             time.Time
	Actor, LA              string
	Correlation, Causation string
	Reason                 string
	// FirstID, when set, is the first event's ID (see requestID); the
	// others get new ones.
	FirstID uuid.UUID
}

// Envelope wraps domain events for the store, each with a new UUID v7.
func Envelope(events []domain.Event, m Meta) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, 0, len(events))
	for i, e := range events {
		if o, ok := e.(domain.Opener); ok && o.Opened().Details != nil {
			// The details would be dropped, not stored: Seal first.
			return nil, &domain.Error{Code: domain.Internal, Message: "personal details must be sealed before a case's opening is stored"}
		}
		if c, ok := e.(*domain.StepCorrected); ok && c.Details != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "personal details must be sealed before a correction is stored"}
		}
		payload, err := json.Marshal(e)
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not encode an event", Err: err}
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not make an ID", Err: err}
		}
		if i == 0 && m.FirstID != (uuid.UUID{}) {
			id = m.FirstID
		}
		out = append(out, eventstore.EventData{ID: id, Type: e.EventType(), SchemaVersion: e.SchemaVersion(),
			OccurredOn: m.On.String(), RecordedAt: m.RecordedAt.UTC(), Actor: m.Actor, LA: m.LA,
			CorrelationID: m.Correlation, CausationID: m.Causation, Reason: m.Reason, Payload: payload})
	}
	return out, nil
}

// CaseView is a case as it stood on a date.
type CaseView struct {
	ID       string      `json:"id"`
	LA       string      `json:"la"`
	Rulebook string      `json:"rulebook"`
	Version  int64       `json:"version"`
	AsOf     domain.Date `json:"as_of"`
	// KnownAt is set when the view shows only what was recorded by then.
	KnownAt *time.Time `json:"known_at,omitempty"`
	// Person is the child's personal details, opened with the case's key,
	// or marked erased.
	Person Person            `json:"person"`
	Clocks []domain.ClockRow `json:"clocks"`
	// Exceptions lists, for each late or overdue clock that is excused, the
	// exceptions that excuse it and their evidence.
	Exceptions []ClockException `json:"exceptions"`
	// Warnings lists expectations of guidance missed (not breaches).
	Warnings []domain.Warning `json:"warnings"`
	// Items are what the case records for the SEN2 return beside its
	// statutory steps: placements, needs, personal budget.
	Items domain.ReturnItems `json:"return_items"`
}

// ClockException is an exception that excuses one clock.
type ClockException struct {
	Clock string `json:"clock"`
	Key   string `json:"key"`
	domain.Exception
}

// Case rebuilds one case from its stream as it stood on asOf: only steps that
// occurred on or before asOf count, with every correction applied (what was
// true). With knownAt set, only what had been recorded by that instant counts
// (what the system knew). It reads the store directly, so a caseworker always
// sees the command they just sent.
func (l *Ledger) Case(ctx context.Context, id string, asOf domain.Date, knownAt time.Time, gate Gate) (CaseView, error) {
	lc, _, err := l.open(ctx, id, knownAt, gate)
	if err != nil {
		return CaseView{}, err
	}
	return l.view(ctx, lc, id, asOf, knownAt)
}

// CaseAndTimeline returns the case view and its timeline from one read of
// the case, for a page that shows both.
func (l *Ledger) CaseAndTimeline(ctx context.Context, id string, asOf domain.Date, knownAt time.Time, gate Gate) (CaseView, []TimelineEntry, error) {
	lc, now, err := l.open(ctx, id, knownAt, gate)
	if err != nil {
		return CaseView{}, nil, err
	}
	tl := l.timeline(now) // the whole history, as an auditor reads it
	view, err := l.view(ctx, lc, id, asOf, knownAt)
	return view, tl, err
}

// view builds the case view from a case read once.
func (l *Ledger) view(ctx context.Context, lc *loadedCase, id string, asOf domain.Date, knownAt time.Time) (CaseView, error) {
	person, err := openHistory(l.Keys, id, lc.history)
	if err != nil {
		return CaseView{}, err
	}
	steps := lc.history
	if domain.HasCorrections(steps) {
		if steps, err = domain.Effective(steps, lc.rules); err != nil {
			return CaseView{}, errUnreadable(err)
		}
		// The person as corrected.
		if o, ok := steps[0].Event.(domain.Opener); ok && o.Opened().Details != nil && !person.Erased {
			person = Person{PersonalDetails: o.Opened().Details}
		}
	}
	m := projections.NewModel(l.Holidays)
	var cc domain.CaseClocks
	schools := map[string]bool{}
	upTo := make([]domain.Step, 0, len(steps))
	for _, st := range steps {
		if st.On > asOf {
			continue
		}
		upTo = append(upTo, st)
		if school := domain.SchoolAsked(st.Event); school != "" && !schools[school] {
			schools[school] = true
			if err := l.loadSchool(ctx, m, lc.la, school, knownAt); err != nil {
				return CaseView{}, err
			}
		}
		cc.Apply(lc.rules(st.On), st.Event, st.On, l.Holidays)
	}
	cal := m.Calendar(lc.la)
	view := CaseView{ID: id, LA: lc.la, Rulebook: lc.c.Rulebook, Version: lc.c.Version, AsOf: asOf, Person: person,
		Clocks: cc.Rows(id, asOf, cal), Exceptions: []ClockException{}, Warnings: cc.Warnings(asOf), Items: domain.ItemsOf(upTo)}
	settings, err := l.laSettings(ctx, lc.la, knownAt)
	if err != nil {
		return CaseView{}, err
	}
	view.Warnings = append(view.Warnings, cc.APReviewWarnings(asOf, domain.APReviewIntervalOn(settings.apInterval, asOf))...)
	if view.Warnings == nil {
		view.Warnings = []domain.Warning{}
	}
	if !knownAt.IsZero() {
		k := knownAt.UTC()
		view.KnownAt = &k
	}
	for _, k := range cc.Clocks {
		if row := cc.Row(id, k, asOf, cal); row.Excused {
			for _, x := range cc.ExceptionsFor(k, cal) {
				view.Exceptions = append(view.Exceptions, ClockException{Clock: k.Name, Key: k.Key, Exception: x})
			}
		}
	}
	return view, nil
}

func (l *Ledger) loadSchool(ctx context.Context, m *projections.Model, la, school string, knownAt time.Time) error {
	evs, err := l.Store.ReadStream(ctx, domain.SchoolStream(la, school), 1)
	if err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not read the school calendar", Err: err}
	}
	for _, e := range evs {
		if !knownAt.IsZero() && e.RecordedAt.After(knownAt) {
			break
		}
		if err := m.Apply(e); err != nil {
			return errUnreadable(err)
		}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// erases reports whether the events erase the case's personal details: the
// key is destroyed before they are appended.
func erases(events []domain.Event) bool {
	for _, e := range events {
		if _, ok := e.(*domain.PersonalDataErased); ok {
			return true
		}
	}
	return false
}
