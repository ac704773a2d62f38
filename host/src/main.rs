//! The `sluice` binary: parses the command line, sets up logging, dispatches.

use anyhow::Context as _;
use clap::Parser as _;
use sluice::cli::{Cli, Command, ConfigCommand, LogFormat, PolicyCommand, demo, policy};

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sluice=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let engine = policy::engine().context("starting the WebAssembly engine")?;
    match cli.command {
        Command::Demo => print!("{}", demo::run(&engine)?),
        Command::Config(ConfigCommand::Check { file }) => {
            let loaded = sluice::config::load(&file, &engine)?;
            println!(
                "{}: ok — {} pipelines, {} policy uses, policy directory {}",
                file.display(),
                loaded.config.pipelines.len(),
                loaded.uses.len(),
                loaded.policy_dir.display()
            );
            for u in &loaded.uses {
                println!("  {:<20} {:<10} {}", u.pipeline, u.point.as_str(), u.module);
            }
        }
        Command::Policy(cmd) => match cmd {
            PolicyCommand::Check { module, json } => {
                println!("{}", policy::check(&*policy::load(&engine, &module)?, json));
            }
            PolicyCommand::Eval { module, input } => {
                let m = policy::load(&engine, &module)?;
                println!("{}", policy::eval(&engine, &m, &input)?);
            }
            PolicyCommand::Test { module, cases } => {
                let m = policy::load(&engine, &module)?;
                policy::test(&engine, &m, &cases)?;
            }
            PolicyCommand::Bench {
                module,
                input,
                iterations,
            } => {
                let m = policy::load(&engine, &module)?;
                let r = policy::bench(&engine, &m, input.as_ref(), iterations)?;
                println!(
                    "{}: {} decisions, p50 {:.1} µs, p99 {:.1} µs, {} fuel each",
                    m.source,
                    r.iterations,
                    r.p50.as_secs_f64() * 1e6,
                    r.p99.as_secs_f64() * 1e6,
                    r.fuel
                );
            }
        },
    }
    Ok(())
}
