//! ROUTE-REFRESH (RFC 2918): the peer asks for the routes of one family again.

use super::notification::code;
use super::{Notification, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: u16,
    pub safi: u8,
}

impl RouteRefresh {
    pub fn encode_body(&self) -> Vec<u8> {
        let [a, b] = self.afi.to_be_bytes();
        // The third octet is reserved (RFC 7313 uses it for BoRR/EoRR subtypes).
        vec![a, b, 0, self.safi]
    }

    pub fn decode_body(body: &[u8]) -> Result<Self, Notification> {
        let mut r = Reader::new(body);
        let bad = || Notification::new(code::MESSAGE_HEADER, 2, vec![]);
        let afi = r.u16().ok_or_else(bad)?;
        let _reserved = r.u8().ok_or_else(bad)?;
        let safi = r.u8().ok_or_else(bad)?;
        Ok(RouteRefresh { afi, safi })
    }
}
