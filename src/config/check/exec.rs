//! The `exec` kind: a program (or a shell line) run as the daemon's user or another one.

use serde_spanned::Spanned;

use super::checker::Checker;
use crate::config::error::{ConfigError, SourceText};
use crate::config::model::*;
use crate::config::raw::*;

/// `user` and `group` (of an exec check, a service or `[defaults]`), looked up now so that
/// a typo stops the load. They go together: `Ok(None)` when neither is written, an error
/// for a `group` without a `user`; without `group`, the user's own group.
pub(in crate::config) fn run_as(
    src: &SourceText,
    user: Option<&Spanned<String>>,
    group: Option<&Spanned<String>>,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<RunAs>, ()> {
    use nix::unistd::{Gid, Group, Uid, User};
    let Some(user) = user else {
        if let Some(group) = group {
            errors.push(
                src.error(group.span(), "group without user")
                    .with_hint("name the user too, e.g. user = \"nobody\", group = \"nogroup\" (user and group go together: the nearest of the check, its service and [defaults] that names a user decides both)"),
            );
            return Err(());
        }
        return Ok(None);
    };
    let account = look_up(
        src,
        ("user", user),
        |uid| User::from_uid(Uid::from_raw(uid)),
        User::from_name,
        "name an existing user (see `getent passwd`), e.g. user = \"nobody\", or create it: useradd --system --no-create-home NAME",
        errors,
    )
    .ok_or(())?;
    let (group, gid) = match group {
        None => (None, account.gid.as_raw()),
        Some(g) => {
            let found = look_up(
                src,
                ("group", g),
                |gid| Group::from_gid(Gid::from_raw(gid)),
                Group::from_name,
                "name an existing group (see `getent group`), or leave group out for the user's own group",
                errors,
            )
            .ok_or(())?;
            (Some(g.get_ref().trim().to_string()), found.gid.as_raw())
        }
    };
    Ok(Some(RunAs {
        user: user.get_ref().trim().to_string(),
        group,
        uid: account.uid.as_raw(),
        gid,
    }))
}

/// The user or group (`key`) that `v` names, by number or by name; `missing` is the hint
/// when there is none.
fn look_up<T>(
    src: &SourceText,
    (key, v): (&str, &Spanned<String>),
    by_id: impl Fn(u32) -> nix::Result<Option<T>>,
    by_name: impl Fn(&str) -> nix::Result<Option<T>>,
    missing: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let name = v.get_ref().trim();
    let found = match name.parse::<u32>() {
        Ok(id) => by_id(id),
        Err(_) => by_name(name),
    };
    let (message, hint) = match found {
        Ok(Some(entry)) => return Some(entry),
        Ok(None) => (
            format!("{key} \"{name}\" does not exist on this host"),
            missing.to_string(),
        ),
        Err(e) => (
            format!("cannot look up {key} \"{name}\": {e}"),
            format!("check /etc/nsswitch.conf and the {key} database"),
        ),
    };
    errors.push(src.error(v.span(), message).with_hint(hint));
    None
}

/// `inherited`: the service's (or `[defaults]`') user, used when the check names none.
pub(super) fn exec(
    c: &mut Checker<'_>,
    raw: &RawCheck,
    inherited: Option<&RunAs>,
) -> Option<CheckSpec> {
    let run_as = match run_as(c.src, raw.user.as_ref(), raw.group.as_ref(), c.errors).ok()? {
        Some(own) => Some(own),
        None => inherited.cloned(),
    };
    let shell = raw.shell.as_ref().is_some_and(|s| *s.get_ref());
    let cmd = c.required(
        "command",
        raw.command.as_ref(),
        "command = [\"/usr/bin/dig\", \"+short\", \"@127.0.0.1\", \"check.local\"]",
    )?;
    match (cmd.get_ref(), shell) {
        (RawCommand::Argv(argv), false) => {
            if argv.first().is_none_or(String::is_empty) {
                c.error(cmd.span(), "command is empty",
                    "the first element is the program, e.g. command = [\"/usr/bin/curl\", \"-fsS\", \"http://127.0.0.1/\"]");
                return None;
            }
            Some(CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Argv(argv.clone()),
                shell: false,
                run_as,
            }))
        }
        (RawCommand::Line(line), true) => {
            if line.trim().is_empty() {
                c.error(
                    cmd.span(),
                    "command is empty",
                    "write a shell line, e.g. command = \"pgrep -x unbound\"",
                );
                return None;
            }
            Some(CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Shell(line.clone()),
                shell: true,
                run_as,
            }))
        }
        (RawCommand::Line(line), false) => {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| format!("\"{w}\""))
                .collect();
            c.error(
                cmd.span(),
                "command is a string, but shell is not enabled",
                format!(
                    "write the arguments as a list, command = [{}], or set shell = true to run it with /bin/sh -c",
                    words.join(", ")
                ),
            );
            None
        }
        (RawCommand::Argv(argv), true) => {
            c.error(
                cmd.span(),
                "with shell = true, command is one line for /bin/sh -c",
                format!("write command = \"{}\"", argv.join(" ")),
            );
            None
        }
    }
}
