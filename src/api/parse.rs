//! Each request object into the command its operation carries out, in one step. A field that
//! breaks its domain rule refuses the request (400) with that rule's message: the first such
//! field, in the order the object lists them.
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;

use super::errors::rejected;
use super::objects::{AccountDeletion, ApiMessage, CodeSubmission, Credentials, PasswordChange};
use super::objects::{EmailChangeConfirmation, EmailChangeRequest, PasswordReset};
use super::objects::{PasswordResetRequest, RefreshRequest, Registration, SignOut, SignOutScope};
use crate::auth::{self, Challenge, ChangeWithCurrent, CodeAttempt, Email, LoginAttempt};
use crate::auth::{AddressChange, Language, RefreshToken, ResetProof, ResetToken};
use crate::auth::{LoginPassword, NewAccount, NewPassword, OneTimeCode, ResetAttempt};

/// A field's domain value, or the 400 body naming the rule it breaks.
fn field<T, E: std::fmt::Display>(parsed: Result<T, E>) -> Result<T, Json<ApiMessage>> {
    parsed.map_err(|err| rejected(&err))
}

/// A field that may be left out: its domain value, if given. `null` breaks the field's rule
/// as any other value outside it does (the schema allows none).
fn optional<F, T, E: std::fmt::Display>(
    value: MaybeUndefined<F>,
    parse: impl Fn(&str) -> Result<T, E>,
    text: impl Fn(&F) -> &str,
) -> Result<Option<T>, Json<ApiMessage>> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => field(parse("")).map(Some),
        MaybeUndefined::Value(value) => field(parse(text(&value))).map(Some),
    }
}

/// A registration, with the language its request's `Accept-Language` prefers.
impl TryFrom<(Registration, Language)> for NewAccount {
    type Error = Json<ApiMessage>;

    fn try_from((body, language): (Registration, Language)) -> Result<Self, Self::Error> {
        Ok(Self {
            username: field(Email::parse(&body.username.0))?,
            password: field(NewPassword::parse(body.password.0))?,
            language,
        })
    }
}

impl TryFrom<RefreshRequest> for RefreshToken {
    type Error = Json<ApiMessage>;

    fn try_from(body: RefreshRequest) -> Result<Self, Self::Error> {
        field(RefreshToken::parse(&body.refresh_token.0))
    }
}

impl TryFrom<Credentials> for LoginAttempt {
    type Error = Json<ApiMessage>;

    fn try_from(body: Credentials) -> Result<Self, Self::Error> {
        Ok(Self {
            username: field(Email::parse(&body.username.0))?,
            password: field(LoginPassword::parse(body.password.0))?,
        })
    }
}

impl TryFrom<CodeSubmission> for CodeAttempt {
    type Error = Json<ApiMessage>;

    fn try_from(body: CodeSubmission) -> Result<Self, Self::Error> {
        Ok(Self {
            username: field(Email::parse(&body.username.0))?,
            code: field(OneTimeCode::parse(&body.code.0))?,
            challenge: optional(body.challenge, Challenge::parse, |c| &c.0)?,
        })
    }
}

impl TryFrom<PasswordResetRequest> for Email {
    type Error = Json<ApiMessage>;

    fn try_from(body: PasswordResetRequest) -> Result<Self, Self::Error> {
        field(Email::parse(&body.username.0))
    }
}

/// Either the code (with its challenge, if the client kept it) or the link's token.
impl TryFrom<PasswordReset> for ResetAttempt {
    type Error = Json<ApiMessage>;

    fn try_from(body: PasswordReset) -> Result<Self, Self::Error> {
        let username = field(Email::parse(&body.username.0))?;
        let code = optional(body.code, OneTimeCode::parse, |c| &c.0)?;
        let challenge = optional(body.challenge, Challenge::parse, |c| &c.0)?;
        let token = optional(body.token, ResetToken::parse, |t| &t.0)?;
        let proof = match (code, challenge, token) {
            (Some(code), challenge, None) => ResetProof::Code { code, challenge },
            (None, None, Some(token)) => ResetProof::Link(token),
            (None, _, None) => return Err(rejected(&"Code is required")),
            _ => {
                return Err(rejected(
                    &"Send either the code (with its challenge) or the link's token, not both",
                ))
            }
        };
        Ok(Self {
            username,
            proof,
            new_password: field(NewPassword::parse(body.new_password.0))?,
        })
    }
}

impl TryFrom<AccountDeletion> for LoginPassword {
    type Error = Json<ApiMessage>;

    fn try_from(body: AccountDeletion) -> Result<Self, Self::Error> {
        field(LoginPassword::parse(body.current_password.0))
    }
}

impl TryFrom<EmailChangeRequest> for AddressChange {
    type Error = Json<ApiMessage>;

    fn try_from(body: EmailChangeRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            new_username: field(Email::parse(&body.new_username.0))?,
            current_password: field(LoginPassword::parse(body.current_password.0))?,
        })
    }
}

impl TryFrom<EmailChangeConfirmation> for OneTimeCode {
    type Error = Json<ApiMessage>;

    fn try_from(body: EmailChangeConfirmation) -> Result<Self, Self::Error> {
        field(OneTimeCode::parse(&body.code.0))
    }
}

impl TryFrom<PasswordChange> for ChangeWithCurrent {
    type Error = Json<ApiMessage>;

    fn try_from(body: PasswordChange) -> Result<Self, Self::Error> {
        Ok(Self {
            current: field(LoginPassword::parse(body.current_password.0))?,
            new_password: field(NewPassword::parse(body.new_password.0))?,
        })
    }
}

/// Which sessions a sign-out ends: the current one when the body or its `scope` is left out.
/// A `null` scope is refused as malformed, as the schema says; the operation words the 400.
impl TryFrom<Option<SignOut>> for auth::SignOutScope {
    type Error = ParseRequestPayloadError;

    fn try_from(body: Option<SignOut>) -> Result<Self, Self::Error> {
        match body.map(|body| body.scope) {
            None | Some(MaybeUndefined::Undefined) => Ok(Self::Current),
            Some(MaybeUndefined::Value(SignOutScope::Current)) => Ok(Self::Current),
            Some(MaybeUndefined::Value(SignOutScope::All)) => Ok(Self::All),
            Some(MaybeUndefined::Null) => Err(ParseRequestPayloadError {
                reason: "scope is null".to_owned(),
            }),
        }
    }
}
