package manager

import (
	"sigs.k8s.io/controller-runtime/pkg/config"
)

func ctrlConfig(skipNameValidation bool) config.Controller {
	c := config.Controller{}
	if skipNameValidation {
		c.SkipNameValidation = &skipNameValidation
	}
	return c
}
