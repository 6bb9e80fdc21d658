//! The one OpenAPI document: the operations with their tags and description, as poem-openapi
//! writes them, completed with what it cannot write itself. The app serves it (`/openapi.json`, `/openapi.yaml`, Swagger UI at `/docs`) and
//! `otp-login openapi` exports it into the committed `openapi.yaml`, so all of them agree.
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use poem::web::Html;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::{ContactObject, LicenseObject, OpenApiService, ServerObject, Tags};
use serde_json::Value;

use super::account::AccountApi;
use super::activity::ActivityApi;
use super::address::AddressApi;
use super::health::HealthApi;
use super::keys::KeysApi;
use super::session::SessionApi;
use super::sessions::SessionsApi;
use super::sign_in::SignInApi;

/// The operations otp-login serves.
pub type Api = (
    SignInApi,
    SessionApi,
    SessionsApi,
    ActivityApi,
    AccountApi,
    AddressApi,
    KeysApi,
    HealthApi,
);

/// The groups the operations are listed under in the spec and in Swagger UI.
#[derive(Tags)]
pub(super) enum ApiTags {
    /// Two-step sign-in: register, log in with a password, verify the emailed code.
    Auth,
    /// The signed-in session: who it is, the account's sessions and activity, and signing out.
    Session,
    /// The password (reset by emailed code, or change while signed in), the address, and deleting
    /// the account.
    Account,
    /// The keys access tokens are signed with, for verifiers elsewhere.
    Keys,
    /// Service status.
    Operations,
}

const DESCRIPTION: &str = "Two-step sign-in by email one-time code.\n\n\
1. `POST /register` creates an account: the username is an email address, the password 8 to \
128 characters.\n\
2. `POST /login` checks the password and emails a 6-digit code. The code works once, for a few \
minutes, and dies after a few wrong tries (5 minutes and 5 tries by default); a new login \
replaces it.\n\
3. `POST /verify` checks the code and returns a session token (a signed JWT), its \
`token_type` (`Bearer`) and its lifetime in seconds (`expires_in`).\n\
4. `GET /me` with `Authorization: Bearer <token>` names the signed-in user; `POST /logout` \
ends the session (`{\"scope\": \"all\"}`: every session of the account), and the token is \
refused from then on. `GET /sessions` lists the account's live sessions (where and with what \
each was opened) and `DELETE /sessions/{id}` ends one of them; `GET /me/activity` lists the \
account's security events, newest first.\n\n\
**Passwords.** `POST /request-password-reset` emails a 6-digit reset code (the answer is the \
same whether the account exists or not); `POST /reset-password` sets a new password with it and \
ends every session. A sign-in code never resets a password and a reset code never signs in. \
`POST /change-password` (bearer) sets a new one after checking the current one and ends every \
other session. `POST /change-email` (bearer, with the current password) mails a code to a new \
address, and `POST /confirm-email-change` with that code makes it the username. \
`POST /delete-account` (bearer, with the current password) deletes the account and everything \
kept about it.\n\n\
**Answers.** Every answer, errors included, is JSON with `success` (a boolean) and `message` \
(words for people): the `ApiMessage` schema, which `/verify` and `/me` extend on success. \
Each operation lists every status it can return. Any request can also get 404 (unknown path), \
405 (wrong method) or 413 (body over 16 KiB), in the same shape.\n\n\
**Trying it.** In Swagger UI use *Try it out* on each operation in turn. With the development \
mailer the code is written to the server log instead of being emailed. Give the `token` from \
`/verify` to *Authorize* (without the `Bearer ` prefix) to call `/me`, `/sessions`, `/logout` \
and `/change-password`.\n\n\
**Versions.** `info.version` is the service's package version. A change that can break a \
client (a removed path, operation, response field or status, a changed type, a new required \
request field, a request value the previous version allowed and this one refuses) comes only \
with a new major version (a new minor version while it is 0.x).";

/// The API with its OpenAPI description, as poem-openapi writes it; `spec` completes the document
/// that is served and exported.
pub fn openapi_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            SignInApi,
            SessionApi,
            SessionsApi,
            ActivityApi,
            AccountApi,
            AddressApi,
            KeysApi,
            HealthApi,
        ),
        "otp-login",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .contact(ContactObject::new().name("otp-login maintainers"))
    .license(LicenseObject::new("MIT").url("https://opensource.org/licenses/MIT"))
    // Relative on purpose: Swagger UI's "Try it out" then calls whichever host served the page,
    // locally or behind a Lambda Function URL.
    .server(ServerObject::new("/").description("The host serving this document"))
}

/// The spec as a JSON value.
pub fn spec() -> Value {
    complete(&openapi_service().spec())
}

/// poem-openapi's document, completed.
fn complete(written: &str) -> Value {
    let mut spec: Value = serde_json::from_str(written).expect("poem-openapi writes JSON");
    close_request_objects(&mut spec);
    spec
}

/// What the app serves of the spec, written once, on the first request that needs it: a Lambda
/// cold start answers its first event without writing the document at all.
struct Served {
    json: String,
    yaml: String,
    swagger_ui: String,
    /// The methods each path serves, for the `Allow` header of a 405.
    allowed: HashMap<String, String>,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| {
    let service = openapi_service();
    let written = service.spec();
    let spec = complete(&written);
    let json = serde_json::to_string_pretty(&spec).expect("a JSON value serialises");
    // poem-openapi's page embeds the document it wrote, verbatim; that text is swapped for the
    // completed one.
    let swagger_ui = service.swagger_ui_html().replacen(&written, &json, 1);
    Served {
        yaml: serde_yaml::to_string(&spec).expect("a JSON value serialises as YAML"),
        allowed: methods_by_path(&spec),
        json,
        swagger_ui,
    }
});

/// The methods `path` serves, as an `Allow` header lists them (`GET, POST`).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    let allowed = &SERVED.allowed;
    allowed
        .get(path)
        .or_else(|| {
            allowed
                .iter()
                .find(|(template, _)| matches_template(template, path))
                .map(|(_, methods)| methods)
        })
        .map(String::as_str)
}

/// Every operation as (method, path template, `operationId`): what the metrics count
/// requests under. Written out rather than read from the document, so that counting a request
/// never builds the spec (a cold start answers its first event without it); a test keeps the
/// two equal.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("POST", "/register", "register"),
    ("POST", "/login", "login"),
    ("POST", "/verify", "verify"),
    ("GET", "/me", "getCurrentUser"),
    ("POST", "/refresh", "refresh"),
    ("POST", "/logout", "logout"),
    ("GET", "/sessions", "listSessions"),
    ("DELETE", "/sessions/{id}", "endSession"),
    ("GET", "/me/activity", "listActivity"),
    ("PUT", "/me/language", "setLanguage"),
    ("POST", "/request-password-reset", "requestPasswordReset"),
    ("POST", "/reset-password", "resetPassword"),
    ("POST", "/change-password", "changePassword"),
    ("POST", "/delete-account", "deleteAccount"),
    ("POST", "/change-email", "changeEmail"),
    ("POST", "/confirm-email-change", "confirmEmailChange"),
    ("GET", "/.well-known/jwks.json", "jwks"),
    (
        "GET",
        "/.well-known/openid-configuration",
        "openidConfiguration",
    ),
    ("GET", "/health", "health"),
];

/// The `operationId` that answers `method` (upper case) on `path`, if any.
pub fn operation_id(method: &str, path: &str) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|(m, template, _)| *m == method && matches_template(template, path))
        .map(|(_, _, id)| *id)
}

/// Whether `path` is an instance of `template`, where `{name}` stands for one non-empty
/// segment.
fn matches_template(template: &str, path: &str) -> bool {
    let (mut wanted, mut given) = (template.split('/'), path.split('/'));
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

fn methods_by_path(spec: &Value) -> HashMap<String, String> {
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    paths
        .into_iter()
        .map(|(path, operations)| {
            let mut methods: Vec<String> = operations
                .as_object()
                .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                .unwrap_or_default();
            methods.sort();
            (path, methods.join(", "))
        })
        .collect()
}

/// The spec as served at `/openapi.json`.
pub fn spec_json() -> String {
    serde_json::to_string_pretty(&spec()).expect("a JSON value serialises")
}

/// The spec as committed in `openapi.yaml` and served at `/openapi.yaml`.
// serde_yaml is what poem-openapi writes its YAML with: no extra code in the binary, and the
// committed file keeps the layout it always had.
pub fn spec_yaml() -> String {
    serde_yaml::to_string(&spec()).expect("a JSON value serialises as YAML")
}

/// Every request body is an object that refuses fields it does not name (each request object
/// derives with `deny_unknown_fields`; `tests/api/spec_rules.rs` holds every operation to it).
/// poem-openapi has no way to write `additionalProperties: false`, so it is added here.
fn close_request_objects(spec: &mut Value) {
    let mut names: Vec<String> = vec![];
    for operations in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
            let content = &operation["requestBody"]["content"];
            for media in content.as_object().into_iter().flat_map(|c| c.values()) {
                if let Some(name) = media["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    names.push(name.to_owned());
                }
            }
        }
    }
    for name in names {
        let schema = &mut spec["components"]["schemas"][name.as_str()];
        if let Some(object) = schema.as_object_mut() {
            if object.get("type").and_then(Value::as_str) == Some("object") {
                object.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
        }
    }
}

/// The document served at `path`, if it is one of the spec's: `/openapi.json`, `/openapi.yaml`,
/// or Swagger UI at `/docs`. Matched by hand rather than by a poem `Route`: poem compiles a
/// regex for every route it adds (~40 µs each here), which a Lambda cold start pays for.
pub fn document(path: &str) -> Option<Response> {
    Some(match path {
        "/openapi.json" => Response::builder()
            .content_type("application/json")
            .body(SERVED.json.as_str()),
        "/openapi.yaml" => Response::builder()
            .content_type("application/x-yaml")
            .header("Content-Disposition", "inline; filename=\"spec.yaml\"")
            .body(SERVED.yaml.as_str()),
        "/docs" | "/docs/" => Html(SERVED.swagger_ui.as_str()).into_response(),
        _ => return None,
    })
}

/// Serves the spec's documents in front of `next`, the API.
pub async fn serve_documents<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    match document(req.uri().path()) {
        Some(document) => Ok(document),
        None => next.call(req).await.map(IntoResponse::into_response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_the_metrics_count_by_is_the_specs_operations() {
        let spec = spec();
        let mut from_spec = Vec::new();
        for (path, operations) in spec["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap().to_owned();
                from_spec.push((method.to_uppercase(), path.clone(), id));
            }
        }
        let mut table: Vec<(String, String, String)> = OPERATIONS
            .iter()
            .map(|(m, p, id)| ((*m).to_owned(), (*p).to_owned(), (*id).to_owned()))
            .collect();
        from_spec.sort();
        table.sort();
        assert_eq!(table, from_spec);
    }

    #[test]
    fn a_path_matches_a_template_segment_by_segment() {
        assert!(matches_template("/sessions/{id}", "/sessions/0123abcd"));
        assert!(!matches_template("/sessions/{id}", "/sessions/"));
        assert!(!matches_template("/sessions/{id}", "/sessions/a/b"));
        assert!(!matches_template("/sessions/{id}", "/sessions"));
        assert!(matches_template("/me", "/me"));
        assert_eq!(
            operation_id("DELETE", "/sessions/0123abcd"),
            Some("endSession")
        );
        assert_eq!(operation_id("GET", "/sessions/0123abcd"), None);
    }
}
