//! `arcway-lab fake-mm`: the fake as a process, driven by line commands on standard input.
//!
//! It prints `bus ADDRESS` (when it started its own private bus), `modem N` and `ready`,
//! then answers every command with one line, `ok ...` or `error ...`:
//!
//! ```text
//! drop [N]              the network drops the bearer        restore [N]   it comes back
//! connect [N]           connect as Simple.Connect would     state NAME [N]  e.g. registered
//! signal PERCENT [N]    remove [N]   replug [N] (prints the new number)   add IFACE EQUIPMENT_ID
//! stop | start | restart   the service leaves / rejoins the bus (start prints new numbers)
//! malformed KIND [N]    state signal bearers connected ip4-method ip4-address
//!                       properties-body added-body
//! fail-connects K       ip4 ADDRESS/PREFIX [GATEWAY|-] [MTU] [N]      list      quit
//! ```
//! `N` defaults to the newest modem. End of input stops the fake (and its private bus).
use std::io::Write as _;
use std::net::Ipv4Addr;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::world::{METHOD_DHCP, METHOD_STATIC};
use super::{FakeModemManager, Ip4Spec, Malformed, ModemSpec, PrivateBus};

#[derive(clap::Args, Debug, Clone)]
pub struct FakeMmArgs {
    /// Bus address to serve on; without it a private dbus-daemon is started.
    #[arg(long)]
    pub bus: Option<String>,
    /// The bearer interface of the first modem.
    #[arg(long, default_value = "wwan0")]
    pub interface: String,
    #[arg(long, default_value = "490154203237518")]
    pub equipment_id: String,
    #[arg(long)]
    pub iccid: Option<String>,
    #[arg(long)]
    pub imsi: Option<String>,
    /// Ip4Config address/prefix handed out by Simple.Connect.
    #[arg(long, default_value = "198.51.100.130/26")]
    pub address: String,
    /// Ip4Config gateway (`-` for none).
    #[arg(long, default_value = "198.51.100.129")]
    pub gateway: String,
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Hand out method DHCP instead of STATIC.
    #[arg(long)]
    pub dhcp: bool,
    /// The modem's state when it appears.
    #[arg(long, default_value = "registered")]
    pub state: String,
    /// A SIM PIN: the modem starts locked.
    #[arg(long)]
    pub pin: Option<String>,
    /// Connect the bearer right away (as if another manager had done it).
    #[arg(long)]
    pub connected: bool,
}

const STATES: [(&str, i32); 13] = [
    ("failed", -1),
    ("unknown", 0),
    ("initializing", 1),
    ("locked", 2),
    ("disabled", 3),
    ("disabling", 4),
    ("enabling", 5),
    ("enabled", 6),
    ("searching", 7),
    ("registered", 8),
    ("disconnecting", 9),
    ("connecting", 10),
    ("connected", 11),
];

fn state(name: &str) -> anyhow::Result<i32> {
    STATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .or_else(|| name.parse().ok())
        .ok_or_else(|| anyhow!("unknown modem state {name:?}"))
}

fn ip4(address: &str, gateway: &str, mtu: Option<u32>, dhcp: bool) -> anyhow::Result<Ip4Spec> {
    let (addr, prefix) = address
        .split_once('/')
        .ok_or_else(|| anyhow!("address must be ADDRESS/PREFIX"))?;
    Ok(Ip4Spec {
        method: if dhcp { METHOD_DHCP } else { METHOD_STATIC },
        address: addr.parse::<Ipv4Addr>().context("bad address")?,
        prefix: prefix.parse().context("bad prefix")?,
        gateway: match gateway {
            "-" | "" => None,
            g => Some(g.parse().context("bad gateway")?),
        },
        mtu,
    })
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs the fake until standard input ends, `quit`, or SIGTERM.
pub fn main(args: FakeMmArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the runtime")?;
    rt.block_on(run(args))
}

async fn run(args: FakeMmArgs) -> anyhow::Result<()> {
    let private = match &args.bus {
        Some(_) => None,
        None => Some(PrivateBus::start().context("failed to start a private dbus-daemon")?),
    };
    let address = match (&args.bus, &private) {
        (Some(a), _) => a.clone(),
        (None, Some(bus)) => {
            say(&format!("bus {}", bus.address()));
            bus.address().to_owned()
        }
        (None, None) => bail!("no bus"),
    };
    let mut fake = FakeModemManager::start(&address)
        .await
        .context("failed to serve ModemManager")?;
    let mut spec = ModemSpec::new(&args.interface, &args.equipment_id);
    if let Some(iccid) = &args.iccid {
        spec.iccid = iccid.clone();
    }
    if let Some(imsi) = &args.imsi {
        spec.imsi = imsi.clone();
    }
    spec.state = state(&args.state)?;
    spec.pin = args.pin.clone();
    spec.ip4 = ip4(&args.address, &args.gateway, args.mtu, args.dhcp)?;
    let n = fake
        .add_modem(spec)
        .await
        .context("failed to add the modem")?;
    say(&format!("modem {n}"));
    if args.connected {
        fake.connect_bearer(n).await.context("failed to connect")?;
    }
    say("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to watch SIGTERM")?;
    loop {
        let line = tokio::select! {
            l = lines.next_line() => l.context("failed to read standard input")?,
            _ = term.recv() => None,
        };
        let Some(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"quit") {
            say("ok bye");
            break;
        }
        match command(&mut fake, &words).await {
            Ok(reply) => say(format!("ok {reply}").trim_end()),
            Err(e) => say(&format!("error {e:#}")),
        }
    }
    let _ = fake.stop().await;
    drop(private);
    Ok(())
}

async fn command(fake: &mut FakeModemManager, words: &[&str]) -> anyhow::Result<String> {
    let newest = || fake.modems().last().copied();
    let modem = |i: usize| -> anyhow::Result<u32> {
        match words.get(i) {
            Some(n) => n.parse().context("bad modem number"),
            None => newest().ok_or_else(|| anyhow!("no modem")),
        }
    };
    let arg = |i: usize| {
        words
            .get(i)
            .copied()
            .ok_or_else(|| anyhow!("missing argument"))
    };
    Ok(match words.first().copied().unwrap_or("") {
        "drop" => {
            fake.drop_bearer(modem(1)?).await?;
            String::new()
        }
        "restore" => {
            fake.restore_bearer(modem(1)?).await?;
            String::new()
        }
        "connect" => format!("bearer {}", fake.connect_bearer(modem(1)?).await?),
        "state" => {
            fake.set_state(modem(2)?, state(arg(1)?)?).await?;
            String::new()
        }
        "signal" => {
            fake.set_signal(modem(2)?, arg(1)?.parse().context("bad percent")?)
                .await?;
            String::new()
        }
        "remove" => {
            fake.remove_modem(modem(1)?).await?;
            String::new()
        }
        "replug" => format!("modem {}", fake.replug(modem(1)?).await?),
        "add" => {
            let spec = ModemSpec::new(arg(1)?, arg(2)?);
            format!("modem {}", fake.add_modem(spec).await?)
        }
        "stop" => {
            fake.stop().await?;
            String::new()
        }
        "start" => list(&fake.start_again().await?),
        "restart" => list(&fake.restart().await?),
        "malformed" => {
            let kind = Malformed::parse(arg(1)?).ok_or_else(|| anyhow!("unknown kind"))?;
            fake.publish_malformed(modem(2)?, kind).await?;
            String::new()
        }
        "fail-connects" => {
            fake.fail_next_connects(arg(1)?.parse().context("bad count")?);
            String::new()
        }
        "ip4" => {
            let gw = words.get(2).copied().unwrap_or("-");
            let mtu = match words.get(3) {
                Some(m) => Some(m.parse().context("bad MTU")?),
                None => None,
            };
            fake.set_ip4(modem(4)?, ip4(arg(1)?, gw, mtu, false)?);
            String::new()
        }
        "list" => list(&fake.modems()),
        other => bail!("unknown command {other:?}"),
    })
}

fn list(modems: &[u32]) -> String {
    let names: Vec<String> = modems.iter().map(|n| format!("modem {n}")).collect();
    names.join(" ")
}
