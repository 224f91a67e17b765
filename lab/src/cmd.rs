//! Running the iproute2, nftables and WireGuard tools, inside namespaces where needed.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::error::{LabError, Result};

/// A printable form of a command line, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command to completion, feeding `input` on stdin, and fails unless it exits 0.
pub(crate) fn run_input(cmd: &mut Command, input: Option<&str>) -> Result<Output> {
    let command = describe(cmd);
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (input, child.stdin.take()) {
        // A write error shows up again as a failed exit status with the tool's own message.
        let _ = pipe.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().map_err(|source| LabError::Spawn {
        command: command.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(LabError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output)
}

/// Runs a command without input and fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    run_input(cmd, None)
}

/// Runs a command and returns its stdout as text.
pub(crate) fn run_text(cmd: &mut Command) -> Result<String> {
    let output = run(cmd)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `ip [-n NS] -batch -`: many changes in one process, stopping at the first failure.
pub(crate) fn ip_batch(ns: Option<&str>, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(["-batch", "-"]);
    run_input(&mut cmd, Some(&(lines.join("\n") + "\n")))?;
    Ok(())
}

/// A command entering only the network namespace: enough for sysctl, nft and ping-free tools,
/// and cheaper than `ip netns exec`, which also remounts /sys and binds /etc/netns files.
pub(crate) fn in_net(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/run/netns/{ns}"))
        .arg("--")
        .arg(program);
    cmd
}

/// `ip netns exec NS ARGS...`: the full namespace view (/sys, /etc/netns/NS files).
/// ip execs the program itself, so the child's PID is the program's PID.
pub(crate) fn netns_exec<S: AsRef<std::ffi::OsStr>>(ns: &str, args: &[S]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).args(args);
    cmd
}

/// Like `netns_exec`, with a private tmpfs on /run/wireguard: wireguard-go's UAPI sockets live
/// there and belong to the mount namespace, so instances in different labs (or a lab server and
/// a client under test) never collide on a socket name. `unshare`, `sh` and `ip` all exec, so
/// the child's PID ends up being the program's PID.
pub(crate) fn netns_exec_private_wg<S: AsRef<std::ffi::OsStr>>(ns: &str, args: &[S]) -> Command {
    let _ = std::fs::create_dir_all("/run/wireguard");
    let mut cmd = netns_exec(
        ns,
        &["unshare", "--mount", "--propagation", "private", "sh", "-c"],
    );
    cmd.arg("mount -t tmpfs -o mode=0700 tmpfs /run/wireguard && exec \"$@\"")
        .arg("sh")
        .args(args);
    cmd
}

/// Applies an nftables script atomically inside a namespace.
pub(crate) fn nft(ns: &str, script: &str) -> Result<()> {
    run_input(in_net(ns, "nft").args(["-f", "-"]), Some(script))?;
    Ok(())
}

/// Names of all network namespaces (`ip netns list` adds "(id: N)" to some).
pub(crate) fn netns_list() -> Result<Vec<String>> {
    let text = run_text(Command::new("ip").args(["netns", "list"]))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// PIDs of the processes living in a network namespace.
pub(crate) fn netns_pids(ns: &str) -> Vec<i32> {
    let Ok(text) = run_text(Command::new("ip").args(["netns", "pids", ns])) else {
        return Vec::new();
    };
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}
