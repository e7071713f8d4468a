package loadgen

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestGenRecordsVersionsAndCodes(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprintln(w, "v9")
	}))
	defer srv.Close()
	start := time.Now()
	g := Start(srv.URL, 200)
	time.Sleep(300 * time.Millisecond)
	res := g.Stop()
	tally := Count(res, start, time.Now())
	if tally.Total < 20 || tally.Versions["v9"] != tally.Total {
		t.Fatalf("tally %+v: want ≥ 20 requests all answered by v9", tally)
	}
	if tally.Failed == 0 || tally.Codes[500] != tally.Failed {
		t.Errorf("tally %+v: want the 500s counted as failed", tally)
	}
	if s := tally.Share("v9"); s != 100 {
		t.Errorf("share %v, want 100", s)
	}
}
