-- A user's sessions mark (agora_core::storage::SessionsMark).
--
-- `session_epoch` goes up, in the same transaction, with every write that
-- ends one of the user's sessions before its expiry (a logout, the end of
-- every session, a password change or reset). A server that found a session
-- active at one epoch trusts it while the epoch reads the same, reading the
-- user's row by its key instead of the session's: ending a session by hand
-- must bump it too (`UPDATE users SET session_epoch = session_epoch + 1`).

ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
