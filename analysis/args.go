package analysis

import (
	"fmt"
	"strings"
)

// maxArgBytes is the longest argument value a template's query is given.
const maxArgBytes = 1024

// argChars are the characters an argument value may hold besides letters
// and digits: enough for names, durations, numbers, paths and label
// regexes (5..|4.., api-.*), none that ends or escapes a PromQL string, a
// range, a selector or a call.
const argChars = "_.:/=~|*+^$%@,-"

// ValidateArgValue refuses an argument value that could change the shape
// of the query it is written into rather than be a value inside it: a
// quote, backslash or backtick (which would end or escape a PromQL string),
// a parenthesis, bracket or brace (which would end a call, a range or a
// selector), white space (which would start another operand), or more
// than 1 KiB. Arguments are inserted as text and never parsed as a
// template, so the checks of the query template itself still hold; this
// keeps a Rollout that uses a shared template from rewriting the query
// its owner wrote.
func ValidateArgValue(value string) error {
	if len(value) > maxArgBytes {
		return fmt.Errorf("is %d bytes, more than the %d allowed", len(value), maxArgBytes)
	}
	for _, r := range value {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case r < 0x80 && strings.ContainsRune(argChars, r):
		default:
			return fmt.Errorf("may not contain %q: a value is letters, digits and %s only, so that it cannot end the string, range, selector or call it is written into", r, argChars)
		}
	}
	return nil
}
