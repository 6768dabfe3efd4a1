package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

// A step's form is generated from its command's data type in the catalog,
// as the OpenAPI schema is: a command added to the table gets its form
// without touching this package. Two optional tags of a data field shape
// it: hint (what the field takes, in words) and form:"line" (a one-line
// text, such as a name, rather than a paragraph). Each field of the data becomes an input
// named by its JSON path (dots between levels, a row number for a list of
// records), and the posted form is turned back into the JSON the API would
// take, so the page and the API share one command path.

// The kinds of input a field is shown as.
const (
	kindDate       = "date"
	kindText       = "text"
	kindTextarea   = "textarea"
	kindSelect     = "select"
	kindCheckbox   = "checkbox"
	kindYesNo      = "yesno"
	kindNumber     = "number"
	kindCheckboxes = "checkboxes"
	kindLines      = "lines"
)

// listRows is how many rows a form offers for a list of records (the
// settings of a tailored list); empty rows are left out.
const listRows = 4

// formField is one input of a step's form.
type formField struct {
	// Name is the input's name: the field's JSON path.
	Name string
	// Label is the field's name in words; Hint says what it takes.
	Label, Hint string
	Kind        string
	Options     []string
	// Value is what the input holds (the last post, when shown again);
	// Checked the options ticked, for checkboxes.
	Value   string
	Checked map[string]bool
	Error   string
}

// ID is the input's HTML id, which the error summary links to.
func (f formField) ID() string { return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(f.Name) }

// FocusID is the id the error summary links to: the input's own, or for a
// group of radios or checkboxes the first of them, as the GOV.UK error
// summary does, so that following the link puts the cursor in the group.
func (f formField) FocusID() string {
	switch {
	case f.Kind == kindDate:
		return f.ID() + "-day"
	case f.Kind == kindYesNo:
		return f.ID() + "-yes"
	case f.Kind == kindCheckboxes && len(f.Options) > 0:
		return f.ID() + "-0"
	}
	return f.ID()
}

// path is a field's JSON path: its names, and for a list of records the
// list's name and the row's place.
type path []string

// stepFields lists the inputs of a command's data, in the data type's
// order; ok is false when the data holds what a form cannot take (raw JSON:
// the data of another step, which a correction carries).
func stepFields(spec *domain.CommandSpec) (fields []formField, ok bool) {
	if spec.Data == nil {
		return nil, true
	}
	ok = true
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		jsonFields(t, func(name string, f reflect.StructField) {
			ft := f.Type
			field := formField{Name: prefix + name, Label: label(name), Options: domain.Enum(f)}
			if l := rowLabel(field.Name); l != "" {
				field.Label = l
			}
			switch {
			case ft == dateType:
				field.Kind = kindDate
			case ft == textType && f.Tag.Get("form") == "line":
				field.Kind = kindText
			case ft == textType:
				field.Kind = kindTextarea
			case ft == rawType:
				ok = false
				return
			case ft.Kind() == reflect.String && field.Options != nil:
				field.Kind = kindSelect
			case ft.Kind() == reflect.String:
				field.Kind = kindText
			case ft.Kind() == reflect.Bool:
				field.Kind = kindCheckbox
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool:
				field.Kind = kindYesNo
			case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64:
				field.Kind, field.Hint = kindNumber, "a whole number"
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && field.Options != nil:
				field.Kind = kindCheckboxes
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
				field.Kind, field.Hint = kindLines, "one on each line"
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				for row := 0; row < listRows; row++ {
					walk(ft.Elem(), prefix+name+"."+strconv.Itoa(row)+".")
				}
				return
			case ft.Kind() == reflect.Struct:
				walk(ft, prefix+name+".")
				return
			default:
				ok = false
				return
			}
			if hint := f.Tag.Get("hint"); hint != "" {
				field.Hint = hint
			}
			if l := f.Tag.Get("label"); l != "" {
				field.Label = l
			}
			fields = append(fields, field)
		})
	}
	walk(reflect.TypeOf(spec.Data), "")
	return fields, ok
}

var (
	textType = reflect.TypeFor[domain.Text]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// label turns a JSON name into words: "birth_date" is "Birth date".
func label(name string) string {
	words := strings.ReplaceAll(name, "_", " ")
	if words == "" {
		return ""
	}
	return strings.ToUpper(words[:1]) + words[1:]
}

// rowLabel names an input of a list's row for people: "settings.0.id" is
// "Settings 1: id"; "" for an input outside a list.
func rowLabel(name string) string {
	parts := strings.Split(name, ".")
	for i := 1; i+1 < len(parts); i++ {
		if n, err := strconv.Atoi(parts[i]); err == nil {
			return label(strings.Join(parts[:i], " ")) + " " + strconv.Itoa(n+1) + ": " + strings.ReplaceAll(strings.Join(parts[i+1:], " "), "_", " ")
		}
	}
	return ""
}

// fillFields sets the fields' values from a posted form.
func fillFields(fields []formField, form url.Values) {
	for i := range fields {
		f := &fields[i]
		if f.Kind == kindCheckboxes {
			f.Checked = map[string]bool{}
			for _, v := range form["data."+f.Name] {
				f.Checked[v] = true
			}
			continue
		}
		if f.Kind == kindDate {
			f.Value = formDate(form, "data."+f.Name)
			continue
		}
		f.Value = form.Get("data." + f.Name)
	}
}

// A date is asked for as the GOV.UK date input pattern does: day, month
// and year in three boxes of digits (NAME-day, NAME-month, NAME-year),
// which every browser and screen reader handles alike, rather than the
// browser's own date picker. What was typed goes back into the boxes when
// the form is shown again.

// dateInput is one date's three boxes, as the "date" template shows them.
type dateInput struct {
	// ID is the group's HTML id (its boxes' are ID-day, ID-month and
	// ID-year); Name the date's form name.
	ID, Name, Label, Hint, Error string
	Day, Month, Year             string
}

// newDateInput shows value, a date as formDate made it, in its boxes.
func newDateInput(id, name, label, hint, errMsg, value string) dateInput {
	in := dateInput{ID: id, Name: name, Label: label, Hint: hint, Error: errMsg}
	if d, err := domain.ParseDate(value); err == nil {
		y, m, day := d.YMD()
		in.Day, in.Month, in.Year = strconv.Itoa(day), strconv.Itoa(int(m)), strconv.Itoa(y)
	} else if parts := strings.SplitN(value, "-", 3); len(parts) == 3 {
		in.Year, in.Month, in.Day = parts[0], parts[1], parts[2]
	}
	return in
}

// formDate is the date a form's three boxes for name hold, as YYYY-MM-DD
// (or, when they hold no real date, what was typed in that shape, which
// the date's check then refuses); "" when all three are empty. A form sent
// by a program may give the date whole, as name.
func formDate(form url.Values, name string) string {
	day, month, year := strings.TrimSpace(form.Get(name+"-day")), strings.TrimSpace(form.Get(name+"-month")), strings.TrimSpace(form.Get(name+"-year"))
	if day == "" && month == "" && year == "" {
		return strings.TrimSpace(form.Get(name))
	}
	if dayOrMonth.MatchString(day) && dayOrMonth.MatchString(month) && fourDigits.MatchString(year) {
		d, _ := strconv.Atoi(day)
		m, _ := strconv.Atoi(month)
		return fmt.Sprintf("%s-%02d-%02d", year, m, d)
	}
	// Not a date: kept as typed, less any dash, which would move a box's
	// value into another when the form is shown again.
	strip := func(s string) string { return strings.ReplaceAll(s, "-", "") }
	return strip(year) + "-" + strip(month) + "-" + strip(day)
}

// dayOrMonth and fourDigits are what a date's boxes hold: digits only, so
// that a sign or a space never passes for a number.
var (
	dayOrMonth = regexp.MustCompile(`^[0-9]{1,2}$`)
	fourDigits = regexp.MustCompile(`^[0-9]{4}$`)
)

// realDate is the message for boxes that hold no real date.
const realDate = "must be a real date: day, month and year, such as 3 10 2026"

// formData turns the fields' values into the command's data as JSON: an
// empty input is left out, so the command says what is missing as the API
// would. A value of the wrong shape (a number that is not one) is an error
// naming the field.
func formData(fields []formField) (json.RawMessage, error) {
	root := map[string]any{}
	for _, f := range fields {
		var v any
		switch f.Kind {
		case kindCheckbox:
			if f.Value == "" {
				continue
			}
			v = true
		case kindYesNo:
			switch f.Value {
			case "yes":
				v = true
			case "no":
				v = false
			default:
				continue
			}
		case kindDate:
			if f.Value == "" {
				continue
			}
			if _, err := domain.ParseDate(f.Value); err != nil {
				return nil, domain.FieldErrorf("data."+f.Name, realDate)
			}
			v = f.Value
		case kindNumber:
			if strings.TrimSpace(f.Value) == "" {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(f.Value), 10, 64)
			if err != nil {
				return nil, domain.FieldErrorf("data."+f.Name, "must be a whole number, such as 3")
			}
			v = n
		case kindCheckboxes:
			if len(f.Checked) == 0 {
				continue
			}
			var list []string
			for _, o := range f.Options {
				if f.Checked[o] {
					list = append(list, o)
				}
			}
			v = list
		case kindLines:
			var list []string
			for _, line := range strings.Split(f.Value, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					list = append(list, line)
				}
			}
			if len(list) == 0 {
				continue
			}
			v = list
		default:
			if strings.TrimSpace(f.Value) == "" {
				continue
			}
			v = strings.TrimSpace(f.Value)
		}
		setPath(root, strings.Split(f.Name, "."), v)
	}
	return json.Marshal(lists(root))
}

// setPath sets a value at a dotted path of nested objects.
func setPath(m map[string]any, p path, v any) {
	for _, k := range p[:len(p)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[p[len(p)-1]] = v
}

// lists turns objects keyed by row numbers into lists, in row order.
func lists(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	rows := true
	keys := make([]string, 0, len(m))
	for k, x := range m {
		m[k] = lists(x)
		if _, err := strconv.Atoi(k); err != nil {
			rows = false
		}
		keys = append(keys, k)
	}
	if !rows || len(m) == 0 {
		return m
	}
	sort.Slice(keys, func(i, j int) bool { a, _ := strconv.Atoi(keys[i]); b, _ := strconv.Atoi(keys[j]); return a < b })
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
