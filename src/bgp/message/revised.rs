//! RFC 7606 revised error handling: which malformed attributes end the session and which
//! do not. Most errors in an UPDATE are answered without a NOTIFICATION:
//!
//! - **attribute-discard** for attributes that play no part in route selection
//!   (ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR, repeats of an attribute):
//!   the attribute is dropped, the routes stay;
//! - **treat-as-withdraw** for the rest (ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF,
//!   COMMUNITIES, LARGE_COMMUNITY, ORIGINATOR_ID, CLUSTER_LIST, a missing well-known
//!   attribute, an MP_REACH_NLRI whose routes can still be read): the UPDATE withdraws
//!   every route it carries;
//! - **session reset** only where the routes cannot be located any more (the lengths of
//!   the withdrawn routes or attributes do not fit the message, unparseable NLRI, an
//!   MP_REACH_NLRI next hop of the wrong length, MP_REACH_NLRI or MP_UNREACH_NLRI twice,
//!   an unrecognised well-known attribute).
//!
//! The decoder reports what it applied in [`Update::errors`](super::Update); the speaker
//! is announce-only, so for it both mean "log, count, keep the session".

use super::Notification;

/// The RFC 7606 approach applied to an error (the weakest that is safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    /// The attribute was dropped; the routes stand.
    AttributeDiscard,
    /// The UPDATE's routes were turned into withdrawals.
    TreatAsWithdraw,
}

impl Revision {
    pub fn as_str(self) -> &'static str {
        match self {
            Revision::AttributeDiscard => "attribute-discard",
            Revision::TreatAsWithdraw => "treat-as-withdraw",
        }
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error the decoder handled without ending the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError {
    pub revision: Revision,
    /// The attribute's type code; 0 when the attribute list itself was cut short.
    pub attribute: u8,
    /// The NOTIFICATION RFC 4271 alone would have sent (for the log).
    pub rfc4271: Notification,
}

impl std::fmt::Display for AttributeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, attribute type {})",
            self.revision, self.rfc4271, self.attribute
        )
    }
}

/// How one attribute's error is handled (internal: `Reset` never leaves the decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Handling {
    Discard,
    Withdraw,
    Reset,
}

impl Handling {
    pub(crate) fn revision(self) -> Option<Revision> {
        match self {
            Handling::Discard => Some(Revision::AttributeDiscard),
            Handling::Withdraw => Some(Revision::TreatAsWithdraw),
            Handling::Reset => None,
        }
    }
}
