//! Usernames compare byte for byte, and no password stays in plain text.
//!
//! Under MySQL's default collations (`utf8mb4_general_ci`, `utf8mb4_0900_ai_ci`) `username = ?`
//! ignores case and accents, so `alice@exámple.com` found `alice@example.com`. The service
//! already stores usernames lower-cased with the domain in Punycode; this migration brings old
//! rows to that form, then gives every username and rate-limit subject column a binary
//! collation. It also replaces each plain-text password left by the old service with its
//! argon2id hash (sign-in keeps working: the hash is of the same password), widening the
//! column first if it could not hold one.
//!
//! Self-contained on purpose: the rules here are the ones of this schema version, frozen.
use argon2::password_hash::{rand_core::OsRng, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Enough for a PHC string of argon2id at these parameters (about 100 characters).
const PASSWORD_COLUMN_LEN: u32 = 255;

/// Columns holding a username or a rate-limit subject, which must compare byte for byte.
const EXACT_COLUMNS: [(&str, &str); 3] = [
    ("users", "username"),
    ("rate_limit_hits", "subject"),
    ("login_failures", "username"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let mysql = manager.get_database_backend() == DatabaseBackend::MySql;
        normalise_usernames(db).await?;
        if mysql {
            for (table, column) in EXACT_COLUMNS {
                set_collation(db, table, column, "utf8mb4_bin").await?;
            }
            widen_password_column(db).await?;
        }
        hash_plain_text_passwords(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Hashed passwords cannot become plain text again; only the collation goes back.
        if manager.get_database_backend() == DatabaseBackend::MySql {
            let db = manager.get_connection();
            for (table, column) in EXACT_COLUMNS {
                set_collation(db, table, column, "utf8mb4_general_ci").await?;
            }
        }
        Ok(())
    }
}

fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

async fn set_collation(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    collation: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "ALTER TABLE `{table}` MODIFY `{column}` VARCHAR(254) \
         CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL"
    ))
    .await
    .map(|_| ())
}

/// The form the service stores: trimmed, lower-case, the domain in Punycode. A row whose local
/// part is not ASCII cannot receive mail from SES and is left as it is (it cannot sign in).
fn stored_form(username: &str) -> Option<String> {
    let trimmed = username.trim();
    let (local, domain) = trimmed.rsplit_once('@')?;
    if !local.is_ascii() || local.is_empty() {
        return None;
    }
    let domain = idna::domain_to_ascii(domain).ok()?;
    Some(format!("{}@{domain}", local.to_ascii_lowercase()))
}

async fn normalise_usernames(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let rows = db
        .query_all(statement(db, "SELECT id, username FROM users", vec![]))
        .await?;
    for row in rows {
        let id: i32 = row.try_get("", "id")?;
        let username: String = row.try_get("", "username")?;
        let Some(normal) = stored_form(&username).filter(|n| *n != username) else {
            continue;
        };
        // Two old rows that differ only by case cannot exist under the old case-insensitive
        // unique key; a clash here leaves the row untouched rather than failing the upgrade.
        let taken = db
            .query_one(statement(
                db,
                "SELECT id FROM users WHERE username = ? AND id <> ?",
                vec![normal.clone().into(), id.into()],
            ))
            .await?;
        if taken.is_none() {
            db.execute(statement(
                db,
                "UPDATE users SET username = ? WHERE id = ?",
                vec![normal.into(), id.into()],
            ))
            .await?;
        }
    }
    Ok(())
}

async fn widen_password_column(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let width = db
        .query_one(statement(
            db,
            "SELECT CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED) AS width FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' \
             AND COLUMN_NAME = 'password'",
            vec![],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "width"))
        .transpose()?
        .unwrap_or(i64::from(PASSWORD_COLUMN_LEN));
    if width < i64::from(PASSWORD_COLUMN_LEN) {
        db.execute_unprepared(&format!(
            "ALTER TABLE users MODIFY password VARCHAR({PASSWORD_COLUMN_LEN}) NOT NULL"
        ))
        .await?;
    }
    Ok(())
}

/// argon2id with the service's parameters (OWASP: m=19 MiB, t=2, p=1).
fn hash(password: &str) -> Result<String, DbErr> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| DbErr::Migration(format!("argon2 parameters: {e}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|hash| hash.to_string())
        .map_err(|e| DbErr::Migration(format!("hashing a legacy password failed: {e}")))
}

async fn hash_plain_text_passwords(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let rows = db
        .query_all(statement(
            db,
            "SELECT id, password FROM users WHERE password NOT LIKE '$argon2%'",
            vec![],
        ))
        .await?;
    for row in rows {
        let id: i32 = row.try_get("", "id")?;
        let plain: String = row.try_get("", "password")?;
        db.execute(statement(
            db,
            "UPDATE users SET password = ? WHERE id = ?",
            vec![hash(&plain)?.into(), id.into()],
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_usernames_take_the_stored_form() {
        assert_eq!(
            stored_form(" Alice@Example.COM ").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            stored_form("bob@Exámple.com").as_deref(),
            Some("bob@xn--exmple-qta.com")
        );
        assert_eq!(stored_form("student"), None);
        assert_eq!(stored_form("älice@example.com"), None);
    }
}
