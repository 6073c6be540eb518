// Package e2e holds end-to-end scenarios over real servers: Postgres,
// versitygw, the API, workers, the CDN, localfly and data planes, talking
// real HTTP.
package e2e

import (
	"testing"

	"github.com/switchboardhq/switchboard/blob/blobtest"
)

func TestMain(m *testing.M) { blobtest.Main(m) }
