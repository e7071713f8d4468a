package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/controllers"
	"github.com/ramp-dev/ramp/internal/plan"
)

// Checks of a Prometheus that hangs hold at most their share of the pool:
// with more hanging Rollouts than slots, another Prometheus's checks still
// run at once (the hanging ones would hold their slots for a minute).
func TestCheckPoolSharesSlotsByPrometheus(t *testing.T) {
	t.Parallel()
	pool := controllers.NewCheckPool(8)
	ro := func(name string) *v1.Rollout {
		return &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "pool", Name: name}}
	}
	hang := func(ctx context.Context) []plan.Check {
		<-ctx.Done()
		return []plan.Check{{Metric: "m", Phase: v1.CheckError}}
	}
	for i := range 20 {
		pool.Start(ro(fmt.Sprint("hang", i)), "k", "http://hanging", time.Minute, time.Now, hang)
	}
	time.Sleep(300 * time.Millisecond) // the hanging checks take every slot they may
	pool.Start(ro("fine"), "k", "http://fine", time.Minute, time.Now, func(context.Context) []plan.Check {
		return []plan.Check{{Metric: "m", Phase: v1.CheckPassed}}
	})
	select {
	case e := <-pool.Events():
		if e.Object.GetName() != "fine" {
			t.Fatalf("first finished: %s", e.Object.GetName())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the healthy Prometheus's check did not run while another hangs")
	}
	checks, _, ok, _ := pool.Take(types.NamespacedName{Namespace: "pool", Name: "fine"}, "k")
	if !ok || len(checks) != 1 || checks[0].Phase != v1.CheckPassed {
		t.Fatalf("take: %v %+v", ok, checks)
	}
	for i := range 20 {
		pool.Forget(types.NamespacedName{Namespace: "pool", Name: fmt.Sprint("hang", i)})
	}
}
