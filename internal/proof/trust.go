package proof

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Trusted keeps the records that count for reqs: those of a required
// environment in a namespace the requirement lists, or, when it lists none,
// in a namespace whose own environment (namespaceEnv: its
// ramp.dev/environment label, else its name) is that environment. ignored
// says which records claiming a required environment were left out, ""
// when none was.
func Trusted(reqs []v1.PromotionRequirement, records []v1.Verification, namespaceEnv func(namespace string) string) (kept []v1.Verification, ignored string) {
	var left []string
	for i := range records {
		r := &records[i]
		idx := slices.IndexFunc(reqs, func(q v1.PromotionRequirement) bool { return q.Environment == r.Spec.Environment })
		if idx < 0 {
			continue
		}
		req := reqs[idx]
		ok := slices.Contains(req.Namespaces, r.Namespace)
		if len(req.Namespaces) == 0 {
			ok = namespaceEnv(r.Namespace) == req.Environment
		}
		if ok {
			kept = append(kept, *r)
		} else {
			left = append(left, r.Namespace)
		}
	}
	if len(left) == 0 {
		return kept, ""
	}
	sort.Strings(left)
	left = slices.Compact(left)
	return kept, fmt.Sprintf("records claiming a required environment in namespace(s) %s were ignored: not that environment's namespace (label it %s, or list it in promotion.requires[].namespaces)",
		strings.Join(left, ", "), v1.LabelEnvironment)
}
