package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/documents"
	docs3 "github.com/ehcledger/ehcledger/documents/s3"
	"github.com/ehcledger/ehcledger/notify"
)

// portalFlags are serve's settings for the portal: where its links lead,
// how invitations are sent, and where documents are kept and how checked.
type portalFlags struct {
	portalURL, notifyBy                            *string
	smtpAddr, smtpFrom, smtpUser, smtpPasswordFile *string
	smtpAllowPlain                                 *bool
	notifyKeyFile, notifyTemplate                  *string
	documentsAt                                    *string
	s3                                             s3Flags
	scanCommand                                    *string
	noScan                                         *bool
	invitationTTL                                  *time.Duration
}

func addPortalFlags(fs *flag.FlagSet) portalFlags {
	return portalFlags{
		portalURL: fs.String("portal-url", envOr("EHC_PORTAL_URL", ""), "this server's address as families and professionals reach it (https://ehc.example.gov.uk), which invitation links start with (with --demo: the listen address)"),
		notifyBy:  fs.String("notify", envOr("EHC_NOTIFY", ""), "how invitations are sent: smtp, govuk-notify or log (development: links written to the log); none when empty (with --demo: log)"),
		smtpAddr:  fs.String("smtp-addr", envOr("EHC_SMTP_ADDR", ""), "mail relay host:port for --notify smtp"),
		smtpFrom:  fs.String("smtp-from", envOr("EHC_SMTP_FROM", ""), "sender address for --notify smtp"),
		smtpUser:  fs.String("smtp-username", envOr("EHC_SMTP_USERNAME", ""), "user name at the mail relay (with --smtp-password-file)"),
		smtpPasswordFile: fs.String("smtp-password-file", envOr("EHC_SMTP_PASSWORD_FILE", ""),
			"file holding the mail relay's password (mode 0600, this user's)"),
		smtpAllowPlain: fs.Bool("smtp-allow-plain", false, "allow a mail relay that does not offer STARTTLS (a relay on this host)"),
		notifyKeyFile: fs.String("notify-api-key-file", envOr("EHC_NOTIFY_API_KEY_FILE", ""),
			"file holding the GOV.UK Notify API key (mode 0600, this user's) for --notify govuk-notify"),
		notifyTemplate: fs.String("notify-template-id", envOr("EHC_NOTIFY_TEMPLATE_ID", ""), "GOV.UK Notify email template whose subject is ((subject)) and body ((body))"),
		documentsAt: fs.String("documents", envOr("EHC_DOCUMENTS", ""),
			"where documents sent for cases are kept, encrypted with each case's key: a directory, or s3://BUCKET/PREFIX (default: DB.documents beside the views)"),
		s3: addS3Flags(fs, "--documents s3://..."),
		scanCommand: fs.String("virus-scan-command", envOr("EHC_VIRUS_SCAN_COMMAND", ""),
			"command that scans a document given on standard input: exit 0 clean, 1 infected (such as \"clamdscan --no-summary -\")"),
		noScan:        fs.Bool("no-virus-scan", false, "take documents without a virus scan (development; --demo implies it when no command is given)"),
		invitationTTL: fs.Duration("invitation-ttl", app.DefaultInvitationTTL, "how long an invitation's link opens after it is sent (at most 30 days)"),
	}
}

// ttl is the invitation links' lifetime, checked.
func (f portalFlags) ttl() (time.Duration, error) {
	if d := *f.invitationTTL; d <= 0 || d > 30*24*time.Hour {
		return 0, usageError(fmt.Sprintf("--invitation-ttl: %s is not between a moment and 30 days", d))
	}
	return *f.invitationTTL, nil
}

// readSecretFile reads a secret from a file only its owner may read.
func readSecretFile(flagName, path string) (string, error) {
	b, err := readPrivateFile(path)
	if err != nil {
		return "", usageError(fmt.Sprintf("%s %s: %v", flagName, path, err))
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s, nil
	}
	return "", usageError(fmt.Sprintf("%s %s is empty", flagName, path))
}

// notifier builds the way invitations are sent; nil when none is set.
func (f portalFlags) notifier(logger *slog.Logger, demo bool) (notify.Notifier, error) {
	by := *f.notifyBy
	if by == "" && demo {
		by = "log"
	}
	switch by {
	case "":
		return nil, nil
	case "log":
		logger.Warn("DEVELOPMENT SETTING: invitation links are written to this log, not sent; whoever reads the log can use them (--notify smtp or govuk-notify sends them)")
		return notify.Log{Logger: logger}, nil
	case "smtp":
		if *f.smtpAddr == "" || *f.smtpFrom == "" {
			return nil, usageError("--notify smtp needs --smtp-addr and --smtp-from")
		}
		s := notify.SMTP{Addr: *f.smtpAddr, From: *f.smtpFrom, Username: *f.smtpUser, AllowPlain: *f.smtpAllowPlain}
		if *f.smtpPasswordFile != "" {
			pw, err := readSecretFile("--smtp-password-file", *f.smtpPasswordFile)
			if err != nil {
				return nil, err
			}
			s.Password = pw
		}
		return s, nil
	case "govuk-notify":
		if *f.notifyKeyFile == "" || *f.notifyTemplate == "" {
			return nil, usageError("--notify govuk-notify needs --notify-api-key-file and --notify-template-id")
		}
		key, err := readSecretFile("--notify-api-key-file", *f.notifyKeyFile)
		if err != nil {
			return nil, err
		}
		return notify.GOVUKNotify{APIKey: key, TemplateID: *f.notifyTemplate}, nil
	}
	return nil, usageError(fmt.Sprintf("--notify: %q is not smtp, govuk-notify or log", by))
}

// documents builds the document store, sealing with sealer; nil when no
// way to check documents for viruses is given (none are then taken).
func (f portalFlags) documents(sealer documents.Sealer, defaultDir string, demo bool, logger *slog.Logger) (*documents.Store, error) {
	var scanner documents.Scanner
	switch {
	case *f.scanCommand != "":
		scanner = documents.CommandScanner{Command: strings.Fields(*f.scanCommand)}
	case *f.noScan || demo:
		logger.Warn("DEVELOPMENT SETTING: documents are taken without a virus scan (--virus-scan-command scans them)")
		scanner = documents.NoScan{}
	default:
		// Fail closed: no document is taken unchecked unless asked for.
		logger.Warn("documents are not taken: give --virus-scan-command (such as \"clamdscan --no-summary -\") to check them, or --no-virus-scan to take them unchecked")
		return nil, nil
	}
	at := *f.documentsAt
	if at == "" {
		at = defaultDir
	}
	var blobs documents.Blobs
	if bucket, prefix, ok := s3URL(at); ok {
		client, err := f.s3.client("--documents s3://...")
		if err != nil {
			return nil, err
		}
		if blobs, err = docs3.New(client, bucket, prefix); err != nil {
			return nil, fmt.Errorf("--documents: %w", err)
		}
	} else {
		dir, err := documents.NewDir(at)
		if err != nil {
			return nil, fmt.Errorf("--documents: %w", err)
		}
		blobs = dir
	}
	if sealer == nil {
		return nil, errors.New("serve: documents need the key store, to seal them")
	}
	return documents.New(documents.Config{Blobs: blobs, Sealer: sealer, Scanner: scanner})
}
