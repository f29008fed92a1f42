//! The kinds that look at this host: `file` (a maintenance switch) and `address` (an
//! address assigned to an interface).

use std::net::IpAddr;
use std::path::PathBuf;

use serde_spanned::Spanned;

use super::checker::{Checker, ServiceContext};
use crate::config::model::*;
use crate::config::raw::*;
use crate::config::values::interface;

pub(super) fn file(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let path = c.text("path", raw.path.as_ref(), "/etc/anycast-warden/maintenance")?;
    if !path.starts_with('/') {
        let at = raw.path.as_ref().map_or(c.span.clone(), Spanned::span);
        c.error(
            at,
            format!("path \"{path}\" is relative"),
            "write an absolute path (the daemon's working directory is not yours), e.g. path = \"/etc/anycast-warden/maintenance\"",
        );
        return None;
    }
    Some(CheckSpec::File(FileSpec {
        path: PathBuf::from(path),
        absent: raw.absent.as_ref().is_some_and(|a| *a.get_ref()),
    }))
}

pub(super) fn address(
    c: &mut Checker<'_>,
    raw: &RawCheck,
    service: &ServiceContext<'_>,
) -> Option<CheckSpec> {
    let a = c.required(
        "address",
        raw.address.as_ref(),
        "address = \"203.0.113.53\"",
    )?;
    let Ok(address) = a.get_ref().trim().parse::<IpAddr>() else {
        c.error(
            a.span(),
            format!("\"{}\" is not an IP address", a.get_ref()),
            "write one address without a prefix length, e.g. address = \"203.0.113.53\" or \"2001:db8::53\"",
        );
        return None;
    };
    let interface = match raw.interface.as_ref() {
        None => service.interface.to_string(),
        Some(i) => interface(c.src, i, c.errors)?,
    };
    Some(CheckSpec::Address(AddressSpec { address, interface }))
}
