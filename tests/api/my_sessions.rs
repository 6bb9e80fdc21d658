//! The owner's list of their sessions: `GET /sessions` shows where and with what each was
//! opened and marks this one; `DELETE /sessions/{id}` ends one at once, and only one of the
//! owner's own.
use reqwest::Response;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::helpers::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
const SIGNED_OUT: &str = "Invalid or expired session";
const UNKNOWN: &str = "Session not found";

/// Signs the registered `email` in again from a browser saying `user_agent`; its `/verify`
/// answer.
async fn sign_in_with(app: &TestApp, email: &str, user_agent: &str) -> Value {
    assert_status(app.login(email, PASSWORD).await, 200).await;
    let body = json!({"username": email, "code": app.code_for(email)});
    let answer = app
        .client
        .post(app.url("/verify"))
        .header("User-Agent", user_agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_status(answer, 200).await
}

async fn list(app: &TestApp, token: &str) -> Response {
    app.client
        .get(app.url("/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn sessions_of(app: &TestApp, token: &str) -> Vec<Value> {
    let body = assert_answer(list(app, token).await, 200, "Sessions").await;
    body["sessions"].as_array().unwrap().clone()
}

async fn end(app: &TestApp, token: &str, id: &str) -> Response {
    app.client
        .delete(app.url(&format!("/sessions/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn id_of(session: &Value) -> String {
    session["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_list_shows_each_sessions_device_marks_this_one_and_an_ended_one_is_refused_at_once() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let phone = app.sign_in(&email).await;
        let laptop = sign_in_with(&app, &email, FIREFOX).await;
        let laptop_token = laptop["token"].as_str().unwrap();

        let sessions = sessions_of(&app, laptop_token).await;
        assert_eq!(sessions.len(), 2, "{backend:?}: {sessions:?}");
        let (this, other): (Vec<&Value>, Vec<&Value>) =
            sessions.iter().partition(|s| s["current"] == true);
        let (this, other) = (this[0], other[0]);
        assert_eq!(this["user_agent"], "Firefox 120 on Linux");
        assert_eq!(this["client_address"], "127.0.0.1");
        assert!(
            other.get("user_agent").is_none(),
            "no User-Agent sent: {other}"
        );
        assert_eq!(other["client_address"], "127.0.0.1");
        for session in &sessions {
            let opened: chrono::DateTime<chrono::Utc> =
                session["created_at"].as_str().unwrap().parse().unwrap();
            let seen: chrono::DateTime<chrono::Utc> =
                session["last_seen_at"].as_str().unwrap().parse().unwrap();
            assert!(opened <= seen, "{session}");
        }
        // The phone's own list marks the phone's session.
        let from_phone = sessions_of(&app, &phone).await;
        let current: Vec<String> = from_phone
            .iter()
            .filter(|s| s["current"] == true)
            .map(id_of)
            .collect();
        assert_eq!(current, [id_of(other)]);

        // Ending the phone's session from the laptop: the phone is refused at once, and so is
        // its refresh token.
        assert_answer(
            end(&app, laptop_token, &id_of(other)).await,
            200,
            "Signed out",
        )
        .await;
        assert_answer(app.me(&phone).await, 401, SIGNED_OUT).await;
        assert_eq!(sessions_of(&app, laptop_token).await.len(), 1);
        assert_answer(end(&app, laptop_token, &id_of(other)).await, 404, UNKNOWN).await;
        assert_answer(app.me(laptop_token).await, 200, "Signed in").await;

        // Ending this token's own session signs it out.
        assert_answer(
            end(&app, laptop_token, &id_of(this)).await,
            200,
            "Signed out",
        )
        .await;
        assert_answer(app.me(laptop_token).await, 401, SIGNED_OUT).await;
        let refresh = laptop["refresh_token"].as_str().unwrap();
        assert_answer(app.refresh(refresh).await, 401, SIGNED_OUT).await;
    }
}

#[tokio::test]
async fn one_user_can_neither_see_nor_end_anothers_sessions() {
    let app = spawn_app().await;
    let (alice, mallory) = (unique_email(), unique_email());
    let alice_token = app.sign_in(&alice).await;
    let mallory_token = app.sign_in(&mallory).await;
    let alices = sessions_of(&app, &alice_token).await;
    let malloreys = sessions_of(&app, &mallory_token).await;
    assert_eq!((alices.len(), malloreys.len()), (1, 1));
    assert_ne!(id_of(&alices[0]), id_of(&malloreys[0]));

    // Alice's session id answers Mallory as an unknown one would, and stays live.
    let alices_id = id_of(&alices[0]);
    assert_answer(end(&app, &mallory_token, &alices_id).await, 404, UNKNOWN).await;
    assert_answer(
        end(&app, &mallory_token, &alices_id.to_uppercase()).await,
        404,
        UNKNOWN,
    )
    .await;
    assert_answer(
        end(&app, &mallory_token, "not-a-session").await,
        404,
        UNKNOWN,
    )
    .await;
    assert_answer(app.me(&alice_token).await, 200, "Signed in").await;

    // Without a token, nothing is listed or ended.
    let anonymous = app.client.get(app.url("/sessions")).send().await.unwrap();
    assert_answer(anonymous, 401, SIGNED_OUT).await;
    let anonymous = app
        .client
        .delete(app.url(&format!("/sessions/{alices_id}")))
        .send()
        .await
        .unwrap();
    assert_answer(anonymous, 401, SIGNED_OUT).await;
    assert_answer(end(&app, "not-a-jwt", &alices_id).await, 401, SIGNED_OUT).await;
    assert_answer(app.me(&alice_token).await, 200, "Signed in").await;
}

#[tokio::test]
async fn a_session_past_its_end_is_unknown_to_the_list_and_to_ending() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let token = app.sign_in(&email).await;
        let expired = app.sign_in_again(&email).await;
        let sessions = sessions_of(&app, &token).await;
        let old = sessions
            .iter()
            .find(|s| s["current"] == false)
            .map(id_of)
            .unwrap();
        let db = app.connect_db().await;
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE sessions SET expires_at = ? WHERE id = ?",
            [
                (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
                old.clone().into(),
            ],
        ))
        .await
        .unwrap();
        assert_eq!(sessions_of(&app, &token).await.len(), 1, "{backend:?}");
        assert_answer(end(&app, &token, &old).await, 404, UNKNOWN).await;
        assert_status(app.me(&expired).await, 401).await;
    }
}
