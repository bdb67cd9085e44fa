-- Race-free credentials and refresh rotation.
--
-- `credential_generation` goes up when a user's password changes or all
-- their sessions end; a session works only while it is of its user's current
-- generation, so a login that read the old credentials cannot leave a
-- working session behind. `refresh_key` is a session's secret from which
-- each refresh token's one successor is derived, so concurrent retries of
-- one exchange continue one chain. Sessions from before this migration have
-- no key: their refresh tokens are refused (their access tokens keep
-- working until they expire), and the client logs in again.

ALTER TABLE users ADD COLUMN credential_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credential_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refresh_key TEXT NOT NULL DEFAULT '';
