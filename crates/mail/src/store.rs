//! The mail feature's SQL: its table is `mail_suppressions`, the
//! addresses Landlord no longer mails (kept lowercased).

use landlord_core::{Db, Timestamp};
use sqlx::{Any, Executor};

use crate::suppression::SuppressionReason;

/// A suppressed address as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SuppressionRow {
    pub address: String,
    pub reason: SuppressionReason,
    /// The SMTP reply code of a refusal (e.g. 550).
    pub smtp_code: Option<i64>,
    /// The SMTP server's message or the provider's description.
    pub description: Option<String>,
    /// What reported it: `smtp` or `webhook`.
    pub source: String,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "address, reason, smtp_code, description, source, created_at";

/// Suppresses `row.address` (lowercased by the caller); `false` when it
/// already was (the first reason is kept).
pub async fn insert<'c, E>(executor: E, row: &SuppressionRow) -> Result<bool, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let done = sqlx::query(
        "INSERT INTO mail_suppressions (address, reason, smtp_code, description, source, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (address) DO NOTHING",
    )
    .bind(&row.address)
    .bind(row.reason)
    .bind(row.smtp_code)
    .bind(&row.description)
    .bind(&row.source)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The suppression of `address` (lowercased), if any.
pub async fn find<'c, E>(executor: E, address: &str) -> Result<Option<SuppressionRow>, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mail_suppressions WHERE address = $1"
    ))
    .bind(address)
    .fetch_optional(executor)
    .await
}

/// Suppressed addresses containing `search` (lowercased; any when
/// `None`), newest first, at most `limit`.
pub async fn list(
    db: &Db,
    search: Option<&str>,
    limit: i64,
) -> Result<Vec<SuppressionRow>, sqlx::Error> {
    let pattern = match search {
        None => "%".to_string(),
        Some(text) => format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        ),
    };
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mail_suppressions WHERE address LIKE $1 ESCAPE '\\' \
         ORDER BY created_at DESC, address LIMIT $2"
    ))
    .bind(pattern)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// The suppressions among `addresses` (lowercased).
pub async fn among(db: &Db, addresses: &[String]) -> Result<Vec<SuppressionRow>, sqlx::Error> {
    let mut found = Vec::new();
    // A few hundred placeholders a statement at most.
    for chunk in addresses.chunks(200) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM mail_suppressions WHERE address IN ({}) ORDER BY address",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as(&sql);
        for address in chunk {
            query = query.bind(address);
        }
        let rows: Vec<SuppressionRow> = query.fetch_all(db.pool()).await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Lifts the suppression of `address` (lowercased); `false` when there
/// was none.
pub async fn delete<'c, E>(executor: E, address: &str) -> Result<bool, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let done = sqlx::query("DELETE FROM mail_suppressions WHERE address = $1")
        .bind(address)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() > 0)
}
