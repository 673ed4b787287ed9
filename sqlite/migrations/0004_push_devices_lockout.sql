-- radmfa schema 4: push devices, lockout, push choices.

-- A push device has no secret: it is an address (an ntfy topic, a phone
-- number) on a notifier. TOTP/HOTP devices leave both empty.
ALTER TABLE devices ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN notifier TEXT NOT NULL DEFAULT '';

-- Lockout: consecutive failures and, once locked, until when.
ALTER TABLE users ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;

-- The numbers a "choose" push offers (the right one is number_shown),
-- fixed when the push is created so reloading the page reveals nothing.
ALTER TABLE pushes ADD COLUMN choices TEXT NOT NULL DEFAULT '';
-- Who approved or denied, when it was not the page (the JSON API).
ALTER TABLE pushes ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';

-- A challenge may stand for a push (the challenge flow and its fallback).
ALTER TABLE challenges ADD COLUMN push_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pushes ADD COLUMN front_door TEXT NOT NULL DEFAULT '';
