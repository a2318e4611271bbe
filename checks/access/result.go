package access

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is what an access table value asks for (access(5) ACCEPT ACTIONS,
// REJECT ACTIONS and OTHER ACTIONS). The zero Kind is KindDunno.
type Kind int

const (
	KindDunno         Kind = iota // DUNNO: as if not found; the next restriction decides
	KindOK                        // OK, RELAY, or an all-numerical value: permit
	KindReject                    // REJECT [text], or "4NN text" / "5NN text": reject with Code
	KindDefer                     // DEFER [text]: reject with access_map_defer_code (450)
	KindDeferIfReject             // DEFER_IF_REJECT [text]: a later reject becomes a 450
	KindDeferIfPermit             // DEFER_IF_PERMIT [text]: a later permit becomes a 450
	KindWarn                      // WARN [text]: log, then as DUNNO
	KindInfo                      // INFO [text]: log, then as DUNNO
	KindHold                      // HOLD [text]: put the message on hold (quarantine), then as DUNNO
	KindDiscard                   // DISCARD [text]: accept and discard the message; ends the restrictions like OK
	KindPrepend                   // PREPEND header: text: add the header, then as DUNNO
	KindFilter                    // FILTER transport:destination (not supported here; Postfix then acts as DUNNO)
	KindRedirect                  // REDIRECT user@domain (not supported here; Postfix then acts as DUNNO)
	KindBCC                       // BCC user@domain (not supported here; Postfix then acts as DUNNO)
	KindHangup                    // HANGUP [text]: Postfix's unsupported test feature, drop the connection
	KindRestriction               // restriction or restriction class names, in Words
	KindConfigError               // a value Postfix refuses: reply 451 4.3.5 Server configuration error
)

var kindNames = [...]string{
	"DUNNO", "OK", "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT", "WARN", "INFO", "HOLD",
	"DISCARD", "PREPEND", "FILTER", "REDIRECT", "BCC", "HANGUP", "restriction", "configuration error",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Unsupported reports whether mxguard cannot carry out k (FILTER,
// REDIRECT, BCC, HANGUP). They are harmless to skip: Postfix itself treats
// the first three as DUNNO for the restriction's result.
func (k Kind) Unsupported() bool {
	return k == KindFilter || k == KindRedirect || k == KindBCC || k == KindHangup
}

// Result is a parsed access table value.
type Result struct {
	Kind Kind
	// Code is the SMTP reply code for KindReject (the explicit 4NN/5NN, or
	// access_map_reject_code), KindDefer, KindDeferIfReject and
	// KindDeferIfPermit (access_map_defer_code).
	Code int
	// Enhanced is the RFC 3463 status code given at the start of the text,
	// or the default: 5.7.1 for REJECT, 4.7.1 for the DEFER kinds, N.7.1 for
	// an explicit NNN code. Reply adjusts it as Postfix does.
	Enhanced string
	// Text is the text after the action word, code and enhanced status
	// code: the reply text, log text, header, filter or address. It may be
	// empty.
	Text string
	// Words are the restriction or restriction class names of
	// KindRestriction, split at commas and whitespace ({...} kept whole).
	Words []string
	// Value is the value as found in the table.
	Value string
}

// Reply classes, the second argument of Result.Reply (smtpd_check.h).
const (
	ClassClient        = "Client host"
	ClassReverseClient = "Unverified Client host"
	ClassHelo          = "Helo command"
	ClassSender        = "Sender address"
	ClassRecipient     = "Recipient address"
	ClassETRN          = "Etrn command"
	ClassData          = "Data command"
	ClassEOD           = "End-of-data"
)

// ParseResult parses an access table value with Postfix's default codes;
// see Options.ParseResult.
func ParseResult(value string) (Result, error) { return Options{}.ParseResult(value) }

// ParseResult parses an access table value the way check_table_result
// does, testing in its order: DUNNO, REJECT, DEFER, HANGUP, INFO, WARN,
// FILTER, HOLD, DISCARD, REDIRECT, BCC, DEFER_IF_PERMIT, DEFER_IF_REJECT,
// PREPEND, an all-numerical value (OK; so a bare "550" permits), "4NN text"
// or "5NN text", OK and RELAY, and otherwise restriction names. Action words
// are case-insensitive; the action word ends at a space or tab.
//
// A Result is always returned. When Postfix would log a warning (FILTER
// without transport:destination, REDIRECT or BCC without an @, PREPEND
// without a header, a value that names a lookup table) the error wraps
// ErrResult and the Result is what Postfix then does: KindDunno, or
// KindConfigError for a lookup table name.
func (o Options) ParseResult(value string) (Result, error) {
	r := Result{Value: value}
	cmdLen := strings.IndexAny(value, " \t")
	if cmdLen < 0 {
		cmdLen = len(value)
	}
	cmd := value[:cmdLen]
	text := trimLeftSpace(value[cmdLen:])
	is := func(word string) bool { return asciiEqualFold(cmd, word) }
	bad := func(format string, args ...any) (Result, error) {
		return Result{Kind: KindDunno, Value: value}, &Error{Msg: fmt.Sprintf(format, args...), Err: ErrResult}
	}
	rejectCode, deferCode := o.RejectCode, o.DeferCode
	if rejectCode == 0 {
		rejectCode = 554
	}
	if deferCode == 0 {
		deferCode = 450
	}
	switch {
	case is("DUNNO"):
		r.Kind = KindDunno
	case is("REJECT"):
		r.Kind, r.Code = KindReject, rejectCode
		r.Enhanced, r.Text = DSNSplit("5.7.1", text)
	case is("DEFER"):
		r.Kind, r.Code = KindDefer, deferCode
		r.Enhanced, r.Text = DSNSplit("4.7.1", text)
	case is("HANGUP"):
		r.Kind, r.Text = KindHangup, text
	case is("INFO"):
		r.Kind, r.Text = KindInfo, text
	case is("WARN"):
		r.Kind, r.Text = KindWarn, text
	case is("FILTER"):
		if text == "" {
			return bad("access table entry %q has FILTER entry without value", value)
		}
		if !strings.Contains(text, ":") {
			return bad("access table entry %q requires transport:destination", value)
		}
		r.Kind, r.Text = KindFilter, text
	case is("HOLD"):
		r.Kind, r.Text = KindHold, text
	case is("DISCARD"):
		r.Kind, r.Text = KindDiscard, text
	case is("REDIRECT"), is("BCC"):
		if !strings.Contains(text, "@") {
			return bad("access table entry %q requires user@domain target", value)
		}
		r.Kind, r.Text = KindRedirect, text
		if is("BCC") {
			r.Kind = KindBCC
		}
	case is("DEFER_IF_PERMIT"), is("DEFER_IF_REJECT"):
		r.Kind, r.Code = KindDeferIfPermit, deferCode
		if is("DEFER_IF_REJECT") {
			r.Kind = KindDeferIfReject
		}
		r.Enhanced, r.Text = DSNSplit("4.7.1", text)
	case is("PREPEND"):
		if !isHeader(text) {
			return bad("access table entry %q requires header: text", value)
		}
		r.Kind, r.Text = KindPrepend, text
	case allDigits(value):
		// "An all-numerical result is treated as OK" (access(5)); also the
		// empty value, which once meant OK.
		r.Kind = KindOK
	case cmdLen == 3 && text != "" && (value[0] == '4' || value[0] == '5') && isDigit(value[1]) && isDigit(value[2]):
		r.Kind = KindReject
		r.Code, _ = strconv.Atoi(cmd)
		r.Enhanced, r.Text = DSNSplit(value[:1]+".7.1", text)
	case is("OK"), is("RELAY"):
		r.Kind = KindOK
	case strings.Contains(value, ":"):
		r.Kind = KindConfigError
		return r, &Error{Msg: fmt.Sprintf("access table has entry with lookup table: %q", value),
			Hint: "do not specify lookup tables inside access maps; define a restriction class and specify its name instead", Err: ErrResult}
	default:
		words, err := splitQuoted(value, ", \t\r\n")
		if err != nil {
			r.Kind = KindConfigError
			return r, &Error{Msg: fmt.Sprintf("access table entry %q: %v", value, err), Err: ErrResult}
		}
		if len(words) == 0 {
			r.Kind = KindOK // Postfix warns "has empty value" and permits
			return r, nil
		}
		r.Kind, r.Words = KindRestriction, words
	}
	return r, nil
}

// Reply formats the SMTP reply Postfix sends for r (smtpd_check_reject):
// for example 554, "5.7.1", "<unknown[192.0.2.1]>: Client host rejected:
// Access denied". replyName is what was checked (the client "name[addr]",
// the HELO name, the sender or recipient address; "" for the null sender)
// and replyClass one of the Class constants.
//
// The text is the table's text, or "Access denied" (REJECT, DEFER, 4NN,
// 5NN) or "Service unavailable" (DEFER_IF_REJECT, DEFER_IF_PERMIT). The
// enhanced status code is adjusted as Postfix does: an address status
// (X.1.Y) is mapped to its sender or recipient form, or to X.0.0 for a
// non-address class (smtpd_dsn_fix), and its class digit is set to the
// reply code's ("550 4.7.1 text" is sent as 550 5.7.1). The line is cut at
// 510 bytes and non-printable characters become spaces.
//
// Kinds without a reply (OK, DUNNO, WARN, ...) return 0, "", "".
func (r Result) Reply(replyName, replyClass string) (code int, enhanced, text string) {
	var defText, defDSN string
	switch r.Kind {
	case KindReject:
		defText, defDSN = "Access denied", "5.7.1"
		if r.Code >= 400 && r.Code < 500 {
			defDSN = "4.7.1"
		}
	case KindDefer:
		defText, defDSN = "Access denied", "4.7.1"
	case KindDeferIfReject, KindDeferIfPermit:
		defText, defDSN = "Service unavailable", "4.7.1"
	case KindConfigError:
		return 451, "4.3.5", "Server configuration error"
	default:
		return 0, "", ""
	}
	code = r.Code
	enhanced = r.Enhanced
	if enhanced == "" {
		enhanced = defDSN
	}
	enhanced = DSNFix(enhanced, replyClass)
	text = r.Text
	if text == "" {
		text = defText
	}
	text = fmt.Sprintf("<%s>: %s rejected: %s", replyName, replyClass, text)
	if code < 400 || code > 599 || dsnValid(enhanced) != len(enhanced) {
		// "SMTP reply code configuration error" / "DSN detail code
		// configuration error": Postfix sends a generic reply instead.
		code, enhanced, text = 450, "4.7.1", "Service unavailable"
	}
	prefix := len(strconv.Itoa(code)) + 1 + len(enhanced) + 1
	if prefix+len(text) > 510 {
		text = text[:max(0, 510-prefix)]
	}
	text = Printable(text)
	enhanced = strconv.Itoa(code)[:1] + enhanced[1:]
	return code, enhanced, text
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// allDigits is Postfix's alldig: true for "" too.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// dsnValid is dsn_valid: the length of the RFC 3463 status code at the
// start of s ("[245].d{1,3}.d{1,3}" followed by the end or whitespace), or
// 0.
func dsnValid(s string) int {
	if len(s) < 2 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	n := digitRun(s[i:])
	if n < 1 || n > 3 || i+n >= len(s) || s[i+n] != '.' {
		return 0
	}
	i += n + 1
	n = digitRun(s[i:])
	if n < 1 || n > 3 || (i+n < len(s) && !isSpace(s[i+n])) {
		return 0
	}
	return i + n
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// DSNSplit is dsn_split: an optional status code at the start of text,
// else def, and the rest of the text.
func DSNSplit(def, text string) (string, string) {
	t := trimLeftSpace(text)
	if n := dsnValid(t); n > 0 {
		return t[:n], trimLeftSpace(t[n:])
	}
	return def, t
}

type dsnPair struct{ sender, rcpt string }

// dsnMap is smtpd_dsn_fix.c's table: the last digit of an address status
// to the sender and the recipient status.
var dsnMap = map[string]dsnPair{
	"1": {"4.1.7", "4.1.1"},
	"2": {"4.1.8", "4.1.2"},
	"3": {"4.1.7", "4.1.3"},
	"4": {"4.1.7", "4.1.4"},
	"5": {"4.1.0", "4.1.5"},
	"6": {"4.1.7", "4.1.6"},
	"7": {"4.1.7", "4.1.3"},
	"8": {"4.1.8", "4.1.2"},
}

// DSNFix is smtpd_dsn_fix: an address status X.1.Y is turned into the
// sender or recipient status for the class being rejected, or 4.0.0 for a
// non-address class. The first digit is fixed later by Reply.
func DSNFix(status, class string) string {
	if len(status) < 4 || !isDigit(status[0]) || status[1:4] != ".1." {
		return status
	}
	p, ok := dsnMap[status[4:]]
	if !ok {
		p = dsnPair{"4.1.0", "4.1.0"}
	}
	switch class {
	case ClassSender:
		return p.sender
	case ClassRecipient:
		return p.rcpt
	}
	return "4.0.0"
}

// isHeader is is_header: a header name (printable ASCII other than ':'),
// optional spaces or tabs, then ':'.
func isHeader(s string) bool {
	i := 0
	for i < len(s) && s[i] > ' ' && s[i] < 0x7f && s[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i < len(s) && s[i] == ':'
}

// Printable replaces what Postfix's Printable() replaces with a space: a
// byte that is neither printable ASCII nor part of valid UTF-8.
func Printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f {
			b.WriteByte(' ')
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
