//! The built-in BGP speaker as a backend: the desired set becomes routes with each
//! service's attributes, and the speaker (`crate::bgp`) sends them to every peer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::backend::{ApplyError, Backend};
use crate::bgp::message::Family;
use crate::bgp::routes::{DrainAttrs, RouteAttrs, RouteSet};
use crate::bgp::session::PeerConfig;
use crate::bgp::speaker::{Speaker, SpeakerConfig};
use crate::bgp::status::SpeakerStatus;
use crate::config::{AnnounceAttrs, BgpFamily, BgpSettings, ServiceConfig};

/// How long an apply waits for the Established sessions to have sent the change. Longer
/// means a peer that does not read; its session catches up or fails on its own.
const APPLY_WAIT: Duration = Duration::from_secs(2);
/// How long the sessions get at exit to tell their peers goodbye.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The speaker's settings from `[bgp]`.
pub fn speaker_config(settings: &BgpSettings) -> SpeakerConfig {
    SpeakerConfig {
        asn: settings.asn,
        router_id: settings.router_id,
        hold_time: settings.hold_time.as_secs().min(65535) as u16,
        keepalive: settings.keepalive.map(|k| k.as_secs().min(65535) as u16),
        connect_retry: settings.connect_retry,
        listen: settings.listen,
        listen_port: settings.listen_port,
        graceful_restart: settings
            .graceful_restart
            .map(|d| d.as_secs().min(4095) as u16),
        peers: settings
            .peers
            .iter()
            .map(|p| PeerConfig {
                address: p.address,
                asn: p.asn,
                port: p.port,
                source: match &p.source {
                    Some(crate::config::BgpSource::Address(a)) => Some(*a),
                    _ => None,
                },
                interface: match &p.source {
                    Some(crate::config::BgpSource::Interface(name)) => Some(name.clone()),
                    _ => None,
                },
                passive: p.passive,
                md5_password: p.md5_password.clone(),
                ttl: p.multihop,
                families: p
                    .families
                    .iter()
                    .map(|f| match f {
                        BgpFamily::Ipv4 => Family::Ipv4Unicast,
                        BgpFamily::Ipv6 => Family::Ipv6Unicast,
                    })
                    .collect(),
                next_hop_v4: p.next_hop.iter().find_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                }),
                next_hop_v6: p.next_hop.iter().find_map(|a| match a {
                    IpAddr::V6(a) if !a.is_unicast_link_local() => Some(*a),
                    _ => None,
                }),
                next_hop_v6_link_local: p.next_hop.iter().find_map(|a| match a {
                    IpAddr::V6(a) if a.is_unicast_link_local() => Some(*a),
                    _ => None,
                }),
                extended_next_hop: p.extended_next_hop,
            })
            .collect(),
    }
}

fn route_attrs(a: &AnnounceAttrs) -> RouteAttrs {
    RouteAttrs {
        communities: a.communities.iter().map(|c| c.0).collect(),
        large_communities: a.large_communities.iter().map(|c| c.0).collect(),
        med: a.med,
        prepend: a.prepend,
    }
}

fn drain_attrs(a: Option<&crate::config::DrainAttrs>) -> DrainAttrs {
    a.map(|d| DrainAttrs {
        communities: d.communities.iter().map(|c| c.0).collect(),
        large_communities: d.large_communities.iter().map(|c| c.0).collect(),
        med: d.med,
        prepend: d.prepend,
    })
    .unwrap_or_default()
}

/// A prefix's attributes while its service is up, and while it drains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixAttrs {
    pub normal: Arc<RouteAttrs>,
    pub draining: Arc<RouteAttrs>,
}

/// Every service prefix's attributes.
pub fn route_table(services: &[ServiceConfig]) -> BTreeMap<IpNet, PrefixAttrs> {
    let mut out = BTreeMap::new();
    for s in services {
        let normal = route_attrs(&s.announce);
        let attrs = PrefixAttrs {
            draining: Arc::new(normal.draining(&drain_attrs(s.announce.drain.as_ref()))),
            normal: Arc::new(normal),
        };
        for p in &s.prefixes {
            out.insert(p.prefix, attrs.clone());
        }
    }
    out
}

pub struct BgpBackend {
    config: SpeakerConfig,
    drain_time: Duration,
    attrs: BTreeMap<IpNet, PrefixAttrs>,
    /// Prefixes announced with their drain attributes (GRACEFUL_SHUTDOWN and the
    /// service's `[service.announce.drain]`) until they are withdrawn.
    draining: BTreeSet<IpNet>,
    /// Started at the first apply (inside the runtime).
    speaker: Option<Speaker>,
    status: watch::Sender<SpeakerStatus>,
}

impl BgpBackend {
    pub fn new(
        settings: &BgpSettings,
        services: &[ServiceConfig],
        status: watch::Sender<SpeakerStatus>,
    ) -> Self {
        BgpBackend {
            config: speaker_config(settings),
            drain_time: settings.drain_time,
            attrs: route_table(services),
            draining: BTreeSet::new(),
            speaker: None,
            status,
        }
    }

    fn routes(&self, desired: &BTreeSet<IpNet>) -> RouteSet {
        desired
            .iter()
            .map(|p| {
                let attrs = match (self.attrs.get(p), self.draining.contains(p)) {
                    (Some(a), false) => a.normal.clone(),
                    (Some(a), true) => a.draining.clone(),
                    // Not a configured service's prefix (none reaches here): plain, or
                    // with 65535:0 alone.
                    (None, false) => Arc::default(),
                    (None, true) => {
                        Arc::new(RouteAttrs::default().draining(&DrainAttrs::default()))
                    }
                };
                (*p, attrs)
            })
            .collect()
    }

    async fn announce(&mut self, desired: &BTreeSet<IpNet>) {
        // Withdrawn prefixes are no longer draining: a later announcement is a fresh one.
        self.draining.retain(|p| desired.contains(p));
        let routes = self.routes(desired);
        let speaker = self
            .speaker
            .get_or_insert_with(|| Speaker::start(&self.config, self.status.clone()));
        let behind = speaker.announce(routes, APPLY_WAIT).await;
        if behind > 0 {
            warn!(
                sessions = behind,
                "BGP sessions have not sent the change yet; they keep trying"
            );
        }
    }
}

impl Backend for BgpBackend {
    fn apply<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async move {
            // The speaker holds the desired set itself and sends it to every session
            // that is or comes up; there is nothing here that can fail.
            self.announce(desired).await;
            Ok(())
        })
    }

    fn drain<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
        draining: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<Option<Duration>, ApplyError>> {
        Box::pin(async move {
            // No session to tell: waiting would only delay the exit.
            let anyone = self
                .status
                .borrow()
                .iter()
                .any(|p| p.state == crate::bgp::fsm::State::Established);
            if self.drain_time.is_zero() || !anyone {
                return Ok(None);
            }
            // Exactly these are marked: a service drained no more loses the mark.
            self.draining.clone_from(draining);
            self.announce(desired).await;
            info!(
                prefixes = draining.len(),
                drain_time = %humantime::format_duration(self.drain_time),
                "draining: routes re-announced with GRACEFUL_SHUTDOWN (65535:0) and the services' drain attributes"
            );
            Ok(Some(self.drain_time))
        })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(speaker) = self.speaker.take() {
                speaker.stop(CLOSE_WAIT).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use std::path::Path;

    fn config() -> crate::config::Config {
        load_str(
            Path::new("x"),
            "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nkeepalive = \"10s\"\n\
             [[bgp.peer]]\naddress = \"2001:db8:1::2\"\nasn = 65000\nfamilies = [\"ipv6\"]\nnext_hop = [\"192.0.2.1\", \"2001:db8:1::1\"]\n\
             [[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\n\
             [[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:53\"\n\
             [service.announce]\ncommunities = [\"65000:100\"]\nmed = 7\nprepend = 2\n\
             [service.announce.drain]\ncommunities = [\"65000:666\"]\nmed = 700\nprepend = 4\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn settings_become_the_speakers_and_services_their_route_attributes() {
        let c = config();
        let s = speaker_config(c.routing.bgp().unwrap());
        assert_eq!((s.hold_time, s.keepalive), (90, Some(10)));
        let p = &s.peers[0];
        assert_eq!(p.families, vec![Family::Ipv6Unicast]);
        assert_eq!(p.next_hop_v4, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(p.next_hop_v6, Some("2001:db8:1::1".parse().unwrap()));
        let table = route_table(&c.services);
        let attrs = &table[&"203.0.113.53/32".parse::<IpNet>().unwrap()];
        assert_eq!(attrs.normal.communities, vec![(65000 << 16) | 100]);
        assert_eq!((attrs.normal.med, attrs.normal.prepend), (Some(7), 2));
        // While draining: 65535:0 and the drain MED, prepend and community.
        let d = &attrs.draining;
        assert_eq!(
            d.communities,
            vec![(65000 << 16) | 100, (65000 << 16) | 666, 0xffff_0000]
        );
        assert_eq!((d.med, d.prepend), (Some(700), 4));
    }

    #[tokio::test]
    async fn without_a_session_there_is_nothing_to_drain() {
        let c = config();
        let (status, _) = watch::channel(SpeakerStatus::new());
        let mut backend = BgpBackend::new(c.routing.bgp().unwrap(), &c.services, status);
        let set: BTreeSet<IpNet> = ["203.0.113.53/32".parse().unwrap()].into();
        assert!(matches!(backend.drain(&set, &set).await, Ok(None)));
        assert!(backend.speaker.is_none());
    }
}
