package audit

import (
	"os"
	"testing"

	"github.com/portmap-toolkit/pmap/internal/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }
