package charttest

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	clientfeatures "k8s.io/client-go/features"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// The control plane is started by the first test that needs one, so that
// `go test -run TestLint` does not wait for it.
var (
	envOnce sync.Once
	env     *testenv.Env
	prom    *testenv.FakeProm
	envErr  error
)

// cluster returns the shared envtest control plane (kube-apiserver and etcd
// with the Rollout and Gateway API CRDs) and the scripted Prometheus.
func cluster(t testing.TB) *testenv.Env {
	t.Helper()
	envOnce.Do(func() {
		env, envErr = testenv.Start()
		if envErr == nil {
			prom = testenv.StartFakeProm()
		}
	})
	if envErr != nil {
		t.Fatalf("envtest: %v", envErr)
	}
	return env
}

// gates lets a test turn client-go's streaming watch list off, so that
// informers list then watch as they do against API servers without it.
type gates struct {
	base clientfeatures.Gates
	off  atomic.Bool
}

func (g *gates) Enabled(f clientfeatures.Feature) bool {
	if f == clientfeatures.WatchListClient && g.off.Load() {
		return false
	}
	return g.base.Enabled(f)
}

var watchListGate = &gates{base: clientfeatures.FeatureGates()}

func TestMain(m *testing.M) {
	clientfeatures.ReplaceFeatureGates(watchListGate)
	level := zapcore.Level(3) // quiet: stopped managers log cancelled requests as errors
	if os.Getenv("RAMP_TEST_VERBOSE") != "" {
		level = -1
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(level)))
	code := m.Run()
	if prom != nil {
		prom.Close()
	}
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}
	os.Exit(code)
}
