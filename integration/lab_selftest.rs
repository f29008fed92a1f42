//! The lab on its own, without the warden: BIRD 2 exports what a hand-written include file
//! allows, and GoBGP gains and loses the prefixes after `birdc configure`.

use std::fs;
use std::time::{Duration, Instant};

use crate::lab::bird::render_bird2_sets;
use crate::lab::needs::Need;
use crate::lab::wire::parse_tcpdump_line;
use crate::lab::{Lab, nets};

#[test]
fn bird2_and_gobgp_exchange_what_the_include_file_allows() {
    let Some(lab) = Lab::new_or_skip("lab-selftest", &[Need::Bird2, Need::Gobgp, Need::Tcpdump])
    else {
        return;
    };
    let service = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
    lab.add_lo_addresses(&service.iter().copied().collect::<Vec<_>>())
        .unwrap();
    let router = lab.start_router(false);
    let bird = lab.start_bird2();
    let up = router.wait_established(Duration::from_secs(30)).unwrap();
    eprintln!("BGP session Established after {up:?}");
    let monitor = router.monitor();
    let wire = router.wire();
    assert_eq!(
        router.rib().unwrap(),
        nets(&[]),
        "empty sets export nothing"
    );

    let before = bird.reconfigure_count();
    fs::write(bird.include_file(), render_bird2_sets(&service)).unwrap();
    let configured = Instant::now();
    bird.configure().unwrap();
    let took = router
        .wait_for_rib(&service, Duration::from_secs(10))
        .unwrap();
    eprintln!("announced in {took:?}");
    // The UPDATE reached the router's interface after the configure, and no later than
    // the RIB showed it.
    let arrived = wire
        .wait_first_update(configured, Duration::from_secs(5))
        .unwrap();
    assert!(arrived <= Instant::now());
    eprintln!(
        "UPDATE on the wire {:?} after configure",
        arrived - configured
    );
    assert_eq!(
        bird.reconfigure_count(),
        before + 1,
        "one configure, one log line"
    );

    fs::write(bird.include_file(), render_bird2_sets(&nets(&[]))).unwrap();
    bird.configure().unwrap();
    let took = router
        .wait_for_rib(&nets(&[]), Duration::from_secs(10))
        .unwrap();
    eprintln!("withdrawn in {took:?}");
    assert_eq!(bird.reconfigure_count(), before + 2);

    for prefix in &service {
        monitor
            .wait_for(Duration::from_secs(5), |e| {
                e.prefix == *prefix && e.withdrawal
            })
            .unwrap();
        let events = monitor.events_for(prefix);
        assert!(
            matches!(events.as_slice(), [a, w] if !a.withdrawal && w.withdrawal && a.at <= w.at),
            "{prefix}: expected an announcement then a withdrawal, saw {events:?}"
        );
    }
}

#[test]
fn tcpdump_lines_parse() {
    assert_eq!(
        parse_tcpdump_line("1795326302.963666 IP 192.0.2.1.34317 > 192.0.2.2.179: tcp 47"),
        Some((1_795_326_302.963_666, 47))
    );
    assert_eq!(
        parse_tcpdump_line("1795326302.5 IP6 2001:db8:1::1.179 > 2001:db8:1::2.40000: tcp 0"),
        Some((1_795_326_302.5, 0))
    );
    assert_eq!(parse_tcpdump_line("listening on x"), None);
}
