//! Leader election for several replicas on one store: the holder of a
//! `coordination.k8s.io/v1` Lease runs the pipelines, the others stand by with their
//! policy modules compiled. kube-lease-manager takes and renews the lease; on top of it
//! a watchdog reads the Lease itself, so a leader that cannot confirm its lease (the API
//! server unreachable, the lease taken) stops acting before the lease could have
//! expired — and the store's fencing refuses whatever a deposed leader still writes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::Api;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::LeaderElectionConfig;

/// The share of the lease duration before its expiry at which the leader renews it
/// (the rest of the duration is the renewal's grace).
pub const RENEW_SHARE: u32 = 3;
/// How often a leader confirms its lease by reading it.
pub const WATCHDOG_EVERY: Duration = Duration::from_millis(500);

/// Why leader election cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// The API server cannot be reached or configured.
    #[error("cannot use the API server for the Lease: {0}")]
    Client(String),
}

/// This host's part in the election.
#[derive(Clone)]
pub struct Election {
    client: kube::Client,
    namespace: String,
    lease: String,
    /// This host's identity in the Lease.
    pub identity: String,
    duration: Duration,
}

/// The identity a host uses when the config gives none: `$POD_NAME`, else its host
/// name and process id.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "sluice".into());
    format!("{host}-{}", std::process::id())
}

impl Election {
    /// Connects to the API server the config names (relative paths against `base`).
    ///
    /// # Errors
    /// No usable Kubernetes configuration.
    pub async fn connect(cfg: &LeaderElectionConfig, base: &Path) -> Result<Self, ElectionError> {
        let kubeconfig = cfg.kubeconfig.as_ref().map(|k| base.join(k));
        let client = crate::kube_client::connect(kubeconfig.as_deref())
            .await
            .map_err(ElectionError::Client)?;
        Ok(Self {
            client,
            namespace: cfg.namespace.clone(),
            lease: cfg.lease.clone(),
            identity: cfg.identity.clone().unwrap_or_else(default_identity),
            duration: cfg.lease_duration.0,
        })
    }

    /// Takes part until `shutdown`: the channel says whether this host leads now. It
    /// turns false as soon as the lease is lost or cannot be confirmed within its
    /// duration, and at shutdown the lease is released so a standby takes over at once.
    pub fn run(
        &self,
        mut shutdown: watch::Receiver<bool>,
    ) -> (watch::Receiver<bool>, JoinHandle<()>) {
        let (tx, rx) = watch::channel(false);
        let me = self.clone();
        let task = tokio::spawn(async move {
            let secs = me.duration.as_secs().max(3);
            let grace = (secs / u64::from(RENEW_SHARE)).max(1);
            loop {
                let built = LeaseManagerBuilder::new(me.client.clone(), &me.lease)
                    .with_namespace(&me.namespace)
                    .with_identity(&me.identity)
                    .with_duration(secs)
                    .with_grace(grace)
                    .build()
                    .await;
                let manager = match built {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reach the leader-election Lease; standing by and trying again");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = shutdown.changed() => return,
                        }
                    }
                };
                let (mut holds, manager_task) = manager.watch().await;
                let mut watchdog = tokio::time::interval(WATCHDOG_EVERY);
                let mut confirmed = SystemTime::now();
                loop {
                    tokio::select! {
                        changed = holds.changed() => {
                            if changed.is_err() {
                                break;
                            }
                            confirmed = SystemTime::now();
                        }
                        _ = watchdog.tick() => {}
                        _ = shutdown.changed() => {
                            let _ = tx.send(false);
                            drop(holds);
                            let _ = manager_task.await;
                            return;
                        }
                    }
                    let mut leading = *holds.borrow();
                    if leading {
                        match me.confirm().await {
                            Ok(true) => confirmed = SystemTime::now(),
                            Ok(false) => leading = false,
                            Err(_) => {
                                // Unconfirmed: stop acting while the lease might still be
                                // ours, a grace period before it could have expired.
                                let age = confirmed.elapsed().unwrap_or_default();
                                if age + Duration::from_secs(grace) >= me.duration {
                                    leading = false;
                                }
                            }
                        }
                    }
                    if *tx.borrow() != leading {
                        tracing::info!(identity = %me.identity, leading, "leader election: role changed");
                        let _ = tx.send(leading);
                    }
                }
                let _ = tx.send(false);
                let _ = manager_task.await;
            }
        });
        (rx, task)
    }

    /// The Lease's spec, as the API server has it now.
    async fn read(&self) -> Result<Option<LeaseSpec>, kube::Error> {
        let lease = Api::<Lease>::namespaced(self.client.clone(), &self.namespace)
            .get(&self.lease)
            .await?;
        Ok(lease.spec)
    }

    /// Whether `spec` names this host as holder.
    fn holds(&self, spec: &LeaseSpec) -> bool {
        spec.holder_identity.as_deref() == Some(self.identity.as_str())
    }

    /// Whether the Lease names this host as holder and has not expired.
    async fn confirm(&self) -> Result<bool, kube::Error> {
        let Some(spec) = self.read().await? else {
            return Ok(false);
        };
        let ours = self.holds(&spec);
        let fresh = match (spec.renew_time, spec.lease_duration_seconds) {
            (Some(renewed), Some(secs)) => {
                let renewed: SystemTime = renewed.0.into();
                renewed + Duration::from_secs(u64::try_from(secs).unwrap_or(0)) > SystemTime::now()
            }
            _ => false,
        };
        Ok(ours && fresh)
    }

    /// This host's term, if it holds the lease: the lease's acquire time in
    /// microseconds. It is written in the same patch as the holder, and a new holder
    /// acquires only after the previous lease expired, so it grows with every holder
    /// (the transition count is written in a second patch, so it could be read stale).
    ///
    /// # Errors
    /// The Lease cannot be read.
    pub async fn term(&self) -> Result<Option<i64>, kube::Error> {
        Ok(self.read().await?.and_then(|s| {
            self.holds(&s)
                .then_some(s.acquire_time)
                .flatten()
                .map(|t| t.0.as_microsecond())
        }))
    }
}
