//! arcway-lab: build, show and remove labs; serve HTTP inside a lab namespace.
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use arcway_lab::state::LabState;
use arcway_lab::{Lab, LabOptions, cleanup, fakemm, http, plan};
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
    /// Answer every HTTP GET on ADDR... with 200 and a body naming this server.
    HttpServe {
        #[arg(required = true)]
        addrs: Vec<SocketAddr>,
        #[arg(long, default_value = "arcway-lab\n")]
        body: String,
    },
    /// Serve a fake ModemManager; commands on standard input drive it.
    FakeMm(fakemm::cli::FakeMmArgs),
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
        Cmd::HttpServe { addrs, body } => serve(&addrs, body)?,
        Cmd::FakeMm(args) => fakemm::cli::main(args)?,
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
