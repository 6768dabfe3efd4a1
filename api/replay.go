package api

import (
	"net/http"
	"strconv"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/labstack/echo/v4"
)

// maxReplays bounds how many LA histories the server counts again at once
// (a rulebook revision's changes, a what-if): each reads and counts every
// case of one LA.
const maxReplays = 2

// replaying takes one of the server's places for counting an LA's history
// again, or answers 429 with Retry-After when all are taken. The caller
// releases the place when done.
func (s *Server) replaying(c echo.Context) (release func(), err error) {
	select {
	case s.replays <- struct{}{}:
		return func() { <-s.replays }, nil
	default:
		c.Response().Header().Set("Retry-After", "5")
		return nil, domain.Errorf(domain.TooMany, "other LAs' histories are being counted again; try again in a few seconds")
	}
}

// rulebookChanges serves what a recorded rulebook revision (?rulebook, the
// current law by default; ?version, the latest recorded by default) did to
// an LA: every clock whose due date or status on ?as_of changed, and the
// LA's figures before and after for ?from..?to (by default its whole
// history up to as-of).
func (s *Server) rulebookChanges(c echo.Context) error {
	la, err := pathLA(c)
	if err != nil {
		return err
	}
	asOf, err := s.asOf(c)
	if err != nil {
		return err
	}
	p, err := readPeriod(c, projections.Period{})
	if err != nil {
		return err
	}
	version := 0
	if v := c.QueryParam("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			return domain.FieldErrorf("version", "must be a version number, 1 or more")
		}
	}
	release, err := s.replaying(c)
	if err != nil {
		return err
	}
	defer release()
	s.fresh(c)
	r, err := s.Ledger.RevisionChanges(c.Request().Context(), la, s.Views.Timeliness.CaseIDs(la), c.QueryParam("rulebook"), version, p, asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
