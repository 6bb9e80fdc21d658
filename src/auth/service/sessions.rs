//! Sessions after sign-in: opening one with its first refresh token, renewing it by refresh
//! token, the session a bearer token names, and signing out of one or all.
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;

use super::{allowed, AuthError, AuthService, Origin};
use crate::auth::activity::EventKind;
use crate::auth::{Language, RefreshToken, SessionToken};
use crate::store::refresh_tokens::{self, RefreshRecord};
use crate::store::sessions::{OpenedBy, SessionRow};
use crate::store::users::{self, UserRecord};
use crate::store::{self, sessions};

/// One session opened in this many also deletes a bounded batch of dead session rows and of
/// idle refresh tokens.
const PRUNE_ONE_IN: u32 = 20;
const PRUNE_BATCH: u32 = 100;

/// What a sign-in or a refresh hands the client: an access token, and the refresh token that
/// renews it once, with how long that stays usable.
pub struct SessionGrant {
    /// The session's id, as the owner's list of sessions names it.
    pub session_id: String,
    pub access: SessionToken,
    pub refresh: RefreshToken,
    pub refresh_expires_in: Duration,
}

/// The signed-in session a valid bearer token belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i32,
    pub username: String,
    pub id: String,
    /// What the owner sees of their account at `GET /me`.
    pub profile: Profile,
}

/// The account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The stable public id: the `sub` of the user's tokens, unchanged by a new address.
    pub user_id: String,
    /// When the account was made; this and the times below are to the second.
    pub created_at: DateTime<Utc>,
    /// When a code first proved the mailbox; none until then (accounts from before the
    /// column existed have none until their next sign-in).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The last sign-in by code and the client address it came from.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_from: Option<String>,
    /// The language of the account's mail.
    pub language: Language,
}

/// The most sessions a list shows (a user with more sees the most recently used).
const MAX_LISTED_SESSIONS: u64 = 100;

/// One live session in its owner's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub row: SessionRow,
    /// The session the list was asked from.
    pub current: bool,
}

/// Which sessions a sign-out ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutScope {
    Current,
    All,
}

impl AuthService {
    /// A session row for the user, its first refresh token, and an access token naming it.
    pub(super) async fn open_session(
        &self,
        user: &UserRecord,
        opened_by: &OpenedBy<'_>,
    ) -> Result<SessionGrant, AuthError> {
        if rand::random_range(0..PRUNE_ONE_IN) == 0 {
            sessions::prune(&self.db, PRUNE_BATCH).await?;
            let idle = chrono::Duration::from_std(self.tokens.policy().refresh.idle)
                .map_err(anyhow::Error::new)?;
            refresh_tokens::prune(&self.db, idle, PRUNE_BATCH).await?;
        }
        let id = hex::encode(rand::rng().random::<[u8; 16]>());
        let policy = self.tokens.policy().refresh;
        let now = store::now();
        let ends = now + policy.max_age;
        let subject = self.subject(user.id, user.public_id.as_deref()).await?;
        let refresh = RefreshToken::generate();
        sessions::open(&self.db, &id, user.id, ends, &refresh.digest(), opened_by).await?;
        Ok(SessionGrant {
            access: self
                .tokens
                .issue(&subject, &user.username, &id, ends)
                .await?,
            session_id: id,
            refresh,
            refresh_expires_in: policy.lifetime(now, ends),
        })
    }

    /// Spends a refresh token for a new access token and the next refresh token. A spent token
    /// presented again ends its session, unless it was spent within the grace window and is the
    /// parent of the session's live token (two tabs refreshing at once).
    pub async fn refresh(
        &self,
        client: &str,
        presented: &RefreshToken,
    ) -> Result<SessionGrant, AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        let policy = self.tokens.policy().refresh;
        let hash = presented.digest();
        let now = store::now();
        let record = refresh_tokens::find(&self.db, &hash)
            .await?
            .filter(|record| {
                record.session_live(now) && !policy.idle_expired(record.issued_at, now)
            })
            .ok_or_else(|| refused(client, "unknown, idle or its session ended"))?;
        if record.user_disabled_at.is_some() {
            return Err(refused(client, "account disabled"));
        }
        // Everything that can fail comes before the token is spent, so a failure leaves it
        // usable.
        sessions::seen_at(&self.db, &record.session_id, record.session_last_seen_at).await?;
        let subject = self
            .subject(record.user_id, record.public_id.as_deref())
            .await?;
        let ends = record.session_expires_at;
        let access = self
            .tokens
            .issue(&subject, &record.username, &record.session_id, ends)
            .await?;
        let next = RefreshToken::generate();
        let rotated = record.spent_at.is_none()
            && refresh_tokens::rotate(&self.db, &hash, &record.session_id, &next.digest()).await?;
        if !rotated {
            // Spent before, or a moment ago by a racing refresh of the same token.
            let spent_at = record.spent_at.unwrap_or(now);
            if policy.within_grace(spent_at, now)
                && !refresh_tokens::has_spent_child(&self.db, &hash).await?
            {
                refresh_tokens::issue(&self.db, &next.digest(), &record.session_id, Some(&hash))
                    .await?;
            } else {
                return Err(self.reused(client, &record).await?);
            }
        }
        tracing::info!(
            event = "token_refreshed",
            client,
            user_id = record.user_id,
            "refreshed"
        );
        Ok(SessionGrant {
            session_id: record.session_id,
            access,
            refresh: next,
            refresh_expires_in: policy.lifetime(now, ends),
        })
    }

    /// The `sub` of the user's tokens: their public id, given one first if a row written by
    /// hand has none.
    async fn subject(&self, user_id: i32, public_id: Option<&str>) -> Result<String, AuthError> {
        Ok(match public_id {
            Some(public_id) => public_id.to_owned(),
            None => users::ensure_public_id(&self.db, user_id).await?,
        })
    }

    /// A spent refresh token came back: someone holds a copy. Ends its session.
    async fn reused(&self, client: &str, record: &RefreshRecord) -> Result<AuthError, AuthError> {
        let ended = sessions::revoke(&self.db, record.user_id, &record.session_id).await?;
        let origin = Origin {
            client,
            device: None,
            session: Some(&record.session_id),
        };
        self.record(record.user_id, EventKind::RefreshTokenReused, origin, None)
            .await;
        tracing::warn!(
            event = "refresh_token_reused",
            client,
            user_id = record.user_id,
            ended,
            "a spent refresh token was presented again; its session is ended"
        );
        Ok(AuthError::InvalidSession)
    }

    /// The session a bearer token belongs to, while the token is valid, its session neither
    /// revoked nor expired, and its user still there.
    pub async fn session(&self, token: &str) -> Result<Session, AuthError> {
        let claims = self
            .tokens
            .verify(token)
            .await
            .map_err(|_| AuthError::InvalidSession)?;
        let live = sessions::find_live(&self.db, &claims.session_id)
            .await?
            .filter(|live| live.public_id.as_deref() == Some(claims.subject.as_str()))
            .ok_or(AuthError::InvalidSession)?;
        if live.user_disabled {
            tracing::info!(
                event = "disabled_refused",
                user_id = live.session.user_id,
                "bearer token of a disabled account"
            );
            return Err(AuthError::InvalidSession);
        }
        sessions::seen(&self.db, &live.session).await?;
        Ok(Session {
            user_id: live.session.user_id,
            username: live.username,
            id: live.session.id,
            // To the second, as every column keeps them (some keep a fraction, some not).
            profile: Profile {
                user_id: claims.subject,
                created_at: live.user_created_at.trunc_subsecs(0),
                email_verified_at: live.email_verified_at.map(|at| at.trunc_subsecs(0)),
                last_sign_in_at: live.last_sign_in_at.map(|at| at.trunc_subsecs(0)),
                last_sign_in_from: live.last_sign_in_from,
                language: live.language,
            },
        })
    }

    /// Sets the language of the signed-in user's mail.
    pub async fn set_language(
        &self,
        session: &Session,
        language: Language,
    ) -> Result<(), AuthError> {
        if !users::set_language(&self.db, session.user_id, language).await? {
            return Err(AuthError::InvalidSession);
        }
        Ok(())
    }

    /// The live sessions of the signed-in user, the most recently seen first, this one
    /// marked.
    pub async fn list_sessions(&self, session: &Session) -> Result<Vec<SessionView>, AuthError> {
        let rows = sessions::live_for_user(&self.db, session.user_id, MAX_LISTED_SESSIONS).await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionView {
                current: row.id == session.id,
                row,
            })
            .collect())
    }

    /// Ends one live session of the signed-in user, named by its id; someone else's session
    /// or an id that names none answers as unknown.
    pub async fn end_session(
        &self,
        client: &str,
        session: &Session,
        id: &str,
    ) -> Result<(), AuthError> {
        let well_formed =
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed || !sessions::revoke(&self.db, session.user_id, id).await? {
            return Err(AuthError::UnknownSession);
        }
        let scope = if id == session.id { "current" } else { "one" };
        tracing::info!(
            event = "signed_out",
            client,
            user_id = session.user_id,
            scope,
            "signed out"
        );
        let origin = Origin::session(client, session);
        self.record(session.user_id, EventKind::SignedOut, origin, Some(scope))
            .await;
        Ok(())
    }

    /// Ends this session, or every session of its user. Answers how many ended.
    pub async fn sign_out(
        &self,
        client: &str,
        session: &Session,
        scope: SignOutScope,
    ) -> Result<u64, AuthError> {
        let ended = match scope {
            SignOutScope::Current => {
                u64::from(sessions::revoke(&self.db, session.user_id, &session.id).await?)
            }
            SignOutScope::All => sessions::revoke_all(&self.db, session.user_id, None).await?,
        };
        let detail = match scope {
            SignOutScope::Current => "current",
            SignOutScope::All => "all",
        };
        let origin = Origin::session(client, session);
        self.record(session.user_id, EventKind::SignedOut, origin, Some(detail))
            .await;
        tracing::info!(
            event = "signed_out",
            client,
            user_id = session.user_id,
            scope = ?scope,
            ended,
            "signed out"
        );
        Ok(ended)
    }
}

/// A refresh token that renews nothing: the same answer as a bad access token.
fn refused(client: &str, why: &'static str) -> AuthError {
    tracing::info!(event = "refresh_refused", client, why, "refresh refused");
    AuthError::InvalidSession
}
