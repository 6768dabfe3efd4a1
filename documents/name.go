package documents

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes is the longest name kept, in bytes: file systems commonly
// take 255, and a name is shown in pages and lists.
const maxNameBytes = 200

// maxExtBytes is the longest extension a cut name keeps whole.
const maxExtBytes = 16

// extension names a file of an accepted type when the uploader gave no
// name.
func extension(mediaType string) string {
	switch mediaType {
	case MediaPDF:
		return ".pdf"
	case MediaDOCX:
		return ".docx"
	case MediaPNG:
		return ".png"
	case MediaJPEG:
		return ".jpg"
	}
	return ""
}

// sanitiseName reduces a declared file name to something safe to show and
// to offer as a download name: the part after the last / or \ (browsers on
// Windows may send C:\fakepath\...), valid UTF-8 without control,
// line-breaking or text-direction characters, trimmed of spaces, and at
// most maxNameBytes, cut in the stem so the extension survives. Nothing
// left, or only dots, gives "document" with the type's extension.
func sanitiseName(declared, mediaType string) string {
	if i := strings.LastIndexAny(declared, `/\`); i >= 0 {
		declared = declared[i+1:]
	}
	declared = strings.ToValidUTF8(declared, "")
	name := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || isBidiControl(r) {
			return -1
		}
		return r
	}, declared))
	if strings.Trim(name, ".") == "" {
		return "document" + extension(mediaType)
	}
	if len(name) <= maxNameBytes {
		return name
	}
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtBytes {
		stem, ext = name[:i], name[i:]
	}
	return cutUTF8(stem, maxNameBytes-len(ext)) + ext
}

// isBidiControl reports the characters that change the direction of text,
// with which a name can be made to show another extension than its own
// ("report\u202Efdp.exe" shows as "reportexe.pdf").
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
