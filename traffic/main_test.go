package traffic

import (
	"fmt"
	"os"
	"testing"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// env is the control plane the envtest cases share; TestMain starts it.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
	}
	os.Exit(code)
}
