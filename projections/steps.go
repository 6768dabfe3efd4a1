package projections

import (
	"github.com/ehcledger/ehcledger/domain"
)

// NextStep describes the statutory step that stops clock k, as its rulebook
// words it.
func (m *Model) NextStep(c *CaseModel, k *domain.Clock) string {
	return k.Rule.NextStep(k.Key, m.StepStarted(c, k))
}

// StepStarted reports whether the work that stops clock k has visibly begun
// since the clock started. Clocks stopped by a single act have no such step.
func (m *Model) StepStarted(c *CaseModel, k *domain.Clock) bool {
	t := k.Rule.StartedBy
	if t == "" {
		return false
	}
	for _, mk := range c.marks {
		if mk.on < k.Started || marks().kinds[mk.kind()].typ != t {
			continue
		}
		if review := m.strs.items[mk.label()]; k.Key == "" || review == "" || review == k.Key {
			return true
		}
	}
	return false
}
