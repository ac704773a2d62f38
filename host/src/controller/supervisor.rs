//! The set of running pipelines, changed while the host runs: a `ModelPipeline` that
//! appears starts a task, an edited one replaces its task, a deleted one stops it. A
//! replaced or stopped task finishes the tick it is in first, so no step is cut short.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Context, Pipeline, run_pipeline};

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// One task per pipeline name.
pub struct Supervisor {
    ctx: Context,
    shutdown: watch::Receiver<bool>,
    running: HashMap<String, Running>,
}

impl Supervisor {
    /// No pipelines yet; every task it starts ends when `shutdown` turns true.
    pub fn new(ctx: Context, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            ctx,
            shutdown,
            running: HashMap::new(),
        }
    }

    /// Starts `p`; a pipeline of the same name running already is stopped first (after
    /// its current tick).
    pub async fn start(&mut self, p: Arc<Pipeline>) {
        self.stop(&p.name).await;
        let (stop, stopped) = watch::channel(false);
        let name = p.name.clone();
        let task = tokio::spawn(tracing::Instrument::instrument(
            run_pipeline(self.ctx.clone(), p, self.shutdown.clone(), stopped),
            tracing::info_span!("pipeline", pipeline = %name),
        ));
        self.running.insert(name, Running { stop, task });
    }

    /// Stops pipeline `name` after its current tick; whether it was running.
    pub async fn stop(&mut self, name: &str) -> bool {
        let Some(r) = self.running.remove(name) else {
            return false;
        };
        let _ = r.stop.send(true);
        let _ = r.task.await;
        true
    }

    /// Waits until every task has ended (they end on shutdown).
    pub async fn wait(&mut self) {
        for (_, r) in self.running.drain() {
            let _ = r.task.await;
        }
    }
}
