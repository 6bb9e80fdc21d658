use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::*;

/// A TCP forwarder to MariaDB that a test can cut and restore, to play a database outage.
struct CuttableProxy {
    address: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl CuttableProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut proxy = Self {
            address,
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = mariadb_server_url()
            .trim_start_matches("mysql://")
            .rsplit('@')
            .next()
            .unwrap()
            .to_owned();
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops the listener and every open connection (the JoinSet aborts them).
    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn health_returns_200_when_the_database_answers() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_answer(response, 200, "ok").await;
}

#[tokio::test]
async fn database_outage_answers_503_json_and_recovers_by_itself() {
    let db = TestDb::new(Backend::MariaDb).await;
    let mut proxy = CuttableProxy::start().await;
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let url = format!("mysql://root@{}/{name}", proxy.address);
    let app = test_app()
        .sharing(&db)
        .env(&[("DATABASE_URL", &url)])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;

    proxy.cut().await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_answer(health, 503, "Database unavailable").await;
    assert_answer(
        app.login(&email, PASSWORD).await,
        503,
        "Service temporarily unavailable",
    )
    .await;
    assert_answer(
        app.register(&unique_email(), PASSWORD).await,
        503,
        "Service temporarily unavailable",
    )
    .await;

    proxy.restore().await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_answer(health, 200, "ok").await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}
