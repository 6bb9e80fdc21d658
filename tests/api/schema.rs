use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::helpers::*;

const CREATE_DATABASE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/database/create_database.sql"
));

/// Runs `database/create_database.sql` into the test database (its own `CREATE DATABASE` and
/// `USE` lines are for people; the test owns its database).
async fn run_hand_written_sql(db: &DatabaseConnection) {
    let without_comments: String = CREATE_DATABASE_SQL
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if statement.starts_with("CREATE DATABASE") || statement.starts_with("USE ") {
            continue;
        }
        db.execute_unprepared(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}\n{e}"));
    }
}

/// Columns, indexes and foreign keys of a database, one line each, sorted.
async fn describe(db: &DatabaseConnection) -> Vec<String> {
    let queries = [
        "SELECT CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, \
         COALESCE(COLUMN_DEFAULT, '<none>'), COLUMN_KEY, EXTRA, COALESCE(COLLATION_NAME, '-')) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME <> 'seaql_migrations'",
        "SELECT CONCAT_WS('|', 'index', TABLE_NAME, INDEX_NAME, COLUMN_NAME, NON_UNIQUE) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME <> 'seaql_migrations'",
        "SELECT CONCAT_WS('|', 'fk', TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, \
         DELETE_RULE, UPDATE_RULE) FROM information_schema.REFERENTIAL_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE()",
        "SELECT CONCAT_WS('|', 'table', TABLE_NAME, ENGINE, TABLE_COLLATION) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME <> 'seaql_migrations'",
    ];
    let mut lines = vec![];
    for sql in queries {
        for row in db
            .query_all(Statement::from_string(DatabaseBackend::MySql, sql))
            .await
            .unwrap()
        {
            lines.push(row.try_get_by_index::<String>(0).unwrap());
        }
    }
    lines.sort();
    lines
}

#[tokio::test]
async fn hand_written_sql_creates_the_same_tables_as_the_migrations() {
    let migrated_db = TestDb::new(Backend::MariaDb).await;
    let migrated = migrated_db.connect().await;
    Migrator::up(&migrated, None).await.unwrap();
    let by_hand_db = TestDb::new(Backend::MariaDb).await;
    let by_hand = by_hand_db.connect().await;
    run_hand_written_sql(&by_hand).await;

    let expected = describe(&migrated).await;
    assert!(expected
        .iter()
        .any(|l| l.starts_with("one_time_codes|code_hash|varchar(64)")));
    assert_eq!(describe(&by_hand).await, expected);

    // Migrations then adopt the hand-made database without changing it.
    Migrator::up(&by_hand, None).await.unwrap();
    assert_eq!(describe(&by_hand).await, expected);
}

#[tokio::test]
async fn demo_users_from_the_sql_file_can_log_in() {
    let db = TestDb::new(Backend::MariaDb).await;
    run_hand_written_sql(&db.connect().await).await;
    let app = test_app().sharing(&db).spawn().await;
    for (user, password) in [
        ("student@example.com", "student-pass-1234"),
        ("admin@example.com", "admin-password-123"),
        ("test@example.com", "test-pass-12345"),
        ("user@example.com", "user-password-1"),
    ] {
        assert_status(app.login(user, password).await, 200).await;
        assert_eq!(app.code_for(user).len(), 6);
    }
}

#[tokio::test]
async fn the_old_services_database_is_adopted_keeping_every_row() {
    let db = TestDb::new(Backend::MariaDb).await;
    let conn = db.connect().await;
    conn.execute_unprepared(
        "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, \
         username VARCHAR(30) NOT NULL UNIQUE, password VARCHAR(40) NOT NULL)",
    )
    .await
    .unwrap();
    conn.execute_unprepared(
        "INSERT INTO users (username, password) VALUES \
         ('student', '1234'), ('Legacy@Example.COM', 'plainpass')",
    )
    .await
    .unwrap();

    let app = test_app().sharing(&db).spawn().await;

    let columns = describe(&conn).await;
    assert!(
        columns
            .iter()
            .any(|l| l.starts_with("users|username|varchar(254)|NO")),
        "{columns:#?}"
    );
    assert!(
        columns
            .iter()
            .any(|l| l.starts_with("users|created_at|datetime")),
        "{columns:#?}"
    );
    let count = conn
        .query_one(Statement::from_string(
            DatabaseBackend::MySql,
            "SELECT COUNT(*) AS n FROM users",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(count, 2);
    // No plain text survives the upgrade, even for users who never come back; the column
    // grew to hold the hash, and the address took the form the service looks up.
    assert!(
        columns
            .iter()
            .any(|l| l.starts_with("users|password|varchar(255)|NO")),
        "{columns:#?}"
    );
    for username in ["student", "legacy@example.com"] {
        let stored = stored_password(&conn, username).await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }

    // A long address fits now.
    let long = format!("{}@example.com", "l".repeat(60));
    assert_status(app.register(&long, PASSWORD).await, 201).await;
    // The legacy row signs in with its old password from the hash, and wrongly not at all.
    assert_status(app.login("legacy@example.com", "wrong").await, 401).await;
    assert_status(app.login("legacy@example.com", "plainpass").await, 200).await;
    assert_status(
        app.verify("legacy@example.com", &app.code_for("legacy@example.com"))
            .await,
        200,
    )
    .await;
    // …and its password can be reset like any other.
    assert_status(app.request_reset("legacy@example.com").await, 200).await;
    let code = app.reset_code_for("legacy@example.com");
    let new = "a brand new passphrase";
    assert_answer(
        app.reset_password("legacy@example.com", &code, new).await,
        200,
        "Password changed",
    )
    .await;
    assert_status(app.login("legacy@example.com", "plainpass").await, 401).await;
    assert_status(app.login("legacy@example.com", new).await, 200).await;
}

#[tokio::test]
async fn a_pending_sign_in_code_survives_the_purpose_migration_both_ways() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        let app = test_app().sharing(&db).spawn().await;
        let email = unique_email();
        app.register_and_login(&email).await;
        let conn = db.connect().await;
        // Down to before purposes and sessions, and up again, with the code pending.
        Migrator::down(&conn, Some(1)).await.unwrap();
        Migrator::up(&conn, None).await.unwrap();
        assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
    }
}

async fn stored_password(db: &DatabaseConnection, username: &str) -> String {
    db.query_one(Statement::from_sql_and_values(
        DatabaseBackend::MySql,
        "SELECT password FROM users WHERE username = ?",
        [username.into()],
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "password")
    .unwrap()
}

#[tokio::test]
async fn migrations_roll_back_and_reapply() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let test_db = TestDb::new(backend).await;
        let db = test_db.connect().await;
        Migrator::up(&db, None).await.unwrap();
        Migrator::down(&db, None).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        assert!(Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty());
    }
}
