//! The spec: committed, served and shown in Swagger UI alike.
use crate::helpers::*;

/// `openapi.yaml` is generated from the code; this fails when someone changes one without the other.
#[test]
fn committed_openapi_yaml_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let committed = std::fs::read_to_string(path).expect("openapi.yaml at the top level");
    let generated = otp_login::api::spec_yaml();
    assert!(
        committed == generated,
        "openapi.yaml is out of date: run `cargo run -- openapi > openapi.yaml` and commit it"
    );
}

/// The rules the spec function adds reach every reader, not only the exported file.
#[tokio::test]
async fn the_served_spec_and_swagger_ui_carry_the_whole_document() {
    let app = spawn_app().await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let served: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(served, otp_login::api::spec());
    assert_eq!(
        served["components"]["schemas"]["Credentials"]["additionalProperties"],
        false
    );

    let yaml = get("/openapi.yaml").await.unwrap().text().await.unwrap();
    assert_eq!(yaml, otp_login::api::spec_yaml());

    let docs = get("/docs").await.unwrap().text().await.unwrap();
    assert!(
        docs.contains(&otp_login::api::spec_json()),
        "Swagger UI embeds the completed spec"
    );
}
