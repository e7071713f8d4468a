package traffic

import (
	"os"
	"testing"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// env is the control plane the envtest cases share; TestMain starts it.
var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, func(e *testenv.Env) { env = e }))
}
