use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_return_404_route_not_found() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/sign-out"),
        (Method::GET, "/register/x"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_answer(response, 404, "Route not found").await;
    }
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_returns_405_json() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/register")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_status(response, 405).await;
    let response = app.client.delete(app.url("/me")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    assert_status(response, 405).await;
}

#[tokio::test]
async fn a_body_over_16_kib_returns_413_json() {
    let app = spawn_app().await;
    let huge = json!({"username": unique_email(), "password": "x".repeat(17 * 1024)});
    assert_answer(
        app.post_json("/register", &huge).await,
        413,
        "Request body too large",
    )
    .await;
}

#[tokio::test]
async fn preflight_is_answered_with_one_allow_origin_header() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/login"))
        .header("origin", "https://pages.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let origins: Vec<_> = response
        .headers()
        .get_all("access-control-allow-origin")
        .iter()
        .collect();
    assert_eq!(origins, ["https://pages.example.com"]);
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
}

#[tokio::test]
async fn cross_origin_answers_including_errors_carry_one_allow_origin_header() {
    let app = spawn_app().await;
    for path in ["/login", "/nowhere"] {
        let response = app
            .client
            .post(app.url(path))
            .header("origin", "https://pages.example.com")
            .json(&json!({"username": unique_email(), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let origins: Vec<_> = response
            .headers()
            .get_all("access-control-allow-origin")
            .iter()
            .collect();
        assert_eq!(origins, ["https://pages.example.com"], "{path}");
    }
}

#[tokio::test]
async fn configured_origins_refuse_others_with_json() {
    let db = TestDb::new(Backend::MariaDb).await;
    let app = test_app()
        .sharing(&db)
        .env(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, https://b.example",
        )])
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://b.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://b.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_status(refused, 403).await;
}

#[tokio::test]
async fn swagger_ui_and_the_spec_are_served() {
    let app = spawn_app().await;
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/register", "/login", "/verify", "/me", "/health"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the spec"
        );
    }
    let yaml = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.status(), 200);
    assert!(yaml.text().await.unwrap().contains("operationId: register"));
}

#[tokio::test]
async fn static_pages_are_served_at_the_root_when_the_folder_exists() {
    let pages = tempfile::tempdir().unwrap();
    std::fs::write(pages.path().join("index.html"), "<h1>otp-login</h1>").unwrap();
    std::fs::write(pages.path().join("login.html"), "<form></form>").unwrap();
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = pages.path().to_str().unwrap();
    let app = test_app()
        .sharing(&db)
        .env(&[("FRONTEND_DIR", dir)])
        .spawn()
        .await;
    let index = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.text().await.unwrap(), "<h1>otp-login</h1>");
    let login = app.client.get(app.url("/login.html")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    // Pages may not be framed by another site, whatever their own <meta> policy says.
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(login.headers()["x-content-type-options"], "nosniff");
    // The API still owns its paths, and a missing page is the JSON 404.
    assert_status(app.login(&unique_email(), PASSWORD).await, 401).await;
    let missing = app
        .client
        .get(app.url("/missing.html"))
        .send()
        .await
        .unwrap();
    assert_answer(missing, 404, "Route not found").await;
}

#[tokio::test]
async fn with_cors_disabled_the_app_adds_no_cors_headers() {
    // For a Lambda Function URL whose own CORS settings answer instead: never both.
    let db = TestDb::new(Backend::Sqlite).await;
    let app = test_app()
        .sharing(&db)
        .env(&[("CORS_ENABLED", "false")])
        .spawn()
        .await;
    let response = app
        .client
        .post(app.url("/login"))
        .header("origin", "https://pages.example.com")
        .json(&json!({"username": unique_email(), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_status(response, 401).await;
}

#[tokio::test]
async fn a_client_trickling_its_request_head_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = test_app().on(Backend::Sqlite).spawn().await;
    let address = app.address.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = std::time::Instant::now();
    let head = b"POST /login HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in head {
        // One byte a second keeps any plain idle timeout happy; the head deadline is not.
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 16];
        match tokio::time::timeout(std::time::Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    // Other clients are served as usual.
    assert_status(app.login(&unique_email(), PASSWORD).await, 401).await;
}
