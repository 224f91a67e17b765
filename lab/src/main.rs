//! arcway-lab: build, show and remove labs; serve HTTP inside a lab namespace.
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use arcway_lab::state::LabState;
use std::time::Duration;

use arcway_lab::demo::{self, Fault};
use arcway_lab::{Lab, LabOptions, bench, cleanup, http, plan};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "arcway-lab", about = "Network-namespace lab for arcway")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a lab and leave it running.
    Up {
        #[arg(long)]
        prefix: Option<String>,
        /// IPv6 on the Wi-Fi side (gw, ap, inet, arcsrv).
        #[arg(long)]
        ipv6: bool,
        /// Run an iperf3 server on the internet host.
        #[arg(long)]
        iperf3: bool,
    },
    /// End a lab's processes and delete its namespaces.
    Down {
        #[arg(long)]
        prefix: String,
    },
    /// Print a running lab's topology.
    Show {
        #[arg(long)]
        prefix: String,
    },
    /// Remove one lab, or every lab whose owning process is gone.
    Cleanup {
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Print the arcway configuration the demo and the benchmark run in a lab's gateway.
    Config {
        #[arg(long)]
        prefix: String,
        /// With ModemManager as the cellular path's source of truth (`modem: {}`).
        #[arg(long)]
        modem: bool,
    },
    /// Inject one fault in a running lab (carrier-down, carrier-up, blackhole-on,
    /// blackhole-off) and time the LAN host's platform traffic moving to the other path.
    Measure {
        #[arg(long)]
        prefix: String,
        fault: Fault,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// The failover benchmark: a fresh lab, arcway with default health settings, timed
    /// failures; prints a table and, last, one JSON line.
    BenchFailover {
        /// Namespace prefix of the lab the benchmark builds (default: a random one).
        #[arg(long)]
        prefix: Option<String>,
        /// Carrier-loss trials.
        #[arg(long, default_value_t = 10)]
        trials: usize,
        /// Silent-failure (blackhole) trials.
        #[arg(long, default_value_t = 5)]
        blackhole_trials: usize,
        /// Seconds of idle CPU measurement.
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
        /// Seconds of carrier flapping (down/up every second).
        #[arg(long, default_value_t = 20)]
        flap_secs: u32,
        /// Bearer-drop trials against ModemManager and an emulated modem.
        #[arg(long, default_value_t = 5)]
        bearer_trials: usize,
        /// Carrier-loss trials while a tunnel restart waits on a hanging DNS answer.
        #[arg(long, default_value_t = 3)]
        stall_trials: usize,
        /// IPv6 carrier-loss trials, in a dual-stack lab of their own.
        #[arg(long, default_value_t = 5)]
        v6_trials: usize,
        /// Extra arc health keys to compare settings, e.g. "interval: 500ms, down_after: 1s".
        #[arg(long, default_value = "")]
        arc_health: String,
        /// Extra wifi health keys, like --arc-health.
        #[arg(long, default_value = "")]
        wifi_health: String,
    },
    /// Answer every HTTP GET on ADDR... with 200 and a body naming this server.
    HttpServe {
        #[arg(required = true)]
        addrs: Vec<SocketAddr>,
        #[arg(long, default_value = "arcway-lab\n")]
        body: String,
    },
    /// Serve the fake SORACOM API and Krypton over HTTPS (e.g. inside the lab's cell namespace)
    /// until stopped; logs one line per request with the peer address.
    FakeSoracom {
        #[arg(long, default_value = "127.0.0.1:8036")]
        listen: SocketAddr,
        /// Names and addresses the certificate is valid for [default: the listen address].
        #[arg(long = "name")]
        names: Vec<String>,
        /// Where to write the test CA certificate (PEM) for clients' --ca-file.
        #[arg(long)]
        ca_out: PathBuf,
        /// Hand out this running lab's Arc keys, so the credentials reach its Arc server.
        #[arg(long)]
        lab: Option<String>,
        /// Write the fake account's AuthKey here (JSON, mode 0600) for `--auth-key-file`.
        #[arg(long)]
        auth_key_out: Option<PathBuf>,
        /// Which coverage's API to play: `japan` or `global` (each has its own SIMs).
        #[arg(long, default_value = "japan", value_parser = parse_coverage)]
        coverage: arcway_lab::soracom::FakeCoverage,
    },
    /// Run Debian's ModemManager on a private bus with an emulated modem; commands on
    /// standard input drive the modem and the daemon.
    Modem(arcway_lab::mm::cli::ModemArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Cmd::Up {
            prefix,
            ipv6,
            iperf3,
        } => {
            let opts = LabOptions {
                prefix,
                ipv6,
                detached: true,
                iperf3,
                ..LabOptions::default()
            };
            let lab = Lab::build(opts).context("failed to build the lab")?;
            print!("{}", lab.describe());
            println!("credentials {}", lab.credentials_path().display());
            println!("built in {} ms", lab.build_time().as_millis());
            println!("remove with: arcway-lab down --prefix {}", lab.prefix());
        }
        Cmd::Down { prefix } => {
            cleanup::remove_lab(&prefix).context("failed to remove the lab")?;
        }
        Cmd::Show { prefix } => {
            let state = LabState::load(&prefix).context("failed to read the lab state")?;
            print!("{}", plan::describe(&prefix, state.ipv6));
            println!(
                "credentials {}",
                LabState::dir(&prefix).join("arc.json").display()
            );
            for rec in state.pids.iter().filter(|r| r.is_alive()) {
                println!("pid {:<8} {}", rec.pid, rec.what);
            }
        }
        Cmd::Cleanup { prefix } => {
            for p in cleanup::cleanup(prefix.as_deref()).context("failed to clean up")? {
                println!("removed {p}");
            }
        }
        Cmd::Config { prefix, modem } => print!(
            "{}",
            bench::daemon::config_with(&prefix, &bench::daemon::HealthOverride::default(), modem)
        ),
        Cmd::Measure {
            prefix,
            fault,
            timeout,
        } => {
            let step = demo::measure(&prefix, fault, Duration::from_secs(timeout))
                .context("failed to measure")?;
            println!("{}", demo::describe(fault, &step));
            if step.elapsed.is_none() {
                anyhow::bail!("platform traffic did not move in {timeout} s");
            }
        }
        Cmd::BenchFailover {
            prefix,
            trials,
            blackhole_trials,
            idle_secs,
            flap_secs,
            bearer_trials,
            stall_trials,
            v6_trials,
            arc_health,
            wifi_health,
        } => {
            let opts = bench::Options {
                prefix,
                trials,
                blackhole_trials,
                idle: Duration::from_secs(idle_secs),
                flap_secs,
                bearer_trials,
                stall_trials,
                v6_trials,
                health: bench::daemon::HealthOverride {
                    arc: arc_health,
                    wifi: wifi_health,
                },
            };
            let report = bench::run(&opts)?;
            print!("{}", report.table());
            println!("{}", report.json_line());
        }
        Cmd::HttpServe { addrs, body } => serve(&addrs, body)?,
        Cmd::FakeSoracom {
            listen,
            names,
            ca_out,
            lab,
            auth_key_out,
            coverage,
        } => fake_soracom(
            listen,
            names,
            &ca_out,
            lab.as_deref(),
            auth_key_out.as_deref(),
            coverage,
        )?,
        Cmd::Modem(args) => arcway_lab::mm::cli::main(args)?,
    }
    Ok(())
}

fn serve(addrs: &[SocketAddr], body: String) -> anyhow::Result<()> {
    let listeners = http::bind(addrs).context("failed to listen")?;
    let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    // The lab waits for this line before it reports the server ready.
    println!("listening on {}", list.join(" "));
    std::io::stdout()
        .flush()
        .context("failed to write stdout")?;
    let body: Arc<str> = body.into();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            let (body, stop) = (body.clone(), stop.clone());
            std::thread::spawn(move || http::accept_loop(l, body, stop))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn parse_coverage(text: &str) -> Result<arcway_lab::soracom::FakeCoverage, String> {
    use arcway_lab::soracom::FakeCoverage;
    match text {
        "japan" | "jp" => Ok(FakeCoverage::Japan),
        "global" | "g" => Ok(FakeCoverage::Global),
        _ => Err(format!("`{text}` is neither japan nor global")),
    }
}

fn fake_soracom(
    listen: SocketAddr,
    mut names: Vec<String>,
    ca_out: &Path,
    lab: Option<&str>,
    auth_key_out: Option<&Path>,
    coverage: arcway_lab::soracom::FakeCoverage,
) -> anyhow::Result<()> {
    use arcway_lab::soracom::{FakeIdentity, FakeSoracom, TestCa};
    use arcway_lab::wg::ArcCredentials;
    let identity = match lab {
        Some(prefix) => {
            let path = LabState::dir(prefix).join("arc.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let creds: ArcCredentials = serde_json::from_str(&text)
                .with_context(|| format!("failed to parse {}", path.display()))?;
            FakeIdentity::from_credentials(&creds)?
        }
        None => FakeIdentity::example()?,
    };
    if names.is_empty() {
        names.push(listen.ip().to_string());
    }
    let ca = TestCa::generate(&names).context("failed to make the test certificates")?;
    let fake = FakeSoracom::start_with(listen, None, ca, identity.clone(), coverage, true)
        .context("failed to start the fake SORACOM services")?;
    fake.ca().write_ca(ca_out)?;
    println!("listening on {} ({coverage:?} coverage)", fake.addr());
    if let Some(path) = auth_key_out {
        use std::os::unix::fs::OpenOptionsExt;
        let text =
            serde_json::json!({"authKeyId": identity.auth_key_id, "authKey": identity.auth_key});
        std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()))
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    std::io::stdout()
        .flush()
        .context("failed to write stdout")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start a runtime")?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    let c = fake.counters();
    println!(
        "stopped: auth {} sims {} sessions {} key puts {} krypton {}",
        c.auth, c.sims_created, c.sessions, c.key_puts, c.krypton
    );
    Ok(())
}
