//! What every service wants announced, less the drained ones: the announcer's input state.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

/// What every service wants, by service name, less the drained ones. Pure.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DesiredRoutes {
    services: BTreeMap<String, (Vec<IpNet>, bool)>,
    /// Services withdrawn for maintenance whatever their health.
    drained: BTreeSet<String>,
    /// Every service is drained (`drain --all`), also ones added later.
    drain_all: bool,
}

impl DesiredRoutes {
    pub fn set(&mut self, service: &str, prefixes: Vec<IpNet>, announce: bool) {
        self.services
            .insert(service.to_string(), (prefixes, announce));
    }

    pub fn forget(&mut self, service: &str) {
        self.services.remove(service);
    }

    /// Replaces the drains in force.
    pub fn set_drains(&mut self, all: bool, services: BTreeSet<String>) {
        self.drain_all = all;
        self.drained = services;
    }

    pub fn withdraw_all(&mut self) {
        for (_, announce) in self.services.values_mut() {
            *announce = false;
        }
    }

    /// The prefixes of every healthy service, drained or not.
    pub fn healthy_prefixes(&self) -> BTreeSet<IpNet> {
        self.services
            .values()
            .filter(|(_, announce)| *announce)
            .flat_map(|(prefixes, _)| prefixes.iter().copied())
            .collect()
    }

    /// The union of the prefixes of every service that wants to be announced.
    pub fn prefixes(&self) -> BTreeSet<IpNet> {
        if self.drain_all {
            return BTreeSet::new();
        }
        self.services
            .iter()
            .filter(|(name, (_, announce))| *announce && !self.drained.contains(*name))
            .flat_map(|(_, (prefixes, _))| prefixes.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn desired_is_the_union_of_announcing_services() {
        let mut d = DesiredRoutes::default();
        d.set(
            "a",
            vec![net("203.0.113.1/32"), net("2001:db8::1/128")],
            true,
        );
        d.set("b", vec![net("203.0.113.2/32")], false);
        assert_eq!(
            d.prefixes(),
            [net("203.0.113.1/32"), net("2001:db8::1/128")].into()
        );
        d.set("b", vec![net("203.0.113.2/32")], true);
        assert_eq!(d.prefixes().len(), 3);
        d.forget("a");
        assert_eq!(d.prefixes(), [net("203.0.113.2/32")].into());
        d.withdraw_all();
        assert!(d.prefixes().is_empty());
    }

    #[test]
    fn drained_services_are_withdrawn_whatever_their_health() {
        let mut d = DesiredRoutes::default();
        d.set("a", vec![net("203.0.113.1/32")], true);
        d.set("b", vec![net("203.0.113.2/32")], true);
        d.set_drains(false, ["a".to_string()].into());
        assert_eq!(d.prefixes(), [net("203.0.113.2/32")].into());
        d.set_drains(true, BTreeSet::new());
        assert!(d.prefixes().is_empty());
        // A service added while everything is drained stays out too.
        d.set("c", vec![net("203.0.113.3/32")], true);
        assert!(d.prefixes().is_empty());
        d.set_drains(false, BTreeSet::new());
        assert_eq!(d.prefixes().len(), 3);
    }
}
