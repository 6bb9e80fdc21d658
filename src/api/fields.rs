//! The text fields of request bodies. Each is a named schema stating the rules the domain
//! applies to it, so the spec says what the server refuses; `NewPassword` is for every operation
//! that sets a password.
use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::auth::password::{MAX_LOGIN, MAX_NEW, MIN_NEW};

/// Shortest username the server accepts: `a@b.c` (one-character local part and two one-character
/// labels; a domain without a dot is refused).
const USERNAME_MIN_LENGTH: usize = 5;
/// Longest username: RFC 5321's limit on a forward path, less its angle brackets.
const USERNAME_MAX_LENGTH: usize = 254;
/// What `format: email` leaves open and the server refuses: a quoted local part, an address
/// literal (`[127.0.0.1]`) and a domain without a dot. The format covers the rest (dot-atom
/// structure, label and local-part lengths, letters-digits-hyphens labels, ASCII only).
const USERNAME_PATTERN: &str =
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$";
/// Six ASCII digits (not `\d`, which some regex engines read as any Unicode digit).
const CODE_PATTERN: &str = "^[0-9]{6}$";
/// 32 hexadecimal digits: 128 bits, as the service writes them (either case is accepted).
const SECRET_PATTERN: &str = "^[0-9A-Fa-f]{32}$";
/// No control character (Unicode category Cc, what `char::is_control` tests).
const NO_CONTROL_CHARACTERS: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

/// Declares the text of one request field, with a named schema stating the rules the domain
/// applies to it. Any JSON string parses: a string outside the rules then gets the domain's own
/// refusal and message (`Password must be at least 8 characters`), where a poem-openapi
/// validator would give a generic parse error. A value that is not a string is a parse error.
macro_rules! text_field {
    ($ty:ident, $name:literal, $description:literal, $schema:expr) => {
        #[doc = $description]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(pub String);

        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($name.to_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($name.to_owned(), |_| MetaSchema {
                    description: Some($description),
                    ..$schema
                });
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(text)) => Ok(Self(text)),
                    // Named by kind only: the value may be a password.
                    other => Err(ParseError::custom(format!(
                        "expected a string, found {}",
                        json_kind(other.as_ref())
                    ))),
                }
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

fn json_kind(value: Option<&Value>) -> &'static str {
    match value {
        None => "nothing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    }
}

text_field!(
    UsernameText,
    "Username",
    "An email address, where sign-in codes are sent: an unquoted local part, `@`, and a domain \
     with at least one dot, in ASCII. Case is ignored (it is stored lower-cased); surrounding \
     whitespace is ignored too, but is not part of a valid username.",
    MetaSchema {
        min_length: Some(USERNAME_MIN_LENGTH),
        max_length: Some(USERNAME_MAX_LENGTH),
        pattern: Some(USERNAME_PATTERN.to_owned()),
        ..MetaSchema::new_with_format("string", "email")
    }
);

text_field!(
    NewPasswordText,
    "NewPassword",
    "A password being chosen: its length in Unicode code points within the bounds, and no \
     control character. A commonly used password is refused as well (400, `Password is too \
     common; choose one that is harder to guess`): the one rule a schema cannot state.",
    MetaSchema {
        min_length: Some(MIN_NEW),
        max_length: Some(MAX_NEW),
        pattern: Some(NO_CONTROL_CHARACTERS.to_owned()),
        ..MetaSchema::new("string")
    }
);

text_field!(
    SignInPasswordText,
    "SignInPassword",
    "The account's password, as it was set. Only its presence and an upper bound are checked: \
     accounts from the old service may have passwords that today's `NewPassword` rules refuse.",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(MAX_LOGIN),
        ..MetaSchema::new("string")
    }
);

text_field!(
    CodeText,
    "OneTimeCode",
    "The 6-digit code from the email: the sign-in email for `/verify`, the password reset \
     email for `/reset-password`.",
    MetaSchema {
        pattern: Some(CODE_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

text_field!(
    ChallengeText,
    "Challenge",
    "The `challenge` from the `/login` or `/request-password-reset` answer that mailed the \
     code: the code works only with it. A client that leaves it out can still use the code from \
     the address that asked for it.",
    MetaSchema {
        min_length: Some(32),
        max_length: Some(32),
        pattern: Some(SECRET_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

text_field!(
    ResetTokenText,
    "ResetToken",
    "The `token` from the link in a password reset email (`reset.html#username=…&token=…`): \
     it sets a new password without the code, whoever asked for the email.",
    MetaSchema {
        min_length: Some(32),
        max_length: Some(32),
        pattern: Some(SECRET_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

text_field!(
    RefreshTokenText,
    "RefreshToken",
    "The `refresh_token` from the last `/verify` or `/refresh` answer. It works once: the answer \
     carries the next one.",
    MetaSchema {
        min_length: Some(32),
        max_length: Some(32),
        pattern: Some(SECRET_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);
