package v1alpha1

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// ApprovalKey is the annotation key of user's approval.
func ApprovalKey(user string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return fmt.Sprintf("%s%08x", ApprovalAnnotationPrefix, h.Sum32())
}

// ApprovalValue is the annotation value of user's approval of the gate at
// step of revision.
func ApprovalValue(revision string, step int32, user string) string {
	return fmt.Sprintf("%s/%d/%s", revision, step, user)
}

// ParseApproval reads an approval annotation value.
func ParseApproval(value string) (revision string, step int32, user string, err error) {
	parts := strings.SplitN(value, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", 0, "", fmt.Errorf("approval %q: want <revision>/<step>/<user>", value)
	}
	n, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return "", 0, "", fmt.Errorf("approval %q: step: %w", value, err)
	}
	return parts[0], int32(n), parts[2], nil
}
