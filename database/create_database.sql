-- otp-login schema for people who run SQL by hand (MySQL 8 / MariaDB 10.5+).
-- It creates the same tables as the `migration` crate (a test compares the two), so a
-- database made here can later be managed by `otp-login migrate` without changes.
--
--   mysql -h HOST -u USER -p < database/create_database.sql
--
-- The database is named `user_id`, as the old service's script named it; set DB_NAME=user_id
-- (or DATABASE_URL=mysql://USER:PASS@HOST:3306/user_id) for the service.

CREATE DATABASE IF NOT EXISTS user_id CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE user_id;

CREATE TABLE IF NOT EXISTS users (
  id INT NOT NULL AUTO_INCREMENT,
  -- Compared byte for byte: the service stores addresses lower-case, domains in Punycode.
  username VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  -- An argon2id PHC string. Make one with: echo 'the password' | otp-login hash-password
  password VARCHAR(255) NOT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- Wrong codes in a row, across codes; at OTP_LOCK_AFTER sign-in by code is locked.
  failed_codes INT NOT NULL DEFAULT 0,
  -- The stable opaque id tokens carry as `sub` (32 hex); the service fills it at the first
  -- sign-in of a row written by hand.
  public_id VARCHAR(32) NULL DEFAULT NULL,
  -- Set by the first code that proves the mailbox (a sign-in or a reset).
  email_verified_at DATETIME NULL DEFAULT NULL,
  -- The last sign-in by code: when, and from which client address.
  last_sign_in_at DATETIME NULL DEFAULT NULL,
  last_sign_in_from VARCHAR(64) NULL DEFAULT NULL,
  -- Set by `otp-login users disable`: no sign-in, and every token refused, until enabled.
  disabled_at DATETIME NULL DEFAULT NULL,
  -- For an account registered through /register: removed at this time unless a code proved
  -- the address by then. None for rows written by hand, which never lapse.
  lapses_at DATETIME NULL DEFAULT NULL,
  -- The language of the account's mail (en, de, es, fr); none reads as English.
  language VARCHAR(8) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY username (username),
  UNIQUE KEY idx_users_public_id (public_id),
  KEY idx_users_lapses_at (lapses_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- The latest code of each user for each purpose (sign_in, password_reset), as an HMAC-SHA-256
-- (never the code itself).
CREATE TABLE IF NOT EXISTS one_time_codes (
  id INT NOT NULL AUTO_INCREMENT,
  user_id INT NOT NULL,
  purpose VARCHAR(16) NOT NULL DEFAULT 'sign_in',
  code_hash VARCHAR(64) NOT NULL,
  expires_at DATETIME NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  consumed_at DATETIME NULL DEFAULT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- SHA-256 of the challenge the request that asked was answered with, and the client address
  -- that asked: a guess with neither never touches the code.
  challenge_hash VARCHAR(64) NULL DEFAULT NULL,
  issued_to VARCHAR(64) NULL DEFAULT NULL,
  -- SHA-256 of the secret in a reset mail's link.
  link_hash VARCHAR(64) NULL DEFAULT NULL,
  -- The address a change-of-address code went to: the new username once the code comes back.
  new_username VARCHAR(254) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY user_purpose (user_id, purpose),
  CONSTRAINT fk_one_time_codes_owner FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Signed-in sessions: a token names its row, and a revoked or expired row refuses the token;
-- client_address and user_agent say where it was opened, for the owner's list.
CREATE TABLE IF NOT EXISTS sessions (
  id VARCHAR(32) NOT NULL,
  user_id INT NOT NULL,
  created_at DATETIME NOT NULL,
  last_seen_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  revoked_at DATETIME NULL DEFAULT NULL,
  client_address VARCHAR(64) NULL DEFAULT NULL,
  user_agent VARCHAR(255) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY idx_sessions_user (user_id),
  KEY idx_sessions_expires (expires_at),
  KEY idx_sessions_revoked (revoked_at),
  CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Refresh tokens, stored only as the SHA-256 of the secret: a refresh spends its row and adds
-- the next (parent_hash names the one it replaced); they go with their session.
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash VARCHAR(64) NOT NULL,
  session_id VARCHAR(32) NOT NULL,
  parent_hash VARCHAR(64) NULL DEFAULT NULL,
  issued_at DATETIME NOT NULL,
  spent_at DATETIME NULL DEFAULT NULL,
  PRIMARY KEY (token_hash),
  KEY idx_refresh_tokens_session (session_id),
  KEY idx_refresh_tokens_parent (parent_hash),
  KEY idx_refresh_tokens_issued (issued_at),
  CONSTRAINT fk_refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- What happened to each account, for its owner's activity list: one row per security event,
-- with where it came from; pruned after ACTIVITY_RETENTION_DAYS.
CREATE TABLE IF NOT EXISTS account_events (
  id BIGINT NOT NULL AUTO_INCREMENT,
  user_id INT NOT NULL,
  at DATETIME NOT NULL,
  kind VARCHAR(32) NOT NULL,
  client_address VARCHAR(64) NULL DEFAULT NULL,
  user_agent VARCHAR(255) NULL DEFAULT NULL,
  session_id VARCHAR(32) NULL DEFAULT NULL,
  detail VARCHAR(32) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY idx_account_events_user (user_id, id),
  KEY idx_account_events_at (at),
  CONSTRAINT fk_account_events_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Addresses mail cannot reach, as SES reported them (a permanent bounce, or a complaint): no
-- mail goes there until `otp-login users clear-mail` clears the address.
CREATE TABLE IF NOT EXISTS mail_suppressions (
  address VARCHAR(254) NOT NULL,
  -- bounce or complaint
  kind VARCHAR(16) NOT NULL,
  reason VARCHAR(255) NULL DEFAULT NULL,
  since DATETIME NOT NULL,
  PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- The RSA keys that sign access tokens, shared by every instance: the public half as JWK
-- components, the private half sealed with AES-256-GCM under a key derived from JWT_SECRET.
-- The service makes the first one itself; `otp-login keys rotate` makes the others.
CREATE TABLE IF NOT EXISTS signing_keys (
  kid VARCHAR(32) NOT NULL,
  -- standby (published, not signing), active (signing) or retired (published until retire_after)
  state VARCHAR(16) NOT NULL,
  -- 1 on the active key, NULL elsewhere: the unique key allows one active key only.
  active_slot INT NULL DEFAULT NULL,
  jwk_n VARCHAR(1024) NOT NULL,
  jwk_e VARCHAR(16) NOT NULL,
  sealed_private_key TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  activated_at DATETIME NULL DEFAULT NULL,
  retired_at DATETIME NULL DEFAULT NULL,
  retire_after DATETIME NULL DEFAULT NULL,
  PRIMARY KEY (kid),
  UNIQUE KEY idx_signing_keys_active (active_slot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Rate limits, shared by every instance: one row per (limit, key) holding a GCRA "theoretical
-- arrival time" in milliseconds, and the wrong-password back-off per (username, address).
CREATE TABLE IF NOT EXISTS rate_limits (
  bucket VARCHAR(64) NOT NULL,
  subject VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  tat_ms BIGINT NOT NULL,
  PRIMARY KEY (bucket, subject),
  KEY idx_rate_limits_tat (tat_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS password_attempts (
  username VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  address VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  failures INT NOT NULL DEFAULT 0,
  open_at_ms BIGINT NOT NULL DEFAULT 0,
  signed_in_ms BIGINT NULL DEFAULT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (username, address),
  KEY idx_password_attempts_updated (updated_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Demo users (passwords in docs/database.md). Codes go to these addresses, so register a real
-- address of yours to receive one.
INSERT IGNORE INTO users (username, password) VALUES
  ('student@example.com', '$argon2id$v=19$m=19456,t=2,p=1$ETQCUTfRoF0Jo78ngrOgrQ$Z0qb683hMelwpYHyIUC8TbpQQr+syuhUbtpf0rc910M'),
  ('admin@example.com',   '$argon2id$v=19$m=19456,t=2,p=1$13IVKol2hxoFpo7nuzqapw$ubF3qK/GrD4XbSsVTorxA+GetY2x3pgjILAS/lUuBug'),
  ('test@example.com',    '$argon2id$v=19$m=19456,t=2,p=1$mBIOjm34cNm9WMo+joysWQ$uOMFbpyB8jwFjl2SIezkGwog5ZRX9o2NstgifzLn0Zg'),
  ('user@example.com',    '$argon2id$v=19$m=19456,t=2,p=1$DUwfh2J4ArcB8otWcco0PQ$+iHcSacJr7d/CTkTjvVWoN6wPjOw7w4oySgJgqK0TAA');
