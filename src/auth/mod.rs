//! The sign-in domain: parsed inputs, password and code hashing, access tokens and their keys, rate limits,
//! and the account rules (`AuthService`) that tie them to the store and the mailer.
pub mod activity;
pub mod admin;
pub mod challenge;
pub mod code;
pub mod device;
pub mod email;
pub mod keys;
pub mod language;
pub mod limits;
pub mod password;
pub mod service;
pub mod token;

pub use challenge::{Challenge, RefreshToken, ResetToken};
pub use code::{CodeHasher, CodePolicy, CodePurpose, OneTimeCode};
pub use email::Email;
pub use keys::KeyRing;
pub use language::Language;
pub use limits::{Limited, RateLimiter, RateLimits};
pub use password::{HashError, LoginPassword, NewPassword, PasswordHasher};
pub use service::ResetProof;
pub use service::{ActivityEvent, ActivityPage, AddressChange, Notices};
pub use service::{AuthError, AuthService, Session, SessionGrant, SessionView, SignOutScope};
pub use service::{ChangeWithCurrent, CodeAttempt, LoginAttempt, NewAccount, ResetAttempt};
pub use token::{RefreshPolicy, SessionToken, TokenClaims, TokenKeys, TokenPolicy};
