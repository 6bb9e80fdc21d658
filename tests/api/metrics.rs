//! The figures as an operator reads them, from the binary itself: one CloudWatch Embedded
//! Metric Format line per request on standard output, checked against the format's
//! specification, and the running totals in Prometheus text format on the separate listener,
//! read by the official Python client. Neither holds anything of a user.
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The binary serving on its own ports, its standard output kept line by line.
struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    base: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (port, metrics_port) = (free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_otp-login"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/metrics.db?mode=rwc", dir.path().display()),
            )
            .env("PORT", port.to_string())
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("METRICS_EMF", "true")
            .env("METRICS_NAMESPACE", "otp-login/test")
            .env("FRONTEND_DIR", "/nonexistent")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        let served = Self {
            child,
            lines,
            base: format!("http://127.0.0.1:{port}"),
            metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/health", served.base))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the binary did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        served
    }

    async fn post(&self, path: &str, body: Value) -> u16 {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    /// The lines printed so far, waiting until `ready` holds of them.
    async fn lines_when(&self, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if ready(&lines) || Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn emf_documents(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("_aws").is_some())
        .collect()
}

const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn members(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The rules of the EMF specification a document must meet for CloudWatch to extract it:
/// `_aws` with a millisecond `Timestamp` and `CloudWatchMetrics` directives; each directive's
/// `Namespace`, `Dimensions` (sets of at most 30 root members holding strings) and `Metrics`
/// (at most 100 definitions, each naming a root member holding a number, with a known unit);
/// no member the specification does not define in those objects.
fn assert_emf_conforms(doc: &Value) {
    let root = doc.as_object().expect("the root is an object");
    let aws = &doc["_aws"];
    let mut aws_members = members(aws);
    aws_members.sort_unstable();
    assert_eq!(aws_members, ["CloudWatchMetrics", "Timestamp"], "{doc}");
    let timestamp = aws["Timestamp"].as_u64().expect("Timestamp is an integer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now.abs_diff(timestamp) < 600_000,
        "Timestamp is in milliseconds, now"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("an array");
    assert!(!directives.is_empty());
    for directive in directives {
        let mut directive_members = members(directive);
        directive_members.sort_unstable();
        assert_eq!(directive_members, ["Dimensions", "Metrics", "Namespace"]);
        let namespace = directive["Namespace"].as_str().expect("a string");
        assert!((1..=255).contains(&namespace.len()));
        let mut dimensions = Vec::new();
        for set in directive["Dimensions"].as_array().expect("an array") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for key in set {
                let key = key.as_str().expect("a dimension key is a string");
                assert!(root[key].is_string(), "dimension {key} holds a string");
                dimensions.push(key);
            }
        }
        let metrics = directive["Metrics"].as_array().expect("an array");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        let mut names = Vec::new();
        for metric in metrics {
            for member in members(metric) {
                assert!(
                    ["Name", "Unit", "StorageResolution"].contains(&member),
                    "{member}"
                );
            }
            let name = metric["Name"].as_str().expect("Name is a string");
            assert!((1..=255).contains(&name.len()));
            assert!(
                !dimensions.contains(&name),
                "{name} is a metric and a dimension"
            );
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "unit {unit}");
            }
            assert!(root[name].is_number(), "metric {name} holds a number");
            names.push(name);
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "metric names are unique");
    }
}

/// Prometheus text parsed by the official Python client: `(name, labels, value)` per sample.
fn parse_prometheus(text: &str) -> Vec<(String, Value, f64)> {
    let python = std::env::var("TEST_PYTHON")
        .expect("TEST_PYTHON names a Python with prometheus_client; run through scripts/test");
    let script = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        samples = [[s.name, s.labels, s.value]\n\
                   for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]\n\
        print(json.dumps(samples))\n";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus client refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<(String, Value, f64)> = serde_json::from_slice(&output.stdout).unwrap();
    samples
}

fn sample(samples: &[(String, Value, f64)], name: &str, operation: &str) -> f64 {
    samples
        .iter()
        .find(|(n, labels, _)| n == name && labels["operation"] == operation)
        .map_or(0.0, |(_, _, value)| *value)
}

#[tokio::test]
async fn a_sign_in_shows_in_emf_lines_and_prometheus_text_without_anything_of_the_user() {
    let served = Served::start().await;
    let email = unique_email();
    let credentials = json!({"username": email, "password": PASSWORD});
    assert_eq!(served.post("/register", credentials.clone()).await, 201);
    let wrong = json!({"username": email, "password": "not the password at all"});
    assert_eq!(served.post("/login", wrong).await, 401);
    assert_eq!(served.post("/login", credentials).await, 200);
    let lines = served
        .lines_when(|lines| lines.iter().any(|l| l.contains("code=")))
        .await;
    let code = lines
        .iter()
        .filter(|line| line.contains("development mailer: code") && line.contains(&email))
        .find_map(|line| line.split("code=").nth(1))
        .map(|rest| rest[..6].to_owned())
        .expect("the development mailer shows the code");
    let wrong_code = json!({"username": email, "code": other_than(&code)});
    assert_eq!(served.post("/verify", wrong_code).await, 401);
    assert_eq!(
        served
            .post("/verify", json!({"username": email, "code": code}))
            .await,
        200
    );
    assert_eq!(served.post("/no-such-route", json!({})).await, 404);

    // One EMF line per request, each as the specification requires.
    let lines = served
        .lines_when(|lines| {
            emf_documents(lines)
                .iter()
                .filter(|doc| doc["Operation"] != "health")
                .count()
                >= 6
        })
        .await;
    let documents: Vec<Value> = emf_documents(&lines)
        .into_iter()
        .filter(|doc| doc["Operation"] != "health")
        .collect();
    let operations: Vec<&str> = documents
        .iter()
        .map(|doc| doc["Operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        ["register", "login", "login", "verify", "verify", "other"]
    );
    for doc in &documents {
        assert_emf_conforms(doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "otp-login/test"
        );
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["ServerErrors"], 0);
    }
    assert_eq!(documents[1]["WrongPasswords"], 1);
    assert_eq!(documents[2]["WrongPasswords"], 0);
    assert_eq!(documents[2]["MailsSent"], 1);
    assert_eq!(documents[3]["WrongCodes"], 1);
    assert_eq!(documents[4]["SignIns"], 1);
    assert_eq!(documents[4]["WrongCodes"], 0);

    // The totals on the metrics listener, as Prometheus reads them; not on the public port.
    let text = reqwest::get(&served.metrics)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = parse_prometheus(&text);
    assert_eq!(sample(&samples, "otp_login_requests_total", "login"), 2.0);
    assert_eq!(sample(&samples, "otp_login_requests_total", "other"), 1.0);
    assert_eq!(
        sample(&samples, "otp_login_wrong_passwords_total", "login"),
        1.0
    );
    assert_eq!(sample(&samples, "otp_login_mails_sent_total", "login"), 1.0);
    assert_eq!(
        sample(&samples, "otp_login_wrong_codes_total", "verify"),
        1.0
    );
    assert_eq!(sample(&samples, "otp_login_sign_ins_total", "verify"), 1.0);
    assert_eq!(
        sample(
            &samples,
            "otp_login_request_duration_seconds_count",
            "verify"
        ),
        2.0
    );
    assert_eq!(
        sample(&samples, "otp_login_server_errors_total", "login"),
        0.0
    );
    let public = reqwest::get(format!("{}/metrics", served.base))
        .await
        .unwrap();
    assert_eq!(public.status().as_u16(), 404);

    let emf_text: Vec<String> = documents.iter().map(Value::to_string).collect();
    let local_part = email.split('@').next().unwrap();
    for secret in [local_part, PASSWORD, code.as_str(), "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in the Prometheus text");
        for line in &emf_text {
            assert!(!line.contains(secret), "{secret} in an EMF line: {line}");
        }
    }
}
