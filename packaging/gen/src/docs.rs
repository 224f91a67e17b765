//! Man pages (section 8) and bash, zsh and fish completions, all derived from
//! `arcway::cli::Cli`, so they follow every change to the command line without hand editing.
//!
//! `write_all(OUT_DIR)` creates `OUT_DIR/man/arcway.8`, one `arcway-<command>.8` per
//! subcommand, and `OUT_DIR/completions/{arcway.bash,_arcway,arcway.fish}`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Command, CommandFactory};
use clap_complete::Shell;

use arcway::cli::Cli;

/// System administration commands and daemons.
const MAN_SECTION: &str = "8";

pub fn write_all(out: &Path) -> anyhow::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building propagates global options (--config) into subcommands and names them
    // `arcway-<command>`, which is what their pages are called.
    cmd.build();

    let man_dir = out.join("man");
    create_dir(&man_dir)?;
    write_pages(&cmd, &man_dir)?;

    let completion_dir = out.join("completions");
    create_dir(&completion_dir)?;
    for (shell, file) in [
        (Shell::Bash, "arcway.bash"),
        (Shell::Zsh, "_arcway"),
        (Shell::Fish, "arcway.fish"),
    ] {
        let path = completion_dir.join(file);
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "arcway", &mut buf);
        write_file(&path, &buf)?;
    }
    Ok(())
}

/// One page for the command and one for each visible subcommand, recursively.
fn write_pages(cmd: &Command, dir: &Path) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let man = clap_mangen::Man::new(cmd.clone()).section(MAN_SECTION);
    let path = dir.join(man.get_filename());
    let mut buf = Vec::new();
    man.render(&mut buf)
        .with_context(|| format!("failed to render {}", path.display()))?;
    write_file(&path, &buf)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))
}

fn write_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file =
        File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("failed to write {}", path.display()))
}
