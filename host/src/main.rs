//! The `sluice` binary: parses the command line, sets up logging, dispatches.

use anyhow::Context as _;
use clap::Parser as _;
use sluice::cli::{
    Cli, Command, ConfigCommand, LogFormat, PolicyCommand, authoring, demo, ops, policy,
};

fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
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
    if matches!(cli.command, Command::DemoTrainer) {
        demo::trainer();
        return Ok(());
    }
    // The demo narrates on stdout; its logs would only repeat the narration.
    let default_filter = match cli.command {
        Command::Demo { .. } => "warn",
        _ => "warn,sluice=info",
    };
    init_logging(cli.log_format, default_filter);
    // One engine per process, configured as the config file (if the command has one)
    // says; built only by the commands that run policies.
    let engine = |config: Option<&std::path::Path>| {
        let settings = config
            .map(sluice::config::engine_settings)
            .unwrap_or_default();
        sluice::policy::PolicyEngine::new(settings).context("starting the WebAssembly engine")
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    };
    // The commands that only read sluice's store: check the config (its policy modules
    // are not compiled for this), open the store.
    let with_store = |config: &std::path::Path| -> anyhow::Result<_> {
        let loaded = sluice::config::load_without_policies(config)?;
        let rt = runtime()?;
        let store = rt.block_on(ops::open_store(&loaded))?;
        Ok((rt, store))
    };
    match cli.command {
        Command::DemoTrainer => {}
        Command::Crd => print!("{}", sluice::resource::crd_yaml()),
        Command::Demo { keep } => runtime()?.block_on(demo::run(engine(None)?, keep))?,
        Command::Run { config } => {
            let engine = engine(Some(&config))?;
            let loaded = sluice::config::load(&config, &engine)?;
            let listen = loaded.config.host.listen.clone();
            runtime()?.block_on(async {
                let lp = sluice::daemon::build(&loaded, engine, None).await?;
                sluice::daemon::run(lp, &listen, None).await
            })?;
        }
        Command::Status { config, json } => {
            let (rt, store) = with_store(&config)?;
            print!("{}", rt.block_on(ops::status(&store, json))?);
        }
        Command::Decisions {
            config,
            pipeline,
            limit,
            json,
        } => {
            let (rt, store) = with_store(&config)?;
            let out = rt.block_on(ops::decisions(&store, pipeline.as_deref(), limit, json))?;
            println!("{}", out.trim_end());
        }
        Command::Approve {
            config,
            pipeline,
            reject,
        } => {
            let (rt, store) = with_store(&config)?;
            println!("{}", rt.block_on(ops::approve(&store, &pipeline, reject))?);
        }
        Command::Rollout { command } => {
            use sluice::cli::RolloutCommand as R;
            use sluice::store::RolloutAction as A;
            let (args, action) = match command {
                R::Status(t) => {
                    let (rt, store) = with_store(&t.config)?;
                    print!(
                        "{}",
                        rt.block_on(sluice::cli::rollout::status(&store, &t.pipeline))?
                    );
                    return Ok(());
                }
                R::Pause(a) => (a, A::Pause),
                R::Resume(a) => (a, A::Resume),
                R::Abort(a) => (a, A::Abort),
                R::Promote(a) => (a, A::Promote),
            };
            let who = args
                .by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "operator".into());
            let (rt, store) = with_store(&args.target.config)?;
            println!(
                "{}",
                rt.block_on(sluice::cli::rollout::request(
                    &store,
                    &args.target.pipeline,
                    action,
                    &who,
                    &args.reason
                ))?
            );
        }
        Command::Config(ConfigCommand::Check { file, remote }) => {
            let loaded = sluice::config::load(&file, &*engine(Some(&file))?)?;
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
            if remote {
                let (report, all_ok) = sluice::cli::config_check::remote(&loaded);
                print!("{report}");
                anyhow::ensure!(
                    all_ok,
                    "a deploy repository cannot take a promotion (see above)"
                );
            }
        }
        Command::Policy {
            command:
                PolicyCommand::New {
                    name,
                    lang,
                    point,
                    dir,
                    sdk,
                },
            ..
        } => {
            let new = authoring::scaffold::NewProject {
                name,
                lang,
                point,
                parent: dir,
                rust_sdk: sdk.or_else(authoring::scaffold::default_rust_sdk),
            };
            let made = authoring::scaffold::create(&new)?;
            println!("created {}", made.display());
            println!("next: cd {} && sluice policy build .", made.display());
        }
        Command::Policy {
            command:
                PolicyCommand::Push {
                    file,
                    name,
                    server,
                    token_file,
                    token_env,
                    ca_file,
                },
            ..
        } => {
            let token = sluice::secret::SecretRef {
                env: match &token_file {
                    Some(_) => None,
                    None => Some(token_env.unwrap_or_else(|| "SLUICE_TOKEN".into())),
                },
                file: token_file,
            };
            let push = sluice::cli::push::Push {
                file,
                name,
                server,
                token,
                ca_file,
            };
            println!("{}", runtime()?.block_on(sluice::cli::push::push(&push))?);
        }
        Command::Policy {
            command: PolicyCommand::Build { dir, out },
            ..
        } => {
            let project = authoring::project::read(&dir)?;
            let built = authoring::build::build(&project, out.as_deref())?;
            println!("{}", built.module.display());
            println!("  sha256: {}", built.sha256);
        }
        Command::Policy {
            config,
            command: cmd,
        } => {
            let settings = policy::engine_settings(config.as_deref())?;
            let engine = sluice::policy::PolicyEngine::new(settings)
                .context("starting the WebAssembly engine")?;
            match cmd {
                PolicyCommand::Check { module, json } => {
                    let loaded = policy::load(&engine, &module)?;
                    println!("{}", policy::check(&loaded, json));
                    // After the description, so a failing module still shows it.
                    match policy::trial(&engine, &loaded)? {
                        Some(done) if !json => println!("  trial:   {done}"),
                        None if !json => println!(
                            "  trial:   skipped: required parameters have no defaults (try `sluice policy eval`)"
                        ),
                        _ => {}
                    }
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
                        "{}: {} decisions, p50 {:.1} µs, p99 {:.1} µs, {} fuel each, {} failed",
                        m.source,
                        r.iterations,
                        r.p50.as_secs_f64() * 1e6,
                        r.p99.as_secs_f64() * 1e6,
                        r.fuel,
                        r.failed
                    );
                    // Failed decisions are the pipeline's fail-safe, not a timing: the
                    // command says so and exits non-zero.
                    if let Some(first) = r.first_failure {
                        return Err(policy::PolicyCommandError::DecisionsFailed {
                            failed: r.failed,
                            total: r.iterations,
                            first: sluice::cli::printable(&first).into_owned(),
                        }
                        .into());
                    }
                }
                // Answered above, before an engine is started.
                PolicyCommand::New { .. }
                | PolicyCommand::Build { .. }
                | PolicyCommand::Push { .. } => {}
            }
        }
    }
    Ok(())
}
