//! The real `sluice` binary as a process: start `sluice run` (with a failpoint), wait
//! for it to exit, stop it with SIGTERM, read what a command prints; and the SQLite
//! annotations table a local workspace starts with.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// `sluice run --config CONFIG` (in `cwd` when given), aborting at `failpoint` if given.
pub fn start(config: &Path, cwd: Option<&Path>, failpoint: Option<&str>) -> Child {
    let mut cmd = Command::new(BIN);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd.args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match failpoint {
        Some(f) => cmd.env("SLUICE_FAILPOINT", f),
        None => cmd.env_remove("SLUICE_FAILPOINT"),
    };
    cmd.spawn().expect("sluice starts")
}

/// Waits for `child` to exit; fails the test after `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let end = Instant::now() + within;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        assert!(Instant::now() < end, "sluice did not exit in {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM.
pub fn sigterm(child: &Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

/// What `sluice ARGS --config CONFIG` prints on stdout.
pub fn stdout_of(args: &[&str], config: &Path) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "error")
        .output()
        .unwrap_or_else(|e| panic!("sluice {args:?} runs: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates `annotations` in the SQLite database `path` with `verified` verified rows.
pub fn sqlite_annotations(path: &Path, verified: usize) {
    let url = format!("sqlite:{}", path.display());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (pool, _) = sluice::store::pool(&url, 1).await.expect("pool");
        sqlx::raw_sql(
            "CREATE TABLE annotations (id INTEGER PRIMARY KEY, verified BOOLEAN NOT NULL, \
             used_for_training BOOLEAN NOT NULL DEFAULT FALSE, training_run TEXT)",
        )
        .execute(&pool)
        .await
        .expect("create");
        for _ in 0..verified {
            sqlx::raw_sql("INSERT INTO annotations (verified) VALUES (TRUE)")
                .execute(&pool)
                .await
                .expect("insert");
        }
        pool.close().await;
    });
}
