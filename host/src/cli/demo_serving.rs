//! The demo's simulated inference service. It serves what the deploy repo says — it
//! reads the HTTPRoute's weights and the two image tags from Git's `main` a few times a
//! second — and writes one row per request (version, latency, quality, time) into the
//! demo database, where the rollout's SQL provider reads them. Each version has its
//! own latency profile: v2 is a little faster than v1, v3 is clearly slower.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::watch;

/// The HTTPRoute splitting traffic between the stable and canary Deployments.
pub const ROUTE_FILE: &str = "k8s/apps/inference-service/base/route.yaml";

/// The route as the platform team wrote it; sluice edits the two weights.
pub const ROUTE: &str = "# Traffic split between the stable and canary Deployments.
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: inference
spec:
  parentRefs:
    - name: public
  rules:
    - backendRefs:
        - name: inference-stable
          port: 8080
          weight: 100   # stable
        - name: inference-canary
          port: 8080
          weight: 0     # canary
";

/// Requests simulated per tick.
const REQUESTS_PER_TICK: usize = 40;
/// Time between ticks.
const TICK: Duration = Duration::from_millis(200);

/// Mean and spread of a version's latency (ms) and quality score.
fn profile(version: &str) -> (f64, f64, f64) {
    match version {
        "v1" => (120.0, 15.0, 0.91),
        "v2" => (108.0, 15.0, 0.93),
        // v3 looks as good offline, but serves slowly.
        _ => (178.0, 20.0, 0.93),
    }
}

/// A small deterministic generator (xorshift64*) with normal draws (Box–Muller).
struct Draws(u64);

impl Draws {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (x as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// What Git says is deployed: (stable, canary, canary weight).
fn deployed(repo: &Path) -> Option<(String, String, u32)> {
    let route = super::demo::file_at_head(repo, ROUTE_FILE).ok()?;
    let kust = super::demo::file_at_head(repo, super::demo::DEPLOY_FILE).ok()?;
    let route: serde_yaml_ng::Value = serde_yaml_ng::from_str(&route).ok()?;
    let weight = route["spec"]["rules"][0]["backendRefs"][1]["weight"].as_u64()?;
    let kust: serde_yaml_ng::Value = serde_yaml_ng::from_str(&kust).ok()?;
    let tag = |name: &str| {
        kust["images"]
            .as_sequence()?
            .iter()
            .find(|i| i["name"].as_str() == Some(name))?["newTag"]
            .as_str()
            .map(str::to_owned)
    };
    Some((
        tag("inference")?,
        tag("inference-canary")?,
        u32::try_from(weight).ok()?.min(100),
    ))
}

/// Creates the `requests` table.
pub async fn create_table(pool: &AnyPool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TABLE requests (id INTEGER PRIMARY KEY, version TEXT NOT NULL, \
         latency_ms REAL NOT NULL, quality REAL NOT NULL, at_ms BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Serves simulated traffic until `stop` turns true.
pub async fn serve(db: PathBuf, repo: PathBuf, mut stop: watch::Receiver<bool>) {
    let Ok((pool, _)) = crate::store::pool(&format!("sqlite:{}", db.display()), 1).await else {
        return;
    };
    let mut draws = Draws(0x5eed_cafe_f00d_1234);
    loop {
        if let Some((stable, canary, weight)) = deployed(&repo) {
            let now = crate::clock::now_ms();
            let mut rows = Vec::with_capacity(REQUESTS_PER_TICK);
            for i in 0..REQUESTS_PER_TICK {
                let to_canary = (draws.uniform() * 100.0) < f64::from(weight);
                let version = if to_canary { &canary } else { &stable };
                let (mean, sd, quality) = profile(version);
                rows.push((
                    version.clone(),
                    draws.normal(mean, sd).max(1.0),
                    draws.normal(quality, 0.02).clamp(0.0, 1.0),
                    now.saturating_sub(i as u64),
                ));
            }
            if let Ok(mut tx) = pool.begin().await {
                for (v, l, q, at) in rows {
                    let _ = sqlx::query(
                        "INSERT INTO requests (version, latency_ms, quality, at_ms) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(v)
                    .bind(l)
                    .bind(q)
                    .bind(i64::try_from(at).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await;
                }
                let _ = tx.commit().await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_asked_mean_and_spread() {
        let mut d = Draws(42);
        let xs: Vec<f64> = (0..20_000).map(|_| d.normal(100.0, 10.0)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        assert!((mean - 100.0).abs() < 0.3, "{mean}");
        assert!((var.sqrt() - 10.0).abs() < 0.3, "{var}");
    }
}
