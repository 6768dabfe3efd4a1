package projections

// Rewind moves the projection's position back without changing what it
// holds, as a snapshot written while events were applied may stand: events
// after pos are then replayed onto cases that already hold some of them.
func Rewind(t *Timeliness, pos int64) {
	t.mu.Lock()
	t.m.Position = pos
	t.mu.Unlock()
}
