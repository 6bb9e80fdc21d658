//! The two-step sign-in: register, log in with the password (which mails a code), and verify
//! the code (which opens a session); with the code steps the password reset shares.
use super::SessionGrant;
use super::{allowed, disabled, limited_event, AuthError, AuthService, Origin, PasswordFor};
use crate::auth::activity::EventKind;
use crate::auth::limits::CheckedBy;
use crate::auth::{device, Language, ResetToken};
use crate::auth::{Challenge, CodePurpose, Email, LoginPassword, NewPassword, OneTimeCode};
use crate::mail::{About, CodeMessage, Notice};
use crate::store::codes::{Binding, LiveCode};
use crate::store::sessions::OpenedBy;
use crate::store::users::{self, UserRecord};
use crate::store::{self, accounts, codes, events};

/// An account to create.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Email,
    pub password: NewPassword,
    /// The language of the account's mail, from the request's `Accept-Language`.
    pub language: Language,
}

/// A username and the password offered for it, the first step of signing in.
#[derive(Debug)]
pub struct LoginAttempt {
    pub username: Email,
    pub password: LoginPassword,
}

/// A username and the code offered for it, the second step of signing in, with the challenge
/// the first step answered (a client of the old contract sends none).
#[derive(Debug)]
pub struct CodeAttempt {
    pub username: Email,
    pub code: OneTimeCode,
    pub challenge: Option<Challenge>,
}

/// One registration in this many also removes a bounded batch of lapsed unproven ones.
const PRUNE_ONE_IN: u32 = 20;
const PRUNE_BATCH: u64 = 100;

impl AuthService {
    pub async fn register(&self, client: &str, account: &NewAccount) -> Result<(), AuthError> {
        let NewAccount {
            username,
            password,
            language,
        } = account;
        allowed(self.limiter.hit_from_address(client).await)?;
        // One registration in this many first removes a bounded batch of registrations whose
        // time ran out unproven: inside the request (nothing runs after the answer on Lambda),
        // and before anything of this one is written, so a failure leaves no account behind
        // a refusal.
        if rand::random_range(0..PRUNE_ONE_IN) == 0 {
            self.prune_unproven().await?;
        }
        // The unique constraint decides a taken name, with no look first: the look would cost
        // every new account a round trip to spare a duplicate its hash, and a duplicate costs
        // no more than the new account the per-address limit already bounds.
        let hash = self.passwords.hash(password).await?;
        let lapse = self.unproven_lapse;
        match users::insert(&self.db, username.as_ref(), &hash, lapse, *language).await {
            Ok(id) => {
                tracing::info!(
                    event = "registered",
                    client,
                    user_id = id,
                    "user registered"
                );
                self.record(id, EventKind::Registered, Origin::client(client), None)
                    .await;
                Ok(())
            }
            Err(users::InsertUserError::UsernameTaken) => Err(AuthError::UsernameTaken),
            Err(users::InsertUserError::Store(err)) => Err(err.into()),
        }
    }

    /// Removes a batch of registrations whose time ran out while no code proved their address.
    pub async fn prune_unproven(&self) -> Result<u64, AuthError> {
        let removed = accounts::prune_unproven(&self.db, store::now(), PRUNE_BATCH).await?;
        if removed > 0 {
            tracing::info!(
                event = "unproven_lapsed",
                removed,
                "removed registrations no code proved in time"
            );
        }
        Ok(removed)
    }

    /// Checks the password and mails a fresh code, which replaces any earlier one. Answers the
    /// challenge that code works with; every answer after a right password carries one.
    pub async fn login(
        &self,
        client: &str,
        user_agent: Option<&str>,
        attempt: &LoginAttempt,
    ) -> Result<Challenge, AuthError> {
        let LoginAttempt { username, password } = attempt;
        // The per-address limit is taken with the password try.
        let claimed = users::find_claimed(&self.db, username.as_ref(), client).await?;
        let device = user_agent.and_then(device::describe);
        let origin = Origin::client(client).device(device.as_deref());
        let undeliverable_since = claimed.undeliverable_since;
        let user = self
            .check_password(
                origin,
                username.as_ref(),
                claimed,
                password,
                PasswordFor::SignIn,
            )
            .await?;
        if let Some(since) = undeliverable_since {
            // The password was right: its owner learns why no code comes, and none is sent.
            tracing::info!(
                event = "mail_suppressed",
                client,
                user_id = user.id,
                "no code sent: the address cannot receive mail"
            );
            return Err(AuthError::Undeliverable(since));
        }
        let challenge = Challenge::generate();
        // The code goes to the address on the account, never to the string the request typed.
        let to = Email::parse(&user.username).map_err(|_| AuthError::InvalidCredentials)?;
        if self.code_policy.locks(user.failed_codes) {
            // Locked after too many wrong codes; the owner was told by mail how to unlock.
            // Answering as for a send tells a guesser nothing more.
            tracing::info!(
                event = "code_sign_in_locked",
                client,
                user_id = user.id,
                "no code sent"
            );
            return Ok(challenge);
        }
        let purpose = CodePurpose::SignIn;
        if let Err(limited) = self.limiter.take_code_send(purpose, &to).await? {
            // A 429 here would tell a guesser the password was right. The code sent moments
            // ago is still the live one, and this request proved the password as the one that
            // asked for it did: the code now answers to this challenge.
            limited_event(client, purpose.send_limit(), limited);
            let detail = Some(purpose.send_limit());
            self.record(user.id, EventKind::Limited, origin, detail)
                .await;
            let digest = challenge.digest();
            codes::rebind(&self.db, user.id, purpose.column(), &digest, client).await?;
            return Ok(challenge);
        }
        self.send_code(origin, &user, to, purpose, &challenge)
            .await?;
        Ok(challenge)
    }

    /// Mails a fresh code of this purpose to the account's address; it replaces the earlier
    /// one, and works only with `challenge` or from `client`. A reset mail also carries a link
    /// that works on its own. The send was already taken from the limit: a failed send gives
    /// it back.
    pub(super) async fn send_code(
        &self,
        origin: Origin<'_>,
        user: &UserRecord,
        to: Email,
        purpose: CodePurpose,
        challenge: &Challenge,
    ) -> Result<(), AuthError> {
        let client = origin.client;
        let code = OneTimeCode::generate();
        let code_hash = self.codes.hash(user.id, &code);
        let expires_at = store::now() + self.code_policy.ttl;
        let token = purpose.mails_a_link().then(ResetToken::generate);
        let (challenge_hash, link_hash) =
            (challenge.digest(), token.as_ref().map(ResetToken::digest));
        // A change-of-address code is for the address it goes to.
        let new_username = (purpose == CodePurpose::EmailChange).then(|| to.as_ref().to_owned());
        let binding = Binding {
            challenge_hash: &challenge_hash,
            issued_to: client,
            link_hash: link_hash.as_deref(),
            new_username: new_username.as_deref(),
        };
        let column = purpose.column();
        codes::replace(&self.db, user.id, column, &code_hash, binding, expires_at).await?;

        let message = CodeMessage {
            link: token.and_then(|token| self.reset_link(&to, &token)),
            to: to.clone(),
            code,
            valid_for: self.code_policy.ttl,
            purpose,
            language: user.language,
        };
        if let Err(err) = self.mailer.send_code(&message).await {
            // A code nobody received must not stay valid, nor count as sent.
            codes::discard(&self.db, user.id, column, &code_hash).await?;
            self.limiter.give_back_code_send(purpose, &to).await?;
            return Err(err.into());
        }
        tracing::info!(
            event = "code_sent",
            client,
            user_id = user.id,
            purpose = ?purpose,
            "code sent"
        );
        let kind = match purpose {
            CodePurpose::EmailChange => EventKind::EmailChangeRequested,
            _ => EventKind::CodeSent,
        };
        self.record(user.id, kind, origin, Some(purpose.name()))
            .await;
        Ok(())
    }

    /// The link in a reset mail, if the pages' address is known.
    pub(super) fn reset_link(&self, to: &Email, token: &ResetToken) -> Option<String> {
        let pages = self.pages_url.as_deref()?;
        let username =
            percent_encoding::utf8_percent_encode(to.as_ref(), percent_encoding::NON_ALPHANUMERIC);
        Some(format!(
            "{pages}reset.html#username={username}&token={}",
            token.expose()
        ))
    }

    /// Counts a try at the user's live code of this purpose and checks it. Answers the stored
    /// hash for the caller to spend; every failure is the purpose's one refusal. A try that
    /// does not reach the code (see `reaches`) changes nothing: no try, no limit, no lock.
    pub(super) async fn check_code(
        &self,
        origin: Origin<'_>,
        user: &UserRecord,
        purpose: CodePurpose,
        code: &OneTimeCode,
        challenge: Option<&Challenge>,
    ) -> Result<String, AuthError> {
        let live = codes::live(
            &self.db,
            user.id,
            purpose.column(),
            self.code_policy.max_attempts,
        )
        .await?;
        let offered = OfferedCode { code, challenge };
        self.try_code(origin, user, purpose, live, offered, Spend::Later)
            .await
    }

    /// `check_code` on a live code already read. With `Spend::SigningIn` a right sign-in code
    /// is spent, and the sign-in recorded, by the statement that counts its try; with
    /// `Spend::Later` the caller spends it.
    pub(super) async fn try_code(
        &self,
        origin: Origin<'_>,
        user: &UserRecord,
        purpose: CodePurpose,
        live: Option<LiveCode>,
        offered: OfferedCode<'_>,
        spend: Spend,
    ) -> Result<String, AuthError> {
        let (column, max_attempts) = (purpose.column(), self.code_policy.max_attempts);
        let client = origin.client;
        // A check that does not reach the code changes nothing. The caller took the limits.
        let live = live
            .filter(|live| reaches(live, offered.challenge, client))
            .ok_or_else(|| purpose.refusal())?;
        let stored = live.code_hash;
        let right = self.codes.verify(user.id, offered.code, &stored);
        // The try is counted whether the code is right or not, and a right code answers only
        // if its try was within the limit: parallel guesses stay bounded.
        let counted = if right && spend == Spend::SigningIn {
            codes::spend_signing_in(&self.db, user.id, &stored, max_attempts, client).await?
        } else {
            codes::record_attempt(&self.db, user.id, column, &stored, max_attempts).await?
        };
        if !counted {
            return Err(purpose.refusal());
        }
        if !right {
            tracing::info!(
                event = "wrong_code",
                client,
                user_id = user.id,
                purpose = ?purpose,
                "wrong code"
            );
            self.record(user.id, EventKind::WrongCode, origin, Some(purpose.name()))
                .await;
            if purpose.counts_wrong_codes() {
                self.count_wrong_code(origin, user).await?;
            }
            return Err(purpose.refusal());
        }
        Ok(stored)
    }

    /// Spends the code, if it is the user's live one, and opens a session, recorded with the
    /// client's address and a short description of its `User-Agent` for the owner's list.
    pub async fn verify(
        &self,
        client: &str,
        user_agent: Option<&str>,
        attempt: &CodeAttempt,
    ) -> Result<SessionGrant, AuthError> {
        let CodeAttempt {
            username,
            code,
            challenge,
        } = attempt;
        let purpose = CodePurpose::SignIn;
        let max_attempts = self.code_policy.max_attempts;
        // The user and their live code in one read; a locked or disabled user has no code to
        // check.
        let found =
            codes::live_for_username(&self.db, username.as_ref(), purpose.column(), max_attempts)
                .await?
                .filter(|(user, _)| !self.code_policy.locks(user.failed_codes))
                .filter(|(user, _)| !disabled(client, user));
        // Every request counts against its address; only a guess at a live code it may reach
        // counts against the username too, so a stranger typing codes without the challenge
        // costs the owner nothing. Both limits in one statement.
        let reached = found
            .as_ref()
            .filter(|(_, live)| reaches(live, challenge.as_ref(), client))
            .map(|(user, _)| user.username.as_str());
        let checked = self
            .limiter
            .hit_checking_sign_in_code(client, reached)
            .await?;
        let device = user_agent.and_then(device::describe);
        let origin = Origin::client(client).device(device.as_deref());
        match (checked, &found) {
            (Ok(()), _) => {}
            (Err((CheckedBy::Address, limited)), _) => return Err(AuthError::RateLimited(limited)),
            (Err((CheckedBy::Username, limited)), Some((user, _))) => {
                let detail = Some(purpose.check_limit());
                self.record(user.id, EventKind::Limited, origin, detail)
                    .await;
                return Err(limited_event(client, purpose.check_limit(), limited));
            }
            (Err((CheckedBy::Username, limited)), None) => {
                return Err(limited_event(client, purpose.check_limit(), limited))
            }
        }
        let (user, live) = found.ok_or_else(|| purpose.refusal())?;
        let offered = OfferedCode {
            code,
            challenge: challenge.as_ref(),
        };
        // Spending the code ends the run of wrong codes and records the sign-in.
        self.try_code(
            origin,
            &user,
            purpose,
            Some(live),
            offered,
            Spend::SigningIn,
        )
        .await?;
        let opened_by = OpenedBy {
            client_address: client,
            user_agent: device.as_deref(),
        };
        // Asked before this sign-in is recorded: has the account signed in from here before?
        let new_address = self.signs_in_from_a_new_address(&user, client).await?;
        let session = self.open_session(&user, &opened_by).await?;
        tracing::info!(event = "signed_in", client, user_id = user.id, "signed in");
        let origin = Origin {
            session: Some(&session.session_id),
            ..origin
        };
        self.record(user.id, EventKind::SignedIn, origin, None)
            .await;
        if new_address {
            if let Ok(to) = Email::parse(&user.username) {
                let about = About::NewSignInAddress;
                let notice = Notice::new(to, user.language, about, store::now(), client)
                    .with_reset_page(self.reset_page());
                self.notify(user.id, &notice, "new-address notice").await;
            }
        }
        Ok(session)
    }

    /// Whether this sign-in comes from an address the account never signed in from, as far
    /// as the kept activity tells, and its owner wants to hear of it. The first sign-in of an
    /// account is not news, and the address of the last one needs no look.
    async fn signs_in_from_a_new_address(
        &self,
        user: &UserRecord,
        client: &str,
    ) -> Result<bool, AuthError> {
        if !self.notices.new_sign_in_address || client == "unknown" {
            return Ok(false);
        }
        match user.last_sign_in_from.as_deref() {
            None => Ok(false),
            Some(last) if last == client => Ok(false),
            Some(_) => {
                let signed_in = EventKind::SignedIn.as_str();
                Ok(!events::signed_in_from(&self.db, user.id, signed_in, client).await?)
            }
        }
    }

    /// Counts a wrong code across codes; the one that reaches the lock kills the live code and
    /// tells the owner, whose password someone else must know.
    async fn count_wrong_code(
        &self,
        origin: Origin<'_>,
        user: &UserRecord,
    ) -> Result<(), AuthError> {
        let client = origin.client;
        let lock = self.code_policy.lock_after;
        if !users::record_wrong_code(&self.db, user.id, lock).await? {
            return Ok(());
        }
        self.record(user.id, EventKind::Locked, origin, None).await;
        tracing::warn!(
            event = "code_sign_in_locked",
            client,
            user_id = user.id,
            "locked after {lock} wrong codes"
        );
        let purpose = CodePurpose::SignIn;
        codes::discard_all(&self.db, user.id, purpose.column()).await?;
        if !self.notices.code_sign_in_locked {
            return Ok(());
        }
        let to = Email::parse(&user.username).map_err(|_| purpose.refusal())?;
        // The lock holds either way; the owner learns of it at the next sign-in attempt.
        let about = About::CodeSignInLocked { failures: lock };
        let notice = Notice::new(to, user.language, about, store::now(), client)
            .with_reset_page(self.reset_page());
        self.notify(user.id, &notice, "lock notice").await;
        Ok(())
    }
}

/// A code a request offers, with the challenge it carries.
#[derive(Clone, Copy)]
pub(super) struct OfferedCode<'a> {
    pub(super) code: &'a OneTimeCode,
    pub(super) challenge: Option<&'a Challenge>,
}

/// When a right code is spent: by the statement that counts its try, which also records the
/// sign-in, or by the caller (a reset spends it together with the new password).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Spend {
    SigningIn,
    Later,
}

/// Whether a check may reach this code: it carries the challenge the code was issued with, or,
/// carrying none (the old contract), it comes from the address that asked for the code. A code
/// stored before codes were bound answers to anyone, for the few minutes it has left.
fn reaches(live: &LiveCode, challenge: Option<&Challenge>, client: &str) -> bool {
    if live.challenge_hash.is_none() && live.issued_to.is_none() {
        return true;
    }
    match challenge {
        Some(challenge) => live
            .challenge_hash
            .as_deref()
            .is_some_and(|stored| challenge.matches(stored)),
        None => client != "unknown" && live.issued_to.as_deref() == Some(client),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(challenge: &Challenge, issued_to: &str) -> LiveCode {
        LiveCode {
            code_hash: "c0de".into(),
            challenge_hash: Some(challenge.digest()),
            issued_to: Some(issued_to.into()),
            link_hash: None,
            new_username: None,
        }
    }

    #[test]
    fn a_check_reaches_a_code_with_its_challenge_or_from_the_address_that_asked() {
        let challenge = Challenge::generate();
        let code = live(&challenge, "198.51.100.7");
        assert!(reaches(&code, Some(&challenge), "203.0.113.66"));
        assert!(reaches(&code, None, "198.51.100.7"));
        assert!(!reaches(&code, None, "203.0.113.66"));
        assert!(!reaches(
            &code,
            Some(&Challenge::generate()),
            "198.51.100.7"
        ));
        assert!(!reaches(&live(&challenge, "unknown"), None, "unknown"));
    }

    #[test]
    fn a_code_from_before_bindings_answers_to_anyone() {
        let unbound = LiveCode {
            code_hash: "c0de".into(),
            challenge_hash: None,
            issued_to: None,
            link_hash: None,
            new_username: None,
        };
        assert!(reaches(&unbound, None, "203.0.113.66"));
    }
}
