package api

import (
	"strings"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy lets pages load their stylesheet from this site and
// nothing else: no script at all (the pages have none), no inline style, no
// plugin, no framing by any site (clickjacking), and forms that post only
// here.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets on every answer, errors included, what tells a
// browser to keep it to itself: the content security policy, no content
// sniffing, no Referer leaving the site (a page's address holds a case's
// ID), no framing for browsers that predate frame-ancestors, and no storing
// (pages, case views, timelines, exports and the API's reads hold personal
// data, and a shared council PC's cache must not keep them). Only the
// stylesheet may be cached.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(c.Request().URL.Path, "/ui/static/") {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}
