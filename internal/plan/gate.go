package plan

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// gate reports whether a step's manual gate is open, and what it waits for.
func (m *machine) gate(step v1.Step) (open bool, waits string) {
	switch {
	case step.Pause == nil:
		return true, ""
	case step.Pause.Approvals > 0:
		n := int32(len(m.st.Approvals))
		users := make([]string, 0, n)
		for _, a := range m.st.Approvals {
			users = append(users, a.User)
		}
		waits = fmt.Sprintf("%d approvals (%d so far", step.Pause.Approvals, n)
		if n > 0 {
			waits += ": " + strings.Join(users, ", ")
		}
		return n >= step.Pause.Approvals, waits + ")"
	default:
		waits = v1.AnnotationPromote
		if v, ok := m.obs.Annotations[v1.AnnotationPromote]; ok && m.st.Controls != nil && orEmptyValue(v) == m.st.Controls.Promote {
			// Setting the same value again changes nothing: say so.
			waits += fmt.Sprintf(" (its value %q was spent already: set a new one, as kubectl ramp promote does)", v)
		}
		return m.st.GatePassed, waits
	}
}

// collectApprovals records the distinct approvers of the current step of
// the canary revision, read from the approval annotations.
func (m *machine) collectApprovals() {
	var users []string
	for k, val := range m.obs.Annotations {
		if !strings.HasPrefix(k, v1.ApprovalAnnotationPrefix) {
			continue
		}
		rev, step, user, err := v1.ParseApproval(val)
		if err != nil || rev != m.st.CanaryRevision || step != m.st.CurrentStep || k != v1.ApprovalKey(user) {
			continue
		}
		users = append(users, user)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	seen := map[string]*metav1.Time{}
	for _, a := range m.st.Approvals {
		seen[a.User] = a.At
	}
	out := make([]v1.Approval, 0, len(users))
	for _, u := range users {
		at, ok := seen[u]
		if !ok {
			now := m.now()
			at = &now
			m.event(false, "Approved", "%s approved step %d of %s", u, m.st.CurrentStep, m.st.CanaryRevision)
		}
		out = append(out, v1.Approval{User: u, At: at})
	}
	if len(out) == 0 {
		out = nil
	}
	m.st.Approvals = out
}
