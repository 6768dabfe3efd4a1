package documents

import (
	"archive/zip"
	"bytes"
	"fmt"
)

// The media types of the documents the store accepts.
const (
	// MediaPDF is a PDF document.
	MediaPDF = "application/pdf"
	// MediaDOCX is a Word document (.docx, Office Open XML).
	MediaDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	// MediaPNG is a PNG image.
	MediaPNG = "image/png"
	// MediaJPEG is a JPEG image.
	MediaJPEG = "image/jpeg"
)

// sniff finds the media type of an upload from its first bytes and, for a
// Word document, its list of parts. The name it was given is never
// consulted: a name is only a claim, and a file renamed to .pdf is still
// whatever it was.
func sniff(data []byte) (string, error) {
	switch {
	case hasPrefix(data, "%PDF-"):
		return MediaPDF, nil
	case hasPrefix(data, "\x89PNG\r\n\x1a\n"):
		return MediaPNG, nil
	case hasPrefix(data, "\xff\xd8\xff"):
		return MediaJPEG, nil
	case hasPrefix(data, "PK\x03\x04"):
		return sniffZip(data)
	}
	return "", ErrType
}

// sniffZip accepts a ZIP archive that is a Word document: one with the part
// word/document.xml. Only the archive's directory is read; nothing is
// decompressed, so a ZIP bomb costs nothing here. Other Office files
// (spreadsheets, slides) and plain archives are refused, and so is a Word
// document carrying macros (a .docm renamed .docx), which Word itself would
// never save as .docx.
func sniffZip(data []byte) (string, error) {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", ErrType
	}
	var document, macros bool
	for _, f := range z.File {
		switch f.Name {
		case "word/document.xml":
			document = true
		case "word/vbaProject.bin":
			macros = true
		}
	}
	switch {
	case macros:
		return "", fmt.Errorf("%w (Word documents with macros are not)", ErrType)
	case !document:
		return "", ErrType
	}
	return MediaDOCX, nil
}

// hasPrefix is bytes.HasPrefix for a string prefix.
func hasPrefix(b []byte, prefix string) bool {
	return bytes.HasPrefix(b, []byte(prefix))
}
