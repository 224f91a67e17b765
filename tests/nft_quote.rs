//! No interface name or cgroup path changes the structure of `table inet arcway` (root).
//!
//! Random names, many of them hostile (quotes, braces, `;`, `*`, newlines, `/`), go into
//! every place the table takes one: a class's input interfaces, NAT, counters, a held class,
//! a class's cgroups. Each rendering is either refused, or loaded by the real nft into a
//! throwaway network namespace and listed back as JSON; with every string and handle blanked
//! out, that listing must equal the one of a plain reference name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arcway::config::HoldAction;
use arcway::model::PathId;
use arcway::nft::{
    self, CountedPath, Held, Kind, MarkClass, NatPath, NftInputs, TableExtras, render_replace_with,
};
use proptest::prelude::*;
use serde_json::Value;

const MARK: u32 = 0x0011_0000;
const MASK: u32 = 0x00ff_0000;

/// A name no other test run uses: pid, time and a counter.
fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:x}{:x}{}",
        std::process::id(),
        nanos & 0xffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace of our own, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("awq{}", unique());
        run(Command::new("ip").args(["netns", "add", &name]), None).expect("ip netns add");
        Netns(name)
    }

    fn nft(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        run(
            // nsenter only enters the network namespace; `ip netns exec` would also mount a
            // sysfs of its own, without the cgroup hierarchy nft resolves paths in.
            Command::new("nsenter")
                .arg(format!("--net=/run/netns/{}", self.0))
                .arg("nft")
                .args(args),
            stdin,
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Result<String, String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or("").as_bytes())
        .map_err(|e| e.to_string())?;
    drop(pipe);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The listing with every string and handle blanked: what is left is the structure (chains,
/// rules, expressions, numbers).
fn shape(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String("S".into()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "handle" {
                        Value::from(0)
                    } else {
                        shape(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Loads `script` into the namespace and returns the shape of what the kernel holds.
fn load(ns: &Netns, script: &str) -> Value {
    ns.nft(&["-c", "-f", "-"], Some(script))
        .unwrap_or_else(|e| panic!("nft -c refused the table: {e}\n{script}"));
    ns.nft(&["-f", "-"], Some(script))
        .unwrap_or_else(|e| panic!("nft refused the table: {e}\n{script}"));
    let listing = ns
        .nft(&["-j", "list", "table", "inet", "arcway"], None)
        .expect("nft list");
    shape(&serde_json::from_str(&listing).expect("nft JSON"))
}

/// A table with `ifname` in every place that takes an interface and `cgroup` as a class's.
fn table(ifname: &str, cgroup: Option<&str>) -> (NftInputs, TableExtras) {
    let mut classes = vec![MarkClass {
        name: "lan".into(),
        mark: MARK,
        protocols: vec!["tcp".into()],
        ports: vec!["443".into(), "8000-9000".into()],
        interfaces: vec![ifname.to_owned(), "lan1".into()],
        ..MarkClass::default()
    }];
    if let Some(cg) = cgroup {
        classes.push(MarkClass {
            name: "svc".into(),
            mark: MARK + 0x1_0000,
            cgroups: vec![cg.to_owned()],
            ..MarkClass::default()
        });
    }
    let inputs = NftInputs {
        fwmark_mask: MASK,
        nat: vec![
            NatPath {
                path: PathId::Cellular,
                ifname: ifname.to_owned(),
                snat_to: None,
            },
            NatPath {
                path: PathId::Arc,
                ifname: "arc0".into(),
                snat_to: Some("100.127.201.2".parse().unwrap()),
            },
        ],
        classes,
    };
    let extras = TableExtras {
        counted: vec![
            CountedPath {
                path: PathId::Cellular,
                ifname: ifname.to_owned(),
            },
            CountedPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
            },
        ],
        default_class: Some("default".into()),
        held: vec![Held {
            mark: MARK,
            ifname: ifname.to_owned(),
            action: HoldAction::TcpReset,
        }],
        missing_cgroups: Default::default(),
    };
    (inputs, extras)
}

fn render(ifname: &str, cgroup: Option<&str>) -> Result<String, nft::Unsafe> {
    let (inputs, extras) = table(ifname, cgroup);
    render_replace_with(&inputs, &extras)
}

/// Plain names, and names from a hostile alphabet (everything nft's grammar cares about).
fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_.-]{0,14}",
        "[a-z0-9\"*;{}\\\\ \t\n/:.#$@,=_-]{0,18}",
        "\\PC{0,10}",
    ]
}

/// The cgroup v2 hierarchy, as nft resolves `socket cgroupv2` paths (relative to
/// /sys/fs/cgroup): the root itself, or its `unified` mount on a hybrid host.
fn cgroup2_base() -> String {
    let root = Path::new(nft::CGROUP_ROOT);
    if root.join("cgroup.controllers").exists() {
        String::new()
    } else if root.join("unified/cgroup.controllers").exists() {
        "unified/".to_owned()
    } else {
        panic!("no cgroup v2 hierarchy under {}", root.display());
    }
}

/// cgroup directories made for one case, removed deepest first.
struct Cgroups(Vec<PathBuf>);

impl Cgroups {
    fn make(relative: &str) -> std::io::Result<Cgroups> {
        let mut made = Cgroups(Vec::new());
        let mut dir = PathBuf::from(nft::CGROUP_ROOT);
        for segment in relative.split('/').filter(|s| !s.is_empty()) {
            dir.push(segment);
            if !dir.is_dir() {
                std::fs::create_dir(&dir)?;
                made.0.push(dir.clone());
            }
        }
        Ok(made)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in self.0.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The comparison has teeth: a name pasted into the script without the quoting function
/// adds a rule, and the shapes differ.
#[test]
fn a_pasted_name_would_change_the_structure() {
    let ns = Netns::new();
    let reference = render("ref0", None).unwrap();
    let base = load(&ns, &reference);
    let crafted = reference.replace(
        "oifname \"ref0\" fib",
        "oifname \"x\" accept\n\t\toifname \"ref0\" fib",
    );
    assert_ne!(crafted, reference);
    assert_ne!(load(&ns, &crafted), base);
    assert!(render("x\" accept\n\t\toifname \"ref0", None).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn no_interface_name_changes_the_table_structure(name in names()) {
        thread_local! {
            static NS: (Netns, Value) = {
                let ns = Netns::new();
                let base = load(&ns, &render("ref0", None).unwrap());
                (ns, base)
            };
        }
        match render(&name, None) {
            Err(err) => {
                prop_assert!(nft::check_ifname(&name).is_err(), "{name:?}: {err}");
                prop_assert_eq!(err.kind, Kind::Ifname);
            }
            Ok(script) => {
                prop_assert!(nft::check_ifname(&name).is_ok());
                NS.with(|(ns, base)| {
                    let got = load(ns, &script);
                    prop_assert_eq!(&got, base, "{:?}", name);
                    Ok(())
                })?;
            }
        }
    }

    #[test]
    fn no_cgroup_path_changes_the_table_structure(
        segments in prop::collection::vec(names(), 1..=3),
    ) {
        thread_local! {
            static BASE: String = cgroup2_base();
            static NS: Netns = Netns::new();
        }
        let parent = format!("{}awq-{}", BASE.with(Clone::clone), unique());
        let path = format!("{parent}/{}", segments.join("/"));
        // The reference has as many levels, so `level N` matches too.
        let reference = format!(
            "{parent}/{}",
            vec!["r"; path.split('/').filter(|s| !s.is_empty()).count() - parent.split('/').count()]
                .join("/")
        );
        match render("lan0", Some(&path)) {
            Err(err) => {
                prop_assert!(nft::check_cgroup(&path).is_err(), "{path:?}: {err}");
                prop_assert_eq!(err.kind, Kind::Cgroup);
            }
            Ok(script) => {
                prop_assert!(nft::check_cgroup(&path).is_ok());
                let made = Cgroups::make(&path);
                prop_assume!(made.is_ok(), "the cgroup {:?} cannot be made", path);
                let _made = made.unwrap();
                let _reference_made = Cgroups::make(&reference).expect("reference cgroup");
                NS.with(|ns| {
                    let base = load(ns, &render("lan0", Some(&reference)).unwrap());
                    let got = load(ns, &script);
                    prop_assert_eq!(&got, &base, "{:?}", path);
                    Ok(())
                })?;
            }
        }
    }
}
