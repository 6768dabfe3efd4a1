package eventstore

import (
	"context"
	"fmt"
)

// Problem is an event that breaks its stream's hash chain.
type Problem struct {
	Stream   string `json:"stream"`
	Version  int64  `json:"version"`
	Position int64  `json:"position"`
	Why      string `json:"why"`
}

func (p Problem) String() string {
	return fmt.Sprintf("stream %s, version %d (position %d): %s", p.Stream, p.Version, p.Position, p.Why)
}

// VerifyReport is the outcome of VerifyAll.
type VerifyReport struct {
	Streams  int       `json:"streams"`
	Events   int       `json:"events"`
	Problems []Problem `json:"problems"`
}

// VerifyAll reads the whole log once and checks every stream's hash chain:
// versions follow each other, each event links to the previous one's hash,
// and each hash matches the event's content. It reports the first problem of
// each broken stream, in log order, so the first one is the earliest event
// altered or missing.
func VerifyAll(ctx context.Context, s Store) (VerifyReport, error) {
	type state struct {
		version int64
		hash    string
		broken  bool
	}
	streams := map[string]*state{}
	var rep VerifyReport
	err := readEach(ctx, s, func(e RecordedEvent) error {
		rep.Events++
		st := streams[e.Stream]
		if st == nil {
			st = &state{}
			streams[e.Stream] = st
		}
		if st.broken {
			return nil
		}
		why := ""
		switch {
		case e.Version != st.version+1:
			why = fmt.Sprintf("version %d is missing (the next event found is version %d)", st.version+1, e.Version)
			e.Version = st.version + 1
		case e.PrevHash != st.hash:
			why = "its link to the previous event's hash is broken"
		case Hash(st.hash, e.Stream, e.Version, e.EventData) != e.Hash:
			why = "its content does not match its hash: it was altered"
		}
		if why != "" {
			st.broken = true
			rep.Problems = append(rep.Problems, Problem{Stream: e.Stream, Version: e.Version, Position: e.Position, Why: why})
			return nil
		}
		st.version, st.hash = e.Version, e.Hash
		return nil
	})
	rep.Streams = len(streams)
	return rep, err
}
