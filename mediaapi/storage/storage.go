// Package storage holds the mediaapi's state: the metadata of every media ID in the
// component's database (SQLite or Postgres, this file), of its thumbnails (thumbnails.go)
// and the cached URL previews (previews.go), and the files themselves on disk, stored once
// per content under their SHA-256 (files.go).
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the migrations are recorded under.
const component = "mediaapi"

// migrations are the schema versions; each statement is valid on SQLite and Postgres.
var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE mediaapi_media (
	origin       TEXT NOT NULL,
	media_id     TEXT NOT NULL,
	content_type TEXT NOT NULL DEFAULT '',
	file_name    TEXT NOT NULL DEFAULT '',
	file_size    BIGINT NOT NULL DEFAULT 0,
	sha256       TEXT NOT NULL DEFAULT '',
	uploader     TEXT NOT NULL,
	created_ts   BIGINT NOT NULL,
	uploaded_ts  BIGINT NOT NULL DEFAULT 0,
	expires_ts   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (origin, media_id)
);
CREATE INDEX mediaapi_media_pending ON mediaapi_media (uploader, uploaded_ts, expires_ts);
CREATE INDEX mediaapi_media_sha256 ON mediaapi_media (sha256)`},
	// Thumbnails (thumbnails.go) and URL previews (previews.go).
	{Version: 2, SQL: `
CREATE TABLE mediaapi_thumbnails (
	origin       TEXT NOT NULL,
	media_id     TEXT NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	method       TEXT NOT NULL,
	content_type TEXT NOT NULL,
	file_size    BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	actual_width  INTEGER NOT NULL,
	actual_height INTEGER NOT NULL,
	created_ts   BIGINT NOT NULL,
	PRIMARY KEY (origin, media_id, width, height, method)
);
CREATE INDEX mediaapi_thumbnails_sha256 ON mediaapi_thumbnails (sha256);
CREATE TABLE mediaapi_url_previews (
	url        TEXT NOT NULL PRIMARY KEY,
	og         TEXT NOT NULL,
	fetched_ts BIGINT NOT NULL,
	expires_ts BIGINT NOT NULL
)`},
	// The per-user quota and the bound of the remote media cache (usage.go).
	{Version: 3, SQL: `
ALTER TABLE mediaapi_media ADD COLUMN last_access_ts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX mediaapi_media_origin ON mediaapi_media (origin, uploaded_ts)`},
}

// Media is the metadata of one media ID. A media ID created for an asynchronous upload
// (POST /_matrix/media/v1/create) has no content yet: UploadedTS is 0 and SHA256 empty
// until the PUT that fills it.
type Media struct {
	Origin      string // the server name of the mxc:// URI
	MediaID     string
	ContentType string
	FileName    string
	Size        int64
	SHA256      string // lower-case hex of the content's SHA-256: the file's name on disk
	Uploader    string // user ID
	CreatedTS   int64  // ms since the epoch
	UploadedTS  int64  // ms since the epoch; 0 while pending
	ExpiresTS   int64  // pending only: when the ID stops waiting for its upload (ms)
}

// Pending says whether the media ID still waits for its content.
func (m *Media) Pending() bool { return m.UploadedTS == 0 }

// Errors of the write methods.
var (
	// ErrTooManyPending: the user already holds the maximum of pending media IDs.
	ErrTooManyPending = errors.New("storage: too many pending media IDs")
	// ErrNotPending: CompleteUpload found the ID no longer waiting for this uploader's
	// content (filled by another request meanwhile, expired, or not theirs).
	ErrNotPending = errors.New("storage: media ID is not pending")
	// ErrExists: the media ID is taken.
	ErrExists = errors.New("storage: media ID exists")
)

// Database is the mediaapi's metadata database.
type Database struct {
	DB *sqlutil.DB
}

// Open migrates db to the newest mediaapi schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{DB: db}, nil
}

// InsertMedia records media whose content is stored (a direct upload). A taken media ID
// is ErrExists.
func (d *Database) InsertMedia(ctx context.Context, m *Media) error {
	var n int
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mediaapi_media WHERE origin = $1 AND media_id = $2`,
			m.Origin, m.MediaID).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mediaapi_media
			(origin, media_id, content_type, file_name, file_size, sha256, uploader, created_ts, uploaded_ts, expires_ts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)`,
			m.Origin, m.MediaID, m.ContentType, m.FileName, m.Size, m.SHA256, m.Uploader, m.CreatedTS, m.UploadedTS)
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: inserting media: %w", err)
	}
	if n > 0 {
		return ErrExists
	}
	return nil
}

// CreatePending records a media ID without content for uploader, waiting until expiresTS,
// unless uploader already holds maxPending IDs that are pending and unexpired at nowTS
// (ErrTooManyPending). On Postgres two concurrent creations by one user may both pass the
// count; the bound is for abuse, not exact.
func (d *Database) CreatePending(ctx context.Context, origin, mediaID, uploader string, nowTS, expiresTS int64, maxPending int) error {
	var n int
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mediaapi_media
			WHERE uploader = $1 AND uploaded_ts = 0 AND expires_ts > $2`, uploader, nowTS).Scan(&n); err != nil {
			return err
		}
		if n >= maxPending {
			return ErrTooManyPending
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mediaapi_media (origin, media_id, uploader, created_ts, expires_ts)
			VALUES ($1, $2, $3, $4, $5)`, origin, mediaID, uploader, nowTS, expiresTS)
		return err
	})
	if errors.Is(err, ErrTooManyPending) {
		return err
	}
	if err != nil {
		return fmt.Errorf("storage: creating media ID: %w", err)
	}
	return nil
}

// CompleteUpload fills the pending media ID (origin, m.MediaID) of m.Uploader with m's
// content fields, if it is still pending and unexpired at m.UploadedTS; otherwise
// ErrNotPending (a concurrent PUT won, or the ID expired meanwhile).
func (d *Database) CompleteUpload(ctx context.Context, m *Media) error {
	res, err := d.DB.ExecContext(ctx, `UPDATE mediaapi_media
		SET content_type = $1, file_name = $2, file_size = $3, sha256 = $4, uploaded_ts = $5
		WHERE origin = $6 AND media_id = $7 AND uploader = $8 AND uploaded_ts = 0 AND expires_ts > $5`,
		m.ContentType, m.FileName, m.Size, m.SHA256, m.UploadedTS, m.Origin, m.MediaID, m.Uploader)
	if err != nil {
		return fmt.Errorf("storage: completing upload: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("storage: completing upload: %w", err)
	}
	if n != 1 {
		return ErrNotPending
	}
	return nil
}

// GetMedia returns the metadata of (origin, mediaID), or nil when there is none.
func (d *Database) GetMedia(ctx context.Context, origin, mediaID string) (*Media, error) {
	m := &Media{Origin: origin, MediaID: mediaID}
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT content_type, file_name, file_size, sha256, uploader,
		created_ts, uploaded_ts, expires_ts FROM mediaapi_media WHERE origin = $1 AND media_id = $2`, origin, mediaID).
		Scan(&m.ContentType, &m.FileName, &m.Size, &m.SHA256, &m.Uploader, &m.CreatedTS, &m.UploadedTS, &m.ExpiresTS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading media: %w", err)
	}
	return m, nil
}
