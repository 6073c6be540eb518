// Package migrations holds the project's numbered SQL migrations (goose
// format), embedded so every binary carries them. River's own tables are
// migrated by rivermigrate in the same step (see postgres.Migrate).
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
