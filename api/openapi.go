package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
)

// The OpenAPI document is the checked-in openapi.json (the routes and their
// shapes) completed from the domain's command table: the commands each
// route takes, who may send each, and a schema of each command's data,
// generated from its data type. A command added to the table is documented
// without touching this package.

// openAPIDocument returns the served document, built once.
var openAPIDocument = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, err
	}
	schemas := dig(doc, "components", "schemas")
	var commands []any
	caseNames, laNames := []any{}, []any{}
	var openers []any
	for _, spec := range domain.Commands() {
		entry := map[string]any{"name": spec.Name, "scope": string(spec.Scope), "summary": spec.Summary,
			"senders": spec.Senders, "emits": spec.Emits}
		if spec.Data != nil {
			name := "Data_" + spec.Name
			s := typeSchema(reflect.TypeOf(spec.Data))
			if spec.Example != "" {
				var ex any
				if err := json.Unmarshal([]byte(spec.Example), &ex); err == nil {
					s["example"] = ex
				}
			}
			s["description"] = spec.Summary
			schemas[name] = s
			entry["data"] = map[string]any{"$ref": "#/components/schemas/" + name}
		}
		commands = append(commands, entry)
		switch {
		case spec.Opens:
			openers = append(openers, map[string]any{"$ref": "#/components/schemas/Data_" + spec.Name})
		case spec.Scope == domain.ScopeLA:
			laNames = append(laNames, spec.Name)
		default:
			caseNames = append(caseNames, spec.Name)
		}
	}
	doc["x-commands"] = commands
	setCommandEnum(doc, "/v1/cases/{id}/commands/{command}", caseNames)
	setCommandEnum(doc, "/v1/las/{la}/commands/{command}", laNames)
	if open := dig(schemas, "OpenCase", "properties"); open != nil {
		open["data"] = map[string]any{"oneOf": openers,
			"description": "The opening's data: receive_request's, or become_responsible's with \"opening\": \"become_responsible\"."}
	}
	return json.MarshalIndent(doc, "", " ")
})

// setCommandEnum lists, on a route's {command} parameter, the commands it
// takes.
func setCommandEnum(doc map[string]any, path string, names []any) {
	post := dig(doc, "paths", path, "post")
	params, _ := post["parameters"].([]any)
	for _, p := range params {
		if m, ok := p.(map[string]any); ok && m["name"] == "command" {
			m["schema"] = map[string]any{"type": "string", "enum": names}
		}
	}
}

// dig returns the object at a path of keys, nil when absent.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

var dateType = reflect.TypeFor[domain.Date]()

// typeSchema returns a JSON schema of a command's data type: its fields by
// JSON name, with their types, dates as formatted strings, and the values an
// enum tag allows.
func typeSchema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == dateType:
		return map[string]any{"type": "string", "format": "date"}
	case t == reflect.TypeFor[json.RawMessage]():
		return map[string]any{"description": "JSON data of the step's own command"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props)
		return map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	}
	return map[string]any{}
}

// jsonFields calls visit with each field of struct type t that JSON
// encodes, by its JSON name, embedded structs' fields flat, in order: what
// the schema and the forms are generated from.
func jsonFields(t reflect.Type, visit func(name string, f reflect.StructField)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, visit)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		visit(name, f)
	}
}

// addFields adds a struct's JSON fields to props, embedded structs' flat.
func addFields(t reflect.Type, props map[string]any) {
	jsonFields(t, func(name string, f reflect.StructField) {
		s := typeSchema(f.Type)
		if enum := domain.Enum(f); enum != nil {
			if s["type"] == "array" {
				s["items"] = map[string]any{"type": "string", "enum": enum}
			} else {
				s["enum"] = enum
			}
		}
		props[name] = s
	})
}
