//! Debian's real ModemManager in the lab, driving emulated modems.
//!
//! [`ModemManager::start`] starts a private system bus with polkitd ([`SystemBus`]), builds a
//! fake sysfs tree, and runs `ModemManager --test-no-udev --no-auto-scan` with only the
//! generic and u-blox plugins, in a mount namespace of its own where that tree covers
//! `/sys/class/tty` and `/sys/class/net`. Each [`Emulated`] modem is a u-blox LARA-R2-like AT
//! modem on a pty ([`at`]) with a network port (`wwan0` by default): connecting a bearer gives
//! a STATIC IPv4 configuration from `+CGCONTRDP`, which ModemManager publishes on the bearer.
//! Tests change the modem (registration, signal, operator, SIM PIN), drop the bearer from the
//! network side, unplug and replug it (kernel events), and kill and restart the daemon.
//!
//! Every process started here is a child guarded by PID: dropping the value ends them all,
//! also when a test fails; [`ModemManager::pids`] lets a test check that none survives.
pub mod at;
mod bus;
pub mod cli;
mod lab;
mod pty;
mod sysfs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use at::{Ip4, Reg, Sim};
pub use bus::SystemBus;

use crate::error::{LabError, Result};
use crate::process::{ChildGuard, PidRecord};
use bus::{in_ns, spawn_logged};

const PLUGINS: [&str; 2] = ["libmm-plugin-generic.so", "libmm-plugin-ublox.so"];

/// ModemManager's plugin directory (`/usr/lib/<multiarch triple>/ModemManager` on Debian).
fn plugin_dir() -> Result<PathBuf> {
    let missing = || LabError::Command {
        command: "ModemManager".into(),
        status: "not installed".into(),
        stderr: "no /usr/lib/*/ModemManager/libmm-plugin-ublox.so: install the modemmanager \
                 package (scripts/install-deps)"
            .into(),
    };
    std::fs::read_dir("/usr/lib")
        .map_err(|_| missing())?
        .flatten()
        .map(|e| e.path().join("ModemManager"))
        .find(|d| d.join(PLUGINS[1]).exists())
        .ok_or_else(missing)
}

/// One emulated modem's identity and what the network hands it.
#[derive(Debug, Clone)]
pub struct ModemSpec {
    pub imei: String,
    pub iccid: String,
    pub imsi: String,
    /// The network port ModemManager names as the bearer's interface.
    pub net: String,
    pub ip4: Ip4,
    /// A SIM PIN: the SIM starts locked and takes this one.
    pub pin: Option<String>,
    pub reg: Reg,
}

impl ModemSpec {
    /// Identifiers ending in `id` (a small number), STATIC 198.51.100.130/26 via .129.
    pub fn new(id: u32, net: &str) -> ModemSpec {
        ModemSpec {
            imei: format!("35{id:013}"),
            iccid: format!("898110{id:013}"),
            imsi: format!("44010{id:010}"),
            net: net.into(),
            ip4: Ip4 {
                address: "198.51.100.130".parse().expect("literal"),
                prefix: 26,
                gateway: "198.51.100.129".parse().expect("literal"),
                dns: [
                    "100.127.0.53".parse().expect("literal"),
                    "100.127.1.53".parse().expect("literal"),
                ],
            },
            pin: None,
            reg: Reg::Home,
        }
    }
}

/// A modem on a pty; its state is shared with the serving thread.
pub struct Emulated {
    pub spec: ModemSpec,
    /// The tty name ModemManager knows (a link in `/dev` to the pty).
    pub tty: String,
    /// The sysfs device (`Modem.Physdev`).
    pub physdev: PathBuf,
    state: Arc<Mutex<at::Modem>>,
    port: pty::Port,
    dev_link: PathBuf,
    log: PathBuf,
}

impl Emulated {
    /// Reads or changes the modem's state (no URC is sent).
    pub fn with<T>(&self, f: impl FnOnce(&mut at::Modem) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The network registers or deregisters the modem; the URCs tell ModemManager at once.
    /// Losing registration also ends the PDN contexts, as the network detaches the modem.
    pub fn set_registration(&self, reg: Reg) {
        let urcs = self.with(|m| {
            m.reg = reg;
            let mut urcs = Vec::new();
            if !matches!(reg, Reg::Home | Reg::Roaming) {
                for cid in m.active.clone() {
                    urcs.push(m.deactivate_urc(cid));
                }
            }
            urcs.extend(m.reg_urcs());
            urcs
        });
        self.port.urc(&urcs);
    }

    /// Signal strength as `+CSQ` RSSI 0..=31; announced as a `+CIEV` signal indicator.
    pub fn set_rssi(&self, rssi: u8) {
        let urc = self.with(|m| {
            m.rssi = rssi.min(31);
            m.cmer.then(|| format!("+CIEV: 2,{}", m.signal_bars()))
        });
        self.port.urc(&urc.into_iter().collect::<Vec<_>>());
    }

    /// A new operator; ModemManager reads it when the registration changes, so the modem
    /// re-announces its registration.
    pub fn set_operator(&self, code: &str, name: &str) {
        let urcs = self.with(|m| {
            m.operator_code = code.into();
            m.operator_name = name.into();
            m.reg_urcs()
        });
        self.port.urc(&urcs);
    }

    /// The network ends every active PDN context (`+CGEV: NW PDN DEACT`). False if none was.
    pub fn drop_bearer(&self) -> bool {
        let urcs = self.with(|m| {
            let cids = m.active.clone();
            cids.into_iter()
                .map(|c| m.deactivate_urc(c))
                .collect::<Vec<_>>()
        });
        self.port.urc(&urcs);
        !urcs.is_empty()
    }

    pub fn pin_attempts(&self) -> u32 {
        self.with(|m| m.pin_attempts)
    }

    pub fn activations(&self) -> u32 {
        self.with(|m| m.activations)
    }

    /// The AT dialogue so far (`> command`, `< answer` lines).
    pub fn at_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn connected(&self) -> bool {
        self.with(|m| !m.active.is_empty())
    }

    fn events(&self, action: &str) -> [String; 2] {
        [
            format!("action={action},name={},subsystem=tty", self.tty),
            format!("action={action},name={},subsystem=net", self.spec.net),
        ]
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.dev_link);
    }
}

/// Where and how ModemManager runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Network namespace for the bus, polkitd and ModemManager (e.g. the lab's gateway), so
    /// the lab's cleanup finds them too.
    pub netns: Option<String>,
}

pub struct ModemManager {
    // Field order is drop order: the daemon before its bus, the modems last.
    daemon: Mutex<Option<ChildGuard>>,
    bus: SystemBus,
    modems: Vec<Emulated>,
    sysfs: sysfs::Sysfs,
    opts: Options,
    tag: String,
    dir: tempfile::TempDir,
}

fn unique_tag() -> String {
    let mut b = [0u8; 3];
    // SAFETY: getrandom writes at most 3 bytes into the buffer.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    format!("{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

impl ModemManager {
    /// Starts the bus, polkitd, the modems of `modems` and ModemManager, and waits until
    /// ModemManager is on the bus (the modems appear a few seconds later).
    pub fn start(opts: Options, modems: Vec<ModemSpec>) -> Result<ModemManager> {
        let dir = tempfile::Builder::new()
            .prefix("arcway-mm")
            .tempdir()
            .map_err(LabError::io("/tmp"))?;
        let sysfs =
            sysfs::Sysfs::create(&dir.path().join("sys")).map_err(LabError::io(dir.path()))?;
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).map_err(LabError::io(&plugins))?;
        let from = plugin_dir()?;
        for p in PLUGINS {
            let target = from.join(p);
            std::os::unix::fs::symlink(&target, plugins.join(p)).map_err(LabError::io(&target))?;
        }
        let bus = SystemBus::start(dir.path(), opts.netns.as_deref())?;
        let mut mm = ModemManager {
            daemon: Mutex::new(None),
            bus,
            modems: Vec::new(),
            sysfs,
            opts,
            tag: unique_tag(),
            dir,
        };
        for spec in modems {
            mm.emulate(spec)?;
        }
        mm.start_daemon()?;
        Ok(mm)
    }

    pub fn address(&self) -> &str {
        self.bus.address()
    }

    /// The bus address without its server GUID, which survives [`ModemManager::restart_bus`].
    pub fn path_address(&self) -> String {
        self.bus.path_address()
    }

    /// SIGKILLs the bus daemon, as when the system bus crashes: ModemManager, polkitd and
    /// every client lose their connection.
    pub fn kill_bus(&self) {
        crate::process::signal(self.bus.daemon.pid(), libc::SIGKILL);
    }

    /// A new bus at the same socket path, then polkitd and ModemManager on it again, with the
    /// same modems. Whatever is left of the old ones is ended first.
    pub fn restart_bus(&mut self) -> Result<()> {
        self.kill_daemon();
        self.bus.stop();
        self.bus = SystemBus::start(self.dir.path(), self.opts.netns.as_deref())?;
        self.start_daemon()
    }

    pub fn modem(&self, i: usize) -> &Emulated {
        &self.modems[i]
    }

    pub fn modems(&self) -> &[Emulated] {
        &self.modems
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// ModemManager's own log (debug level) and the AT dialogue of every modem.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["ModemManager.log", "polkitd.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            out.push_str(&format!("--- {name}\n{text}"));
        }
        out
    }

    fn emulate(&mut self, spec: ModemSpec) -> Result<usize> {
        let i = self.modems.len();
        let tty = format!("ttyAW{}{i}", self.tag);
        let physdev = self
            .sysfs
            .add_device(i as u32 + 1, &tty, &spec.net)
            .map_err(LabError::io(self.dir.path()))?;
        let mut m = at::Modem::new(&spec.imei, &spec.iccid, &spec.imsi, spec.ip4.clone());
        m.reg = spec.reg;
        if let Some(pin) = &spec.pin {
            m.pin = pin.clone();
            m.sim = Sim::Pin;
        }
        let state = Arc::new(Mutex::new(m));
        let log = self.dir.path().join(format!("at-{i}.log"));
        let port = pty::Port::open(state.clone(), &log).map_err(LabError::io(&log))?;
        let dev_link = Path::new("/dev").join(&tty);
        let _ = std::fs::remove_file(&dev_link);
        std::os::unix::fs::symlink(&port.slave_path, &dev_link).map_err(LabError::io(&dev_link))?;
        self.modems.push(Emulated {
            spec,
            tty,
            physdev,
            state,
            port,
            dev_link,
            log,
        });
        Ok(i)
    }

    /// Adds a modem while ModemManager runs (plugged in).
    pub fn add_modem(&mut self, spec: ModemSpec) -> Result<usize> {
        let i = self.emulate(spec)?;
        self.plug(i)?;
        Ok(i)
    }

    /// Reports the modem's ports added (`action=add` kernel events).
    pub fn plug(&self, i: usize) -> Result<()> {
        for e in self.modems[i].events("add") {
            self.report(&e)?;
        }
        Ok(())
    }

    /// Reports the modem's ports removed, as the kernel does when it is unplugged. The modem
    /// loses power: its contexts and unsolicited reports are off when it comes back.
    pub fn unplug(&self, i: usize) -> Result<()> {
        self.modems[i].with(|m| {
            m.active.clear();
            m.creg_urc = false;
            m.cmer = false;
        });
        for e in self.modems[i].events("remove") {
            self.report(&e)?;
        }
        Ok(())
    }

    fn report(&self, event: &str) -> Result<()> {
        self.mmcli(&[&format!("--report-kernel-event={event}")])
            .map(|_| ())
    }

    /// Runs `mmcli` against this ModemManager.
    pub fn mmcli(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("mmcli");
        cmd.args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus.address());
        crate::cmd::run_text(&mut cmd)
    }

    /// Starts ModemManager (again), with every modem's ports as initial kernel events.
    pub fn start_daemon(&self) -> Result<()> {
        let mut daemon = self.daemon.lock().unwrap_or_else(|e| e.into_inner());
        if daemon.is_some() {
            return Ok(());
        }
        let events = self.dir.path().join("kernel-events");
        let lines: Vec<String> = self.modems.iter().flat_map(|m| m.events("add")).collect();
        std::fs::write(&events, lines.join("\n") + "\n").map_err(LabError::io(&events))?;
        let sys = self.dir.path().join("sys");
        let mut cmd = in_ns(self.opts.netns.as_deref(), "unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount --bind \"$0/class/tty\" /sys/class/tty && \
                 mount --bind \"$0/class/net\" /sys/class/net && exec \"$@\"",
            )
            .arg(&sys)
            .args([
                "ModemManager",
                "--test-no-udev",
                "--no-auto-scan",
                "--debug",
                "--log-level=DEBUG",
            ])
            .arg(format!("--initial-kernel-events={}", events.display()))
            .arg(format!(
                "--test-plugin-dir={}",
                self.dir.path().join("plugins").display()
            ))
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus.address());
        let log = self.dir.path().join("ModemManager.log");
        *daemon = Some(spawn_logged(cmd, "ModemManager", &log)?);
        drop(daemon);
        self.bus
            .wait_name("org.freedesktop.ModemManager1", Duration::from_secs(10))
    }

    /// Kills ModemManager (SIGKILL: no goodbye on the bus beyond losing its name).
    pub fn kill_daemon(&self) {
        let taken = self.daemon.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut d) = taken {
            crate::process::signal(d.pid(), libc::SIGKILL);
            d.stop();
        }
    }

    /// Every process started here, for checking that none outlives the value.
    pub fn pids(&self) -> Vec<PidRecord> {
        let mut out = vec![
            PidRecord::of(self.bus.daemon.pid(), "dbus-daemon"),
            PidRecord::of(self.bus.polkit.pid(), "polkitd"),
        ];
        if let Some(d) = &*self.daemon.lock().unwrap_or_else(|e| e.into_inner()) {
            out.push(PidRecord::of(d.pid(), "ModemManager"));
        }
        out
    }

    /// `ModemManager --version`, e.g. `ModemManager 1.20.4`.
    pub fn version() -> String {
        Command::new("ModemManager")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_owned())
            })
            .unwrap_or_else(|| "ModemManager (version unknown)".into())
    }
}
