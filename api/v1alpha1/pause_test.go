package v1alpha1

import "testing"

func TestPauseValue(t *testing.T) {
	for v, want := range map[string][2]bool{
		"true": {true, true}, "True": {true, true}, "TRUE": {true, true}, "yes": {true, true}, "on": {true, true}, "1": {true, true}, " true ": {true, true},
		"false": {false, true}, "False": {false, true}, "no": {false, true}, "0": {false, true}, "": {false, true},
		"maybe": {false, false}, "2": {false, false}, "pause": {false, false},
	} {
		if p, u := PauseValue(v); p != want[0] || u != want[1] {
			t.Errorf("PauseValue(%q) = %v, %v; want %v, %v", v, p, u, want[0], want[1])
		}
	}
}
