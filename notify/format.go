package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Formats a webhook may ask for.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
	FormatTeams = "teams"
)

// Render returns the body of m in format: json, slack or teams.
func Render(format string, m Message) ([]byte, error) {
	if m.Checks == nil {
		m.Checks = []Check{}
	}
	m.Schema = Schema
	var v any
	switch format {
	case FormatJSON, "":
		v = m
	case FormatSlack:
		v = slack(m)
	case FormatTeams:
		v = teams(m)
	default:
		return nil, fmt.Errorf("unknown notification format %q", format)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a body is no HTML page: "0.4 > max 0.01" stays as written
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Title is one line naming the moment and the Rollout.
func Title(m Message) string {
	ro := m.Rollout.Namespace + "/" + m.Rollout.Name
	switch m.Moment {
	case "RolloutStarted":
		return fmt.Sprintf("Rollout started: %s rolls out %s", ro, m.Revision)
	case "AwaitingApproval":
		return fmt.Sprintf("Awaiting approval: %s at step %d/%d (%d%%)", ro, m.Step, m.Steps, m.Weight)
	case "DeployWindow":
		return fmt.Sprintf("Held by a deploy window: %s", ro)
	case "RolledBack":
		return fmt.Sprintf("Rolled back: %s %s", ro, m.Revision)
	case "Promoted":
		return fmt.Sprintf("Promoted: %s %s is stable", ro, m.Revision)
	case "Failed":
		return fmt.Sprintf("Failed: %s cannot be acted on", ro)
	}
	return m.Moment + ": " + ro
}

// Why says why, when known: the failed checks of a rollback with their
// values and bounds, or the reason; the title otherwise.
func Why(m Message) string {
	if failed := m.Failed(); len(failed) > 0 && m.Moment == "RolledBack" {
		parts := make([]string, len(failed))
		for i, c := range failed {
			parts[i] = checkLine(c)
		}
		return strings.Join(parts, "; ")
	}
	if m.Reason != "" {
		return m.Reason
	}
	return Title(m)
}

// Summary is the title and, when known, why.
func Summary(m Message) string {
	if w := Why(m); w != Title(m) {
		return Title(m) + ": " + w
	}
	return Title(m)
}

func checkLine(c Check) string {
	s := c.Name + " = " + c.Value
	if c.Value == "" {
		s = c.Name + " " + c.Phase
	}
	if b := c.Bound(); b != "" {
		s += " (" + b + ")"
	}
	return s
}

// facts are the name/value pairs both chat formats show.
func facts(m Message) [][2]string {
	out := [][2]string{{"Rollout", m.Rollout.Namespace + "/" + m.Rollout.Name}}
	if m.Revision != "" {
		out = append(out, [2]string{"Revision", m.Revision})
	}
	if m.StableRevision != "" && m.StableRevision != m.Revision {
		out = append(out, [2]string{"Stable", m.StableRevision})
	}
	if m.Steps > 0 {
		out = append(out, [2]string{"Step", fmt.Sprintf("%d/%d", m.Step, m.Steps)})
	}
	out = append(out, [2]string{"Weight", fmt.Sprintf("%d%%", m.Weight)})
	for _, c := range m.Checks {
		if len(out) >= 10 { // Slack's limit of fields per section
			break
		}
		v := c.Value
		if b := c.Bound(); b != "" {
			v += " (" + b + ")"
		}
		out = append(out, [2]string{c.Name, strings.TrimSpace(v + " " + c.Phase)})
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
