package metrics

import (
	"math"
	"strconv"
)

// parseValue reads a check value as Prometheus wrote it ("0.002", "+Inf",
// "NaN"); NaN and empty values have no gauge.
func parseValue(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
