//! The Rust version the packages declare is one that builds them: no lower than what any
//! locked dependency declares.
use std::process::Command;

fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts
}

/// The platform this test runs on, as rustc names it.
fn host() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

#[test]
fn the_declared_rust_version_is_no_lower_than_any_locked_dependency_needs() {
    // This platform's dependencies: the ones a build here has downloaded.
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let packages = metadata["packages"].as_array().unwrap();
    let (ours, theirs): (Vec<_>, Vec<_>) = packages
        .iter()
        .partition(|p| members.contains(&p["id"].as_str().unwrap_or_default()));
    let (needed, by) = theirs
        .iter()
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .expect("some dependency declares a Rust version");
    for package in ours {
        let name = package["name"].as_str().unwrap();
        let declared = package["rust_version"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} declares no rust-version"));
        assert!(
            version(declared) >= needed,
            "{name} declares rust-version {declared}, but {by} needs {needed:?}"
        );
    }
}
