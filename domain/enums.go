package domain

import (
	"reflect"
	"strings"
)

// A command's data declares the values a field may take in its `enum` tag,
// once: the decision function checks them with checkEnums and the API's
// schema of the command lists them (Enum), so the two cannot differ.

// checkEnums checks every field of the struct d points to that has an enum
// tag: a string field must hold one of its values, and each element of a
// []string field must. An empty string is missing.
func checkEnums(d any) error {
	v := reflect.ValueOf(d).Elem()
	return checkEnumFields(v)
}

func checkEnumFields(v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := checkEnumFields(v.Field(i)); err != nil {
				return err
			}
			continue
		}
		allowed := Enum(f)
		if allowed == nil {
			continue
		}
		name := jsonName(f)
		switch fv := v.Field(i); fv.Kind() {
		case reflect.String:
			if fv.String() == "" && optional(f) {
				continue
			}
			if err := oneOf(name, fv.String(), allowed...); err != nil {
				return err
			}
		case reflect.Slice:
			for j := 0; j < fv.Len(); j++ {
				if err := oneOf(name, fv.Index(j).String(), allowed...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Enum returns the values a data field's enum tag allows, nil when it has
// none.
func Enum(f reflect.StructField) []string {
	tag, ok := f.Tag.Lookup("enum")
	if !ok {
		return nil
	}
	return strings.Split(tag, ",")
}

// enumOf returns the values field (by JSON name) of data type T allows.
func enumOf[T any](field string) []string {
	t := reflect.TypeFor[T]()
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == field {
			return Enum(t.Field(i))
		}
	}
	return nil
}

// optional reports whether a field may be left out: one whose JSON tag
// says omitempty. An enum field without it is required.
func optional(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return strings.Contains(","+opts+",", ",omitempty,")
}

// jsonName is a field's name in JSON.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
