//! RFC 4271 §6.8: two connections with one peer; the OPEN's BGP Identifier decides which
//! one stays.

use std::collections::VecDeque;

use tracing::info;

use super::{Machine, Runner, Which};
use crate::bgp::fsm::{Event, Fsm, Negotiated, Survivor, resolve_collision};
use crate::bgp::message::Notification;
use crate::bgp::message::notification::cease;

impl Runner {
    /// RFC 4271 §6.8: once an OPEN tells the peer's BGP Identifier, one of two
    /// connections closes with Cease / Connection Collision Resolution.
    pub(super) fn resolve_collision(
        &mut self,
        w: Which,
        n: &Negotiated,
        queue: &mut VecDeque<(Which, Event)>,
    ) {
        let Some(other_w) = (match w {
            Which::Main => self.contender.as_ref().map(|_| Which::Contender),
            Which::Contender => Some(Which::Main),
        }) else {
            return;
        };
        let Some(other) = self.machine(other_w) else {
            return;
        };
        let Some(other_conn) = other.conn.as_ref() else {
            // The other machine has no connection: nothing collides; the contender
            // becomes the session.
            if w == Which::Contender {
                self.promote();
            }
            return;
        };
        let survivor = resolve_collision(
            other.fsm.state(),
            other_conn.outgoing,
            self.task.fsm_config.local_id,
            n.peer_id,
        );
        let loser = match survivor {
            Survivor::Existing => w,
            Survivor::New => other_w,
        };
        info!(peer = %self.peer(), "connection collision: closing the {} connection",
            if self.machine(loser).and_then(|m| m.conn.as_ref()).is_some_and(|c| c.outgoing) { "outgoing" } else { "incoming" });
        if loser == Which::Main {
            // The contender takes over as the session; the old machine only says goodbye.
            let old = std::mem::replace(
                &mut self.main,
                self.contender
                    .take()
                    .unwrap_or_else(|| Machine::new(Fsm::new(self.task.fsm_config.clone(), 1))),
            );
            self.contender = Some(old);
            if let Some(h) = self.connecting.take() {
                h.abort();
            }
            let state = self.main.fsm.state();
            self.set_status(|s| s.state = state);
            queue.push_back((
                Which::Contender,
                Event::Stop(Notification::cease(cease::CONNECTION_COLLISION)),
            ));
        } else {
            queue.push_back((
                Which::Contender,
                Event::Stop(Notification::cease(cease::CONNECTION_COLLISION)),
            ));
        }
    }

    pub(super) fn promote(&mut self) {
        if let Some(c) = self.contender.take() {
            self.main = c;
        }
    }
}
