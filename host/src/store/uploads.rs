//! Policy modules uploaded through the admin API: the live bytes of each uploaded name
//! (loaded again at start-up, so an upload survives a restart and reaches every
//! replica), and the audit of every upload attempt.

use serde::Serialize;

use super::{Store, StoreError, ms, query_err};

/// An uploaded module's live bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// Module name.
    pub name: String,
    /// sha256 of `wasm`.
    pub sha256: String,
    /// The component.
    pub wasm: Vec<u8>,
    /// The token name that uploaded it.
    pub uploaded_by: String,
    /// When (Unix ms).
    pub uploaded_ms: u64,
}

/// A `sluice_policy_uploads` row: name, sha256, wasm, uploaded_by, uploaded_ms.
type UploadRow = (String, String, Vec<u8>, String, i64);

impl StoredUpload {
    fn from_row((name, sha256, wasm, uploaded_by, at): UploadRow) -> Self {
        Self {
            name,
            sha256,
            wasm,
            uploaded_by,
            uploaded_ms: u64::try_from(at).unwrap_or(0),
        }
    }
}

/// One upload attempt, as audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadAttempt {
    /// Module name.
    pub name: String,
    /// sha256 of the bytes sent (empty when none were read).
    pub sha256: String,
    /// The token name, or `-` when no valid token was given.
    pub who: String,
    /// Whether the bytes went live.
    pub accepted: bool,
    /// `accepted`, or why not.
    pub reason: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

impl Store {
    /// Makes `upload` the stored bytes of its name (replacing earlier ones).
    ///
    /// # Errors
    /// Query failure.
    pub async fn save_upload(&self, upload: &StoredUpload) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sluice_policy_uploads (name, sha256, wasm, uploaded_by, uploaded_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, \
             wasm = excluded.wasm, uploaded_by = excluded.uploaded_by, uploaded_ms = excluded.uploaded_ms",
        )
        .bind(&upload.name)
        .bind(&upload.sha256)
        .bind(&upload.wasm)
        .bind(&upload.uploaded_by)
        .bind(ms(upload.uploaded_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "storing the uploaded policy module `{}`",
            upload.name
        )))?;
        Ok(())
    }

    /// Every uploaded module, by name.
    ///
    /// # Errors
    /// Query failure.
    pub async fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError> {
        let rows: Vec<UploadRow> = sqlx::query_as(
            "SELECT name, sha256, wasm, uploaded_by, uploaded_ms FROM sluice_policy_uploads \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("reading the uploaded policy modules"))?;
        Ok(rows.into_iter().map(StoredUpload::from_row).collect())
    }

    /// `(name, sha256)` of every uploaded module, by name (without the bytes).
    ///
    /// # Errors
    /// Query failure.
    pub async fn upload_digests(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as("SELECT name, sha256 FROM sluice_policy_uploads ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("reading the uploaded policy modules' digests"))
    }

    /// The uploaded module `name`, if any.
    ///
    /// # Errors
    /// Query failure.
    pub async fn upload(&self, name: &str) -> Result<Option<StoredUpload>, StoreError> {
        let row: Option<UploadRow> = sqlx::query_as(
            "SELECT name, sha256, wasm, uploaded_by, uploaded_ms FROM sluice_policy_uploads \
             WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!(
            "reading the uploaded policy module `{name}`"
        )))?;
        Ok(row.map(StoredUpload::from_row))
    }

    /// Appends `attempt` to the upload audit.
    ///
    /// # Errors
    /// Query failure.
    pub async fn audit_upload(&self, attempt: &UploadAttempt) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sluice_policy_upload_audit (name, sha256, who, accepted, reason, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&attempt.name)
        .bind(&attempt.sha256)
        .bind(&attempt.who)
        .bind(i64::from(attempt.accepted))
        .bind(&attempt.reason)
        .bind(ms(attempt.at_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "auditing an upload of policy module `{}`",
            attempt.name
        )))?;
        Ok(())
    }

    /// The most recent `limit` upload attempts, newest first.
    ///
    /// # Errors
    /// Query failure.
    pub async fn upload_audit(&self, limit: u32) -> Result<Vec<UploadAttempt>, StoreError> {
        let rows: Vec<(String, String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT name, sha256, who, accepted, reason, at_ms FROM sluice_policy_upload_audit \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("reading the upload audit"))?;
        Ok(rows
            .into_iter()
            .map(|(name, sha256, who, accepted, reason, at)| UploadAttempt {
                name,
                sha256,
                who,
                accepted: accepted != 0,
                reason,
                at_ms: u64::try_from(at).unwrap_or(0),
            })
            .collect())
    }
}
