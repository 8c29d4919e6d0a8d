-- Job secrets, sealed (AES-256-GCM envelopes by name, apps/api/src/secrets/secret-box.ts): opened only
-- when a lease is granted, never part of `spec` (which holds the names only) nor of any answer.
ALTER TABLE jobs ADD COLUMN secrets jsonb;
