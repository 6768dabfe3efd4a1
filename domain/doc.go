// Package domain is the law of EHC needs assessments as code, using the
// standard library only. It holds civil dates in Europe/London and the
// periods of the statutory time limits; versioned rulebooks that keep those
// limits as data; the clocks a rulebook runs for a case; and the case
// aggregate. A case is built only by applying its events. A command is
// decided against the case and either emits past-tense events, whose type
// names and schema versions are stable, or is refused with an Error and
// emits nothing.
package domain
