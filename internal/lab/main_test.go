package lab

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: Close waits for the servers, and
// clients close their idle connections.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
