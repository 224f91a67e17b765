//! Build-time generator for arcway's packages (not shipped to routers).
//!
//! ```text
//! arcway-gen OUT_DIR
//!     man pages and shell completions (see docs.rs)
//! arcway-gen mkapk --info KEY:VALUE... [--script TYPE:FILE...] --files DIR --output FILE
//!     an apk v3 package from a staged tree, like `apk mkpkg` without a signing key; file
//!     times are clamped to SOURCE_DATE_EPOCH when it is set
//! arcway-gen apk-inspect FILE [--extract DIR] [--scripts DIR]
//!     reads an apk v3 package back, checks it and prints one fact per line; optionally writes
//!     its files and its scripts out
//! ```

mod adb_write;
mod apk_inspect;
mod docs;
mod mkapk;
mod stage;

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, bail};

const USAGE: &str = "usage: arcway-gen OUT_DIR
       arcway-gen mkapk --info KEY:VALUE... [--script TYPE:FILE...] --files DIR --output FILE
       arcway-gen apk-inspect FILE [--extract DIR] [--scripts DIR]";

fn main() -> anyhow::Result<()> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("mkapk") => mkapk_cmd(&args[1..]),
        Some("apk-inspect") => inspect_cmd(&args[1..]),
        Some(a) if a.starts_with('-') => bail!("{USAGE}"),
        Some(_) if args.len() == 1 => docs::write_all(&PathBuf::from(&args[0])),
        _ => bail!("{USAGE}"),
    }
}

/// `--flag VALUE` pairs, in order.
fn pairs(args: &[OsString]) -> anyhow::Result<Vec<(&str, &OsString)>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let flag = flag.to_str().filter(|f| f.starts_with("--"));
        let flag = flag.with_context(|| format!("expected an option\n{USAGE}"))?;
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        out.push((flag, value));
    }
    Ok(out)
}

fn utf8(v: &OsString) -> anyhow::Result<&str> {
    v.to_str().with_context(|| format!("{v:?} is not UTF-8"))
}

fn mkapk_cmd(args: &[OsString]) -> anyhow::Result<()> {
    let mut info = mkapk::Info::default();
    let mut scripts = mkapk::Scripts::new();
    let (mut files, mut output) = (None, None);
    for (flag, value) in pairs(args)? {
        match flag {
            "--info" => {
                let (k, v) = utf8(value)?
                    .split_once(':')
                    .context("--info takes KEY:VALUE")?;
                info.set(k, v)?;
            }
            "--script" => {
                let (kind, path) = utf8(value)?
                    .split_once(':')
                    .context("--script takes TYPE:FILE")?;
                let body =
                    fs::read(path).with_context(|| format!("failed to read script {path}"))?;
                scripts.insert(kind.to_string(), body);
            }
            "--files" => files = Some(PathBuf::from(value)),
            "--output" => output = Some(PathBuf::from(value)),
            f => bail!("unknown option {f}\n{USAGE}"),
        }
    }
    let files = files.context("--files is required")?;
    let output = output.context("--output is required")?;
    let clamp = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => Some(s.parse().context("SOURCE_DATE_EPOCH is not a number")?),
        Err(_) => None,
    };
    let tree = stage::Tree::from_dir(&files, clamp)?;
    let apk = mkapk::build(&info, &tree, &scripts)?;
    fs::write(&output, apk).with_context(|| format!("failed to write {}", output.display()))
}

fn inspect_cmd(args: &[OsString]) -> anyhow::Result<()> {
    let Some((file, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let (mut extract, mut scripts) = (None, None);
    for (flag, value) in pairs(rest)? {
        match flag {
            "--extract" => extract = Some(PathBuf::from(value)),
            "--scripts" => scripts = Some(PathBuf::from(value)),
            f => bail!("unknown option {f}\n{USAGE}"),
        }
    }
    let path = PathBuf::from(file);
    let bytes = fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let pkg = apk_inspect::inspect(&bytes).with_context(|| format!("{}", path.display()))?;
    print!("{}", pkg.render());
    if let Some(root) = extract {
        pkg.extract(&root, scripts.as_deref())?;
    } else if scripts.is_some() {
        bail!("--scripts goes with --extract");
    }
    Ok(())
}
