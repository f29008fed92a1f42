//! The kinds that send something to a target and wait for the answer: `tcp`, `udp`,
//! `tftp` and `icmp`.

use std::net::IpAddr;

use serde_spanned::Spanned;

use super::checker::{Checker, valid_host_name};
use crate::config::model::*;
use crate::config::raw::*;

pub(super) fn tcp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    c.target(raw.target.as_ref(), "127.0.0.1:53")
        .map(|target| CheckSpec::Tcp(TcpSpec { target }))
}

pub(super) fn udp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let target = c.target(raw.target.as_ref(), "127.0.0.1:123");
    let payload = c.text("payload", raw.payload.as_ref(), "ping")?;
    let expect = match raw.expect.as_ref() {
        None => None,
        Some(e) => match e.get_ref() {
            RawExpect::One(text) if !text.is_empty() => Some(text.clone()),
            RawExpect::One(_) => {
                c.error(
                    e.span(),
                    "expect is empty",
                    "write the text the reply must contain, e.g. expect = \"pong\", or remove expect to accept any reply",
                );
                None
            }
            RawExpect::Many(_) => {
                c.error(
                    e.span(),
                    "a udp check expects one string",
                    "write expect = \"pong\": the reply must contain it",
                );
                None
            }
        },
    };
    Some(CheckSpec::Udp(UdpSpec {
        target: target?,
        payload,
        expect,
    }))
}

pub(super) fn tftp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let target = c.target(raw.target.as_ref(), "127.0.0.1:69");
    let file = c.text("file", raw.file.as_ref(), "pxelinux.0")?;
    // RFC 1350: the name is a NUL-terminated netascii string.
    if file.contains('\0') || !file.is_ascii() {
        let at = raw.file.as_ref().map_or(c.span.clone(), Spanned::span);
        c.error(
            at,
            "a TFTP file name is ASCII text without NUL",
            "write the name the server serves, e.g. file = \"pxelinux.0\"",
        );
        return None;
    }
    Some(CheckSpec::Tftp(TftpSpec {
        target: target?,
        file,
    }))
}

/// Echo requests per round when `count` is not written.
const DEFAULT_ICMP_COUNT: u32 = 3;

pub(super) fn icmp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let host = c.text("host", raw.host.as_ref(), "198.51.100.1");
    if let (Some(h), Some(v)) = (host.as_ref(), raw.host.as_ref())
        && h.parse::<IpAddr>().is_err()
        && !valid_host_name(h)
    {
        c.error(
            v.span(),
            format!("\"{h}\" is not an address or host name"),
            "write host = \"198.51.100.1\", \"2001:db8::1\" or a name",
        );
    }
    let count = c.number(
        "count",
        raw.count.as_ref(),
        1..=100,
        i64::from(DEFAULT_ICMP_COUNT),
        "write the number of echo requests per round, 1 to 100, e.g. count = 3",
    ) as u32;
    let max_loss = c.number(
        "max_loss",
        raw.max_loss.as_ref(),
        0..=100,
        0,
        "write a percentage from 0 (every request answered) to 100, e.g. max_loss = 20",
    ) as u32;
    let max_rtt = c.duration("max_rtt", raw.max_rtt.as_ref(), false);
    Some(CheckSpec::Icmp(IcmpSpec {
        host: host?,
        count,
        max_loss,
        max_rtt,
    }))
}
