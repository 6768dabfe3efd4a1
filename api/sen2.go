package api

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/sen2"
	"github.com/labstack/echo/v4"
)

// getSEN2 answers an LA's SEN2 return for a collection year: DfE's XML,
// or (format=csv) a readable copy, as an attachment. X-SEN2-Failures
// counts what validation found: 0 means the return is ready to send. The
// return holds every reported child's personal details, so only the LA's
// managers may have it, and each case in it is recorded in the access log
// as read.
func (s *Server) getSEN2(c echo.Context) error {
	la, err := pathLA(c)
	if err != nil {
		return err
	}
	year, err := strconv.Atoi(c.QueryParam("year"))
	if err != nil {
		return domain.FieldErrorf("year", "give the collection year, such as 2026")
	}
	coll, err := sen2.Lookup(year)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format != "" && format != "xml" && format != "csv" {
		return domain.FieldErrorf("format", "must be xml or csv")
	}
	release, err := s.replaying(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	p := principal(c)
	res, err := s.Ledger.SEN2Return(ctx, app.SEN2Options{LA: la, Collection: coll, Release: "api", SerialNo: 1, Made: s.Now(),
		Record: func(cases []string) error {
			return s.Ledger.RecordAccesses(ctx, la, cases, c.Request().Method+" "+c.Path(), string(p.Role), p.Subject)
		}})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	name, kind := fmt.Sprintf("sen2-%s-%d.xml", la, year), "application/xml"
	if format == "csv" {
		name, kind = fmt.Sprintf("sen2-%s-%d.csv", la, year), "text/csv; charset=utf-8"
		err = sen2.WriteCSV(&b, res.Message)
	} else {
		err = res.Message.Write(&b)
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("X-SEN2-Failures", strconv.Itoa(len(sen2.Validate(res.Message, coll))))
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, kind, b.Bytes())
}
