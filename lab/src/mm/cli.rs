//! `arcway-lab modem`: the real ModemManager with one emulated modem, driven by line commands
//! on standard input (the demo and manual tests use it).
//!
//! It prints `bus ADDRESS`, `modem 0 IMEI PHYSDEV`, and `ready` once ModemManager lists the
//! modem, then answers every command with one line, `ok ...` or `error ...`:
//!
//! ```text
//! register home|roaming|searching|idle|denied [N]   signal RSSI(0-31) [N]
//! operator CODE NAME [N]    drop [N] (network-side PDN deactivation)   connect [N] (mmcli)
//! unplug [N]   replug [N]   kill | start | restart (ModemManager itself)
//! add NET ID (another modem)   pin-attempts [N]   list   quit
//! ```
//! `N` is the emulated modem's index, 0 by default. End of input or SIGTERM stops everything.
use std::io::{BufRead, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use super::{ModemManager, ModemSpec, Options, Reg};

#[derive(clap::Args, Debug, Clone)]
pub struct ModemArgs {
    /// Network namespace for the bus, polkitd and ModemManager.
    #[arg(long)]
    pub netns: Option<String>,
    /// The modem's network port (the bearer interface).
    #[arg(long, default_value = "wwan0")]
    pub net: String,
    /// Identifiers end in this number (IMEI 35..., ICCID 898110..., IMSI 44010...).
    #[arg(long, default_value_t = 1)]
    pub id: u32,
    /// The SIM starts locked with this PIN.
    #[arg(long)]
    pub pin: Option<String>,
    /// Connect the bearer with mmcli once the modem is registered (someone else's bearer).
    #[arg(long)]
    pub connect: bool,
}

/// The APN, user and password the emulated network accepts.
pub const CONNECT: &str = "apn=soracom.io,user=sora,password=sora";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The value of `key` in `mmcli -K` output.
pub fn kv(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(" : ")?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

impl ModemManager {
    /// The D-Bus path ModemManager gives emulated modem `i` now (by IMEI), if listed.
    pub fn modem_path(&self, i: usize) -> Option<String> {
        let imei = &self.modems.get(i)?.spec.imei;
        let list = self.mmcli(&["-L", "-K"]).ok()?;
        list.lines()
            .filter_map(|l| l.split_once(" : ").map(|(_, v)| v.trim().to_owned()))
            .filter(|p| p.starts_with("/org/freedesktop/ModemManager1/Modem/"))
            .find(|p| {
                self.mmcli(&["-m", p, "-K"])
                    .ok()
                    .and_then(|t| kv(&t, "modem.generic.equipment-identifier"))
                    .as_ref()
                    == Some(imei)
            })
    }

    /// `mmcli -m PATH -K` of emulated modem `i`.
    pub fn modem_info(&self, i: usize) -> Option<String> {
        self.mmcli(&["-m", &self.modem_path(i)?, "-K"]).ok()
    }

    /// Waits until ModemManager lists emulated modem `i` in one of `states` (e.g.
    /// `registered`); returns its path.
    pub fn wait_modem(&self, i: usize, states: &[&str], limit: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            if let Some(p) = self.modem_path(i)
                && let Ok(t) = self.mmcli(&["-m", &p, "-K"])
                && kv(&t, "modem.generic.state").is_some_and(|s| states.contains(&s.as_str()))
            {
                return Ok(p);
            }
            if start.elapsed() > limit {
                bail!("modem {i} not {states:?} after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Enables modem `i` and connects its bearer with mmcli, as another connection manager
    /// would.
    pub fn connect_with_mmcli(&self, i: usize) -> anyhow::Result<()> {
        let p = self
            .wait_modem(
                i,
                &["disabled", "enabled", "searching", "registered"],
                Duration::from_secs(30),
            )
            .context("no modem to connect")?;
        self.mmcli(&["-m", &p, &format!("--simple-connect={CONNECT}")])?;
        Ok(())
    }
}

pub fn main(args: ModemArgs) -> anyhow::Result<()> {
    let mut spec = ModemSpec::new(args.id, &args.net);
    spec.pin = args.pin.clone();
    let mut mm = ModemManager::start(
        Options {
            netns: args.netns.clone(),
        },
        vec![spec],
    )
    .context("failed to start ModemManager")?;
    say(&format!("bus {}", mm.address()));
    let m = mm.modem(0);
    say(&format!("modem 0 {} {}", m.spec.imei, m.physdev.display()));
    mm.wait_modem(0, &["locked", "disabled"], Duration::from_secs(60))?;
    if args.connect {
        mm.connect_with_mmcli(0)?;
    }
    say("ready");
    // Lines and the end (EOF, SIGTERM, SIGINT) arrive on one channel, so a signal ends the
    // loop and everything started above is stopped by Drop.
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    let lines = tx.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = lines.send(None);
    });
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        let _ = tx.send(None);
    });
    while let Ok(Some(line)) = rx.recv() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"quit") {
            say("ok bye");
            break;
        }
        match command(&mut mm, &words) {
            Ok(reply) => say(format!("ok {reply}").trim_end()),
            Err(e) => say(&format!("error {e:#}")),
        }
    }
    Ok(())
}

fn command(mm: &mut ModemManager, words: &[&str]) -> anyhow::Result<String> {
    let index = |i: usize| -> anyhow::Result<usize> {
        let n = match words.get(i) {
            Some(n) => n.parse().context("bad modem index")?,
            None => 0,
        };
        if n >= mm.modems().len() {
            bail!("no modem {n}");
        }
        Ok(n)
    };
    let arg = |i: usize| {
        words
            .get(i)
            .copied()
            .ok_or_else(|| anyhow!("missing argument"))
    };
    Ok(match words.first().copied().unwrap_or("") {
        "register" => {
            let reg = Reg::parse(arg(1)?).ok_or_else(|| anyhow!("unknown registration"))?;
            mm.modem(index(2)?).set_registration(reg);
            String::new()
        }
        "signal" => {
            mm.modem(index(2)?)
                .set_rssi(arg(1)?.parse().context("bad RSSI")?);
            String::new()
        }
        "operator" => {
            mm.modem(index(3)?).set_operator(arg(1)?, arg(2)?);
            String::new()
        }
        "drop" => {
            if !mm.modem(index(1)?).drop_bearer() {
                bail!("no active bearer");
            }
            String::new()
        }
        "connect" => {
            mm.connect_with_mmcli(index(1)?)?;
            String::new()
        }
        "unplug" => {
            mm.unplug(index(1)?)?;
            String::new()
        }
        "replug" => {
            mm.plug(index(1)?)?;
            String::new()
        }
        "kill" => {
            mm.kill_daemon();
            String::new()
        }
        "start" => {
            mm.start_daemon()?;
            String::new()
        }
        "restart" => {
            mm.kill_daemon();
            mm.start_daemon()?;
            String::new()
        }
        "add" => {
            let id = arg(2)?.parse().context("bad id")?;
            format!("modem {}", mm.add_modem(ModemSpec::new(id, arg(1)?))?)
        }
        "pin-attempts" => mm.modem(index(1)?).pin_attempts().to_string(),
        "list" => mm.mmcli(&["-L"])?.trim().replace('\n', " | "),
        other => bail!("unknown command {other:?}"),
    })
}
