//! The server enforces exactly the request rules the spec states. Each bound and pattern is read
//! from the generated spec; a value just inside it must be valid by the spec's own schema (a real
//! JSON Schema validator, formats on) and get past the rule, and one just outside must be invalid
//! and get the server's usual 400 and message.
use serde_json::{json, Value};

use crate::helpers::*;

const NOT_AN_ADDRESS: &str = "Username must be a valid email address";

fn schema(name: &str) -> Value {
    otp_login::api::spec()["components"]["schemas"][name].clone()
}

fn bound(schema_name: &str, keyword: &str) -> usize {
    let value = &schema(schema_name)[keyword];
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{schema_name} has no {keyword}: {value}")) as usize
}

/// The spec's request body schema for `POST path`, as a validator.
fn request_validator(path: &str) -> jsonschema::Validator {
    request_validator_of("post", path)
}

/// The spec's request body schema for `method path`, as a validator.
fn request_validator_of(method: &str, path: &str) -> jsonschema::Validator {
    let spec = otp_login::api::spec();
    let content = spec["paths"][path][method]["requestBody"]["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} takes no body"));
    let body_schema = content.values().next().expect("a media type")["schema"].clone();
    let mut root = body_schema;
    root["components"] = spec["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the request schema compiles")
}

/// Asserts what the spec says of `body` sent to `path`, then what the server answers (the
/// message only when one is given); returns the answer.
async fn holds(
    app: &TestApp,
    path: &str,
    body: Value,
    in_spec: bool,
    status: u16,
    message: &str,
) -> Value {
    let verdict = request_validator(path).is_valid(&body);
    assert_eq!(verdict, in_spec, "the spec's verdict on {path} {body}");
    let response = app.post_json(path, &body).await;
    let answer = assert_status(response, status).await;
    if !message.is_empty() {
        assert_eq!(answer["message"], message, "{path} {body}");
    }
    answer
}

/// A valid, unique address of exactly `length` characters (5 to 254): the local part grows
/// first, to its limit of 64, then the domain, in labels of at most 63.
fn address_of_length(length: usize) -> String {
    let local_length = length.saturating_sub(4).clamp(1, 64);
    let mut remaining = length - local_length - 1;
    let mut labels = vec![];
    while remaining > 63 {
        labels.push(63);
        remaining -= 64;
    }
    labels.push(remaining);
    if labels.len() == 1 {
        labels = vec![remaining - 2, 1];
    }
    let unique = random_suffix().to_lowercase();
    let local: String = unique.chars().cycle().take(local_length).collect();
    let domain: Vec<String> = labels.iter().map(|n| "d".repeat(*n)).collect();
    let address = format!("{local}@{}", domain.join("."));
    assert_eq!(address.chars().count(), length);
    address
}

/// A password of `length` code points that no breached list holds; the 🔑 takes two UTF-16
/// units and four bytes but counts once, in the schema as on the server.
fn password_of_length(length: usize) -> String {
    let unique = format!("🔑{}", random_suffix());
    unique.chars().cycle().take(length).collect()
}

/// `username` in a body for `path`, and what the server answers once the username passes.
fn with_username(path: &str, username: &str) -> (Value, u16) {
    match path {
        "/register" => (
            json!({"username": username, "password": password_of_length(12)}),
            201,
        ),
        "/login" => (json!({"username": username, "password": PASSWORD}), 401),
        _ => (json!({"username": username, "code": "123456"}), 401),
    }
}

#[tokio::test]
async fn username_bounds_and_pattern_are_the_ones_the_server_enforces() {
    let app = spawn_app().await;
    let (min, max) = (
        bound("Username", "minLength"),
        bound("Username", "maxLength"),
    );
    let too_long = format!("Username must be at most {max} characters");
    for path in ["/register", "/login", "/verify"] {
        let inside = [
            address_of_length(min),
            address_of_length(max),
            format!(
                "a!#$%&'*+/=?^_`{{|}}~-.{}@sub-1.example.com",
                random_suffix()
            ),
            format!("Mixed.{}@Example.COM", random_suffix()),
        ];
        for username in inside {
            let (body, passed) = with_username(path, &username);
            holds(&app, path, body, true, passed, "").await;
        }
        // Shorter than the minimum: every way of dropping one character of the shortest address.
        let shortest = address_of_length(min);
        for skip in 0..min {
            let shorter: String = shortest
                .chars()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| c)
                .collect();
            let (body, _) = with_username(path, &shorter);
            holds(&app, path, body, false, 400, NOT_AN_ADDRESS).await;
        }
        let (body, _) = with_username(path, &address_of_length(max + 1));
        holds(&app, path, body, false, 400, &too_long).await;
        // What `format: email` allows and the pattern refuses, as the server does.
        for outside in ["user@localhost", "\"user\"@example.com", "user@[127.0.0.1]"] {
            let (body, _) = with_username(path, outside);
            holds(&app, path, body, false, 400, NOT_AN_ADDRESS).await;
        }
    }
}

/// The one leniency: surrounding whitespace is not part of a valid username, yet the server
/// trims it rather than refuse a sign-up typed with a stray space.
#[tokio::test]
async fn surrounding_whitespace_is_outside_the_spec_but_trimmed_by_the_server() {
    let app = spawn_app().await;
    let padded = format!("  {}\t", unique_email());
    let (body, created) = with_username("/register", &padded);
    holds(&app, "/register", body, false, created, "").await;
    let body = json!({"username": padded, "code": " 123456 "});
    holds(&app, "/verify", body, false, 401, "Invalid or expired OTP").await;
}

#[tokio::test]
async fn new_password_bounds_and_pattern_are_the_ones_the_server_enforces() {
    let app = spawn_app().await;
    let (min, max) = (
        bound("NewPassword", "minLength"),
        bound("NewPassword", "maxLength"),
    );
    let register = |password: String| json!({"username": unique_email(), "password": password});
    for inside in [password_of_length(min), password_of_length(max)] {
        holds(&app, "/register", register(inside), true, 201, "").await;
    }
    let too_short = format!("Password must be at least {min} characters");
    holds(
        &app,
        "/register",
        register(password_of_length(min - 1)),
        false,
        400,
        &too_short,
    )
    .await;
    let too_long = format!("Password must be at most {max} characters");
    holds(
        &app,
        "/register",
        register(password_of_length(max + 1)),
        false,
        400,
        &too_long,
    )
    .await;
    let empty = register(String::new());
    holds(&app, "/register", empty, false, 400, "Password is required").await;

    // The edges of the control-character class (Unicode Cc) and their neighbours.
    let control = "Password must not contain control characters";
    for (c, in_spec) in [
        ('\u{0}', false),
        ('\u{1f}', false),
        (' ', true),
        ('~', true),
        ('\u{7f}', false),
        ('\u{9f}', false),
        ('\u{a0}', true),
    ] {
        let password = format!("{}{c}x", password_of_length(min));
        let (status, message) = if in_spec { (201, "") } else { (400, control) };
        holds(
            &app,
            "/register",
            register(password),
            in_spec,
            status,
            message,
        )
        .await;
    }

    // What no schema can state: a valid shape that is a breached password.
    let common = "Password is too common; choose one that is harder to guess";
    holds(
        &app,
        "/register",
        register("Baseball1".into()),
        true,
        400,
        common,
    )
    .await;
}

#[tokio::test]
async fn sign_in_password_bounds_are_the_ones_the_server_enforces() {
    let app = spawn_app().await;
    let (min, max) = (
        bound("SignInPassword", "minLength"),
        bound("SignInPassword", "maxLength"),
    );
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let login = |password: String| json!({"username": email, "password": password});
    let wrong = "Invalid username or password";
    // Sign-in takes what old accounts have: short, long, control characters.
    for inside in [
        password_of_length(min),
        password_of_length(max),
        "tab\there".to_owned(),
    ] {
        holds(&app, "/login", login(inside), true, 401, wrong).await;
    }
    holds(
        &app,
        "/login",
        login(String::new()),
        false,
        400,
        "Password is required",
    )
    .await;
    let too_long = format!("Password must be at most {max} characters");
    holds(
        &app,
        "/login",
        login(password_of_length(max + 1)),
        false,
        400,
        &too_long,
    )
    .await;
    holds(
        &app,
        "/login",
        login(PASSWORD.into()),
        true,
        200,
        "OTP sent to email",
    )
    .await;
}

#[tokio::test]
async fn the_code_pattern_is_the_one_the_server_enforces() {
    let app = spawn_app().await;
    let email = unique_email();
    let verify = |code: &str| json!({"username": email, "code": code});
    for inside in ["000000", "999999"] {
        holds(
            &app,
            "/verify",
            verify(inside),
            true,
            401,
            "Invalid or expired OTP",
        )
        .await;
    }
    for outside in [
        "",
        "12345",
        "1234567",
        "12a456",
        "١٢٣٤٥٦",
        "12 456",
        "+12345",
    ] {
        holds(
            &app,
            "/verify",
            verify(outside),
            false,
            400,
            "Code must be 6 digits",
        )
        .await;
    }
}

/// Every request body in the spec is closed (`additionalProperties: false`), and the server
/// refuses an unknown field in each of them; the example of each body is itself valid.
#[tokio::test]
async fn every_request_body_refuses_the_fields_it_does_not_name() {
    let app = spawn_app().await;
    let token = app.sign_in(&unique_email()).await;
    let spec = otp_login::api::spec();
    let mut checked = vec![];
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            let reference = content.values().next().unwrap()["schema"]["$ref"]
                .as_str()
                .expect("request bodies are named schemas");
            let name = reference.rsplit('/').next().unwrap();
            let object = schema(name);
            assert_eq!(object["additionalProperties"], json!(false), "{name}");
            let validator = request_validator_of(method, path);
            assert!(validator.is_valid(&object["example"]), "{name}");
            let mut body = object["example"].clone();
            body["unexpected"] = json!(true);
            assert!(!validator.is_valid(&body), "{name}");
            // Operations behind a bearer token get a valid one, so the body is what fails.
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = app.client.request(method, app.url(path)).json(&body);
            if operation.get("security").is_some() {
                request = request.bearer_auth(&token);
            }
            let answer = assert_status(request.send().await.unwrap(), 400).await;
            let message = answer["message"].as_str().unwrap();
            assert!(
                message.starts_with("Request body must be a JSON object with "),
                "{path}: {message}"
            );
            checked.push(path.clone());
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "/change-email",
            "/change-password",
            "/confirm-email-change",
            "/delete-account",
            "/login",
            "/logout",
            "/me/language",
            "/refresh",
            "/register",
            "/request-password-reset",
            "/reset-password",
            "/verify"
        ]
    );
}

/// `type: string` means a string: a number or a boolean is not read as its text.
#[tokio::test]
async fn a_field_that_is_not_a_string_is_refused_like_any_malformed_body() {
    let app = spawn_app().await;
    let message = "Request body must be a JSON object with string fields \"username\" and \"code\"";
    for code in [json!(123456), json!(true)] {
        let body = json!({"username": unique_email(), "code": code});
        holds(&app, "/verify", body, false, 400, message).await;
    }
    let message =
        "Request body must be a JSON object with string fields \"username\" and \"password\"";
    let body = json!({"username": unique_email(), "password": 123456789012_u64});
    holds(&app, "/register", body, false, 400, message).await;
}
