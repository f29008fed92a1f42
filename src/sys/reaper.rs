//! Catches what an exec check leaves behind outside its process group.
//!
//! An exec check runs in a process group of its own, and the whole group is killed when the
//! check ends. A descendant that calls `setsid()` (a daemonising script, `setsid cmd &`)
//! leaves the group and would live on, holding ports, files or the check's pipes. The warden
//! therefore makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`): such an orphan is
//! re-parented to the warden instead of init. A sweep then finds the warden's children that
//! belong to no process group it started on purpose (a running exec check's group, or the
//! warden's own group, where vtysh and birdc run) and kills and reaps them, so neither the
//! process nor its zombie stays.
//!
//! The decision is pure (`is_escapee`); the /proc reading and the signals are the shell.

use std::collections::BTreeSet;
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Process groups of exec checks that are running now.
static ACTIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Marks a check's process group as running (until `forget_group`).
pub fn register_group(pgid: i32) {
    if let Ok(mut groups) = ACTIVE_GROUPS.lock() {
        groups.insert(pgid);
    }
}

/// Spawns a check that leads its own process group (`process_group(0)`) and registers the
/// group in one step: the registry stays locked from before the fork until the group is in
/// it, so a sweep never sees the new child as unknown.
pub fn spawn_check(
    command: &mut tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    let mut groups = ACTIVE_GROUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let child = command.spawn()?;
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        groups.insert(pid);
    }
    Ok(child)
}

/// The check's group was killed: anything left of it is fair game for the sweep.
pub fn forget_group(pgid: i32) {
    if let Ok(mut groups) = ACTIVE_GROUPS.lock() {
        groups.remove(&pgid);
    }
}

/// Makes orphaned descendants the warden's children. Linux only; harmless to call twice.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// What /proc says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub command: String,
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid pgrp ...`. The command may hold spaces
/// and parentheses, so it runs to the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let command = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        command,
        state,
        ppid,
        pgid,
    })
}

/// Whether a child of the warden is a check's escaped descendant: it is in neither the
/// warden's own process group (where vtysh, birdc and the like run) nor the group of a
/// check that is running now.
pub fn is_escapee(child: &ProcStat, own_pgid: i32, active: &BTreeSet<i32>) -> bool {
    child.pgid != own_pgid && !active.contains(&child.pgid)
}

/// The warden's children, from every thread's `children` list.
fn children() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Kills and reaps the escapees among the warden's children; returns them as they were
/// found (state `Z`: already dead, only reaped).
pub fn sweep() -> Vec<ProcStat> {
    let own_pgid = nix::unistd::getpgrp().as_raw();
    // Children first, then the registry: a check spawned in between is either not in the
    // list or already registered (`spawn_check` holds the registry across the fork).
    let children = children();
    let active = ACTIVE_GROUPS
        .lock()
        .map(|groups| groups.clone())
        .unwrap_or_default();
    let mut killed = Vec::new();
    for pid in children {
        let Some(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|text| parse_stat(&text))
        else {
            continue;
        };
        if !is_escapee(&stat, own_pgid, &active) {
            continue;
        }
        let pid = Pid::from_raw(stat.pid);
        if stat.state != 'Z' {
            let _ = kill(pid, Signal::SIGKILL);
        }
        // Only this PID: a blanket wait would steal the exit status of tokio's children.
        let _ = waitpid(pid, Some(WaitPidFlag::empty()));
        killed.push(stat);
    }
    killed
}

/// Becomes a subreaper and sweeps every `every` for as long as the runtime lives; each
/// escapee killed is logged. Without the subreaper an escapee goes to init, out of reach,
/// and that is said once.
pub fn start(every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    if let Err(e) = become_subreaper() {
        tracing::warn!(error = %e, "cannot become a child subreaper; a process that leaves its exec check's process group (setsid) will outlive the check");
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for escapee in sweep() {
                if escapee.state == 'Z' {
                    // Killed with its group, but orphaned before anyone reaped it.
                    tracing::debug!(pid = escapee.pid, command = %escapee.command, "reaped a check's orphan");
                } else {
                    tracing::warn!(pid = escapee.pid, command = %escapee.command,
                        "killed a process that an exec check left running outside its process group");
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_commands() {
        assert_eq!(
            parse_stat("4242 (sleep) S 100 4242 4242 0 -1 4194560 ..."),
            Some(ProcStat {
                pid: 4242,
                command: "sleep".into(),
                state: 'S',
                ppid: 100,
                pgid: 4242,
            })
        );
        let odd = parse_stat("7 (a) b (c)) Z 1 9 9 0").unwrap();
        assert_eq!(odd.command, "a) b (c)");
        assert_eq!((odd.state, odd.ppid, odd.pgid), ('Z', 1, 9));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("12 (x) S"), None);
    }

    #[test]
    fn only_children_outside_known_groups_are_escapees() {
        let child = |pgid| ProcStat {
            pid: 50,
            command: "x".into(),
            state: 'S',
            ppid: 1,
            pgid,
        };
        let active: BTreeSet<i32> = [300].into();
        // The warden's own group: vtysh, birdc.
        assert!(!is_escapee(&child(100), 100, &active));
        // A running check's group.
        assert!(!is_escapee(&child(300), 100, &active));
        // Its own session, or a finished check's group.
        assert!(is_escapee(&child(50), 100, &active));
        assert!(is_escapee(&child(301), 100, &active));
    }

    #[test]
    fn registered_groups_are_active_until_forgotten() {
        register_group(-77);
        assert!(ACTIVE_GROUPS.lock().unwrap().contains(&-77));
        forget_group(-77);
        assert!(!ACTIVE_GROUPS.lock().unwrap().contains(&-77));
    }
}
