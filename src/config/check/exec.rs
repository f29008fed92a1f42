//! The `exec` kind: a program (or a shell line) run as the daemon's user or another one.

use std::ops::Range;

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
    let mut error = |span: Range<usize>, message: String, hint: &str| {
        errors.push(src.error(span, message).with_hint(hint.to_string()));
        Err(())
    };
    let Some(user) = user else {
        if let Some(group) = group {
            return error(
                group.span(),
                "group without user".into(),
                "name the user too, e.g. user = \"nobody\", group = \"nogroup\" (user and group go together: the nearest of the check, its service and [defaults] that names a user decides both)",
            );
        }
        return Ok(None);
    };
    let name = user.get_ref().trim();
    let found = match name.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(name),
    };
    let account = match found {
        Ok(Some(account)) => account,
        Ok(None) => {
            return error(
                user.span(),
                format!("user \"{name}\" does not exist on this host"),
                "name an existing user (see `getent passwd`), e.g. user = \"nobody\", or create it: useradd --system --no-create-home NAME",
            );
        }
        Err(e) => {
            return error(
                user.span(),
                format!("cannot look up user \"{name}\": {e}"),
                "check /etc/nsswitch.conf and the user database",
            );
        }
    };
    let (group, gid) = match group {
        None => (None, account.gid.as_raw()),
        Some(g) => {
            let gname = g.get_ref().trim();
            let found = match gname.parse::<u32>() {
                Ok(gid) => nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
                Err(_) => nix::unistd::Group::from_name(gname),
            };
            match found {
                Ok(Some(group)) => (Some(gname.to_string()), group.gid.as_raw()),
                Ok(None) => {
                    return error(
                        g.span(),
                        format!("group \"{gname}\" does not exist on this host"),
                        "name an existing group (see `getent group`), or leave group out for the user's own group",
                    );
                }
                Err(e) => {
                    return error(
                        g.span(),
                        format!("cannot look up group \"{gname}\": {e}"),
                        "check /etc/nsswitch.conf and the group database",
                    );
                }
            }
        }
    };
    Ok(Some(RunAs {
        user: name.to_string(),
        group,
        uid: account.uid.as_raw(),
        gid,
    }))
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
