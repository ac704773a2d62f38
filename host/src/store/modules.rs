//! Policy modules as the store knows them: each module's self-description, stored
//! once per digest (decision rows name their module by sha256), and the module files
//! whose current bytes were refused, for `sluice status`.

use serde::Serialize;

use super::{Store, StoreError, ms, query_err};
use crate::decision::{DecisionPoint, Description};

/// A module file whose current bytes were refused; the previous version stays live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRefusal {
    /// Module name (the file name without `.wasm`).
    pub module: String,
    /// sha256 of the refused bytes.
    pub sha256: String,
    /// Stable label of the reason (`bad-description`, `trial`, …).
    pub reason: String,
    /// The reason, bounded.
    pub message: String,
    /// When (Unix ms).
    pub refused_ms: u64,
}

impl Store {
    /// Stores `description` for the module with digest `sha256`, once: later calls
    /// for the same digest cost no query.
    ///
    /// # Errors
    /// Query failure.
    pub async fn remember_module(
        &self,
        sha256: &str,
        point: DecisionPoint,
        description: &Description,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        if self.known_modules().contains(sha256) {
            return Ok(());
        }
        let json = serde_json::to_string(description).map_err(|source| StoreError::Corrupt {
            what: "a policy description".into(),
            source,
        })?;
        sqlx::query(
            "INSERT INTO sluice_policy_modules (sha256, point, name, version, description, \
             first_seen_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(point.as_str())
        .bind(&description.name)
        .bind(&description.version)
        .bind(json)
        .bind(ms(now_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "storing the description of module {sha256}"
        )))?;
        self.known_modules().insert(sha256.to_owned());
        Ok(())
    }

    /// The stored description of the module with digest `sha256`.
    ///
    /// # Errors
    /// Query failure or an unreadable document.
    pub async fn module_description(
        &self,
        sha256: &str,
    ) -> Result<Option<Description>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT description FROM sluice_policy_modules WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_err(format!(
                    "reading the description of module {sha256}"
                )))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|source| StoreError::Corrupt {
                what: format!("description of module {sha256}"),
                source,
            })
        })
        .transpose()
    }

    /// Records that the current bytes of `refusal.module` were refused.
    ///
    /// # Errors
    /// Query failure.
    pub async fn record_refusal(&self, refusal: &StoredRefusal) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sluice_policy_refusals (module, sha256, reason, message, refused_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (module) DO UPDATE SET \
             sha256 = excluded.sha256, reason = excluded.reason, message = excluded.message, \
             refused_ms = excluded.refused_ms",
        )
        .bind(&refusal.module)
        .bind(&refusal.sha256)
        .bind(&refusal.reason)
        .bind(&refusal.message)
        .bind(ms(refusal.refused_ms))
        .execute(&self.pool)
        .await
        .map_err(query_err(format!(
            "recording the refusal of policy module `{}`",
            refusal.module
        )))?;
        Ok(())
    }

    /// Forgets the refusal of `module` (a version of it went live).
    ///
    /// # Errors
    /// Query failure.
    pub async fn clear_refusal(&self, module: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sluice_policy_refusals WHERE module = $1")
            .bind(module)
            .execute(&self.pool)
            .await
            .map_err(query_err(format!(
                "clearing the refusal of policy module `{module}`"
            )))?;
        Ok(())
    }

    /// Every module whose current bytes are refused, by name.
    ///
    /// # Errors
    /// Query failure.
    pub async fn refusals(&self) -> Result<Vec<StoredRefusal>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT module, sha256, reason, message, refused_ms FROM sluice_policy_refusals \
             ORDER BY module",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing refused policy modules"))?;
        Ok(rows
            .into_iter()
            .map(|(module, sha256, reason, message, at)| StoredRefusal {
                module,
                sha256,
                reason,
                message,
                refused_ms: u64::try_from(at).unwrap_or(0),
            })
            .collect())
    }
}
