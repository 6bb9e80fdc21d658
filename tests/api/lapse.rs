//! Unproven registrations lapse: an account registered through `/register` whose address no
//! code proved is removed once its time (`UNPROVEN_ACCOUNT_DAYS`, a week by default) runs
//! out, so a registration of someone else's address clears itself. Proven accounts, and those
//! from before the service recorded it, stay.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::*;

async fn lapses_at(app: &TestApp, email: &str) -> Option<Option<DateTime<Utc>>> {
    let db = app.connect_db().await;
    db.query_one(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT lapses_at FROM users WHERE username = ?",
        [email.into()],
    ))
    .await
    .unwrap()
    .map(|row| row.try_get_by_index::<Option<DateTime<Utc>>>(0).unwrap())
}

async fn execute(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) {
    let db = app.connect_db().await;
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn unproven_registrations_lapse_and_proven_or_older_accounts_do_not() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let [unproven, signed_in, reset, older] = std::array::from_fn(|_| unique_email());
        assert_status(app.register(&unproven, PASSWORD).await, 201).await;
        app.sign_in(&signed_in).await;
        assert_status(app.register(&reset, PASSWORD).await, 201).await;
        assert_status(app.request_reset(&reset).await, 200).await;
        let code = app.reset_code_for(&reset);
        let new_password = "a brand new passphrase";
        assert_status(app.reset_password(&reset, &code, new_password).await, 200).await;
        assert_status(app.register(&older, PASSWORD).await, 201).await;
        // As the rows that existed when the upgrade ran: no time to lapse at.
        execute(
            &app,
            "UPDATE users SET lapses_at = NULL WHERE username = ?",
            vec![older.clone().into()],
        )
        .await;

        // A registration lapses a week after it was made.
        let due = lapses_at(&app, &unproven).await.unwrap().unwrap();
        let week = Utc::now() + chrono::Duration::days(7);
        assert!((due - week).num_seconds().abs() < 120, "{backend:?}: {due}");

        // Nothing is due yet; then the week passes.
        let db = app.connect_db().await;
        let removed = otp_login::store::accounts::prune_unproven(&db, Utc::now(), 100)
            .await
            .unwrap();
        assert_eq!(removed, 0);
        let past = Utc::now() - chrono::Duration::hours(1);
        execute(
            &app,
            "UPDATE users SET lapses_at = ? WHERE lapses_at IS NOT NULL",
            vec![past.into()],
        )
        .await;
        let removed = otp_login::store::accounts::prune_unproven(&db, Utc::now(), 100)
            .await
            .unwrap();
        assert_eq!(removed, 1, "{backend:?}");
        assert_eq!(
            lapses_at(&app, &unproven).await,
            None,
            "the unproven one went"
        );
        for stays in [&signed_in, &reset, &older] {
            assert!(lapses_at(&app, stays).await.is_some(), "{stays} stays");
        }
        // The address is free for its owner.
        assert_status(app.register(&unproven, PASSWORD).await, 201).await;
        app.sign_in_again(&unproven).await;
    }
}

#[tokio::test]
async fn a_lapsed_registration_leaves_nothing_behind() {
    let app = test_app()
        .env(&[("RATE_LIMIT_CODE_SENDS", "5/1h")])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    // A code mailed but never typed: the mailbox is still unproven.
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    assert_status(app.login(&email, "not the password").await, 401).await;
    let id = app.user_id(&email).await.unwrap();
    let db = app.connect_db().await;
    assert!(!traces_of(&app, id, &email).await.is_empty());
    execute(
        &app,
        "UPDATE users SET lapses_at = ? WHERE id = ?",
        vec![
            (Utc::now() - chrono::Duration::minutes(1)).into(),
            id.into(),
        ],
    )
    .await;
    let removed = otp_login::store::accounts::prune_unproven(&db, Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(traces_of(&app, id, &email).await, Vec::<String>::new());
}

#[tokio::test]
async fn with_unproven_account_days_0_registrations_never_lapse() {
    let app = test_app()
        .env(&[("UNPROVEN_ACCOUNT_DAYS", "0")])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_eq!(lapses_at(&app, &email).await, Some(None));
}
