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
