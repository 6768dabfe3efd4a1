package domain

import "testing"

func TestEveryCommandNamesItsEventType(t *testing.T) {
	for _, name := range CommandNames() {
		if _, ok := eventFactories[CommandEventType(name)]; !ok {
			t.Errorf("command %s has no registered event type", name)
		}
	}
	// correct_step works on the whole history (Correct), not through a handler.
	if len(commandEvents) != len(handlers)+1 {
		t.Errorf("%d commands have event types but %d have handlers", len(commandEvents), len(handlers))
	}
}
