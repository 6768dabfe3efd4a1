package app

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ehcledger/ehcledger/documents"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
)

// Documents keeps the documents sent for a case, encrypted with its key;
// documents.Store is the implementation.
type Documents interface {
	Put(ctx context.Context, caseID string, r io.Reader, declaredName string) (documents.Document, error)
	Get(ctx context.Context, caseID, sha256 string) ([]byte, documents.Document, error)
}

// Upload is a document sent for a case: who sends it, what it is, and its
// content.
type Upload struct {
	Case, Actor string
	// Kind is what the document is (advice, views, representations,
	// evidence, other); Advice the advice it gives, for a professional's.
	Kind, Advice string
	Name         string
	Content      io.Reader
	// SharedWithFamily shares an LA's document with the family.
	SharedWithFamily bool
}

// UploadDocument keeps a document for an open case whose personal details
// stand (checked for size, type and viruses, encrypted with the case's key)
// and records it as document_uploaded with the sender as actor. A document
// refused records nothing.
func (l *Ledger) UploadDocument(ctx context.Context, u Upload) (domain.DocumentUploaded, error) {
	if l.Documents == nil {
		return domain.DocumentUploaded{}, &domain.Error{Code: domain.Unavailable, Message: "this server keeps no documents (no document store is configured)"}
	}
	lc, err := l.load(ctx, u.Case, time.Time{})
	if err != nil {
		return domain.DocumentUploaded{}, err
	}
	switch {
	case !lc.c.Exists():
		return domain.DocumentUploaded{}, domain.Errorf(domain.NotFound, "there is no case %s", u.Case)
	case lc.c.Erased():
		return domain.DocumentUploaded{}, domain.Errorf(domain.Conflict, "the personal details of this case have been erased: it takes no documents")
	}
	ev := domain.DocumentUploaded{Kind: u.Kind, Advice: u.Advice, SharedWithFamily: u.SharedWithFamily}
	if err := domain.CheckDocumentKind(ev.Kind); err != nil {
		return domain.DocumentUploaded{}, err
	}
	doc, err := l.Documents.Put(ctx, u.Case, u.Content, u.Name)
	if err != nil {
		return domain.DocumentUploaded{}, documentError(err)
	}
	ev.Name, ev.MediaType, ev.Size, ev.SHA256 = domain.Text{Plain: doc.Name}, doc.MediaType, doc.Size, doc.SHA256
	shown := ev
	if err := Seal(l.Keys, u.Case, []domain.Event{&ev}); err != nil {
		return domain.DocumentUploaded{}, err
	}
	now := l.Now()
	data, err := Envelope([]domain.Event{&ev}, Meta{On: domain.DateOf(now), RecordedAt: now, Actor: u.Actor, LA: lc.c.LA,
		Correlation: "document-" + doc.SHA256[:16], Causation: "document-" + doc.SHA256[:16]})
	if err != nil {
		return domain.DocumentUploaded{}, err
	}
	if _, err := l.Store.Append(ctx, domain.CaseStream(u.Case), eventstore.Any, data); err != nil {
		return domain.DocumentUploaded{}, err
	}
	return shown, nil
}

// Document returns a document of a case, by its SHA-256, opened with the
// case's key; a document the case never recorded is not found, whatever the
// store holds.
//
// may, when set, says whether the reader may have a document recorded by
// the actor given: one they may not is not found, as if never sent.
func (l *Ledger) Document(ctx context.Context, caseID, sha256 string, gate Gate, may func(actor string, d *domain.DocumentUploaded) bool) ([]byte, domain.DocumentUploaded, error) {
	if l.Documents == nil {
		return nil, domain.DocumentUploaded{}, domain.Errorf(domain.NotFound, "there is no such document")
	}
	lc, _, err := l.open(ctx, caseID, time.Time{}, gate)
	if err != nil {
		return nil, domain.DocumentUploaded{}, err
	}
	for i, step := range lc.history {
		d, ok := step.Event.(*domain.DocumentUploaded)
		if !ok || d.SHA256 != sha256 || (may != nil && !may(lc.events[i].Actor, d)) {
			continue
		}
		shown := *d
		if err := openTexts(l.Keys, caseID, &shown); err != nil {
			return nil, domain.DocumentUploaded{}, err
		}
		b, _, err := l.Documents.Get(ctx, caseID, sha256)
		if err != nil {
			return nil, domain.DocumentUploaded{}, documentError(err)
		}
		return b, shown, nil
	}
	return nil, domain.DocumentUploaded{}, domain.Errorf(domain.NotFound, "there is no such document on case %s", caseID)
}

// documentError says what went wrong with a document in the project's
// terms: what the sender can fix is invalid, naming the field; an erased
// case a conflict; a scanner that did not answer unavailable.
func documentError(err error) error {
	switch {
	case errors.Is(err, documents.ErrTooLarge), errors.Is(err, documents.ErrType), errors.Is(err, documents.ErrInfected):
		return &domain.Error{Code: domain.Invalid, Field: "document", Message: err.Error(), Err: err}
	case errors.Is(err, documents.ErrScanFailed):
		return &domain.Error{Code: domain.Unavailable, Message: documents.ErrScanFailed.Error(), Err: err}
	case errors.Is(err, keys.ErrErased):
		return domain.Errorf(domain.Conflict, "the personal details of this case have been erased, its documents with them")
	case errors.Is(err, documents.ErrNotFound):
		return domain.Errorf(domain.NotFound, "the document is no longer held")
	}
	return &domain.Error{Code: domain.Internal, Message: "the document could not be kept or read", Err: err}
}
